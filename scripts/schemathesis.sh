#!/usr/bin/env bash
# Fuzzes the running API against its contract: starts the local gateway on
# a free port (on the local AWS that scripts/with-moto.sh provides, with its
# own resources and the demo directory), then runs schemathesis over every
# operation of infra/openapi.yaml, once as a client user and once as a
# manager, checking for server errors and for status codes, content types
# and response bodies the spec does not allow. Fails on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
: "${AWS_ENDPOINT_URL:?run through scripts/with-moto.sh}"
examples=${SCHEMATHESIS_EXAMPLES:-25}

cargo build -q -p liaison-local
gateway="${CARGO_TARGET_DIR:-$here/target}/debug/liaison-local"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
prefix="st$(date +%s)$$"
log=$(mktemp -t gateway.XXXXXX.log)
LIAISON_NOTIFY_DELAY_SECONDS=1 "$gateway" serve --addr "127.0.0.1:$port" --prefix "$prefix" \
  --provision --demo --no-mail >"$log" 2>&1 &
gateway_pid=$!
cleanup() { kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 200); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/threads"; then break; fi
  if ! kill -0 "$gateway_pid" 2>/dev/null; then cat "$log" >&2; echo "gateway failed to start" >&2; exit 1; fi
  sleep 0.1
done

for user in u_chris u_dana; do
  token=$("$gateway" token --sub "$user")
  echo "schemathesis as $user ($examples examples per operation)" >&2
  "$here/.venv/bin/schemathesis" run infra/openapi.yaml \
    --url "http://127.0.0.1:$port" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" \
    --seed 20261125 \
    --workers 1 \
    --warnings off
done
