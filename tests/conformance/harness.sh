# The part of a conformance run that does not depend on the client's language, sourced by
# tests/conformance/run.sh (Python) and tests/conformance-js/run.sh (JS). Before sourcing, the
# script sets `name` (its prefix in messages and the summary line), `logs` and `server_bin`, and
# defines two functions:
#   probe_ok URL                 exit status 0 when GET URL answers 200
#   run_client URL PART          plays part PART of its client script against URL
# It then calls `run_part N POLICY` for each part and, last, `finish`.

start_timeout=60
client_timeout=""
if command -v timeout >/dev/null 2>&1; then
  client_timeout="timeout 300"
fi

passed=0
failed=0
summary_done=0
server_pid=""

summary() {
  if [ "$summary_done" = 0 ]; then
    summary_done=1
    echo "$name: $passed passed, $failed failed"
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

# Builds the server and makes the log folder.
build_server() {
  cargo build -q -p private-conversations
  if [ ! -x "$server_bin" ]; then
    echo "$name: $server_bin was not built" >&2
    exit 1
  fi
  mkdir -p "$logs"
}

# Starts the server with the given policy on port 0 and sets server_pid and server_url.
start_server() {
  local policy="$1" log="$2"
  server_url=""
  # Emptied here, not only by the redirection below: that one happens in the background, and a
  # previous run's `listening on` line must not be read before it does.
  : >"$log"
  "$server_bin" --host 127.0.0.1 --port 0 --policy "$policy" >"$log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + start_timeout)) line
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "$name: the server ($policy) exited before listening" >&2
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
    echo "$name: the server ($policy) did not print 'listening on' within ${start_timeout}s" >&2
    return 1
  fi
  case "$server_url" in
    *:0 | *:2024)
      echo "$name: the server reported an unexpected address $server_url" >&2
      return 1
      ;;
  esac
  # It said it listens: it must also answer the public health route.
  while [ "$SECONDS" -lt "$deadline" ]; do
    if probe_ok "$server_url/ok" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  echo "$name: $server_url/ok did not answer 200 within ${start_timeout}s" >&2
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
  run_client "$server_url" "$part" 2>&1 | tee "$out" || status=$?
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
      echo "$name: the server ($policy) died during part $part"
      [ "$status" != 0 ] || [ "$bad" != 0 ] || failed=$((failed + 1))
    fi
    echo "---- server log ($log)"
    cat "$log" || true
    echo "----"
  fi
  stop_server
}

# The summary line, last, and the exit status.
finish() {
  echo
  summary
  [ "$failed" = 0 ]
}
