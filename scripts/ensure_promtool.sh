#!/usr/bin/env bash
# promtool, to check the Prometheus alert rules offline (tests/unit/test_monitoring_files.py), from
# Debian's `prometheus` package: installed when missing, nothing done (and nothing printed) when
# already there. Only the tests use it; nothing at run time needs Prometheus.
set -euo pipefail

PROMTOOL=${PROMTOOL_BINARY:-/usr/bin/promtool}

if [ -x "$PROMTOOL" ]; then
  exit 0
fi

fail() {
  echo "ensure_promtool: $*" >&2
  echo "ensure_promtool: the alert-rule tests will fail until 'apt-get install prometheus'" \
    "has been run." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "$PROMTOOL is missing and this machine has no apt-get."

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    fail "$PROMTOOL is missing; installing it needs root (or password-less sudo)."
  fi
fi

echo "ensure_promtool: installing prometheus (for promtool) from Debian's packages..."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
if ! "${apt[@]}" update >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get update failed (see above)."
fi
# --no-install-recommends: promtool only, not a Prometheus server started as a system service.
if ! "${apt[@]}" install -y --no-install-recommends prometheus >>"$log" 2>&1; then
  tail -n 40 "$log" >&2
  fail "apt-get install prometheus failed (see above)."
fi
[ -x "$PROMTOOL" ] || fail "installed prometheus, but $PROMTOOL is still missing."
echo "ensure_promtool: $("$PROMTOOL" --version 2>&1 | head -n 1) ready"
