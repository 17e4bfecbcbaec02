#!/usr/bin/env bash
# `make lock`: regenerate requirements/*.txt (hashed, for Python 3.11 to 3.13 on any platform)
# from pyproject.toml. Needs the package index. Pins already in a lock are kept unless
# UPGRADE=1 (then every package moves to its newest allowed version).
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-.venv/bin/uv}
upgrade=()
if [ "${UPGRADE:-0}" = 1 ]; then upgrade=(--upgrade); fi
compile() {
  "$uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
    --custom-compile-command "make lock" "${upgrade[@]}" -c requirements/pins.txt "$@"
}
compile pyproject.toml -o requirements/runtime.txt
compile pyproject.toml --extra dev -c requirements/runtime.txt -o requirements/dev.txt
compile requirements/build.in -c requirements/dev.txt -o requirements/build.txt
compile requirements/tools.in -o requirements/tools.txt
echo "requirements/ locked: commit requirements/*.txt"
