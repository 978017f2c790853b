#!/usr/bin/env bash
# Load test of the example server, with the tutorial's auth and without it, on the same build.
#
#   bench/load.sh [SECONDS]        (default 10; each scenario loads each server SECONDS x 1 s)
#
# Builds private-conversations in release, starts it twice on 127.0.0.1 (port 0, read from its
# "listening on http://…" line), each holding SEED_THREADS threads (default 100000) over 100
# users: once with the scoped tutorial policy (`--auth on`), once with `--auth off` (an `Auth`
# with no handlers: the same layer and routes, every request anonymous and allowed without a
# filter). Both get the same requests, the same `Authorization: Bearer user1-token` header and the
# same bodies; both log at `warn`. Then, with wrk, for each of
#   GET /threads/{id}, POST /threads/search, POST /threads
# it first warms each server up with WARMUP seconds (default 2) of the same load, not counted,
# then loads each server SECONDS times for 1 s, interleaved (on off, off on, on off, …), and prints
# per server the medians of its runs: requests/s, p50 and p99 latency; and the server's CPU time
# per request over all its runs (from /proc/PID/stat: less sensitive to other load on the machine).
# It prints each server's peak RSS (VmHWM) after seeding and at the end, and last:
#   auth overhead: N.N% (auth on R1 req/s, auth off R2 req/s)      for GET /threads/{id}
#
# PIN=1 (the default on two CPUs or more): each server runs on CPU 0 with one tokio worker, wrk on
# CPU 1. The server then has a core of its own instead of taking turns with wrk, so it is the
# server's cost per request that sets the throughput, not how the scheduler shares two CPUs among
# three busy threads. PIN=0: no pinning, the server's default of one worker per CPU.
# A_A=1: both servers run with `--auth off`, to show how far two identical servers differ with
# this method on this machine; the last line then reads
#   A/A difference: N.N% (server A R1 req/s, server B R2 req/s)
#
# DB_AB=1: both servers run with --auth on, "on" on the backend DB_A (default memory), "off" on
# DB_B (default sqlite), each with a store of its own as for DATABASE; the last line then reads
#   DB_B/DB_A: N.N% of the requests per second (DB_A R1 req/s, DB_B R2 req/s)
#
# LOG_AB=1: both servers run with --auth on; "on" logs at `info` (the default level: one access
# line per request), "off" at `warn`; the last line then reads
#   logging overhead: N.N% (info R1 req/s, warn R2 req/s)
#
# DATABASE: the storage backend of both servers (their `--database`), each with a store of its own:
#   memory (the default), sqlite (a fresh file in a temporary folder per server), postgres (a
#   uniquely named database per server, created through TEST_DATABASE_URL, default
#   postgres://postgres@127.0.0.1:5432/test, and dropped at exit). A server without the
#   `--database` flag has only its memory store: the flag is then left out and only memory runs.
#   Seeding a database may take long: WAIT_SECONDS (default 120 for memory, 1800 otherwise) bounds
#   each server's start.
#
# Besides the medians, each scenario's row gives the worst p99 of its runs ("p99 max"): a stall
# that falls in one or two 1 s runs (a table growing under a lock) is left out by the median.
#
# SERVER_BIN=PATH: loads that binary instead of building one (to compare two builds).
#
# Installs wrk, curl and taskset from Debian if missing. Stops every process it started.
set -euo pipefail

DURATION="${1:-10}"
if ! [[ "$DURATION" =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 600)); then
    echo "usage: bench/load.sh [SECONDS]   (1-600, default 10)" >&2
    exit 2
fi
SEED_THREADS="${SEED_THREADS:-100000}"
WARMUP="${WARMUP:-2}"
if ! [[ "$WARMUP" =~ ^[0-9]+$ ]]; then
    echo "WARMUP must be a number of seconds" >&2
    exit 2
fi
SEED_USERS=100
PIN="${PIN:-$(($(nproc) >= 2 ? 1 : 0))}"
A_A="${A_A:-0}"
LOG_AB="${LOG_AB:-0}"
DB_AB="${DB_AB:-0}"
DB_A="${DB_A:-memory}"
DB_B="${DB_B:-sqlite}"
for v in PIN A_A LOG_AB DB_AB; do
    if [[ "${!v}" != 0 && "${!v}" != 1 ]]; then
        echo "$v must be 0 or 1" >&2
        exit 2
    fi
