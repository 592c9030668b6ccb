#!/usr/bin/env bash
# End-to-end test of the web console in a real headless Chromium: builds `portcullis`, starts
# `portcullis serve` on a free loopback port with the demo tenant and a known admin key,
# installs Debian's `chromium` when it is missing, installs the pinned `playwright-core` and
# `axe-core` (crates/portcullis-console/e2e/package-lock.json) into a scratch folder, and runs
# the browser tests (crates/portcullis-console/e2e/console.test.mjs). Screenshots land in
# target/console-screenshots/. Every step is bounded in time.
#
# Without Node 20+, npm, Chromium (and no way to install it) or a reachable npm registry it
# says so and exits 0, unless PORTCULLIS_REQUIRE_E2E=1, which makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

e2e=crates/portcullis-console/e2e
screenshots="${CARGO_TARGET_DIR:-target}/console-screenshots"

script=e2e-console
# shellcheck source=scripts/real-server.sh
source scripts/real-server.sh

command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || skip "node $node_major is too old; the tests need node 20 or later"

find_chromium() {
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}
chromium_bin=$(find_chromium || true)
if [ -z "$chromium_bin" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "== installing Debian's chromium"
  if ! { timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq chromium; } >"$work/apt.log" 2>&1; then
    tail -n 20 "$work/apt.log"
  fi
  chromium_bin=$(find_chromium || true)
fi
[ -n "$chromium_bin" ] || skip "chromium is not installed and cannot be installed here"

echo "== installing playwright-core and axe-core (pinned in $e2e/package-lock.json)"
mkdir -p "$work/e2e"
cp "$e2e/package.json" "$e2e/package-lock.json" "$e2e/console.test.mjs" "$work/e2e/"
if ! (cd "$work/e2e" && timeout 300 npm ci --no-audit --no-fund --loglevel=error); then
  skip "cannot install playwright-core and axe-core from the npm registry (is it reachable?)"
fi

start_demo_with_keys

echo "== driving the console in $("$chromium_bin" --version 2>/dev/null || echo chromium)"
rm -rf "$screenshots"
mkdir -p "$screenshots"
screenshots=$(cd "$screenshots" && pwd)
status=0
started=$(date +%s)
(cd "$work/e2e" && CHROMIUM="$chromium_bin" SCREENSHOTS="$screenshots" timeout 300 node --test --test-concurrency=1 console.test.mjs) || status=$?
echo "e2e-console: the browser tests took $(($(date +%s) - started)) s; screenshots in $screenshots"
report_failure "$status"
exit "$status"
