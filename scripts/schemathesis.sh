#!/usr/bin/env bash
# HTTP API fuzzing with schemathesis against the server's own /openapi.json, every route
# included (the Qlik-compatible /api/v1 ones too): builds `portcullis`, installs the pinned
# schemathesis into a virtualenv under the target directory, starts `portcullis serve` on
# SQLite with the demo tenant, an admin API key and an operator token on a free loopback
# port, and runs schemathesis in a bounded mode (a few examples per operation, a fixed seed,
# no stateful phase). It fails on any 5xx, any status the document does not list, any
# response whose body or content type does not match the document, and any schemathesis error.
# What runs and what it found: docs/api-fuzzing.md.
#
# Without python3, or without a reachable package index to install schemathesis, it says so
# and exits 0, unless PORTCULLIS_REQUIRE_E2E=1, which makes that a failure.
#
# Knobs: PORTCULLIS_FUZZ_EXAMPLES (examples per operation, default 50), PORTCULLIS_FUZZ_SEED
# (default 20251130).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
examples="${PORTCULLIS_FUZZ_EXAMPLES:-50}"
seed="${PORTCULLIS_FUZZ_SEED:-20251130}"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
venv="$target/schemathesis-venv"

script=schemathesis
# shellcheck source=scripts/real-server.sh
source scripts/real-server.sh

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

st="$venv/bin/schemathesis"
if ! "$st" --version 2>/dev/null | grep -q "version $version\$"; then
  echo "== installing schemathesis $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || skip "python3 cannot make a virtualenv (is the venv module installed?)"
  if ! timeout 600 "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"; then
    rm -rf "$venv"
    skip "cannot install schemathesis $version (is the package index reachable?)"
  fi
fi

build_portcullis

py() { "$venv/bin/python" -c "$@"; }
admin_key="fuzz-admin-$(py 'import secrets; print(secrets.token_hex(24))')"
operator_token="fuzz-operator-$(py 'import secrets; print(secrets.token_hex(24))')"

# The management API's per-user rate limits are off: with them, most of a run would be 429s.
export PORTCULLIS_API_READS_PER_MINUTE=0 PORTCULLIS_API_WRITES_PER_MINUTE=0
start_portcullis --tenant examples/demo-tenant.yaml --api-key "admin=$admin_key" --operator-token "$operator_token"

# One run of schemathesis over the operations its filter arguments select, as `$1`'s token.
fuzz() {
  local name=$1 token=$2
  shift 2
  echo "== schemathesis: $name"
  # From the scratch folder: schemathesis keeps a cache in its working directory.
  (cd "$work" && timeout 300 "$st" run "$url/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$examples" --seed "$seed" --workers 2 --request-timeout 20 \
    --no-color --output-truncate true \
    "$@")
}

status=0
# Everything but the operator's routes and key revocation, as the demo tenant's admin. The
# revocations run last, on their own: a generated id may be the admin key's own.
fuzz "every route, as the tenant admin" "$admin_key" \
  --exclude-path-regex '^/v1/operator/' --exclude-operation-id revoke_api_key --exclude-operation-id keys_delete || status=$?
fuzz "the operator's routes" "$operator_token" --include-path-regex '^/v1/operator/' || status=$?
fuzz "key revocation" "$admin_key" --include-operation-id revoke_api_key --include-operation-id keys_delete || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "schemathesis: the server died during the run"
  status=1
fi
if [ "$status" != "0" ]; then
  echo "schemathesis: findings above; the server's log:"
  tail -n 50 "$work/server.log"
fi
exit "$status"
