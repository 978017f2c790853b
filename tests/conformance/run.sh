#!/usr/bin/env bash
# Conformance: the official langgraph-sdk Python client runs the private-conversations tutorial
# against our server, part 1 under `--policy global`, part 2 under `--policy scoped`, each on a
# fresh server bound to 127.0.0.1 port 0. The last line is `conformance: N passed, M failed`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
venv="$root/target/conformance-venv"
logs="$root/target/conformance-logs"
server_bin="$target_dir/debug/private-conversations"
start_timeout=60
client_timeout=""
if command -v timeout >/dev/null 2>&1; then
  client_timeout="timeout 300"
fi

export PYTHONIOENCODING=utf-8
export PYTHONDONTWRITEBYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

passed=0
failed=0
summary_done=0
server_pid=""

summary() {
  if [ "$summary_done" = 0 ]; then
    summary_done=1
    echo "conformance: $passed passed, $failed failed"
  fi
}

stop_server() {
  if [ -n "$server_pid" ]; then
    if kill -0 "$server_pid" 2>/dev/null; then
      kill "$server_pid" 2>/dev/null || true
      for _ in $(seq 50); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}

on_exit() {
  local status=$?
  stop_server
  if [ "$summary_done" = 0 ]; then
    # Stopped before the end (a failed build or install): that is a failure too.
    [ "$status" = 0 ] || failed=$((failed + 1))
    summary
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Python: a virtualenv with the pinned official client -----------------------------------
python=""
for candidate in python3 python; do
  if command -v "$candidate" >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "conformance: no python3 on PATH" >&2
  exit 1
fi

venv_works() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1 \
    && "$venv/bin/python" -m pip --version >/dev/null 2>&1
}

make_venv() {
  rm -rf "$venv"
  "$python" -m venv "$venv"
}

if ! venv_works; then
  echo "conformance: creating virtualenv $venv"
  if ! make_venv; then
    # Debian's python3 ships venv/ensurepip separately.
    if command -v apt-get >/dev/null 2>&1; then
      echo "conformance: python venv unavailable, installing python3-venv"
      sudo=""
      [ "$(id -u)" = 0 ] || sudo="sudo"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
      make_venv
    else
      echo "conformance: cannot create a virtualenv with $python" >&2
      exit 1
    fi
  fi
fi
"$venv/bin/python" -m pip install -q -r "$here/requirements.txt"
"$venv/bin/python" -c 'import langgraph_sdk, sys; print("conformance: langgraph-sdk", langgraph_sdk.__version__, "on Python", sys.version.split()[0])'

# --- The server -------------------------------------------------------------------------------
cargo build -q -p private-conversations
if [ ! -x "$server_bin" ]; then
  echo "conformance: $server_bin was not built" >&2
  exit 1
fi
mkdir -p "$logs"

# Starts the server with the given policy on port 0 and sets server_pid and server_url.
start_server() {
  local policy="$1" log="$2"
  server_url=""
  "$server_bin" --host 127.0.0.1 --port 0 --policy "$policy" >"$log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + start_timeout)) line
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "conformance: the server ($policy) exited before listening" >&2
      return 1
    fi
    line="$(grep -m1 -o 'listening on http://[0-9.]*:[0-9]*' "$log" 2>/dev/null || true)"
    if [ -n "$line" ]; then
      server_url="${line#listening on }"
      break
    fi
    sleep 0.2
  done
  if [ -z "$server_url" ]; then
    echo "conformance: the server ($policy) did not print 'listening on' within ${start_timeout}s" >&2
    return 1
  fi
  case "$server_url" in
    *:0 | *:2024)
      echo "conformance: the server reported an unexpected address $server_url" >&2
      return 1
      ;;
  esac
  # It said it listens: it must also answer the public health route.
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$venv/bin/python" - "$server_url/ok" <<'EOF' >/dev/null 2>&1; then
import sys, httpx
sys.exit(0 if httpx.get(sys.argv[1], timeout=2).status_code == 200 else 1)
EOF
      return 0
    fi
    sleep 0.2
  done
  echo "conformance: $server_url/ok did not answer 200 within ${start_timeout}s" >&2
  return 1
}

run_part() {
  local part="$1" policy="$2"
  local log="$logs/server-part$part.log" out="$logs/client-part$part.out"
  echo
  echo "== part $part: --policy $policy"
  if ! start_server "$policy" "$log"; then
    failed=$((failed + 1))
    echo "---- server log ($log)"
    cat "$log" || true
    echo "----"
    stop_server
    return 0
  fi
  echo "server at $server_url (pid $server_pid)"
  local status=0
  # Bounded, so that a hung request cannot hold CI; the output is shown as it comes.
  $client_timeout "$venv/bin/python" "$here/tutorial_client.py" --url "$server_url" --part "$part" 2>&1 \
    | tee "$out" || status=$?
  local ok bad
  ok="$(grep -c '^✅' "$out" || true)"
  bad="$(grep -c '^❌' "$out" || true)"
  passed=$((passed + ok))
  failed=$((failed + bad))
  if [ "$status" != 0 ] && [ "$bad" = 0 ]; then
    # The client failed without saying why in a ❌ line (a crash): still a failure.
    failed=$((failed + 1))
  fi
  if [ "$status" != 0 ] || [ "$bad" != 0 ] || ! kill -0 "$server_pid" 2>/dev/null; then
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "conformance: the server ($policy) died during part $part"
      [ "$status" != 0 ] || [ "$bad" != 0 ] || failed=$((failed + 1))
    fi
    echo "---- server log ($log)"
    cat "$log" || true
    echo "----"
  fi
  stop_server
}

run_part 1 global
run_part 2 scoped

echo
summary
[ "$failed" = 0 ]
