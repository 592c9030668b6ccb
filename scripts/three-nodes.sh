#!/usr/bin/env bash
# Three `portcullis serve` nodes on one PostgreSQL behind nginx, all on loopback: the change
# feed and the consistency tokens as a client of a real deployment sees them.
#
#  1. consistency: 1,000 changes, each through one node, visible on the other two (p50/p99,
#     failing over 100 ms at p99); 1,000 writes through nginx read back with their revision
#     (through nginx, and every tenth on every node); a revoked key refused on every node;
#  2. faults: writes through nginx go on while one node is killed with SIGKILL and started
#     again, and while PostgreSQL restarts; then every acknowledged write is on every node,
#     and the nodes agree on the revision.
#
# PostgreSQL is a cluster of the script's own (initdb, a free port, its folder removed at the
# end), so restarting it disturbs no one. nginx is the system's, else unpacked from Debian's
# package into the target folder (no service is installed or started). Without either the
# script says why and stops (a failure when PORTCULLIS_REQUIRE_E2E=1, as in CI).
# PORTCULLIS_PROFILE=release builds optimised binaries (the figures in BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
script=three-nodes.sh
# shellcheck source=real-server.sh
source scripts/real-server.sh

profile=${PORTCULLIS_PROFILE:-debug}
target=${CARGO_TARGET_DIR:-target}
node_pids=("" "" "")
nginx_pid=""
pg_started=""
pg_ctl_bin=""
as_pg=()

cleanup_nodes() {
  for pid in "${node_pids[@]}" "$nginx_pid"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$pg_started" ]; then
    "${as_pg[@]}" "$pg_ctl_bin" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup_nodes EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ---- the tools -------------------------------------------------------------------------------
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to find free ports"
pg_bin=""
for dir in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" /usr/lib/postgresql/*/bin; do
  if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
    pg_bin=$dir
    break
  fi
done
[ -n "$pg_bin" ] || skip "no PostgreSQL server programs (initdb, pg_ctl) on this machine"
pg_ctl_bin="$pg_bin/pg_ctl"
if [ "$(id -u)" = "0" ]; then
  # PostgreSQL refuses to run as root: its own user runs the cluster.
  id postgres >/dev/null 2>&1 || skip "running as root and there is no \`postgres\` user to run a cluster"
  as_pg=(runuser -u postgres --)
fi

nginx_bin=$(command -v nginx || true)
if [ -z "$nginx_bin" ]; then
  unpacked="$target/nginx-deb"
  if [ ! -x "$unpacked/usr/sbin/nginx" ] && command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
    echo "== unpacking nginx from Debian's package into $unpacked"
    mkdir -p "$unpacked"
    (cd "$work" && timeout 300 apt-get download nginx >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && timeout 300 apt-get download nginx >/dev/null 2>&1; }) || true
    deb=$(ls "$work"/nginx_*.deb 2>/dev/null | head -n 1 || true)
    [ -n "$deb" ] && dpkg -x "$deb" "$unpacked"
  fi
  [ -x "$unpacked/usr/sbin/nginx" ] && nginx_bin="$unpacked/usr/sbin/nginx"
fi
[ -n "$nginx_bin" ] || skip "nginx is not installed and could not be unpacked from Debian's package"

# ---- build -----------------------------------------------------------------------------------
echo "== building portcullis and portcullis-bench ($profile)"
# The bench binary only drives `nodes` here: built without Cedar (its `compare`), which is heavy.
profile_flag=()
[ "$profile" = "release" ] && profile_flag=(--release)
timeout 2400 cargo build --locked --quiet "${profile_flag[@]}" -p portcullis-cli
timeout 2400 cargo build --locked --quiet "${profile_flag[@]}" -p portcullis-bench --no-default-features
portcullis_bin="$target/$profile/portcullis"
bench_bin="$target/$profile/portcullis-bench"

