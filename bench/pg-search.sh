#!/usr/bin/env bash
# Owner-filtered thread search on PostgreSQL at 10k and 1M threads: the statements the SQL
# backend sends for `POST /threads/search {"metadata": {"owner": …}, "limit": 10}` under the
# scoped policy (the policy's filter and the caller's search, both `metadata @> $n::jsonb`), as
# prepared statements (as sqlx sends them: after five runs PostgreSQL may switch to a generic plan).
#
#   bench/pg-search.sh [SECONDS]      (default 5: pgbench time per statement and size)
#
# For each size (10000 and 1000000 threads) and each number of owners (USERS, default
# "100 10000": each owner holds 1% or 0.01% of the threads), creates a scratch database
# (dropped at exit), applies migrations/postgres, seeds the threads with one
# `INSERT … SELECT generate_series` (not through HTTP), runs ANALYZE, prints the plan of the
# page and count queries (EXPLAIN ANALYZE of the generic plans, which a server's prepared
# statements come to) and times, with pgbench
# -M prepared on one connection, the count and the page for user7 (as one server would,
# its statement prepared once). Prints the mean
# latency per statement and, per number of owners, the ratio 1M / 10k; and the ratio at the same
# number of threads per owner (100: 10k threads over 100 owners, 1M over 10,000), where only the
# table grows.
#
# PGURL: the server (default postgres://postgres@127.0.0.1:5432/test; the scratch databases are
# created beside it).
set -euo pipefail

SECONDS_PER="${1:-5}"
USERS="${USERS:-100 10000}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432/test}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MIGRATION="$ROOT/agent-server/migrations/postgres/0001_init.sql"
DB="pc_search_bench_$$"
BASE="${PGURL%/*}"
WORK="$(mktemp -d)"
cleanup() {
    psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The statements, as the backend renders them (src/storage/sql/imp.rs, `search`).
cat >"$WORK/count.sql" <<'EOF'
SELECT COUNT(*) AS n FROM threads WHERE TRUE AND threads.metadata @> CAST(:j AS jsonb) AND threads.metadata @> CAST(:j AS jsonb);
EOF
cat >"$WORK/page.sql" <<'EOF'
SELECT thread_id, created_at, updated_at, metadata::text AS metadata, status, state_values::text AS state_values, interrupts::text AS interrupts, config::text AS config, error::text AS error FROM threads WHERE TRUE AND threads.metadata @> CAST(:j AS jsonb) AND threads.metadata @> CAST(:j AS jsonb) ORDER BY created_at DESC, thread_id DESC LIMIT 10 OFFSET 0;
EOF

mean_ms() { # mean_ms SCRIPT OWNER: pgbench's mean latency of SCRIPT for user<OWNER>, in ms
    pgbench -n -M prepared -c1 -T "$SECONDS_PER" -D j="{\"owner\": \"user$2\"}" -f "$1" \
        "$BASE/$DB" 2>/dev/null | awk '/^latency average/ { print $4 }'
}

printf '%-9s %-7s %12s %12s\n' threads owners 'count ms' 'page ms' >"$WORK/table"
for users in $USERS; do
    for n in 10000 1000000; do
        psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
        psql -q -v ON_ERROR_STOP=1 "$BASE/$DB" -f "$MIGRATION" >/dev/null
        psql -q -v ON_ERROR_STOP=1 "$BASE/$DB" >/dev/null <<EOF
INSERT INTO threads (thread_id, created_at, updated_at, metadata, status, state_values,
                     interrupts, config, error)
SELECT md5(i::text)::uuid::text,
       to_char(timestamp '2025-01-01' + i * interval '1 millisecond',
               'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
       to_char(timestamp '2025-01-01' + i * interval '1 millisecond',
               'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
       jsonb_build_object('owner', 'user' || (i % $users + 1)),
       'idle', '{}', '{}', '{}', 'null'
FROM generate_series(0, $n - 1) AS i;
VACUUM ANALYZE threads;
EOF
        echo "== $n threads over $users owners: plans of the page and the count (generic)"
        psql -q "$BASE/$DB" <<'EOF' | sed 's/^/   /'
SET plan_cache_mode = force_generic_plan;
PREPARE cnt(text, text) AS SELECT COUNT(*) FROM threads WHERE TRUE AND threads.metadata @> $1::jsonb AND threads.metadata @> $2::jsonb;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE cnt('{"owner": "user7"}', '{"owner": "user7"}');
PREPARE page(text, text) AS SELECT thread_id FROM threads WHERE TRUE AND threads.metadata @> $1::jsonb AND threads.metadata @> $2::jsonb ORDER BY created_at DESC, thread_id DESC LIMIT 10 OFFSET 0;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE page('{"owner": "user7"}', '{"owner": "user7"}');
EOF
        count="$(mean_ms "$WORK/count.sql" 7)"
        page="$(mean_ms "$WORK/page.sql" 7)"
        printf '%-9s %-7s %12s %12s\n' "$n" "$users" "$count" "$page" >>"$WORK/table"
    done
done
echo
cat "$WORK/table"
awk 'NR > 1 { c[$1 " " $2] = $3; p[$1 " " $2] = $4; u[$2] = 1 }
     END { for (o in u) printf "owners %s: 1M/10k count %.1fx, page %.1fx\n", o,
           c["1000000 " o] / c["10000 " o], p["1000000 " o] / p["10000 " o]
           if (("10000 100") in c && ("1000000 10000") in c)
               printf "100 threads per owner (10k over 100 owners, 1M over 10,000): 1M/10k count %.1fx, page %.1fx\n",
                   c["1000000 10000"] / c["10000 100"], p["1000000 10000"] / p["10000 100"] }' "$WORK/table"
