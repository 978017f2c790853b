#!/usr/bin/env bash
# Load test: GET /threads/{id} with a provider's JWT against the same request with the tutorial's
# fixed token, on the same release build.
#
#   bench/load-jwt.sh [RUNS]       (default 10 runs of 1 s per server, interleaved)
#
# Starts the OpenID Connect provider of the tests (tests/oidc, `npm ci` first), takes an RS256
# access token for `alice` from it, and starts private-conversations twice, each holding
# SEED_THREADS threads (default 100000) over 100 users: once with `--oidc-issuer` (bearer JWTs,
# verified once and then answered from the verifier's cache) and once with the fixed tokens.
# Each server gets a thread of its caller's, created through the API, and wrk reads it with that
# caller's header: the JWT on one, `Bearer user1-token` on the other. After WARMUP seconds
# (default 2) per server, RUNS runs of 1 s per server alternate (jwt fixed, fixed jwt, …). Prints
# each run pair and the medians; last:
#   jwt/fixed: NN.N% (jwt R1 req/s, fixed R2 req/s)
# PIN=1 (default on 2+ CPUs): each server on CPU 0 with one tokio worker, wrk on CPU 1, as in
# bench/load.sh. Stops every process it started.
set -euo pipefail

RUNS="${1:-10}"
if ! [[ "$RUNS" =~ ^[0-9]+$ ]] || ((RUNS < 1 || RUNS > 600)); then
    echo "usage: bench/load-jwt.sh [RUNS]   (1-600, default 10)" >&2
    exit 2
fi
SEED_THREADS="${SEED_THREADS:-100000}"
WARMUP="${WARMUP:-2}"
PIN="${PIN:-$(($(nproc) >= 2 ? 1 : 0))}"
CONNECTIONS="${CONNECTIONS:-16}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
start_work
load_tools
[[ -d "$ROOT/tests/oidc/node_modules" ]] || (cd "$ROOT/tests/oidc" && npm ci --no-audit --no-fund >&2)

build_server

(cd "$ROOT/tests/oidc" && exec node provider.mjs) >"$WORK/provider.log" 2>/dev/null &
PIDS+=($!)
ISSUER="$(wait_url "$WORK/provider.log" $!)"
JWT="$(curl -sS --fail -d grant_type=client_credentials -d client_id=alice \
    -d client_secret=alice-secret -d resource=https://pc.example/rs256 \
    -d 'scope=threads:read threads:write' "$ISSUER/token" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
[[ -n "$JWT" ]] || { echo "no token from the provider" >&2; exit 1; }

start_server() { # start_server NAME ARGS...: sets URL and SERVER_PID
    local name="$1"
    shift
    RUST_LOG=warn "${SERVER_PIN[@]}" "$BIN" --port 0 --seed-threads "$SEED_THREADS" \
        --seed-users 100 "$@" >"$WORK/$name.log" 2>"$WORK/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    URL="$(wait_url "$WORK/$name.log" "$SERVER_PID")"
}

echo "starting both servers with $SEED_THREADS threads" >&2
start_server jwt --oidc-issuer "$ISSUER" --oidc-audience private-conversations
JWT_URL="$URL" JWT_PID="$SERVER_PID"
start_server fixed
FIXED_URL="$URL" FIXED_PID="$SERVER_PID"

JWT_GET="$JWT_URL/threads/$(thread_of "$JWT_URL" "$JWT")"
FIXED_GET="$FIXED_URL/threads/$(thread_of "$FIXED_URL" user1-token)"
# The JWT server enforces the policy: the fixed token is refused there.
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer user1-token' "$JWT_GET")"
[[ "$code" == 401 ]] || { echo "the JWT server answered $code to a fixed token" >&2; exit 1; }

load() { # load jwt|fixed SECONDS: sets RPS
    local url token
    if [[ "$1" == jwt ]]; then url="$JWT_GET" token="$JWT"; else url="$FIXED_GET" token=user1-token; fi
    run_wrk "$WORK/wrk.txt" -d"${2}s" -H "Authorization: Bearer $token" "$url"
}

echo "machine: $(machine); PIN=$PIN; wrk -t1 -c$CONNECTIONS; JWT ${#JWT} bytes"
for mode in jwt fixed; do load "$mode" "$WARMUP"; done
: >"$WORK/runs"
for ((i = 0; i < RUNS; i++)); do
    if ((i % 2)); then order="fixed jwt"; else order="jwt fixed"; fi
    for mode in $order; do
        load "$mode" 1
        declare "RPS_$mode=$RPS"
    done
    echo "$RPS_jwt $RPS_fixed" >>"$WORK/runs"
    awk -v j="$RPS_jwt" -v f="$RPS_fixed" -v i="$i" \
        'BEGIN { printf "pair %2d: jwt %6d req/s, fixed %6d req/s, jwt/fixed %.1f%%\n", i, j, f, j / f * 100 }'
done
JWT_MED="$(awk '{ print $1 }' "$WORK/runs" | median)"
FIXED_MED="$(awk '{ print $2 }' "$WORK/runs" | median)"
PAIR_MED="$(awk '{ print $1 / $2 * 100 }' "$WORK/runs" | median)"
echo "median of the pairs' ratios: ${PAIR_MED}%"
awk -v j="$JWT_MED" -v f="$FIXED_MED" \
    'BEGIN { printf "jwt/fixed: %.1f%% (jwt %d req/s, fixed %d req/s, medians)\n", j / f * 100, j, f }'
