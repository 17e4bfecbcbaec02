#!/usr/bin/env bash
# Creates .venv with the interpreter make picked and installs the lock into it, hash-checked:
#   scripts/venv.sh PYTHON runtime   what `make run` needs (requirements/runtime.txt)
#   scripts/venv.sh PYTHON dev       that plus the tools of `make test` (requirements/dev.txt)
# then paymesh itself, editable and without dependencies (they all come from the lock).
set -euo pipefail
cd "$(dirname "$0")/.."
py=$1
kind=$2
venv=.venv
if ! "$py" -c 'import sys' >/dev/null 2>&1; then
  echo "paymesh needs Python 3.11, 3.12 or 3.13, and '$py' does not run here." >&2
  echo "Install one of them, or name it: make run PY=/path/to/python3.12" >&2
  exit 1
fi
if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" scripts/check_python.py 2>/dev/null; then
  echo "$venv was made with an unsupported Python: making it again with $py" >&2
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  "$py" scripts/check_python.py
  "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --require-hashes)
"${pip[@]}" -r requirements/build.txt
"${pip[@]}" -r "requirements/$kind.txt"
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
"$venv/bin/python" scripts/check_lock.py
