#!/usr/bin/env bash
# End-to-end test of the Qlik Cloud-compatible management API with Qlik's Python SDK
# (`qlik-sdk` from PyPI, pinned below): builds `portcullis`, installs the SDK into a scratch
# virtual environment, starts `portcullis serve` on a free loopback port with the demo tenant
# and three known API keys, runs the Python tests (crates/portcullis-qlik-api/e2e-python), and
# stops the server. Every step is bounded in time; with the build done it takes well under a
# minute.
#
# Without python3 (with venv) or a reachable package index it says so and exits 0, unless
# PORTCULLIS_REQUIRE_E2E=1, which makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

qlik_sdk_version="0.17.0"
tests=crates/portcullis-qlik-api/e2e-python

script=e2e-qlik-sdk
# shellcheck source=scripts/real-server.sh
source scripts/real-server.sh

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' || skip "python3 is older than 3.9"
python3 -m venv "$work/venv" >/dev/null 2>&1 || skip "python3 cannot make a virtual environment (is its venv module installed?)"

echo "== installing qlik-sdk $qlik_sdk_version"
if ! timeout 120 "$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "qlik-sdk==$qlik_sdk_version"; then
  skip "cannot install qlik-sdk from the package index (is it reachable?)"
fi

start_demo_with_keys

echo "== running the qlik-sdk tests"
status=0
(cd "$tests" && PYTHONDONTWRITEBYTECODE=1 timeout 120 "$work/venv/bin/python" -m unittest -v test_qlik_sdk) || status=$?
report_failure "$status"
exit "$status"
