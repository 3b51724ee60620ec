#!/usr/bin/env bash
# Build .venv (Python 3.10, every extra) unless it already matches pyproject.toml.
# Lava 0.10 imports only on Python 3.10, so the project's own environment is pinned to it.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
WANT="$(cat .python-version)"
STAMP="$VENV/.leanspike-inputs"
inputs_hash() { cat pyproject.toml .python-version scripts/ensure-venv.sh | sha256sum | cut -d' ' -f1; }

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(inputs_hash)" ]; then
  exit 0
fi

is_wanted() { "$1" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$WANT' else 1)" 2>/dev/null; }

find_python() {
  local c
  for c in "${PYTHON:-}" "python$WANT" python3 python; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && is_wanted "$c" && { command -v "$c"; return 0; }
  done
  if command -v pyenv >/dev/null 2>&1; then
    c="$(pyenv root)/versions/$(pyenv latest "$WANT" 2>/dev/null)/bin/python"
    [ -x "$c" ] && is_wanted "$c" && { echo "$c"; return 0; }
  fi
  return 1
}

if ! PY="$(find_python)"; then
  cat >&2 <<MSG
error: leanspike's environment needs Python $WANT, and none was found.
  Lava (lava-nc 0.10.0, lava-dl 0.6.0) is frozen upstream and imports only on Python $WANT.
  Get one with any of:
    pyenv install $WANT            (then run make again)
    uv python install $WANT        (then PYTHON=\$(uv python find $WANT) make ...)
    apt-get install python$WANT python$WANT-venv
  or point PYTHON at an existing interpreter: PYTHON=/path/to/python$WANT make test
MSG
  exit 1
fi

echo "Building $VENV with $PY ($("$PY" --version 2>&1)); the first time takes a few minutes."
if [ -d "$VENV" ] && ! is_wanted "$VENV/bin/python"; then
  echo "Existing $VENV is not Python $WANT: recreating it."
  rm -rf "$VENV"
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# Some machines' pip configs name local mirrors that may be absent: drop that noise only.
quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }; }
quiet "$VENV/bin/python" -m pip install --quiet --upgrade "pip>=23.2"
quiet "$VENV/bin/python" -m pip install --quiet -e '.[lava,dev,bench,neurobench,nir]'
"$VENV/bin/python" -m pip check
inputs_hash > "$STAMP"
echo "$VENV is ready."
