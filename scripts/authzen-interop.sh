#!/usr/bin/env bash
# The AuthZEN working group's interop suites against the real server: for each scenario
# (Todo, API gateway, Search) starts `examples/authzen/serve.sh SCENARIO` on a free loopback
# port with a random token and replays the working group's decision files
# (examples/authzen/interop, copied from openid/authzen) with scripts/authzen-interop.py,
# which compares as the working group's runners do. Fails when any decision or search result
# set differs. `--markdown DIR` also writes each scenario's results table, in the format of
# the working group's website, to DIR/SCENARIO.md.
#
# Without python3 it says so and exits 0, unless PORTCULLIS_REQUIRE_E2E=1, which makes that a
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."

script=authzen-interop
# shellcheck source=scripts/real-server.sh
source scripts/real-server.sh

markdown=""
if [ "${1:-}" = "--markdown" ]; then
  markdown=$(cd "${2:?--markdown needs a folder}" && pwd)
fi

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

build_portcullis
token="interop-$(python3 -c 'import secrets; print(secrets.token_hex(24))')"

status=0
for scenario in todo gateway search; do
  log="$work/$scenario.log"
  PORTCULLIS="$portcullis_bin" examples/authzen/serve.sh "$scenario" 127.0.0.1:0 "$token" >"$log" 2>&1 &
  server_pid=$!
  url=""
  for _ in $(seq 1 300); do
    url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "$script: the $scenario server did not come up; its log:"
    cat "$log"
    exit 1
  fi
  echo "== $scenario: replaying the working group's decisions against $url"
  args=("$scenario" "$url" "$token")
  [ -n "$markdown" ] && args+=(--markdown "$markdown/$scenario.md")
  if ! timeout 120 python3 scripts/authzen-interop.py "${args[@]}" >"$work/$scenario.out"; then
    status=1
    grep -v '^PASS' "$work/$scenario.out" || true
    echo "$script: $scenario failed; the server's log:"
    tail -n 30 "$log"
  else
    tail -n 1 "$work/$scenario.out"
  fi
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
done
exit "$status"
