#!/usr/bin/env bash
# Index use of `auth::sql` on PostgreSQL: the same owner-filtered searches over 10k and 1M threads
# (100 users), with the predicates the renderer writes (`metadata @> $n::jsonb`, see the rustdoc
# of `auth::sql`), through a GIN index. Prints the index sizes and build times (jsonb_path_ops
# and jsonb_ops), the `EXPLAIN (ANALYZE, BUFFERS)` of each search at 1M rows, and the median
# execution time of each search at both sizes with their ratio.
#
#   bench/sql-index.sh            # TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test
#   RUNS=31 bench/sql-index.sh    # more runs per median (default 15)
#
# Works in a schema of its own, dropped at the end. Not part of CI (figures: BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
runs="${RUNS:-15}"
schema="auth_sql_bench_$$"
need psql postgresql-client

psql_q() { psql "$url" -X -q -v ON_ERROR_STOP=1 -At -c "SET search_path TO $schema" "$@"; }
cleanup() { psql "$url" -X -q -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; }
trap cleanup EXIT

psql "$url" -X -q -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $schema"
echo "PostgreSQL: $(psql "$url" -X -At -c 'SHOW server_version')"

# threads_N: N threads over 100 users; `title` is unique, `tags` one of 7, `graph_id` one of 2.
load() {
    local table=$1 n=$2
    psql_q -c "
        CREATE TABLE $table (id bigint PRIMARY KEY, metadata jsonb NOT NULL);
        INSERT INTO $table
        SELECT i, jsonb_build_object(
            'owner', 'user' || (i % 100),
            'title', 'thread ' || i,
            'tags', jsonb_build_array('t' || (i % 7)),
            'graph_id', CASE WHEN i % 2 = 0 THEN 'agent' ELSE 'other' END)
        FROM generate_series(1, $n) AS i;"
}

ms() { # ms SQL: the command's wall time in milliseconds
    local start end
    start=$(date +%s%N)
    psql_q -c "$1" >/dev/null
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

echo
echo "== load"
start=$(date +%s%N); load threads_10k 10000; echo "threads_10k: $((($(date +%s%N) - start) / 1000000)) ms"
start=$(date +%s%N); load threads_1m 1000000; echo "threads_1m: $((($(date +%s%N) - start) / 1000000)) ms"

echo
echo "== GIN indexes on 1M rows: build time and size"
for ops in jsonb_ops jsonb_path_ops; do
    t=$(ms "CREATE INDEX threads_1m_$ops ON threads_1m USING gin (metadata $ops)")
    size=$(psql_q -c "SELECT pg_size_pretty(pg_relation_size('threads_1m_$ops'))")
    echo "$ops: built in $t ms, $size"
done
echo "table: $(psql_q -c "SELECT pg_size_pretty(pg_relation_size('threads_1m'))")"
# The renderer only writes `@>`, which both operator classes answer; jsonb_path_ops is smaller and
# faster to build and probe (one entry per path-and-value hash, not per key and per value), and
# the keys-only operators (`?`, `?|`, `?&`) that only jsonb_ops serves are never written.
psql_q -c "DROP INDEX threads_1m_jsonb_ops"
psql_q -c "CREATE INDEX ON threads_10k USING gin (metadata jsonb_path_ops)"
psql_q -c "VACUUM ANALYZE threads_10k" -c "VACUUM ANALYZE threads_1m"

# The searches, as the renderer writes them: the handler's filter `Filter::eq("owner", "user42")`
# is `metadata @> $1::jsonb` with $1 = {"owner": "user42"}; the caller's metadata search
# `{"title": …}` or `{"tags": ["t3"]}` is `metadata @> $2::jsonb`. Prepared, as sqlx does.
owner='{"owner": "user42"}'
declare -A search=(
    [a_owner_page]="SELECT id FROM %s WHERE metadata @> \$1::jsonb ORDER BY id DESC LIMIT 10|$owner"
    [b_owner_title]="SELECT id FROM %s WHERE metadata @> \$1::jsonb AND metadata @> \$2::jsonb ORDER BY id DESC LIMIT 10|$owner|{\"title\": \"thread %d\"}"
    [c_owner_tag_page]="SELECT id FROM %s WHERE metadata @> \$1::jsonb AND metadata @> \$2::jsonb ORDER BY id DESC LIMIT 10|$owner|{\"tags\": [\"t3\"]}"
    [d_owner_count]="SELECT count(*) FROM %s WHERE metadata @> \$1::jsonb|$owner"
)
describe() {
    case $1 in
        a_owner_page) echo "owner filter, newest 10 (ORDER BY id DESC LIMIT 10)" ;;
        b_owner_title) echo "owner filter + search {\"title\": one of the owner's}, LIMIT 10" ;;
        c_owner_tag_page) echo "owner filter + search {\"tags\": [\"t3\"]}, newest 10" ;;
        d_owner_count) echo "owner filter, count of all the owner's threads" ;;
    esac
}

# run TABLE N KEY MODE: MODE=explain prints the plan; MODE=time prints the median execution time.
run() {
    local table=$1 n=$2 key=$3 mode=$4
    IFS='|' read -r sql p1 p2 <<<"${search[$key]}"
    # The title searched for belongs to user42, near the end of the table.
    local title_id=$((n - 58))
    sql=$(printf "$sql" "$table")
    p2=$(printf "${p2:-}" "$title_id" 2>/dev/null || true)
    local types="jsonb" args="'$p1'"
    if [[ -n "$p2" ]]; then types="jsonb, jsonb"; args="'$p1', '$p2'"; fi
    local script="PREPARE s($types) AS $sql;"
    if [[ $mode == explain ]]; then
        script+=" EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE s($args);"
        psql_q -c "$script"
    else
        for _ in $(seq "$runs"); do script+=" EXPLAIN (ANALYZE, TIMING OFF) EXECUTE s($args);"; done
        psql_q -c "$script" | sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p' | median
    fi
}

echo
echo "== EXPLAIN (ANALYZE, BUFFERS) at 1M rows"
for key in $(printf '%s\n' "${!search[@]}" | sort); do
    echo
    echo "-- $(describe "$key")"
    run threads_1m 1000000 "$key" explain
done

echo
echo "== median execution time over $runs runs (ms): 10k rows, 1M rows, ratio"
for key in $(printf '%s\n' "${!search[@]}" | sort); do
    small=$(run threads_10k 10000 "$key" time)
    large=$(run threads_1m 1000000 "$key" time)
    ratio=$(awk -v a="$small" -v b="$large" 'BEGIN { printf "%.1f", b / a }')
    printf '%-62s %8s %8s %6sx\n' "$(describe "$key")" "$small" "$large" "$ratio"
done
