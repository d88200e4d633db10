#!/usr/bin/env bash
# `make dev`: the whole product on this machine.
#
# Starts a local AWS (moto, on 127.0.0.1:${MOTO_PORT:-4566}) unless
# AWS_ENDPOINT_URL names one or a moto already answers there, then runs the
# local gateway, which creates the liaison-dev resources (idempotent), loads
# the demo directory through sync-directory, prints a token for a demo client
# and a demo manager with curl lines to try, and serves the API on
# http://${LIAISON_LOCAL_ADDR:-127.0.0.1:3000}, with the page (web/dist, or
# LIAISON_WEB_DIR; `make dev` builds it with `make web`) and its dev sign-in
# on the same origin. Ctrl-C stops everything this
# script started (moto too; a moto it found running is left alone).
#
# Extra arguments go to `liaison-local serve` (see `liaison-local --help`).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
venv="$here/.venv"

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=$AWS_REGION
# What the functions get (the same as [workspace.metadata.lambda.env]).
export LIAISON_NOTIFY_DELAY_SECONDS=${LIAISON_NOTIFY_DELAY_SECONDS:-3}
# LIAISON_APP_URL: unset, e-mail links open the page the gateway serves on
# its own origin (http://$addr/messages/THREAD_ID).
export LIAISON_CURSOR_SECRET=${LIAISON_CURSOR_SECRET:-liaison-dev-cursor-secret}
export LIAISON_FROM_EMAIL=${LIAISON_FROM_EMAIL:-liaison@agency.example}
# Dev tokens (the gateway's and `make token`'s): LIAISON_DEV_JWT_SECRET,
# LIAISON_DEV_JWT_ISSUER and LIAISON_DEV_JWT_AUDIENCE, or their defaults.
addr=${LIAISON_LOCAL_ADDR:-127.0.0.1:3000}

# Build before starting anything, so a first (long) build holds nothing up.
cargo build -p liaison-local
gateway="${CARGO_TARGET_DIR:-$here/target}/debug/liaison-local"

moto_pid=""
moto_log=""
gateway_pid=""
cleanup() {
  if [ -n "$gateway_pid" ] && kill -0 "$gateway_pid" 2>/dev/null; then
    kill -TERM "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
  fi
  if [ -n "$moto_pid" ]; then
    kill -TERM "$moto_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$moto_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
    echo "dev: local AWS (moto) stopped" >&2
  fi
  if [ -n "$moto_log" ]; then rm -f "$moto_log"; fi
}
trap cleanup EXIT
# Ctrl-C reaches this script; background jobs ignore it, so pass it on.
trap 'if [ -n "$gateway_pid" ]; then kill -TERM "$gateway_pid" 2>/dev/null || true; else exit 130; fi' INT TERM

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  port=${MOTO_PORT:-4566}
  endpoint="http://127.0.0.1:$port"
  if curl -fs "$endpoint/moto-api/" >/dev/null 2>&1; then
    echo "dev: using the local AWS (moto) already answering at $endpoint" >&2
  else
    moto_log=$(mktemp -t liaison-dev-moto.XXXXXX.log)
    if [ -f "$here/scripts/moto_server.py" ]; then
      "$venv/bin/python" "$here/scripts/moto_server.py" 127.0.0.1 "$port" >"$moto_log" 2>&1 &
    else
      "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
    fi
    moto_pid=$!
    for _ in $(seq 1 200); do
      if curl -fs "$endpoint/moto-api/" >/dev/null 2>&1; then break; fi
      if ! kill -0 "$moto_pid" 2>/dev/null; then
        cat "$moto_log" >&2
        echo "dev: moto did not start on port $port (in use? set MOTO_PORT)" >&2
        moto_pid=""
        exit 1
      fi
      sleep 0.1
    done
    echo "dev: local AWS (moto) started at $endpoint" >&2
  fi
  export AWS_ENDPOINT_URL=$endpoint
else
  echo "dev: using AWS at $AWS_ENDPOINT_URL" >&2
fi

"$gateway" serve --addr "$addr" --provision --demo "$@" &
gateway_pid=$!
status=0
wait "$gateway_pid" || status=$?
# A signal interrupts `wait`; the gateway is then still shutting down.
while kill -0 "$gateway_pid" 2>/dev/null; do
  status=0
  wait "$gateway_pid" || status=$?
done
gateway_pid=""
# A stop by Ctrl-C is a clean exit.
if [ "$status" -eq 143 ] || [ "$status" -eq 130 ]; then status=0; fi
exit "$status"
