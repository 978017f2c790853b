#!/usr/bin/env bash
# What auth costs one GET /threads/{id} in instructions: a count that is the same on every run and
# every machine of the same build, where the load test's timings drift with the machine.
#
#   bench/instructions.sh
#
# Builds the router benchmark (agent-server/benches/router.rs) and runs it under
# valgrind's callgrind in its counting mode: the whole server stack in process (authentication
# layer, route, authorization, storage, JSON), with the tutorial's scoped policy (auth on) and with
# an `Auth` without handlers (auth off), the store holding SEED_THREADS threads (default 20000)
# over 100 users. Each side runs twice, with FEW and MANY requests (default 2000 and 12000); the
# difference of the two counts is what MANY - FEW requests cost, without the start-up and the
# seeding. Hash tables are seeded at random per process, which moves a count by up to 1%, so this
# is done REPEAT times (default 3) and the median kept. It prints per request the instructions and
# the first-level instruction-cache misses that callgrind simulates (a 32 KiB cache), and last:
#   auth instructions: +N.N% (auth on I1, auth off I2 per request)
#
# Installs valgrind from Debian if it is missing. Takes a couple of minutes.
set -euo pipefail

SEED_THREADS="${SEED_THREADS:-20000}"
FEW="${FEW:-2000}"
MANY="${MANY:-12000}"
REPEAT="${REPEAT:-3}"
for v in SEED_THREADS FEW MANY REPEAT; do
    if ! [[ "${!v}" =~ ^[0-9]+$ ]]; then
        echo "$v must be a whole number" >&2
        exit 2
    fi
done
if ((MANY <= FEW || REPEAT < 1)); then
    echo "MANY ($MANY) must be larger than FEW ($FEW), and REPEAT at least 1" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
need valgrind valgrind

echo "building the router benchmark (bench profile)" >&2
BIN="$(cd "$ROOT" && cargo bench -p agent-server --bench router --no-run \
    --message-format=json 2>/dev/null | grep '"kind":\["bench"\]' |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)"
if [[ -z "$BIN" || ! -x "$BIN" ]]; then
    echo "error: could not build the router benchmark" >&2
    exit 1
fi

# count on|off REQUESTS: prints "instructions I1-misses" of the whole run
count() {
    local out="$WORK/callgrind-$1-$2.out"
    ROUTER_REQUESTS="$2" ROUTER_AUTH="$1" ROUTER_SEED_THREADS="$SEED_THREADS" \
        valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file="$out" "$BIN" --bench \
        >"$WORK/log-$1-$2" 2>&1 || {
        echo "error: the counting run (auth $1, $2 requests) failed:" >&2
        tail -n 20 "$WORK/log-$1-$2" >&2
        exit 1
    }
    # The "summary:" line lists the events in the order of its "events:" line: Ir first, then
    # Dr, Dw, I1mr, …
    awk '/^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
         /^summary:/ { print $col["Ir"], $col["I1mr"] }' "$out"
}

echo "counting: store of $SEED_THREADS threads, $FEW and $MANY requests per side, $REPEAT times" >&2
declare -A IR I1
for mode in on off; do
    : >"$WORK/per-request-$mode"
    for ((r = 0; r < REPEAT; r++)); do
        read -r few_ir few_i1 < <(count "$mode" "$FEW")
        read -r many_ir many_i1 < <(count "$mode" "$MANY")
        awk -v a="$few_ir" -v b="$many_ir" -v c="$few_i1" -v d="$many_i1" -v n=$((MANY - FEW)) \
            'BEGIN { printf "%.1f %.2f\n", (b - a) / n, (d - c) / n }' >>"$WORK/per-request-$mode"
    done
    IR[$mode]="$(awk '{ print $1 }' "$WORK/per-request-$mode" | median)"
    I1[$mode]="$(awk '{ print $2 }' "$WORK/per-request-$mode" | median)"
    printf 'GET /threads/{id}, auth %s: %.0f instructions, %.1f instruction-cache misses per request (runs: %s)\n' \
        "$mode" "${IR[$mode]}" "${I1[$mode]}" "$(awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $1 }' "$WORK/per-request-$mode")"
done
awk -v on="${IR[on]}" -v off="${IR[off]}" 'BEGIN {
    printf "auth instructions: %+.1f%% (auth on %.0f, auth off %.0f per request)\n", (on / off - 1) * 100, on, off }'
