# Sourced by the scripts that drive a real `portcullis serve` (e2e-qlik-api.sh, e2e-qlik-sdk.sh,
# schemathesis.sh, ...): how to skip, build the binary, start it on a free loopback port with a
# scratch SQLite store, and stop it (removing the scratch folder) on exit. The caller sets
# `script` (its name, for messages) before sourcing.

# Says why the script did not run and exits 0, or 1 when PORTCULLIS_REQUIRE_E2E=1 (CI).
skip() {
  echo "$script: NOT RUN: $1"
  if [ "${PORTCULLIS_REQUIRE_E2E:-0}" = "1" ]; then
    echo "$script: PORTCULLIS_REQUIRE_E2E=1, so this is a failure"
    exit 1
  fi
  exit 0
}

# Builds `portcullis` (debug) and sets `portcullis_bin`.
build_portcullis() {
  echo "== building portcullis"
  timeout 1200 cargo build --locked --quiet -p portcullis-cli
  portcullis_bin="${CARGO_TARGET_DIR:-target}/debug/portcullis"
}

# A named scratch folder, so a sweep of anonymous temporary folders cannot take it mid-run.
work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-$script.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# start_portcullis [SERVE ARGS...]: starts `portcullis serve` on a free loopback port with a
# store in the scratch folder, waits until it listens (it prints its address then), and sets
# `url` and `server_pid`. Its log is "$work/server.log".
start_portcullis() {
  "$portcullis_bin" serve --listen 127.0.0.1:0 --database "sqlite://$work/portcullis.db" "$@" >"$work/server.log" 2>&1 &
  server_pid=$!
  url=""
  for _ in $(seq 1 300); do
    url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/server.log" | head -n 1)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "$script: the server did not come up; its log:"
    cat "$work/server.log"
    exit 1
  fi
  echo "== portcullis serve listening on $url"
}

# start_demo_with_keys: builds `portcullis` and starts it on the demo tenant with three API
# keys made here (random, so no key is ever written in the repository), exported for the tests
# as PORTCULLIS_{URL,ADMIN_KEY,BOB_KEY,ANN_KEY}.
start_demo_with_keys() {
  build_portcullis
  local admin_key bob_key ann_key
  admin_key="e2e-admin-$(random_hex)"
  bob_key="e2e-bob-$(random_hex)"
  ann_key="e2e-ann-$(random_hex)"
  start_portcullis --tenant examples/demo-tenant.yaml --api-key "admin=$admin_key" --api-key "bob=$bob_key" --api-key "ann=$ann_key"
  export PORTCULLIS_URL="$url" PORTCULLIS_ADMIN_KEY="$admin_key" PORTCULLIS_BOB_KEY="$bob_key" PORTCULLIS_ANN_KEY="$ann_key"
}

# 24 random bytes as hex, from the kernel.
random_hex() {
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

# report_failure STATUS: on a failed run, says so with the end of the server's log.
report_failure() {
  if [ "$1" != "0" ]; then
    echo "$script: the tests failed; the server's log:"
    tail -n 50 "$work/server.log"
  fi
}
