# Helpers shared by the scripts in bench/ (sourced, not run).

# need COMMAND DEBIAN_PACKAGE: installs the package from Debian unless COMMAND is on the PATH.
need() {
    command -v "$1" >/dev/null && return
    echo "installing $2 (Debian) for $1" >&2
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq "$2" >&2
}

# median: the median of the numbers on standard input, one per line.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# start_work: a scratch folder WORK, a list PIDS of the processes a script starts and a list
# AT_EXIT of commands to run once they are stopped (dropping a database); on exit every process
# is stopped, every command run and WORK removed.
start_work() {
    WORK="$(mktemp -d)"
    PIDS=()
    AT_EXIT=()
    trap stop_work EXIT
    trap 'exit 130' INT TERM
}

stop_work() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for command in "${AT_EXIT[@]}"; do eval "$command" || true; done
    rm -rf "$WORK"
}

# load_tools: installs wrk and curl if missing; with PIN=1 also taskset, and sets SERVER_PIN (one
# tokio worker on CPU 0) and WRK_PIN (CPU 1) as command prefixes, empty otherwise.
load_tools() {
    need wrk wrk
    need curl curl
    SERVER_PIN=() WRK_PIN=()
    if [[ "$PIN" == 1 ]]; then
        need taskset util-linux
        SERVER_PIN=(env TOKIO_WORKER_THREADS=1 taskset -c 0)
        WRK_PIN=(taskset -c 1)
    fi
}

# build_server: builds private-conversations in release below ROOT; sets BIN. With SERVER_BIN
# set, uses that binary instead (to compare two builds with the same script).
build_server() {
    if [[ -n "${SERVER_BIN:-}" ]]; then
        BIN="$SERVER_BIN"
        [[ -x "$BIN" ]] || { echo "SERVER_BIN=$BIN is not an executable" >&2; exit 2; }
        return
    fi
    echo "building private-conversations (release)" >&2
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p private-conversations \
        --bin private-conversations
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/private-conversations"
}

# wait_url LOG PID [ERR]: the URL of a "listening on http://…" line in LOG, once printed; if PID
# exits first, says so (with the file ERR, if given) and fails. Waits WAIT_SECONDS (default 120).
wait_url() {
    local url
    for _ in $(seq $((${WAIT_SECONDS:-120} * 10))); do
        url="$(sed -n 's|^listening on \(http://.*\)|\1|p' "$1" | head -n1)"
        [[ -n "$url" ]] && { echo "$url"; return; }
        if ! kill -0 "$2" 2>/dev/null; then
            echo "process $2 exited" >&2
            [[ -z "${3:-}" ]] || cat "$3" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "no URL in $1 within ${WAIT_SECONDS:-120} s" >&2
    exit 1
}

# thread_of URL TOKEN [BODY]: the id of a thread created through the API with TOKEN (body BODY,
# default {}).
thread_of() {
    curl -sS --fail --max-time 10 -X POST "$1/threads" -H "Authorization: Bearer $2" \
        -H 'Content-Type: application/json' -d "${3:-"{}"}" |
        sed -n 's/.*"thread_id":"\([0-9a-f-]*\)".*/\1/p'
}

# run_wrk OUT WRK-ARGS...: wrk -t1 with CONNECTIONS connections (pinned by WRK_PIN), its report in
# OUT; fails if any request failed; sets RPS.
run_wrk() {
    local out="$1"
    shift
    "${WRK_PIN[@]}" wrk -t1 -c"$CONNECTIONS" --timeout 5s "$@" >"$out"
    if grep -qE 'Non-2xx|Socket errors' "$out"; then
        echo "error: failed requests:" >&2
        cat "$out" >&2
        exit 1
    fi
    RPS="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
}

# machine: the number of CPUs and their model.
machine() {
    echo "$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
}
