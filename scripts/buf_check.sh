#!/usr/bin/env bash
# buf lint / buf breaking on protoc-built images (buf never downloads anything).
# Breaking is checked against the previous commit of main when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: buf_check.sh lint|breaking}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python scripts/gen_protos.py --image "$tmp/current.binpb"
case "$mode" in
  lint)
    .venv/bin/buf lint "$tmp/current.binpb" --config buf.yaml
    echo "buf lint: ok" ;;
  breaking)
    base=${BUF_BREAKING_AGAINST:-}
    if [ -z "$base" ]; then
      # HEAD~1 when the work tree is the commit under test; HEAD when there are local changes.
      if git diff --quiet HEAD -- protos 2>/dev/null; then base=HEAD~1; else base=HEAD; fi
    fi
    if ! git rev-parse --verify -q "$base^{commit}" >/dev/null || ! git ls-tree -d "$base" protos >/dev/null 2>&1 \
       || [ -z "$(git ls-tree -d "$base" protos)" ]; then
      echo "buf breaking: no earlier contracts at $base, nothing to compare"; exit 0
    fi
    mkdir -p "$tmp/base"
    git archive "$base" protos scripts/gen_protos.py | tar -x -C "$tmp/base"
    (cd "$tmp/base" && "$OLDPWD/.venv/bin/python" scripts/gen_protos.py --image "$tmp/base.binpb")
    .venv/bin/buf breaking "$tmp/current.binpb" --against "$tmp/base.binpb" --config buf.yaml
    echo "buf breaking against $base: ok" ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