done
CONNECTIONS="${CONNECTIONS:-16}"
DATABASE_SET="${DATABASE:+1}"
DATABASE="${DATABASE:-memory}"
if [[ "$DB_AB" == 1 ]]; then
    for v in DB_A DB_B; do
        case "${!v}" in memory | sqlite | postgres) ;; *) echo "$v must be memory, sqlite or postgres" >&2; exit 2 ;; esac
    done
    [[ "$DB_A" == memory && "$DB_B" == memory ]] || DATABASE=sqlite
fi
case "$DATABASE" in
    memory) WAIT_SECONDS="${WAIT_SECONDS:-120}" ;;
    sqlite | postgres) WAIT_SECONDS="${WAIT_SECONDS:-1800}" ;;
    *)
        echo "DATABASE must be memory, sqlite or postgres" >&2
        exit 2
        ;;
esac
TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
start_work
load_tools
build_server

# Whether this server takes --database; without it, its only store is memory.
if [[ "$("$BIN" --help 2>/dev/null || true)" == *--database* ]]; then
    HAS_DATABASE=1
elif [[ "$DATABASE" == memory ]]; then
    HAS_DATABASE=0
else
    echo "error: this server has no --database flag: only DATABASE=memory" >&2
    exit 2
fi
[[ "$HAS_DATABASE" == 1 || -z "$DATABASE_SET" ]] ||
    echo "note: this server has no --database flag; it keeps everything in memory" >&2
if [[ "$DATABASE" == postgres || "$DB_AB" == 1 && "$DB_A $DB_B" == *postgres* ]]; then
    need psql postgresql-client
fi

# database_flag on|off [BACKEND]: sets DATABASE_FLAG, the server's --database (empty without the flag),
# a store of that server's own.
database_flag() {
    local url name
    DATABASE_FLAG=()
    [[ "$HAS_DATABASE" == 1 ]] || return 0
    case "${2:-$DATABASE}" in
        memory) url=memory ;;
        sqlite) url="sqlite:$WORK/server-$1.db" ;;
        postgres)
            name="load_$(date +%s)_$$_$1"
            psql "$TEST_DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $name" >&2
            AT_EXIT+=("psql '$TEST_DATABASE_URL' -qc 'DROP DATABASE IF EXISTS $name WITH (FORCE)' >&2")
            url="${TEST_DATABASE_URL%/*}/$name"
            ;;
    esac
    DATABASE_FLAG=(--database "$url")
}

# start_server on|off: starts a seeded server; sets ADDR and SERVER_PID (the server's own: env
# and taskset exec it). With A_A=1 both are started with --auth off.
start_server() {
    local log="$WORK/server-$1.log" auth="$1" level=warn
    [[ "$A_A" == 1 ]] && auth=off
    if [[ "$LOG_AB" == 1 ]]; then
        auth=on
        [[ "$1" == on ]] && level=info
    fi
    local backend="$DATABASE"
    if [[ "$DB_AB" == 1 ]]; then
        auth=on
        if [[ "$1" == on ]]; then backend="$DB_A"; else backend="$DB_B"; fi
    fi
    database_flag "$1" "$backend"
    "${SERVER_PIN[@]}" "$BIN" --port 0 --auth "$auth" --log-level "$level" "${DATABASE_FLAG[@]}" \
        --seed-threads "$SEED_THREADS" --seed-users "$SEED_USERS" >"$log" 2>"$WORK/server-$1.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    ADDR="$(wait_url "$log" "$SERVER_PID" "$WORK/server-$1.err")"
    ADDR="${ADDR#http://}"
}

