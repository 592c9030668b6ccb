#!/usr/bin/env bash
# Serves one of the AuthZEN working group's interop scenarios:
#
#   examples/authzen/serve.sh todo|gateway|search ADDR TOKEN
#
# starts `portcullis serve` listening on ADDR (e.g. 127.0.0.1:8080) with a scratch SQLite
# store, the tenant `authzen` (examples/authzen/tenant.yaml), the scenario's rule site
# (examples/authzen/SCENARIO.yaml) stored as `SCENARIO`, and TOKEN (16 characters or more)
# as the bearer API key of the tenant's policy enforcement point. The tenant's AuthZEN
# requests (`/access/v1/...`) are answered from the site. Ctrl-C or SIGTERM stops the
# server and removes the store.
#
# PORTCULLIS names the binary to run (default: `portcullis` on PATH, else `cargo run`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() {
  echo "usage: $0 todo|gateway|search ADDR TOKEN" >&2
  exit 2
}
[ $# -eq 3 ] || usage
scenario=$1 addr=$2 token=$3
case "$scenario" in
  todo | gateway | search) ;;
  *) usage ;;
esac

if [ -n "${PORTCULLIS:-}" ]; then
  portcullis=("$PORTCULLIS")
elif command -v portcullis >/dev/null 2>&1; then
  portcullis=(portcullis)
else
  portcullis=(cargo run --quiet --locked --manifest-path "$here/../../Cargo.toml" -p portcullis-cli --)
fi

store=$(mktemp -d)
server=""
stop() {
  if [ -n "$server" ]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$store"
}
trap stop EXIT
trap 'exit 0' INT TERM

"${portcullis[@]}" serve --listen "$addr" --database "sqlite://$store/authzen.db" \
  --tenant "$here/tenant.yaml" --api-key "pep=$token" \
  --rule-site "$scenario=$here/$scenario.yaml" --authzen-site "$scenario" &
server=$!
wait "$server"
