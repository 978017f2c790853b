#!/usr/bin/env bash
# Conformance: the official langgraph-sdk Python client runs the private-conversations tutorial
# against our server, part 1 under `--policy global`, part 2 under `--policy scoped`, each on a
# fresh server bound to 127.0.0.1 port 0; then the README's Python script, as written, under
# `--policy scoped`. The last line is `conformance: N passed, M failed`.
#
# Usage: tests/conformance/run.sh [DATABASE]: `sqlite` (the default; a fresh file per part),
# `postgres` (a database per part created on TEST_DATABASE_URL and dropped after), `memory`,
# `sqlite:PATH` or a `postgres://…` server URL; DATABASE_URL when no argument is given. See
# harness.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

name=conformance
target_dir="${CARGO_TARGET_DIR:-$root/target}"
venv="$root/target/conformance-venv"
logs="$root/target/conformance-logs"
server_bin="$target_dir/debug/private-conversations"

export PYTHONIOENCODING=utf-8
export PYTHONDONTWRITEBYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

probe_ok() {
  "$venv/bin/python" - "$1" <<'PY'
import sys, httpx
sys.exit(0 if httpx.get(sys.argv[1], timeout=2).status_code == 200 else 1)
PY
}

run_client() {
  if [ "$2" = readme ]; then
    # The README's script, as a newcomer saves and runs it.
    $client_timeout "$venv/bin/python" "$here/readme_script.py" --url "$1" --readme "$root/README.md"
  else
    $client_timeout "$venv/bin/python" "$here/tutorial_client.py" --url "$1" --part "$2"
  fi
}

# shellcheck source=harness.sh
. "$here/harness.sh" "$@"

# --- Python: a virtualenv with the pinned official client -----------------------------------
python=""
for candidate in python3 python; do
  if command -v "$candidate" >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "conformance: no python3 on PATH" >&2
  exit 1
fi

venv_works() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1 \
    && "$venv/bin/python" -m pip --version >/dev/null 2>&1
}

make_venv() {
  rm -rf "$venv"
  "$python" -m venv "$venv"
}

if ! venv_works; then
  echo "conformance: creating virtualenv $venv"
  if ! make_venv; then
    # Debian's python3 ships venv/ensurepip separately.
    if command -v apt-get >/dev/null 2>&1; then
      echo "conformance: python venv unavailable, installing python3-venv"
      sudo=""
      [ "$(id -u)" = 0 ] || sudo="sudo"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
      make_venv
    else
      echo "conformance: cannot create a virtualenv with $python" >&2
      exit 1
    fi
  fi
fi
"$venv/bin/python" -m pip install -q -r "$here/requirements.txt"
"$venv/bin/python" -c 'import langgraph_sdk, sys; print("conformance: langgraph-sdk", langgraph_sdk.__version__, "on Python", sys.version.split()[0])'

# --- The server and the two parts ------------------------------------------------------------
build_server
run_part 1 global
run_part 2 scoped
run_part readme scoped
finish
