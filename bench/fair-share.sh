#!/usr/bin/env bash
# Fair share under load (issue 25): a normal user's GET /threads/{id} while another user searches
# at the limits, against the same without that user.
#
#   bench/fair-share.sh [SECONDS]   (default 5; each run loads the server SECONDS)
#
# Builds private-conversations in release and starts it on DATABASE (memory, the default; sqlite,
# a fresh file; postgres, a database made through TEST_DATABASE_URL, default
# postgres://postgres@127.0.0.1:5432/test, dropped at exit) with SEED_THREADS threads (default
# 10000) over 100 users. Alice (user1) stores HEAVY threads (default 4) whose metadata holds the
# integers 0..ELEMENTS (default 150000, about 1 MB each). Then, ROUNDS times (default 3), in turn:
#   quiet:  Bob (user2) alone, wrk with CONNECTIONS connections (default 4) on GET /threads/{id}
#           of one of his seeded threads;
#   attack: the same while ATTACKERS (default 16) loops of Alice's send, one after another, the
#           review's quadratic search sized at the budget (the last 64 of her integers,
#           reversed: each found only at the end of every stored array), and, one in four, the
#           whole array reversed (refused over the budget).
# It prints Bob's requests/s, p50 and p99 (medians of the rounds), the ratio of his p99 under
# attack to his quiet p99, and the statuses Alice got. Any answer to Bob other than 2xx fails the
# run (wrk's "Non-2xx"). The server logs at `warn`.
#
# Installs wrk and curl from Debian if missing. Stops every process it started.
set -euo pipefail

DURATION="${1:-5}"
if ! [[ "$DURATION" =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 600)); then
    echo "usage: bench/fair-share.sh [SECONDS]   (1-600, default 5)" >&2
    exit 2
fi
DATABASE="${DATABASE:-memory}"
SEED_THREADS="${SEED_THREADS:-10000}"
HEAVY="${HEAVY:-4}"
ELEMENTS="${ELEMENTS:-150000}"
ROUNDS="${ROUNDS:-3}"
ATTACKERS="${ATTACKERS:-16}"
CONNECTIONS="${CONNECTIONS:-4}"
TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
case "$DATABASE" in memory | sqlite | postgres) ;; *) echo "DATABASE must be memory, sqlite or postgres" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PIN=0

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
start_work
load_tools
build_server

case "$DATABASE" in
    memory) url=memory ;;
    sqlite) url="sqlite:$WORK/server.db" ;;
    postgres)
        need psql postgresql-client
        name="fair_$(date +%s)_$$"
        psql "$TEST_DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $name" >&2
        AT_EXIT+=("psql '$TEST_DATABASE_URL' -qc 'DROP DATABASE IF EXISTS $name WITH (FORCE)' >&2")
        url="${TEST_DATABASE_URL%/*}/$name"
        ;;
esac
"$BIN" --port 0 --log-level warn --database "$url" --seed-threads "$SEED_THREADS" \
    --seed-users 100 >"$WORK/server.log" 2>"$WORK/server.err" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
WAIT_SECONDS=1800
BASE="$(wait_url "$WORK/server.log" "$SERVER_PID" "$WORK/server.err")"

# Alice's threads, and what she searches for.
printf '{"metadata": {"tags": [%s]}}' "$(seq -s, 0 $((ELEMENTS - 1)))" >"$WORK/heavy.json"
for _ in $(seq "$HEAVY"); do
    curl -sS --fail --max-time 60 -o /dev/null -X POST "$BASE/threads" \
        -H 'Authorization: Bearer user1-token' -H 'Content-Type: application/json' \
        --data-binary @"$WORK/heavy.json"
done
printf '{"metadata": {"tags": [%s]}}' "$(seq -s, $((ELEMENTS - 1)) -1 $((ELEMENTS - 64)))" \
    >"$WORK/budget.json"
printf '{"metadata": {"tags": [%s]}}' "$(seq -s, $((ELEMENTS - 1)) -1 0)" >"$WORK/whole.json"
# Bob's thread: seeded thread 1 belongs to user2.
BOBS="5eed0000-0000-4000-8000-000000000001"
: >"$WORK/get.lua"

# attacker N: Alice's searches, one after another, until the file attack.on is gone.
attacker() {
    local i=0 body
    while [[ -e "$WORK/attack.on" ]]; do
        body=budget
        (((i += 1) % 4 == 0)) && body=whole
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 -X POST "$BASE/threads/search" \
            -H 'Authorization: Bearer user1-token' -H 'Content-Type: application/json' \
            --data-binary @"$WORK/$body.json" >>"$WORK/alice-$1.codes" || echo timeout >>"$WORK/alice-$1.codes"
    done
}

# bob NAME: wrk on Bob's GET; appends his req/s, p50 and p99 (ms) to WORK/NAME.
bob() {
    local out="$WORK/wrk-$1-$(date +%s%N).txt"
    run_wrk "$out" -d"${DURATION}s" --latency -H 'Authorization: Bearer user2-token' \
        -s "$WORK/get.lua" "$BASE/threads/$BOBS"
    ms() {
        awk -v p="$1" '$1 == p {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1
            printf "%.3f", v * f; exit }' "$out"
    }
    echo "$RPS $(ms 50%) $(ms 99%)" >>"$WORK/$1"
}

# Warm-up, not counted.
run_wrk "$WORK/warmup.txt" -d2s -H 'Authorization: Bearer user2-token' -s "$WORK/get.lua" \
    "$BASE/threads/$BOBS"
for round in $(seq "$ROUNDS"); do
    bob quiet
    touch "$WORK/attack.on"
    ATTACK_PIDS=()
    for a in $(seq "$ATTACKERS"); do
        attacker "$a" &
        ATTACK_PIDS+=($!)
    done
    sleep 1 # the attack is under way
    bob attack
    rm -f "$WORK/attack.on"
    for pid in "${ATTACK_PIDS[@]}"; do wait "$pid" || true; done
    echo "round $round of $ROUNDS done" >&2
done

col() { awk -v c="$2" '{ print $c }' "$WORK/$1" | median; }
echo "fair share: $DATABASE, $SEED_THREADS threads, Alice $HEAVY × $ELEMENTS integers, $ATTACKERS attackers; $(machine)"
printf '| Bob GET /threads/{id} | req/s | p50 ms | p99 ms |\n|---|---|---|---|\n'
for s in quiet attack; do
    printf '| %s | %s | %s | %s |\n' "$s" "$(col "$s" 1)" "$(col "$s" 2)" "$(col "$s" 3)"
done
awk -v q="$(col quiet 3)" -v a="$(col attack 3)" 'BEGIN { printf "p99 under attack / quiet: %.2fx\n", a / q }'
echo "Alice's answers: $(cat "$WORK"/alice-*.codes | sort | uniq -c | awk '{ printf "%s × %s, ", $1, $2 }' | sed 's/, $//')"
