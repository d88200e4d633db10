#!/usr/bin/env bash
# The browser tests against a private local stack: starts a moto server and
# the local gateway (demo directory, the built page from web/dist) on free
# 127.0.0.1 ports (no SMTP listener: the browser never mails, and a `make dev`
# may hold 2525), waits until both answer, runs `npx playwright test` (extra
# arguments go to it, e.g. a file name or --grep) against the gateway's
# origin, and stops both whatever happens.
#
# Needs what `make test-web` prepares: .venv (moto), node_modules here,
# web/dist (npm run build in web/), and a built liaison-local
# (cargo build -p liaison-local; CARGO_TARGET_DIR is honoured).
#
# LIAISON_E2E_COPY_SCREENSHOTS=1 copies the screenshots the run wrote to
# web/e2e/screenshots/ into docs/screenshots/ (the README's), after a
# successful run.
set -euo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
here=$(cd "$e2e/../.." && pwd)
cd "$here"

python=$here/.venv/bin/python
gateway_bin=${LIAISON_LOCAL_BIN:-${CARGO_TARGET_DIR:-$here/target}/debug/liaison-local}
missing=()
[ -x "$python" ] || missing+=(".venv (make venv)")
[ -x "$gateway_bin" ] || missing+=("$gateway_bin (cargo build -p liaison-local)")
[ -f "$here/web/dist/index.html" ] || missing+=("web/dist (cd web && npm ci && npm run build)")
[ -d "$e2e/node_modules/@playwright/test" ] || missing+=("web/e2e/node_modules (cd web/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)")
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=("${CHROMIUM:-/usr/bin/chromium} (apt-get install -y chromium)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "web/e2e/run.sh: missing, run make test-web (or build them):" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
moto_port=$(free_port)
api_port=$(free_port)
while [ "$api_port" = "$moto_port" ]; do api_port=$(free_port); done
origin="http://127.0.0.1:$api_port"
logs=$(mktemp -d -t liaison-e2e.XXXXXX)

moto_pid=""
gateway_pid=""
tests_pid=""
stop() {
  # $1: pid, $2: name. TERM, then KILL after 20 s.
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "web/e2e/run.sh: $2 did not stop within 20 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Playwright closes its browsers on an interrupt.
  if [ -n "$tests_pid" ] && kill -0 "$tests_pid" 2>/dev/null; then
    kill -INT "$tests_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$tests_pid" 2>/dev/null || break
      sleep 0.1
    done
    stop "$tests_pid" "playwright"
  fi
  stop "$gateway_pid" "the gateway"
  stop "$moto_pid" "moto"
  if [ "$status" -ne 0 ]; then
    echo "---- gateway log (last 80 lines) ----" >&2
    tail -n 80 "$logs/gateway.log" >&2 2>/dev/null || true
  fi
  rm -rf "$logs"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"

"$python" "$here/scripts/moto_server.py" 127.0.0.1 "$moto_port" >"$logs/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 200); do
  if curl -fs "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    cat "$logs/moto.log" >&2
    echo "web/e2e/run.sh: moto did not start" >&2
    exit 1
  fi
  sleep 0.1
done

# The dev sign-in needs the local default secret, issuer and audience.
unset LIAISON_DEV_JWT_SECRET LIAISON_DEV_JWT_ISSUER LIAISON_DEV_JWT_AUDIENCE
# E-mail links open the thread on this gateway; notifications go out soon.
LIAISON_APP_URL=$origin \
LIAISON_WEB_DIR=$here/web/dist \
LIAISON_NOTIFY_DELAY_SECONDS=${LIAISON_NOTIFY_DELAY_SECONDS:-3} \
LIAISON_CURSOR_SECRET=liaison-e2e-cursor-secret \
RUST_LOG=${RUST_LOG:-info,aws_config=warn,aws_smithy_runtime=warn} \
  "$gateway_bin" serve --addr "127.0.0.1:$api_port" --no-smtp --provision --demo >"$logs/gateway.log" 2>&1 &
gateway_pid=$!
# It binds once the resources exist and the demo directory is loaded.
ready=""
for _ in $(seq 1 600); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$origin/unread" 2>/dev/null || true)
  if [ "$code" = 401 ]; then ready=1; break; fi
  if ! kill -0 "$gateway_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "web/e2e/run.sh: the gateway did not answer on $origin" >&2
  exit 1
fi
page=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$origin/" || true)
case "$page" in
  "200 text/html"*) ;;
  *) echo "web/e2e/run.sh: GET $origin/ answered \"$page\", not the page (does the gateway serve LIAISON_WEB_DIR?)" >&2 ;;
esac

echo "web/e2e/run.sh: local AWS (moto) at $AWS_ENDPOINT_URL, gateway at $origin" >&2
cd "$e2e"
rm -rf screenshots
# In the background, so that a signal to this script stops everything at once.
LIAISON_E2E_BASE_URL=$origin LIAISON_E2E_WEB_DIST=$here/web/dist "$e2e/node_modules/.bin/playwright" test "$@" &
tests_pid=$!
wait "$tests_pid"
tests_pid=""

if [ "${LIAISON_E2E_COPY_SCREENSHOTS:-}" = 1 ] && compgen -G "screenshots/*.png" >/dev/null; then
  mkdir -p "$here/docs/screenshots"
  cp screenshots/*.png "$here/docs/screenshots/"
  echo "web/e2e/run.sh: copied $(ls screenshots/*.png | wc -l) screenshots to docs/screenshots/" >&2
fi
