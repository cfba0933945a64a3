// The instructor's music panel: give a step its music (the tutor checks the file and finds the
// beat grid), correct the grid by typing it or by tapping along while the music plays, or
// remove the music.

import { api, forgetReference, loadReference } from "./api.js";

const $ = (id) => document.getElementById(id);
const MIN_TAPS = 4;

function setStatus(text, isError = false) {
  $("music-status").textContent = text;
  $("music-status").classList.toggle("error", isError);
}

function gridText(music) {
  return music ? `${music.tempo_bpm} BPM, first beat at ${music.first_beat_s} s, ${music.meter} beats a bar` : "no music";
}

export class MusicEditor {
  constructor() {
    this.taps = null;
    this.player = $("music-player");
    $("music-step").addEventListener("change", () => this.show());
    $("music-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.upload();
    });
    $("btn-grid-save").addEventListener("click", () => this.saveGrid({ tempo_bpm: Number($("grid-tempo").value), first_beat_s: Number($("grid-first").value), meter: Number($("grid-meter").value) }));
    $("btn-tap").addEventListener("click", () => this.tapAlong());
    $("btn-music-remove").addEventListener("click", () => this.remove());
    document.addEventListener("keydown", (event) => {
      if (this.taps && event.code === "Space") {
        event.preventDefault();
        this.taps.push(this.player.currentTime);
        $("btn-tap").textContent = `Tapped ${this.taps.length}: stop`;
      }
    });
  }

  open(steps) {
    $("music-step").replaceChildren(...steps.map((s) => new Option(s.title, s.name)));
    this.show();
  }

  async show() {
    const name = $("music-step").value;
    if (!name) return;
    const { music } = await loadReference(name);
    $("music-grid").textContent = gridText(music);
    $("music-editing").hidden = !music;
    if (music) {
      this.player.src = music.url;
      $("grid-tempo").value = String(music.tempo_bpm);
      $("grid-first").value = String(music.first_beat_s);
      $("grid-meter").value = String(music.meter);
    }
  }

  async changed(name, text) {
    forgetReference(name);
    await this.show();
    setStatus(text);
  }

  async upload() {
    const name = $("music-step").value;
    const file = $("music-file").files[0];
    if (!file) return;
    setStatus("Checking the music and finding its beats…");
    try {
      const music = await api.putMusic(name, file, Number($("music-meter").value));
      await this.changed(name, `Saved: ${gridText(music)}.`);
    } catch (err) {
      setStatus(err.message, true);
    }
  }

  async saveGrid(grid) {
    const name = $("music-step").value;
    try {
      const music = await api.patchMusic(name, grid);
      await this.changed(name, `The beat grid is now ${gridText(music)}.`);
    } catch (err) {
      setStatus(err.message, true);
    }
  }

  // Play the music and tap the beats (space bar or the button), then save the grid they make.
  async tapAlong() {
    if (this.taps) {
      const taps = this.taps;
      this.taps = null;
      this.player.pause();
      $("btn-tap").textContent = "Tap along";
      if (taps.length < MIN_TAPS) {
        setStatus(`Tap at least ${MIN_TAPS} beats, the first on count 1.`, true);
        return;
      }
      await this.saveGrid({ taps, meter: Number($("grid-meter").value) });
      return;
    }
    this.taps = [];
    this.player.currentTime = 0;
    await this.player.play();
    $("btn-tap").textContent = "Tapped 0: stop";
    setStatus("Tap the space bar on every beat, the first on count 1; press the button when done.");
  }

  async remove() {
    const name = $("music-step").value;
    try {
      await api.deleteMusic(name);
      await this.changed(name, "The music is removed.");
    } catch (err) {
      setStatus(err.message, true);
    }
  }
}
