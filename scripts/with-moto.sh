#!/usr/bin/env bash
# Runs a command against a local AWS (moto server on a free 127.0.0.1 port),
# and stops moto however the command ends. If AWS_ENDPOINT_URL is already
# set, that stack is used and nothing is started.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv="$here/.venv"

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=$AWS_REGION

if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
  exec "$@"
fi

port=${MOTO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')}
log=$(mktemp -t moto.XXXXXX.log)
"$venv/bin/python" "$here/scripts/moto_server.py" 127.0.0.1 "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  if curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then cat "$log" >&2; echo "moto failed to start" >&2; exit 1; fi
  sleep 0.1
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
echo "local AWS (moto) at $AWS_ENDPOINT_URL" >&2
"$@"
