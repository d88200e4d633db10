#!/usr/bin/env bash
# Smoke test of `make dev`: starts it in the background (its own moto and
# gateway ports, so a running `make dev` is not disturbed), waits for the
# demo tokens, calls GET /threads with curl, stops it as Ctrl-C would, and
# checks that the gateway and the moto it started are gone.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
moto_port=$(free_port)
api_port=$(free_port)
api="http://127.0.0.1:$api_port"
log=$(mktemp -t liaison-dev-smoke.XXXXXX.log)

# `make dev` must start its own local AWS here, whatever the caller uses.
unset AWS_ENDPOINT_URL
export MOTO_PORT=$moto_port
export LIAISON_LOCAL_ADDR=127.0.0.1:$api_port

# Its own session: one signal to the group is a Ctrl-C in a terminal.
setsid make --no-print-directory dev >"$log" 2>&1 </dev/null &
pid=$!
stop() {
  kill -INT -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "dev-smoke: make dev did not stop within 15 s" >&2
  kill -KILL -- "-$pid" 2>/dev/null || true
  return 1
}
fail() {
  echo "dev-smoke: FAILED: $*" >&2
  echo "---- make dev output ----" >&2
  cat "$log" >&2
  stop || true
  rm -f "$log"
  exit 1
}
trap 'stop || true; rm -f "$log"' INT TERM

# A first build can take a while; a built tree answers in seconds.
deadline=$((SECONDS + ${DEV_SMOKE_TIMEOUT:-600}))
token=""
while [ -z "$token" ]; do
  kill -0 "$pid" 2>/dev/null || fail "make dev exited early"
  [ "$SECONDS" -lt "$deadline" ] || fail "no demo token printed in time"
  token=$(sed -n 's/^ *export CLIENT_TOKEN=//p' "$log" | head -n1)
  [ -n "$token" ] || sleep 0.5
done
manager=$(sed -n 's/^ *export MANAGER_TOKEN=//p' "$log" | head -n1)
[ -n "$manager" ] || fail "no manager token printed"

threads=$(curl -fsS "$api/threads" -H "Authorization: Bearer $token") || fail "GET /threads failed"
case "$threads" in
  *'"threads":'*) ;;
  *) fail "unexpected GET /threads answer: $threads" ;;
esac
catalog=$(curl -fsS "$api/catalog?account_id=acc_acme" -H "Authorization: Bearer $manager") ||
  fail "GET /catalog as the manager failed"
case "$catalog" in
  *'"acc_acme"'*) ;;
  *) fail "unexpected GET /catalog answer: $catalog" ;;
esac
status=$(curl -s -o /dev/null -w '%{http_code}' "$api/threads")
[ "$status" = 401 ] || fail "GET /threads without a token answered $status, not 401"

stop || fail "make dev did not stop"
if curl -fs "http://127.0.0.1:$moto_port/moto-api/" >/dev/null 2>&1; then
  fail "moto still answers on port $moto_port after make dev stopped"
fi
if curl -s -o /dev/null "$api/threads" 2>/dev/null; then
  fail "the gateway still answers after make dev stopped"
fi
grep -q "moto) stopped" "$log" || fail "make dev did not report stopping moto"
rm -f "$log"
echo "dev-smoke: make dev served GET /threads with a demo token and stopped cleanly (moto too)"
