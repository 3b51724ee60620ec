#!/usr/bin/env bash
# Build .venv-modern unless it already matches its inputs: the newest Python found here
# (3.13, else 3.12), every extra but Lava (dev, bench, nir, neurobench). `make test` runs every
# test that does not need Lava in it, so the README's promise that the core and the snnTorch
# adapter need neither Lava nor Python 3.10 is checked on every run: if the core ever imports
# Lava, its tests fail here, because this environment has none.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-modern
STAMP="$VENV/.leanspike-inputs"
# Newest first. MODERN_PYTHON=/path/to/python3.x picks an interpreter (3.11 or newer).
CANDIDATES=(3.13 3.12)
# torch and torchvision are pinned so that the environment is the same with or without this
# machine's pip cap (/etc/xdg/pip: torch<=2.14.1); everything else resolves to its newest release.
PINS=("torch==2.14.1" "torchvision==0.29.1")
EXTRAS="dev,bench,nir,neurobench"

version_of() { "$1" -c "import sys; print('%d.%d.%d' % sys.version_info[:3])" 2>/dev/null; }

is_version() { case "$(version_of "$1")" in "$2".*) return 0 ;; *) return 1 ;; esac; }

find_python() {
  local v c
  if [ -n "${MODERN_PYTHON:-}" ]; then
    command -v "$MODERN_PYTHON"
    return
  fi
  for v in "${CANDIDATES[@]}"; do
    c="python$v"
    command -v "$c" >/dev/null 2>&1 && is_version "$c" "$v" && { command -v "$c"; return 0; }
    if command -v pyenv >/dev/null 2>&1; then
      c="$(pyenv root)/versions/$(pyenv latest "$v" 2>/dev/null)/bin/python"
      [ -x "$c" ] && is_version "$c" "$v" && { echo "$c"; return 0; }
    fi
  done
  return 1
}

if ! PY="$(find_python)"; then
  cat >&2 <<MSG
error: the modern environment needs Python ${CANDIDATES[*]} (newest first), and none was found.
  Get one with any of:
    pyenv install ${CANDIDATES[0]}            (then run make again)
    apt-get install python${CANDIDATES[0]} python${CANDIDATES[0]}-venv
  or point MODERN_PYTHON at an existing interpreter (3.11 or newer):
    MODERN_PYTHON=/path/to/python3.12 make test
MSG
  exit 1
fi
PYVER="$(version_of "$PY")"

inputs_hash() {
  { cat pyproject.toml scripts/ensure-modern-venv.sh; echo "$PYVER"; } | sha256sum | cut -d' ' -f1
}

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(inputs_hash)" ]; then
  exit 0
fi

echo "Building $VENV with $PY (Python $PYVER), extras [$EXTRAS], no Lava; the first time takes a few minutes."
if [ -d "$VENV" ] && [ "$(version_of "$VENV/bin/python" || true)" != "$PYVER" ]; then
  echo "Existing $VENV is not Python $PYVER: recreating it."
  rm -rf "$VENV"
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# Some machines' pip configs name local mirrors that may be absent: drop that noise only.
quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }; }
quiet "$VENV/bin/python" -m pip install --quiet --upgrade "pip>=23.2"
quiet "$VENV/bin/python" -m pip install --quiet "${PINS[@]}" -e ".[$EXTRAS]"
"$VENV/bin/python" -m pip check
# The point of this environment: Lava must not be there.
"$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(
    'error: $VENV must not have Lava, but lava is importable' if u.find_spec('lava') else 0)"
inputs_hash > "$STAMP"
echo "$VENV is ready."
