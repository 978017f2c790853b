#!/usr/bin/env bash
# bench/rss.sh [THREADS ...]: the server's resident memory against the number of stored threads,
# on SQLite and PostgreSQL (issue 13: memory flat in the number of stored threads).
#
# For each backend and each count (default 1000 50000 150000): a server on a fresh store
# (SQLite: a file in a scratch folder; PostgreSQL: a database created through TEST_DATABASE_URL,
# default postgres://postgres@127.0.0.1:5432/test, and dropped after) seeded with that many
# threads over 100 users; VmRSS once seeded, then again after 300 `GET /threads/{id}` and 300
# `POST /threads/search` as user1. A backend that keeps rows in the process grows with the count;
# these should not (SQLite's page cache is bounded per connection: 8 readers and 1 writer).
# SERVER_BIN=PATH uses that binary instead of a release build.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/bench/common.sh"
COUNTS=("$@")
((${#COUNTS[@]})) || COUNTS=(1000 50000 150000)
TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
WAIT_SECONDS="${WAIT_SECONDS:-1800}"
start_work
need curl curl
need psql postgresql-client
build_server

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

printf '%-9s %9s %14s %16s\n' backend threads 'RSS seeded MiB' 'RSS 600 req MiB'
for backend in sqlite postgres; do
    for n in "${COUNTS[@]}"; do
        case "$backend" in
            sqlite) url="sqlite:$WORK/rss-$n.db" ;;
            postgres)
                name="rss_$(date +%s)_$$_$n"
                psql "$TEST_DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $name"
                AT_EXIT+=("psql '$TEST_DATABASE_URL' -qc 'DROP DATABASE IF EXISTS $name WITH (FORCE)'")
                url="${TEST_DATABASE_URL%/*}/$name"
                ;;
        esac
        log="$WORK/server-$backend-$n.log"
        "$BIN" --port 0 --log-level warn --database "$url" --seed-threads "$n" --seed-users 100 \
            >"$log" 2>"$WORK/server.err" &
        pid=$!
        PIDS+=("$pid")
        base="$(wait_url "$log" "$pid" "$WORK/server.err")"
        seeded="$(rss_kib "$pid")"
        tid="$(curl -sf -XPOST -H 'Authorization: Bearer user1-token' \
            -H 'content-type: application/json' -d '{}' "$base/threads" |
            sed -n 's/.*"thread_id":"\([^"]*\)".*/\1/p')"
        for _ in $(seq 300); do
            curl -sf -o /dev/null -H 'Authorization: Bearer user1-token' "$base/threads/$tid"
            curl -sf -o /dev/null -XPOST -H 'Authorization: Bearer user1-token' \
                -H 'content-type: application/json' -d '{"limit": 10}' "$base/threads/search"
        done
        after="$(rss_kib "$pid")"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        awk -v b="$backend" -v n="$n" -v s="$seeded" -v a="$after" \
            'BEGIN { printf "%-9s %9d %14.1f %16.1f\n", b, n, s / 1024, a / 1024 }'
    done
done
