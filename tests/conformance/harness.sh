# The part of a conformance run that does not depend on the client's language, sourced by
# tests/conformance/run.sh (Python) and tests/conformance-js/run.sh (JS). Before sourcing, the
# script sets `name` (its prefix in messages and the summary line), `logs` and `server_bin`, and
# defines two functions:
#   probe_ok URL                 exit status 0 when GET URL answers 200
#   run_client URL PART          plays part PART of its client script against URL
# It then calls `run_part N POLICY` for each part and, last, `finish`.
#
# The database of the servers: the script's first argument, else the environment variable
# DATABASE_URL, else `sqlite`:
#   memory           in memory
#   sqlite           a fresh SQLite file per part (in the log folder)
#   sqlite:PATH      that file, for every part
#   postgres         a fresh database per part on TEST_DATABASE_URL (default
#                    postgres://postgres@127.0.0.1:5432/test), dropped after the part
#   postgres://…     the same on that server (needs `psql`)

start_timeout=60
client_timeout=""
if command -v timeout >/dev/null 2>&1; then
  client_timeout="timeout 300"
fi

database="${1:-${DATABASE_URL:-sqlite}}"
case "$database" in
  postgres) pg_server="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" ;;
  postgres://* | postgresql://*) pg_server="$database" ;;
  memory | sqlite | sqlite:*) pg_server="" ;;
  *)
    echo "$name: unknown database $database: memory, sqlite, sqlite:PATH, postgres or postgres://…" >&2
    exit 2
    ;;
esac
part_database=""
part_pg_name=""

# A URL with its password shown as ***.
masked() {
  printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#; s#([?&]password=)[^&]*#\1***#'
}

# `postgres://…/db?query` naming the database $2 instead of its own.
with_database() {
  local url="$1" db="$2" query=""
  case "$url" in *\?*) query="?${url#*\?}"; url="${url%%\?*}" ;; esac
  local scheme="${url%%://*}" rest="${url#*://}"
  printf '%s://%s/%s%s' "$scheme" "${rest%%/*}" "$db" "$query"
}

# Sets part_database for part $1: a fresh file or PostgreSQL database when the run makes them.
make_part_database() {
  local part="$1"
  case "$database" in
    sqlite)
      local file="$logs/part$part.db"
      rm -f "$file" "$file-wal" "$file-shm" "$file-journal"
      part_database="sqlite:$file"
      ;;
    postgres | postgres://* | postgresql://*)
      part_pg_name="pc_${name//-/_}_$$_part$part"
      psql "$pg_server" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$part_pg_name\"" >/dev/null \
        || return 1
      part_database="$(with_database "$pg_server" "$part_pg_name")"
      ;;
    *) part_database="$database" ;;
  esac
}

# Drops the part's PostgreSQL database, if the run made one.
drop_part_database() {
  if [ -n "$part_pg_name" ]; then
    psql "$pg_server" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS \"$part_pg_name\" WITH (FORCE)" >/dev/null \
      || echo "$name: could not drop database $part_pg_name" >&2
    part_pg_name=""
  fi
}

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
  drop_part_database
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
  "$server_bin" --host 127.0.0.1 --port 0 --policy "$policy" --database "$part_database" \
    >"$log" 2>&1 &
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
  if ! make_part_database "$part"; then
    failed=$((failed + 1))
    echo "$name: cannot make a database for part $part on $(masked "$pg_server")"
    return 0
  fi
  echo "database: $(masked "$part_database")"
  if ! start_server "$policy" "$log"; then
    failed=$((failed + 1))
    echo "---- server log ($log)"
    cat "$log" || true
    echo "----"
    stop_server
    drop_part_database
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
  drop_part_database
}

# The summary line, last, and the exit status.
finish() {
  echo
  summary
  [ "$failed" = 0 ]
}
