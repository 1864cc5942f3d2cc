#!/usr/bin/env bash
# check-report.sh DIR — checks a `census report` folder the way a reader would see it:
# every local image and link on DIR/index.html exists and nothing is fetched from the net,
# headless Chromium loads the page without console errors (a missing image is one), and its
# full-page screenshot (DIR/../<name>-screenshot.png, or $SCREENSHOT) shows many colours.
#
# Needs /usr/bin/chromium (Debian: apt-get install -y chromium; or set CHROMIUM) and python3
# with Pillow (tests/requirements.txt). Exit status 0 when every check passes, 1 otherwise.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR   (a folder written by census report)" >&2
    exit 2
fi
dir=$(cd "$1" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
    echo "check-report: $chromium not found; install it (apt-get install -y chromium) or set CHROMIUM" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec python3 "$here/check_report.py" "$dir" --chromium "$chromium" \
    --screenshot "${SCREENSHOT:-$(dirname "$dir")/$(basename "$dir")-screenshot.png}"