# ---- PostgreSQL ------------------------------------------------------------------------------
chmod 755 "$work"
mkdir -p "$work/pg"
[ ${#as_pg[@]} -gt 0 ] && chown postgres "$work/pg"
pg_port=$(free_port)
echo "== a PostgreSQL cluster of our own on 127.0.0.1:$pg_port"
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -U postgres --auth=trust >"$work/initdb.log" 2>&1 || {
  cat "$work/initdb.log"
  exit 1
}
pg_start() {
  "${as_pg[@]}" "$pg_ctl_bin" -D "$work/pg" -l "$work/pg/server.log" -w -t 60 \
    -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
}
pg_start
pg_started=1
database="postgres://postgres@127.0.0.1:$pg_port/postgres"

# ---- three nodes behind nginx ----------------------------------------------------------------
operator=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
ports=("$(free_port)" "$(free_port)" "$(free_port)")
# Every request of the test is the demo admin's: the management API's per-user limits off.
export PORTCULLIS_API_READS_PER_MINUTE=0 PORTCULLIS_API_WRITES_PER_MINUTE=0

# start_node I: node I (0-2) on its port, its log appended to "$work/node-I.log".
start_node() {
  local i=$1
  "$portcullis_bin" serve --listen "127.0.0.1:${ports[$i]}" --database "$database" --operator-token "$operator" \
    --issue-rate-limit 0 --poll-ms 1000 >>"$work/node-$i.log" 2>&1 &
  node_pids[$i]=$!
  for _ in $(seq 1 600); do
    if grep -q "listening on http://127.0.0.1:${ports[$i]}" "$work/node-$i.log" 2>/dev/null; then
      return 0
    fi
    kill -0 "${node_pids[$i]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "$script: node $i did not come up; its log:"
  cat "$work/node-$i.log"
  exit 1
}

# The first node imports the demo tenant and prints its admin's key; the others find it stored.
start_node 0
token=$(grep -A1 "admin API key for user" "$work/node-0.log" | tail -n 1 | tr -d ' ')
[ -n "$token" ] || { echo "$script: no admin key in node 0's log"; cat "$work/node-0.log"; exit 1; }
start_node 1
start_node 2
nodes=("http://127.0.0.1:${ports[0]}" "http://127.0.0.1:${ports[1]}" "http://127.0.0.1:${ports[2]}")

lb_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream portcullis {
    server 127.0.0.1:${ports[0]} max_fails=0;
    server 127.0.0.1:${ports[1]} max_fails=0;
    server 127.0.0.1:${ports[2]} max_fails=0;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$lb_port;
    client_max_body_size 16m;
    location / {
      proxy_pass http://portcullis;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
    }
  }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
via="http://127.0.0.1:$lb_port"
for _ in $(seq 1 100); do
  curl -s -o /dev/null "$via/health" && break
  sleep 0.1
done
echo "== nodes ${nodes[*]} behind nginx at $via"

# ---- 1. consistency --------------------------------------------------------------------------
"$bench_bin" nodes consistency --via "$via" --node "${nodes[0]}" --node "${nodes[1]}" --node "${nodes[2]}" \
  --token "$token" --changes "${PORTCULLIS_CHANGES:-1000}"

# ---- 2. faults: SIGKILL a node, restart PostgreSQL, writes going on ----------------------------
"$bench_bin" nodes write --via "$via" --token "$token" --seconds 12 --log "$work/acknowledged.jsonl" &
writer=$!
fault_start=$(date +%s.%N)
at() { python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):6.2f} s')" "$(date +%s.%N)" "$fault_start"; }
sleep 3
echo "== $(at): SIGKILL node 2"
kill -9 "${node_pids[2]}"
wait "${node_pids[2]}" 2>/dev/null || true
node_pids[2]=""
sleep 2
echo "== $(at): node 2 started again"
start_node 2
sleep 2
echo "== $(at): PostgreSQL stopping"
"${as_pg[@]}" "$pg_ctl_bin" -D "$work/pg" -m fast -w stop >/dev/null
sleep 1
# Decisions go on from the nodes' views (a credential verified in the last 5 s, an action whose
# decision is not logged); the store's own health says it is down.
decided=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"user":"bob","action":"app:read","resource":"sales-dashboard"}' "${nodes[1]}/v1/check" || true)
echo "   $(at): database down: a decision on node 1 answers $decided"
[ "$decided" = "200" ] || { echo "$script: decisions stopped with the database"; exit 1; }
# A write (a new API key) is refused at once with 503 (the node knows the database is gone), not after the
# pool's 10 s wait for a connection.
refused=$(curl -s -m 15 -o /dev/null -w '%{http_code} %{time_total}' -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"user":"bob"}' "${nodes[1]}/v1/api-keys" || true)
echo "   $(at): database down: a write on node 1 answers $refused s"
python3 -c 'import sys; code, took = sys.argv[1].split(); sys.exit(0 if code == "503" and float(took) < 1.0 else 1)' "$refused" \
  || { echo "$script: a write while the database is down must be refused with 503 within 1 s"; exit 1; }
health=$(curl -s -m 5 -w ' (%{http_code})' "${nodes[1]}/health" || true)
echo "   $(at): database down: node 1's /health: $health"
pg_start
echo "== $(at): PostgreSQL back"
wait "$writer"
"$bench_bin" nodes verify --node "${nodes[0]}" --node "${nodes[1]}" --node "${nodes[2]}" --token "$token" \
  --log "$work/acknowledged.jsonl"
for i in 0 1 2; do
  reloads=$(curl -s -H "Authorization: Bearer $operator" "${nodes[$i]}/metrics" | sed -n 's/^portcullis_tenant_reloads_total //p')
  followed=$(curl -s -H "Authorization: Bearer $operator" "${nodes[$i]}/metrics" | sed -n 's/^portcullis_changes_followed_total //p')
  feed=$(curl -s "${nodes[$i]}/health" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("feed"))')
  echo "   node $i: $followed changes followed from the log, $reloads tenants read whole; feed $feed"
  [ "$feed" = "listening" ] || { echo "$script: node $i is not listening to the feed again"; exit 1; }
done
echo "$script: passed"