peak_rss_mib() { # peak_rss_mib PID
    awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# A thread of user1's, created through the API (the policy stamps the owner when auth is on;
# with auth off the body carries the same metadata).
make_thread() { # make_thread ADDR
    thread_of "http://$1" user1-token '{"metadata": {"owner": "user1"}}'
}

cat >"$WORK/search.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"metadata": {"owner": "user1"}, "limit": 10}'
EOF
cat >"$WORK/create.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"metadata": {"owner": "user1"}}'
EOF
: >"$WORK/get.lua"

cpu_ticks() { # cpu_ticks PID: user + system time of the process, in clock ticks
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# load NAME URL SCRIPT SECONDS PID: runs wrk against the server PID; sets RPS, P50, P99 (latencies
# in ms), REQUESTS and TICKS (the server's CPU time during the run).
load() {
    local out="$WORK/wrk-$1.txt" before
    before="$(cpu_ticks "$5")"
    run_wrk "$out" -d"${4}s" --latency -H 'Authorization: Bearer user1-token' -s "$3" "$2"
    TICKS=$(($(cpu_ticks "$5") - before))
    REQUESTS="$(awk '/ requests in / { print $1 }' "$out")"
    ms() {
        awk -v p="$1" '$1 == p {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1
            printf "%.3f", v * f; exit }' "$out"
    }
    P50="$(ms 50%)"
    P99="$(ms 99%)"
}

# target on|off SCENARIO: sets URL and PID of that server for that scenario.
target() {
    local addr thread
    if [[ "$1" == on ]]; then
        addr="$ON_ADDR" thread="$ON_THREAD" PID="$ON_PID"
    else
        addr="$OFF_ADDR" thread="$OFF_THREAD" PID="$OFF_PID"
    fi
    case "$2" in
        get) URL="http://$addr/threads/$thread" ;;
        search) URL="http://$addr/threads/search" ;;
        create) URL="http://$addr/threads" ;;
    esac
}

echo "starting both servers with $SEED_THREADS threads over $SEED_USERS users" >&2
start_server on
ON_ADDR="$ADDR" ON_PID="$SERVER_PID"
start_server off
OFF_ADDR="$ADDR" OFF_PID="$SERVER_PID"
ON_SEEDED_RSS="$(peak_rss_mib "$ON_PID")"
OFF_SEEDED_RSS="$(peak_rss_mib "$OFF_PID")"

ON_THREAD="$(make_thread "$ON_ADDR")"
OFF_THREAD="$(make_thread "$OFF_ADDR")"
if [[ -z "$ON_THREAD" || -z "$OFF_THREAD" ]]; then
    echo "error: could not create a thread for user1" >&2
    exit 1
fi
# With auth on, user2 must not see user1's thread: the comparison is with a policy that works.
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    -H 'Authorization: Bearer user2-token' "http://$ON_ADDR/threads/$ON_THREAD")"
if [[ "$A_A" == 0 && "$code" != 404 ]]; then
    echo "error: with auth on, user2 read user1's thread (HTTP $code)" >&2
    exit 1
fi

if [[ "$PIN" == 1 ]]; then
    placement="each server on CPU 0 with 1 tokio worker, wrk on CPU 1"
else
    placement="not pinned"
fi
echo "storage: $DATABASE$([[ "$HAS_DATABASE" == 1 ]] || echo ' (the server has no --database flag)')"
echo "machine: $(machine); $placement; wrk -t1 -c$CONNECTIONS; per scenario and server: ${WARMUP} s warm-up, then ${DURATION} runs of 1 s, interleaved; figures: medians of the runs"
if [[ "$DB_AB" == 1 ]]; then
    echo "DB_AB=1: both servers run with --auth on; \"on\" is $DB_A, \"off\" is $DB_B"
fi
if [[ "$LOG_AB" == 1 ]]; then
    echo "LOG_AB=1: both servers run with --auth on; \"on\" logs at info, \"off\" at warn"
fi
if [[ "$A_A" == 1 ]]; then
    echo "A_A=1: both servers run with --auth off; \"on\" is server A, \"off\" server B"
fi
printf '%-22s %-5s %9s %9s %9s %11s %13s\n' scenario auth 'req/s' 'p50 ms' 'p99 ms' 'p99 max ms' \
    'CPU us/req'
