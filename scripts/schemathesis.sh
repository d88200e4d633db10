#!/usr/bin/env bash
# Fuzzes the running API against its contract: starts the local gateway on
# a free port (on the local AWS that scripts/with-moto.sh provides, with its
# own resources and the demo directory), then runs schemathesis over every
# operation of infra/openapi.yaml, once as a client user and once as a
# manager, with every check schemathesis has (`--checks all`): server
# errors, status codes, content types, headers and bodies the spec does not
# allow, schema-valid requests refused and schema-violating ones accepted,
# auth, methods and resource checks. The two data checks
# (positive_data_acceptance, negative_data_rejection) run as the versions in
# scripts/schemathesis_hooks.py, which excuse only the rules the spec
# documents but JSON Schema cannot state (stored state such as a cursor's
# HMAC, the catalog, uploads and a thread's messages; the caller's role;
# text cleaning), each named there with why. Fails on any other failure,
# and after both users ran.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
: "${AWS_ENDPOINT_URL:?run through scripts/with-moto.sh}"
examples=${SCHEMATHESIS_EXAMPLES:-25}
seed=${SCHEMATHESIS_SEED:-20261125}

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

# positive_data_acceptance and negative_data_rejection are excluded by name
# only because scripts/schemathesis_hooks.py registers them again, as
# positive_data_acceptance_documented and negative_data_rejection_documented,
# which `--checks all` runs: the same checks minus the documented rules.
# SCHEMATHESIS_SEED and SCHEMATHESIS_EXAMPLES explore beyond the CI run.
status=0
for user in u_chris u_dana; do
  token=$("$gateway" token --sub "$user")
  echo "schemathesis as $user ($examples examples per operation)" >&2
  SCHEMATHESIS_HOOKS="$here/scripts/schemathesis_hooks.py" "$here/.venv/bin/schemathesis" run infra/openapi.yaml \
    --url "http://127.0.0.1:$port" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --exclude-checks positive_data_acceptance,negative_data_rejection \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 1 \
    --warnings off || status=1
done
exit "$status"
