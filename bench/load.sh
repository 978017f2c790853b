#!/usr/bin/env bash
# Load test of the example server, with the tutorial's auth and without it, on the same build.
#
#   bench/load.sh [SECONDS]        (default 10; each scenario runs 4 x SECONDS)
#
# Builds private-conversations in release, starts it twice on 127.0.0.1 (port 0, read from its
# "listening on http://…" line), each holding SEED_THREADS threads (default 100000) over 100
# users: once with the scoped tutorial policy (`--auth on`), once with `--auth off` (an `Auth`
# with no handlers: the same layer and routes, every request anonymous and allowed without a
# filter). Both get the same requests, the same `Authorization: Bearer user1-token` header and the
# same bodies; both log at `warn`. Then, with wrk, for each of
#   GET /threads/{id}, POST /threads/search, POST /threads
# it loads the servers in the order on, off, off, on (SECONDS each) and prints, per server, the
# mean of its two runs: requests/s and p50/p99 latency.
# It prints each server's peak RSS (VmHWM) after seeding and at the end, and last:
#   auth overhead: N.N% (auth on R1 req/s, auth off R2 req/s)      for GET /threads/{id}
#
# Installs wrk and curl from Debian if missing. Stops every process it started.
set -euo pipefail

DURATION="${1:-10}"
if ! [[ "$DURATION" =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 600)); then
    echo "usage: bench/load.sh [SECONDS]   (1-600, default 10)" >&2
    exit 2
fi
SEED_THREADS="${SEED_THREADS:-100000}"
SEED_USERS=100
CONNECTIONS="${CONNECTIONS:-16}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() { # need COMMAND DEBIAN_PACKAGE
    command -v "$1" >/dev/null && return
    echo "installing $2 (Debian) for $1" >&2
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq "$2" >&2
}
need wrk wrk
need curl curl

echo "building private-conversations (release)" >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p private-conversations \
    --bin private-conversations
BIN="$TARGET_DIR/release/private-conversations"

# start_server on|off: starts a seeded server; sets ADDR and SERVER_PID.
start_server() {
    local log="$WORK/server-$1.log"
    RUST_LOG=warn "$BIN" --port 0 --auth "$1" --seed-threads "$SEED_THREADS" \
        --seed-users "$SEED_USERS" >"$log" 2>"$WORK/server-$1.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    ADDR=""
    for _ in $(seq 1200); do
        ADDR="$(sed -n 's|^listening on http://||p' "$log" | head -n1)"
        [[ -n "$ADDR" ]] && return
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the server (--auth $1) exited:" >&2
            cat "$WORK/server-$1.err" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "the server (--auth $1) did not start within 120 s" >&2
    exit 1
}

peak_rss_mib() { # peak_rss_mib PID
    awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# A thread of user1's, created through the API (the policy stamps the owner when auth is on;
# with auth off the body carries the same metadata).
make_thread() { # make_thread ADDR
    curl -sS --fail --max-time 10 -X POST "http://$1/threads" \
        -H 'Authorization: Bearer user1-token' -H 'Content-Type: application/json' \
        -d '{"metadata": {"owner": "user1"}}' |
        sed -n 's/.*"thread_id":"\([0-9a-f-]*\)".*/\1/p'
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

# load NAME URL SCRIPT: runs wrk; sets RPS, P50, P99 (latencies in ms).
load() {
    local out="$WORK/wrk-$1.txt"
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency \
        -H 'Authorization: Bearer user1-token' -s "$3" "$2" >"$out"
    if grep -qE 'Non-2xx|Socket errors' "$out"; then
        echo "error: $1 had failed requests:" >&2
        cat "$out" >&2
        exit 1
    fi
    RPS="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
    ms() {
        awk -v p="$1" '$1 == p {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1
            printf "%.3f", v * f; exit }' "$out"
    }
    P50="$(ms 50%)"
    P99="$(ms 99%)"
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
if [[ "$code" != 404 ]]; then
    echo "error: with auth on, user2 read user1's thread (HTTP $code)" >&2
    exit 1
fi

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1); wrk -t1 -c$CONNECTIONS; runs of ${DURATION}s in the order on, off, off, on; figures: mean of each server's two runs"
printf '%-22s %-8s %10s %10s %10s\n' scenario auth 'req/s' 'p50 ms' 'p99 ms'
GET_ON="" GET_OFF=""
for scenario in get search create; do
    case "$scenario" in
        get) name="GET /threads/{id}" ;;
        search) name="POST /threads/search" ;;
        create) name="POST /threads" ;;
    esac
    declare -A rps=([on]=0 [off]=0) p50=([on]=0 [off]=0) p99=([on]=0 [off]=0)
    # on, off, off, on: a drift in the shared machine's load weighs on both sides alike.
    for mode in on off off on; do
        if [[ "$mode" == on ]]; then addr="$ON_ADDR" thread="$ON_THREAD"; else addr="$OFF_ADDR" thread="$OFF_THREAD"; fi
        case "$scenario" in
            get) url="http://$addr/threads/$thread" ;;
            search) url="http://$addr/threads/search" ;;
            create) url="http://$addr/threads" ;;
        esac
        load "$scenario-$mode" "$url" "$WORK/$scenario.lua"
        rps[$mode]="$(awk -v a="${rps[$mode]}" -v b="$RPS" 'BEGIN { print a + b / 2 }')"
        p50[$mode]="$(awk -v a="${p50[$mode]}" -v b="$P50" 'BEGIN { print a + b / 2 }')"
        p99[$mode]="$(awk -v a="${p99[$mode]}" -v b="$P99" 'BEGIN { print a + b / 2 }')"
    done
    for mode in on off; do
        printf '%-22s %-8s %10.0f %10.3f %10.3f\n' "$name" "$mode" "${rps[$mode]}" "${p50[$mode]}" "${p99[$mode]}"
    done
    if [[ "$scenario" == get ]]; then
        GET_ON="${rps[on]}" GET_OFF="${rps[off]}"
    fi
done

echo "peak RSS holding $SEED_THREADS threads (VmHWM after seeding): auth on ${ON_SEEDED_RSS} MiB, auth off ${OFF_SEEDED_RSS} MiB"
echo "peak RSS at the end (after the load, incl. the threads POST /threads created): auth on $(peak_rss_mib "$ON_PID") MiB, auth off $(peak_rss_mib "$OFF_PID") MiB"
awk -v on="$GET_ON" -v off="$GET_OFF" 'BEGIN {
    printf "auth overhead: %.1f%% (auth on %d req/s, auth off %d req/s)\n", (1 - on / off) * 100, on, off }'
