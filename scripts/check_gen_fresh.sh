#!/usr/bin/env bash
# Fails when gen/ differs from what protos/ generate today.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python scripts/gen_protos.py --out "$tmp/gen"
if ! diff -r -q -x __pycache__ "$tmp/gen" gen >/dev/null; then
  diff -r -x __pycache__ "$tmp/gen" gen | head -40
  echo "gen/ is stale: run 'make gen' and commit the result" >&2
  exit 1
fi
.venv/bin/python scripts/write_openapi.py --out "$tmp/openapi.json"
if ! cmp -s "$tmp/openapi.json" docs/openapi.json; then
  diff -u docs/openapi.json "$tmp/openapi.json" | head -40
  echo "docs/openapi.json is stale: run 'make gen' and commit the result" >&2
  exit 1
fi
echo "gen/ and docs/openapi.json are fresh"
