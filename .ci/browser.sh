#!/usr/bin/env bash
# browser.sh HERALD: a person's walk through `herald serve` in headless Chromium:
# sign up, confirm from the mail in outbox/, change lists on the preferences page the welcome
# mail links, get the next post, unsubscribe with one click, leave everything from the post's
# preferences link; every page and the confirmation, welcome and post mails audited for
# accessibility with axe-core.
# Screenshots of every page land in target/screenshots/. See .ci/browser_check.py.
#
# Installs Debian's chromium and chromium-driver when they are missing, and axe-core from npm;
# the check itself needs only Python's standard library (it speaks WebDriver to chromedriver
# over HTTP) and runs axe-core inside the pages.
set -euo pipefail
cd "$(dirname "$0")/.."
herald=${1:-target/release/herald}
if [ ! -x "$herald" ]; then
  cargo build --release --quiet
  herald=target/release/herald
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
fi
# axe-core, the accessibility rules engine, from the npm registry (pinned; kept in target/).
axe=target/axe/node_modules/axe-core/axe.min.js
if [ ! -f "$axe" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  npm install --silent --no-audit --no-fund --prefix target/axe axe-core@4.14.1 >/dev/null
fi
# Exit code 3 means Chromium itself stopped answering (its compositor can stall on a slow,
# busy machine), not that a page was wrong: that alone earns one more walk with a new browser.
# A wrong page (1) or a set-up error (2) fails at once.
for attempt in 1 2; do
  code=0
  python3 .ci/browser_check.py --herald "$herald" --out target/screenshots --axe "$axe" || code=$?
  if [ "$code" -ne 3 ] || [ "$attempt" -eq 2 ]; then
    exit "$code"
  fi
  echo "browser.sh: Chromium stalled; walking through once more with a new browser" >&2
done
