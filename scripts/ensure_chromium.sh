#!/usr/bin/env bash
# Headless Chromium and its ChromeDriver for the browser tests (tests/browser/), from Debian's
# packages: installed when missing, nothing done (and nothing printed) when already there.
# Nothing is downloaded at test time; selenium is pointed at /usr/bin/chromedriver.
set -euo pipefail

CHROMIUM=${CHROMIUM_BINARY:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER_BINARY:-/usr/bin/chromedriver}
PACKAGES=(chromium chromium-driver)

if [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; then
  exit 0
fi

fail() {
  echo "ensure_chromium: $*" >&2
  echo "ensure_chromium: the browser tests (tests/browser/) will fail until" \
    "'apt-get install chromium chromium-driver' has been run." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 \
  || fail "$CHROMIUM or $CHROMEDRIVER is missing and this machine has no apt-get (not Debian?)."

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    fail "$CHROMIUM or $CHROMEDRIVER is missing; installing them needs root (or password-less sudo)."
  fi
fi

echo "ensure_chromium: installing ${PACKAGES[*]} from Debian's packages..."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$SECONDS
# Wait for a dpkg lock held by another apt run instead of failing at once.
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
if ! "${apt[@]}" update >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get update failed (see above)."
fi
if ! "${apt[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >>"$log" 2>&1; then
  tail -n 40 "$log" >&2
  fail "apt-get install ${PACKAGES[*]} failed (see above)."
fi
[ -x "$CHROMIUM" ] || fail "installed ${PACKAGES[*]}, but $CHROMIUM is still missing."
[ -x "$CHROMEDRIVER" ] || fail "installed ${PACKAGES[*]}, but $CHROMEDRIVER is still missing."
echo "ensure_chromium: $("$CHROMEDRIVER" --version | head -n 1) ready in $((SECONDS - started)) s"
