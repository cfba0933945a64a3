# Sourced by scripts/serve and scripts/test; defines 'bootstrap [EXTRAS]', which makes .venv (or
# $DANCE_TUTOR_VENV), installs the project into it with EXTRAS (e.g. "test"), every package at
# the version constraints.txt pins, and puts its bin/ first on PATH; 'debian_packages WHAT
# PACKAGE...', which installs Debian packages as root (or says which to install); and
# 'page_runtime', which installs the page's pose runtime from npm.
# The extras are the function's argument, never the calling script's own arguments, which the
# caller passes on to its command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DANCE_TUTOR_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

bootstrap() {
  local extras="${1:-}" spec="$ROOT" stamp
  if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "dance-tutor needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating the virtual environment in $VENV"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv "$VENV"
      else
        echo "Python's venv module is missing: install python3-venv and run this again." >&2
        exit 1
      fi
    fi
  fi
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  stamp="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | cksum | cut -d' ' -f1)"
  stamp="$VENV/.installed-$stamp-${extras:-base}"
  if [ ! -f "$stamp" ]; then
    echo "==> installing dance-tutor${extras:+ with [$extras]} (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c "$ROOT/constraints.txt" --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c "$ROOT/constraints.txt" -e "$spec"
    touch "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

debian_packages() {
  local what="$1"
  shift
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's $* for $what"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    echo "$what needs Debian's $*: run 'apt-get install $*' as root." >&2
    exit 1
  fi
}

# The page's pose runtime (@mediapipe/tasks-vision, pinned in web/package-lock.json and
# web/vendor.json), installed with npm unless it is there and verifies.
page_runtime() {
  if ! dance-tutor runtime >/dev/null 2>&1; then
    command -v npm >/dev/null || debian_packages "the page's pose runtime" npm
    dance-tutor runtime fetch
  fi
}
