#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the dashboard's browser tests
# (tests/browser/), which drive it with Playwright through executable_path: no
# browser is ever downloaded by Playwright. Quiet when chromium is there. Where
# it cannot be installed, says so and goes on: those tests then skip loudly.
set -uo pipefail

CHROMIUM=${PGRUN_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0

echo "installing chromium from Debian (for the dashboard's browser tests)" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
if ! { $SUDO apt-get update -qq \
       && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; }; then
  echo "WARNING: could not install chromium; the dashboard's browser tests will be skipped" >&2
fi
exit 0