HZ="$(getconf CLK_TCK)"
GET_ON="" GET_OFF=""
for scenario in get search create; do
    case "$scenario" in
        get) name="GET /threads/{id}" ;;
        search) name="POST /threads/search" ;;
        create) name="POST /threads" ;;
    esac
    : >"$WORK/runs-on" && : >"$WORK/runs-off"
    # A warm-up per server, not counted: right after start-up (or the previous scenario) caches
    # are cold and the heap still grows, which would weigh on whichever side runs first.
    if ((WARMUP > 0)); then
        for mode in on off; do
            target "$mode" "$scenario"
            load "$scenario-$mode-warmup" "$URL" "$WORK/$scenario.lua" "$WARMUP" "$PID"
        done
    fi
    # Short runs, alternating on/off then off/on: a burst of load from elsewhere on the machine
    # hits one run or two, not one side, and the medians leave it out.
    for ((i = 0; i < DURATION; i++)); do
        if ((i % 2)); then order="off on"; else order="on off"; fi
        for mode in $order; do
            target "$mode" "$scenario"
            load "$scenario-$mode" "$URL" "$WORK/$scenario.lua" 1 "$PID"
            echo "$RPS $P50 $P99 $REQUESTS $TICKS" >>"$WORK/runs-$mode"
            echo "$i $mode $RPS" >>"$WORK/pairs-$scenario"
        done
    done
    for mode in on off; do
        rps="$(awk '{ print $1 }' "$WORK/runs-$mode" | median)"
        p50="$(awk '{ print $2 }' "$WORK/runs-$mode" | median)"
        p99="$(awk '{ print $3 }' "$WORK/runs-$mode" | median)"
        p99max="$(awk '{ print $3 }' "$WORK/runs-$mode" | sort -g | tail -n1)"
        cpu="$(awk -v hz="$HZ" '{ r += $4; t += $5 } END { printf "%.1f", t / hz * 1e6 / r }' "$WORK/runs-$mode")"
        printf '%-22s %-5s %9.0f %9.3f %9.3f %11.3f %13s\n' "$name" "$mode" "$rps" "$p50" "$p99" \
            "$p99max" "$cpu"
        if [[ "$scenario" == get && "$mode" == on ]]; then
            GET_ON="$rps" GET_CPU_ON="$cpu"
        elif [[ "$scenario" == get ]]; then
            GET_OFF="$rps" GET_CPU_OFF="$cpu"
        fi
    done
done

echo "peak RSS holding $SEED_THREADS threads (VmHWM after seeding): auth on ${ON_SEEDED_RSS} MiB, auth off ${OFF_SEEDED_RSS} MiB"
echo "peak RSS at the end (after the load, incl. the threads POST /threads created): auth on $(peak_rss_mib "$ON_PID") MiB, auth off $(peak_rss_mib "$OFF_PID") MiB"
# Each on run against the off run next to it: the spread of these paired ratios shows the noise.
sort -n "$WORK/pairs-get" | awk '
    $2 == "on" { on[$1] = $3 } $2 == "off" { off[$1] = $3 }
    END { for (i in on) print (1 - on[i] / off[i]) * 100 }' | sort -g >"$WORK/pair-ratios"
awk '{ v[NR] = $1 } END {
    lo = v[int((NR + 3) / 4)]; hi = v[int((3 * NR + 3) / 4)]
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "GET /threads/{id}, %d adjacent on/off pairs: median overhead %.1f%%, quartiles %.1f%% .. %.1f%%\n", NR, m, lo, hi
}' "$WORK/pair-ratios"
echo "GET /threads/{id}: the server's CPU time per request: auth on $GET_CPU_ON us, auth off $GET_CPU_OFF us (all runs)"
if [[ "$LOG_AB" == 1 ]]; then
    awk -v on="$GET_ON" -v off="$GET_OFF" 'BEGIN {
        printf "logging overhead: %.1f%% (info %d req/s, warn %d req/s)\n", (1 - on / off) * 100, on, off }'
elif [[ "$DB_AB" == 1 ]]; then
    awk -v a="$GET_ON" -v b="$GET_OFF" -v na="$DB_A" -v nb="$DB_B" 'BEGIN {
        printf "DB_B/DB_A: %.1f%% of the requests per second (%s %d req/s, %s %d req/s)\n", b / a * 100, na, a, nb, b }'
elif [[ "$A_A" == 1 ]]; then
    awk -v on="$GET_ON" -v off="$GET_OFF" 'BEGIN {
        printf "A/A difference: %.1f%% (server A %d req/s, server B %d req/s)\n", (1 - on / off) * 100, on, off }'
else
    awk -v on="$GET_ON" -v off="$GET_OFF" 'BEGIN {
        printf "auth overhead: %.1f%% (auth on %d req/s, auth off %d req/s)\n", (1 - on / off) * 100, on, off }'
fi
