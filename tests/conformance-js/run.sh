#!/usr/bin/env bash
# Conformance: the official LangGraph JS client (@langchain/langgraph-sdk, pinned in
# package-lock.json) runs the private-conversations tutorial and the LangGraph.js semantics of
# issue 14 against our server: part 1 under `--policy global`, part 2 under `--policy scoped`,
# part 3 under `--policy namespaced` (LangGraph.js's store pattern), each on a fresh server bound
# to 127.0.0.1 port 0. The last line is
# `conformance-js: N passed, M failed`.
#
# Usage: tests/conformance-js/run.sh [DATABASE], as tests/conformance/run.sh (default `sqlite`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

name=conformance-js
target_dir="${CARGO_TARGET_DIR:-$root/target}"
logs="$root/target/conformance-js-logs"
server_bin="$target_dir/debug/private-conversations"

probe_ok() {
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$1"
}

run_client() {
  $client_timeout node "$here/tutorial_client.mjs" --url "$1" --part "$2"
}

# shellcheck source=../conformance/harness.sh
. "$root/tests/conformance/harness.sh" "$@"

# --- Node: the pinned official client, installed from the lock file --------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "conformance-js: node and npm are needed (Node 20 or later)" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "conformance-js: Node $(node --version) is too old: 20 or later is needed" >&2
  exit 1
fi
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$here" && node -e 'const p = require("./node_modules/@langchain/langgraph-sdk/package.json"); console.log("conformance-js: @langchain/langgraph-sdk", p.version, "on Node", process.versions.node)')

# --- The server and the three parts ----------------------------------------------------------
build_server
run_part 1 global
run_part 2 scoped
run_part 3 namespaced
finish
