#!/usr/bin/env bash
# Makes sure Chromium is installed for the browser tests of the staff console
# (tests/support/browser.py drives it with Playwright, `executable_path=`).
#
# Why Debian's Chromium: Playwright's own browser download (`playwright install`) is not
# possible on our build machines (its CDN is not reachable, only the package mirrors
# are), so we use the `chromium` package from the Debian archive instead.
#
# If /usr/bin/chromium (or $CHROMIUM) is missing, apt-get exists and we are root, this
# installs `chromium` and `chromium-driver` (running `apt-get update` first only if the
# install fails). If Chromium is still missing it prints one line saying that the browser
# tests will be skipped and why, and exits 0: a missing browser never fails `make test`.
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
PACKAGES=(chromium chromium-driver)

present() { [ -x "$CHROMIUM" ]; }
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${PACKAGES[@]}"; }

present && exit 0

if ! command -v apt-get >/dev/null; then
    reason="apt-get not found; install Chromium yourself"
elif [ "$(id -u)" -ne 0 ]; then
    reason="not root; run: sudo apt-get install ${PACKAGES[*]}"
elif apt_install || { apt-get update -q && apt_install; }; then
    present && exit 0
    reason="apt-get installed ${PACKAGES[*]}, but $CHROMIUM is still missing"
else
    reason="apt-get install ${PACKAGES[*]} failed (see above)"
fi
echo "install-chromium: $CHROMIUM not found ($reason): the browser tests will be skipped" >&2
