#!/usr/bin/env bash
# End-to-end test of the Qlik Cloud-compatible management API with the official `@qlik/api`
# client: builds `portcullis`, installs the pinned client from npm, starts `portcullis serve`
# on a free loopback port with the demo tenant and two known API keys, runs the Node tests
# (crates/portcullis-qlik-api/e2e), and stops the server. Every step is bounded in time.
#
# Without Node 20+, npm, or a reachable npm registry it says so and exits 0, unless
# PORTCULLIS_REQUIRE_E2E=1, which makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

e2e=crates/portcullis-qlik-api/e2e

script=e2e-qlik-api
# shellcheck source=scripts/real-server.sh
source scripts/real-server.sh

command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || skip "node $node_major is too old; the tests need node 20 or later"

echo "== installing @qlik/api (pinned in $e2e/package-lock.json)"
if ! (cd "$e2e" && timeout 300 npm ci --no-audit --no-fund --loglevel=error); then
  skip "cannot install @qlik/api from the npm registry (is it reachable?)"
fi

start_demo_with_keys

echo "== running the @qlik/api tests"
status=0
(cd "$e2e" && timeout 300 node --test --test-concurrency=1 qlik-api.test.mjs) || status=$?
report_failure "$status"
exit "$status"
