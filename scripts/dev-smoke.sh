#!/usr/bin/env bash
# Smoke test of `make dev`: starts it in the background (its own moto and
# gateway ports, so a running `make dev` is not disturbed), waits for the
# demo tokens, calls GET /threads with curl, checks the page, /config.json
# and the dev sign-in on the same origin, answers a printed notification by
# SMTP and finds the answer in the thread, stops it as Ctrl-C would, and
# checks that the gateway and the moto it started are gone.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
moto_port=$(free_port)
api_port=$(free_port)
smtp_port=$(free_port)
api="http://127.0.0.1:$api_port"
log=$(mktemp -t liaison-dev-smoke.XXXXXX.log)

# `make dev` must start its own local AWS here, whatever the caller uses.
unset AWS_ENDPOINT_URL
export MOTO_PORT=$moto_port
export LIAISON_LOCAL_ADDR=127.0.0.1:$api_port
export LIAISON_SMTP_ADDR=127.0.0.1:$smtp_port

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

# The page on the same origin: built (200) or a note saying to build it (503).
page=$(curl -sS -D - "$api/messages/thr_smoke") || fail "GET /messages/… failed"
case "$page" in
  "HTTP/1.1 200"*"content-security-policy: default-src 'self'"*) ;;
  "HTTP/1.1 503"*"make web"*) ;;
  *) fail "unexpected page at /messages/…: $page" ;;
esac
config=$(curl -fsS "$api/config.json") || fail "GET /config.json failed"
[ "$config" = "{\"api_url\":\"$api\",\"dev_sign_in\":true}" ] || fail "unexpected /config.json: $config"
# The dev sign-in: the demo directory's people, a token that works.
people=$(curl -fsS "$api/dev/people") || fail "GET /dev/people failed"
case "$people" in
  *'"label":"Chris — Acme Beauty, client"'*'"label":"Dana — account manager"'*) ;;
  *) fail "unexpected GET /dev/people answer: $people" ;;
esac
signed=$(curl -fsS -X POST "$api/dev/token" -H 'content-type: application/json' -d '{"user_id":"u_dana"}') ||
  fail "POST /dev/token failed"
dev_token=$(printf '%s' "$signed" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$dev_token" ] || fail "no token in the POST /dev/token answer: $signed"
curl -fsS "$api/threads" -H "Authorization: Bearer $dev_token" >/dev/null ||
  fail "GET /threads with a /dev/token token failed"
grep -q "open $api/ in a browser" "$log" || fail "the banner does not lead with the page's URL"
grep -q "E-mail links open $api/messages/" "$log" || fail "e-mail links do not open this gateway's page"

# Reply by e-mail: the manager writes, the printed notification to the
# client shows its Reply-To, the client answers it over SMTP (as a mail
# program would), and the answer is in the thread by the client.
grep -q "SMTP on 127.0.0.1:$smtp_port" "$log" || fail "the banner does not show the SMTP listener"
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
thread=$(curl -fsS -X POST "$api/threads" -H "Authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"scope":{"kind":"general"}}' | json_field id) ||
  fail "opening the General thread failed"
curl -fsS -X POST "$api/threads/$thread/messages" -H "Authorization: Bearer $manager" \
  -H 'content-type: application/json' -d '{"body":"Smoke: the cut is ready","client_message_id":"smoke-1"}' >/dev/null ||
  fail "the manager's send failed"
reply_to=""
for _ in $(seq 1 120); do
  # The e-mail printed for Chris (Alex gets one of their own).
  reply_to=$(python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
for block in text.split("e-mail accepted by SES")[1:]:
    if re.search(r"^To:.*chris@acme\.example", block, re.M):
        found = re.search(r"reply\+[a-z2-7]{33}@[A-Za-z0-9.-]+", block)
        if found:
            print(found.group(0))
            break
PY
)
  [ -n "$reply_to" ] && break
  sleep 0.25
done
[ -n "$reply_to" ] || fail "no e-mail printed for Chris shows a Reply-To address within 30 s"
python3 - "$smtp_port" "$reply_to" <<'PY' || fail "the SMTP answer was refused"
import smtplib, sys
from email.message import EmailMessage
port, to = int(sys.argv[1]), sys.argv[2]
m = EmailMessage()
m["From"] = "Chris <chris@acme.example>"
m["To"] = to
m["Subject"] = "Re: smoke"
m.set_content("Smoke answer by e-mail\n\nOn Mon, 30 Nov 2026 at 07:51, Dana wrote:\n> Smoke: the cut is ready\n")
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    s.send_message(m)
PY
answered=""
for _ in $(seq 1 80); do
  if curl -fsS "$api/threads/$thread/messages" -H "Authorization: Bearer $manager" | grep -q '"body":"Smoke answer by e-mail"'; then
    answered=yes
    break
  fi
  sleep 0.25
done
[ -n "$answered" ] || fail "the answer by e-mail did not reach the thread within 20 s"

stop || fail "make dev did not stop"
if curl -fs "http://127.0.0.1:$moto_port/moto-api/" >/dev/null 2>&1; then
  fail "moto still answers on port $moto_port after make dev stopped"
fi
if curl -s -o /dev/null "$api/threads" 2>/dev/null; then
  fail "the gateway still answers after make dev stopped"
fi
grep -q "moto) stopped" "$log" || fail "make dev did not report stopping moto"
rm -f "$log"
echo "dev-smoke: make dev served the page, the dev sign-in and GET /threads with demo tokens, took an answer by SMTP into the thread, and stopped cleanly (moto too)"
