"""What a teacher says about a reference: its title, description, difficulty, tempo and place.

In a ``.pose.json`` file the title is the format's own ``title`` field; the others are extra
top-level fields (``description``, ``difficulty``, ``tempo_bpm``, ``order``), written only when
set. :meth:`ReferenceMetadata.of` reads and checks them, :meth:`ReferenceMetadata.applied_to`
writes them; nothing else touches them, so every reference (recorded on the command line, saved
from the page or authored from keyframes) follows the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from app.errors import UserError
from app.sequence import PoseSequence

DIFFICULTIES = ("beginner", "intermediate", "advanced")
"""The difficulties a reference may have, easiest first (the page reads them from the API)."""
MAX_TITLE = 200
MAX_TEXT = 2000
TEMPO_RANGE = (20.0, 300.0)
MAX_ORDER = 999
FIELDS = ("description", "difficulty", "tempo_bpm", "order")
"""The extra top-level fields of a reference's file, in the order they are written."""


class MetadataError(UserError):
    """A metadata value is not allowed; the message names the field and its limits."""


@dataclass(frozen=True)
class ReferenceMetadata:
    """The teacher's fields of one reference.

    Attributes
    ----------
    title : str
        What learners see; empty means the reference's name.
    description : str
        How to dance it (may be empty).
    difficulty : str or None
        One of :data:`DIFFICULTIES`.
    tempo_bpm : float or None
        The count it is danced to.
    order : int or None
        Place in the dance's story (1 first); None lists it after the placed steps.
    """

    title: str = ""
    description: str = ""
    difficulty: str | None = None
    tempo_bpm: float | None = None
    order: int | None = None

    def __post_init__(self) -> None:
        for key, limit in (("title", MAX_TITLE), ("description", MAX_TEXT)):
            value: Any = getattr(self, key)
            if not isinstance(value, str) or len(value.strip()) > limit:
                raise MetadataError(f"{key} must be text of at most {limit} characters")
            object.__setattr__(self, key, value.strip())
        if self.difficulty is not None and self.difficulty not in DIFFICULTIES:
            raise MetadataError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, got "
                                f"{self.difficulty!r}")
        tempo: Any = self.tempo_bpm
        if tempo is not None:
            if (isinstance(tempo, bool) or not isinstance(tempo, int | float)
                    or not TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]):
                raise MetadataError(f"tempo_bpm must be a number from {TEMPO_RANGE[0]:g} to "
                                    f"{TEMPO_RANGE[1]:g}, got {tempo!r}")
            object.__setattr__(self, "tempo_bpm", float(tempo))
        order: Any = self.order
        if order is not None and (isinstance(order, bool) or not isinstance(order, int)
                                  or not 1 <= order <= MAX_ORDER):
            raise MetadataError(f"order must be a whole number from 1 to {MAX_ORDER}, got "
                                f"{order!r}")

    @classmethod
    def of(cls, seq: PoseSequence) -> ReferenceMetadata:
        """The metadata ``seq`` carries; its title is the name when it has none.

        Raises
        ------
        MetadataError
            When a field holds a value the rules above do not allow.
        """
        extra = seq.extra
        return cls(title=seq.title or seq.name, description=extra.get("description", ""),
                   difficulty=extra.get("difficulty"), tempo_bpm=extra.get("tempo_bpm"),
                   order=extra.get("order"))

    def applied_to(self, seq: PoseSequence) -> PoseSequence:
        """``seq`` with this metadata in place of its own (other extra fields are kept)."""
        values = {"description": self.description or None, "difficulty": self.difficulty,
                  "tempo_bpm": self.tempo_bpm, "order": self.order}
        extra = {key: values[key] for key in FIELDS if values[key] is not None}
        extra.update((key, value) for key, value in seq.extra.items() if key not in FIELDS)
        return replace(seq, title=self.title or seq.name, extra=extra)
