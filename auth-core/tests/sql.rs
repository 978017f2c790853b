//! `auth::sql` against real databases: a bundled SQLite and the PostgreSQL of
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a schema of its
//! own per test, dropped after.
//!
//! Differential property tests: generated metadata (nested objects, arrays, integers and
//! floats, booleans, null, awkward keys) is inserted once per batch; then, for each generated
//! filter (every operator, nested `$or`/`$and`), the ids the rendered SQL selects must be exactly
//! those whose metadata `Filter::matches` accepts, as the database gives it back. The same for
//! metadata searches against `metadata_contains`. Injection tests: keys and values made to break
//! out of SQL change nothing but the match.
//!
//! Without a PostgreSQL the PostgreSQL tests print a line and pass, unless `CI` is set: then
//! they fail. `SQL_PROPTEST_SEED` replays a run (each test prints its seed when it fails);
//! `SQL_PROPTEST_SCALE` multiplies the number of cases.

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{SystemTime, UNIX_EPOCH};

use auth::Filter;
use auth::sql::{Bind, Dialect, QueryBuilderExt, metadata_contains};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};
use sqlx::{Connection, Executor, PgConnection, Postgres, QueryBuilder, Sqlite, SqliteConnection};

type Object = Map<String, Value>;

// ---------------------------------------------------------------------------------------------
// Generators

/// Metadata keys: awkward ones that filters also use, so that filters hit.
const KEYS: &[&str] = &[
    "owner",
    "tags",
    "",
    "a.b",
    "a'b",
    "a\"b",
    "%",
    "_",
    "\\",
    "a\\\"b",
    "é",
    "日本",
    "x y",
    "?",
    "x$1",
    "0",
    "'; DROP TABLE t; --",
];

/// String values, as awkward.
const STRINGS: &[&str] = &[
    "",
    "u1",
    "u2",
    "1",
    "true",
    "null",
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "\"",
    "é",
    "a.b",
    "[1]",
];

fn key(nul: bool) -> impl Strategy<Value = String> {
    let fixed = select(KEYS).prop_map(str::to_owned);
    prop_oneof![
        8 => fixed,
        1 => short_string(nul),
    ]
}

/// A short string of any characters (U+0000 only if `nul`), never starting with `$`.
fn short_string(nul: bool) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..4).prop_map(move |cs| {
        let s: String = cs.into_iter().filter(|&c| nul || c != '\0').collect();
        if s.starts_with('$') {
            format!("x{s}")
        } else {
            s
        }
    })
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        select(vec![0i64, 1, -1, 2, 7, i64::MIN, i64::MAX]).prop_map(Value::from),
        select(vec![u64::MAX, 1u64 << 63]).prop_map(Value::from),
        select(vec![
            0.0f64,
            -0.0,
            1.0,
            2.0,
            -1.0,
            1.5,
            0.1,
            1e-7,
            1e15,
            1e16,
            1e20,
            18446744073709551616.0,
            -9223372036854775808.0,
            123456.789,
        ])
        .prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ]
}

fn scalar(nul: bool) -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        2 => any::<bool>().prop_map(Value::from),
        4 => number(),
        4 => select(STRINGS).prop_map(Value::from),
        1 => short_string(nul).prop_map(Value::from),
    ]
}

fn value(nul: bool) -> impl Strategy<Value = Value> {
    scalar(nul).prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(nul), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn metadata(nul: bool) -> impl Strategy<Value = Object> {
    proptest::collection::vec((key(nul), value(nul)), 0..6)
        .prop_map(|members| members.into_iter().collect())
}

/// What filters and searches draw from, so that they select some rows: every value within the
/// rows (at any depth), every array element, the rows' members and their arrays' elements.
struct Pool {
    values: Vec<Value>,
    elements: Vec<Value>,
    members: Vec<(String, Value)>,
    arrays: Vec<(String, Vec<Value>)>,
}

fn pool(rows: &[(i64, Object)]) -> Pool {
    fn walk(v: &Value, pool: &mut Pool) {
        pool.values.push(v.clone());
        match v {
            Value::Array(items) => {
                pool.elements.extend(items.iter().cloned());
                items.iter().for_each(|i| walk(i, pool));
            }
            Value::Object(m) => m.values().for_each(|i| walk(i, pool)),
            _ => {}
        }
    }
    let mut pool = Pool {
        values: vec![json!(0)],
        elements: vec![json!(0)],
        members: vec![("owner".to_owned(), json!("u1"))],
        arrays: vec![("tags".to_owned(), vec![json!("x")])],
    };
    for (_, m) in rows {
        for (k, v) in m {
            walk(v, &mut pool);
            if !k.starts_with('$') {
                pool.members.push((k.clone(), v.clone()));
                if let Value::Array(items) = v {
                    if !items.is_empty() {
                        pool.arrays.push((k.clone(), items.clone()));
                    }
                }
            }
        }
    }
    pool
}

/// `v` with its integers as floats and its integral floats as integers: near misses.
fn flip_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => json!(i as f64),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(flip_numbers).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, v)| (k, flip_numbers(v))).collect())
        }
        other => other,
    }
}

/// A filter over the batch's rows: keys and values mostly taken from them.
fn filter(rows: &[(i64, Object)], nul: bool) -> impl Strategy<Value = Filter> + use<> {
    let pool = pool(rows);
    let member = select(pool.members);
    let some_of_array = select(pool.arrays).prop_flat_map(|(k, items)| {
        let n = items.len();
        subsequence(items, 1..=n.min(3)).prop_map(move |vs| (k.clone(), vs))
    });
    let key = || key(nul);
    let val = prop_oneof![2 => select(pool.values), 1 => value(nul)];
    let elem = prop_oneof![2 => select(pool.elements), 1 => value(nul)];
    let leaf = prop_oneof![
        4 => member.clone().prop_map(|(k, v)| Filter::eq(k, v)),
        1 => member.prop_map(|(k, v)| Filter::eq(k, flip_numbers(v))),
        1 => (key(), val).prop_map(|(k, v)| Filter::eq(k, v)),
        3 => some_of_array.clone().prop_map(|(k, vs)| Filter::contains(k, Value::Array(vs))),
        1 => some_of_array.prop_map(|(k, vs)| Filter::contains(k, flip_numbers(Value::Array(vs)))),
        1 => (key(), proptest::collection::vec(elem, 1..3))
            .prop_map(|(k, vs)| Filter::contains(k, Value::Array(vs))),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::or),
            (inner.clone(), inner).prop_map(|(a, b)| a.and(b)),
        ]
    })
    .prop_filter("well-formed", |f| f.error().is_none())
}

/// Part of `v`: some members or elements, each in part; scalars as they are.
fn part_of(v: Value) -> BoxedStrategy<Value> {
    match v {
        Value::Object(m) => {
            let members: Vec<(String, Value)> = m.into_iter().collect();
            let n = members.len();
            subsequence(members, 0..=n)
                .prop_flat_map(|members| {
                    members
                        .into_iter()
                        .map(|(k, v)| part_of(v).prop_map(move |v| (k.clone(), v)))
                        .collect::<Vec<_>>()
                })
                .prop_map(|members| Value::Object(members.into_iter().collect()))
                .boxed()
        }
        Value::Array(items) => {
            let n = items.len();
            subsequence(items, 0..=n)
                .prop_flat_map(|items| items.into_iter().map(part_of).collect::<Vec<_>>())
                .prop_map(Value::Array)
                .boxed()
        }
        scalar => Just(scalar).boxed(),
    }
}

/// A metadata search: mostly part of a row's metadata, sometimes with a value changed.
fn search(rows: &[(i64, Object)], nul: bool) -> impl Strategy<Value = Object> + use<> {
    let metas: Vec<Value> = rows.iter().map(|(_, m)| Value::Object(m.clone())).collect();
    let values = pool(rows).values;
    let from_row = select(metas).prop_flat_map(part_of);
    let changed = (
        select(rows.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>()),
        key(nul),
        prop_oneof![select(values), value(nul)],
    )
        .prop_map(|(mut m, k, v)| {
            m.insert(k, v);
            Value::Object(m)
        })
        .prop_flat_map(part_of);
    prop_oneof![
        4 => from_row.clone(),
        1 => from_row.prop_map(flip_numbers),
        1 => changed,
        1 => metadata(nul).prop_map(Value::Object),
    ]
    .prop_map(|v| match v {
        Value::Object(m) => m,
        _ => unreachable!("the part of an object is an object"),
    })
}

// ---------------------------------------------------------------------------------------------
// Harness

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn seed() -> u64 {
    std::env::var("SQL_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        })
}

fn scale() -> u32 {
    std::env::var("SQL_PROPTEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn runner(seed: u64, cases: u32) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Prints past the test harness's capture.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs `body` with a connection to PostgreSQL whose `search_path` is a fresh schema, dropped
/// after; without a PostgreSQL, says so and returns (fails if `CI` is set).
fn with_postgres(test: &str, body: impl FnOnce(&tokio::runtime::Runtime, &mut PgConnection)) {
    let url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let rt = runtime();
    let mut conn = match rt.block_on(PgConnection::connect(&url)) {
        Ok(conn) => conn,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and PostgreSQL at {url} is unreachable: {e}")
        }
        Err(e) => {
            say(&format!(
                "SKIPPED {test}: no PostgreSQL at {url} ({e}); set TEST_DATABASE_URL"
            ));
            return;
        }
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let schema = format!("auth_sql_{test}_{}_{nanos}", std::process::id());
    rt.block_on(async {
        conn.execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .unwrap();
        conn.execute(format!("SET search_path TO {schema}").as_str())
            .await
            .unwrap();
    });
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&rt, &mut conn)));
    rt.block_on(async {
        conn.execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
            .await
            .unwrap();
    });
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
}

fn sqlite(rt: &tokio::runtime::Runtime) -> SqliteConnection {
    rt.block_on(SqliteConnection::connect("sqlite::memory:"))
        .expect("an in-memory SQLite")
}

/// Reads the JSON text a database gives back as `serde_json` does, except that floats are read
/// correctly rounded (`serde_json`'s default reader can be one unit in the last place off for
/// long decimals; the SQL compares the decimal that was written).
fn read_exactly(text: &str) -> Object {
    fn value(s: &mut &str) -> Value {
        *s = s.trim_start();
        let first = s.chars().next().expect("a JSON value");
        match first {
            '{' | '[' => {
                let close = if first == '{' { '}' } else { ']' };
                *s = s[1..].trim_start();
                let mut object = Map::new();
                let mut array = Vec::new();
                while !s.starts_with(close) {
                    if first == '{' {
                        let Value::String(k) = value(s) else {
                            panic!("a key")
                        };
                        *s = s.trim_start().strip_prefix(':').expect(":");
                        object.insert(k, value(s));
                    } else {
                        array.push(value(s));
                    }
                    *s = s.trim_start();
                    *s = s.strip_prefix(',').unwrap_or(s).trim_start();
                }
                *s = &s[1..];
                if first == '{' {
                    Value::Object(object)
                } else {
                    Value::Array(array)
                }
            }
            '"' => {
                // The string's end: the first quote not escaped.
                let bytes = s.as_bytes();
                let mut i = 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let v = serde_json::from_str(&s[..=i]).expect("a JSON string");
                *s = &s[i + 1..];
                v
            }
            _ => {
                let end = s
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
                    .unwrap_or(s.len());
                let (token, rest) = s.split_at(end);
                *s = rest;
                match token {
                    "null" => Value::Null,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    t if t.contains(['.', 'e', 'E']) || t == "-0" => {
                        json!(t.parse::<f64>().expect("a float"))
                    }
                    t => match (t.parse::<u64>(), t.parse::<i64>()) {
                        (Ok(u), _) => json!(u),
                        (_, Ok(i)) => json!(i),
                        _ => json!(t.parse::<f64>().expect("a number")),
                    },
                }
            }
        }
    }
    let mut s = text;
    match value(&mut s) {
        Value::Object(m) => m,
        other => panic!("metadata must be an object, got {other}"),
    }
}

/// Loads a batch; odd batches disable sequential scans, so that the GIN index answers.
async fn pg_batch(conn: &mut PgConnection, batch: u32, rows: &[Object]) -> Vec<(i64, Object)> {
    let seqscan = if batch % 2 == 0 { "on" } else { "off" };
    conn.execute(format!("SET enable_seqscan = {seqscan}").as_str())
        .await
        .unwrap();
    pg_load(conn, rows).await
}

async fn pg_load(conn: &mut PgConnection, rows: &[Object]) -> Vec<(i64, Object)> {
    conn.execute("TRUNCATE t").await.unwrap();
    for (id, m) in rows.iter().enumerate() {
        sqlx::query("INSERT INTO t (id, meta) VALUES ($1, $2)")
            .bind(id as i64)
            .bind(sqlx::types::Json(m))
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    // What the database gives back is what `matches` must be asked about: `jsonb` keeps a
    // number's decimals but not how it was written (`1e16` comes back as an integer).
    let back: Vec<(i64, String)> = sqlx::query_as("SELECT id, meta::text FROM t ORDER BY id")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    back.into_iter()
        .map(|(id, text)| (id, read_exactly(&text)))
        .collect()
}

async fn lite_load(conn: &mut SqliteConnection, rows: &[Object]) -> Vec<(i64, Object)> {
    conn.execute("DELETE FROM t").await.unwrap();
    for (id, m) in rows.iter().enumerate() {
        sqlx::query("INSERT INTO t (id, meta, metab) VALUES (?1, ?2, jsonb(?2))")
            .bind(id as i64)
            .bind(Value::Object(m.clone()).to_string())
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    let back: Vec<(i64, String)> = sqlx::query_as("SELECT id, meta FROM t ORDER BY id")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let back: Vec<(i64, Object)> = back
        .into_iter()
        .map(|(id, text)| (id, read_exactly(&text)))
        .collect();
    // SQLite keeps the text `serde_json` wrote: read exactly, it is the metadata written.
    for ((_, got), written) in back.iter().zip(rows) {
        assert_eq!(got, written);
    }
    back
}

async fn pg_select(
    conn: &mut PgConnection,
    push: impl FnOnce(&mut QueryBuilder<'static, Postgres>),
) -> Result<Vec<i64>, String> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT id FROM t WHERE ");
    push(&mut qb);
    qb.push(" ORDER BY id");
    let sql = qb.sql().to_owned();
    qb.build_query_scalar()
        .fetch_all(conn)
        .await
        .map_err(|e| format!("{e} in {sql}"))
}

async fn lite_select(
    conn: &mut SqliteConnection,
    push: impl FnOnce(&mut QueryBuilder<'static, Sqlite>),
) -> Result<Vec<i64>, String> {
    let mut qb = QueryBuilder::<Sqlite>::new("SELECT id FROM t WHERE ");
    push(&mut qb);
    qb.push(" ORDER BY id");
    let sql = qb.sql().to_owned();
    qb.build_query_scalar()
        .fetch_all(conn)
        .await
        .map_err(|e| format!("{e} in {sql}"))
}

/// How often the expected answer was neither no row nor every row: the test is not vacuous.
#[derive(Default)]
struct Tally {
    cases: Cell<u32>,
    mixed: Cell<u32>,
}

impl Tally {
    fn count(&self, expected: usize, rows: usize) {
        self.cases.set(self.cases.get() + 1);
        if expected > 0 && expected < rows {
            self.mixed.set(self.mixed.get() + 1);
        }
    }

    fn check(&self, what: &str) {
        let (cases, mixed) = (self.cases.get(), self.mixed.get());
        say(&format!(
            "{what}: {cases} cases, {mixed} selecting some rows but not all"
        ));
        assert!(cases >= 1000, "{what}: only {cases} cases");
        assert!(
            mixed * 5 >= cases,
            "{what}: only {mixed} of {cases} cases select some rows but not all"
        );
    }
}

const BATCHES: u32 = 6;
const ROWS: usize = 60;
const FILTERS: u32 = 400;
const SEARCHES: u32 = 250;

/// A batch of generated rows.
fn rows(runner: &mut TestRunner, nul: bool) -> Vec<Object> {
    proptest::collection::vec(metadata(nul), ROWS)
        .new_tree(runner)
        .expect("rows")
        .current()
}

// ---------------------------------------------------------------------------------------------
// Differential tests

#[test]
fn postgres_filters_select_what_matches_accepts() {
    with_postgres("filters", |rt, conn| {
        let seed = seed();
        say(&format!("postgres filters: SQL_PROPTEST_SEED={seed}"));
        rt.block_on(async {
            conn.execute(
                "CREATE TABLE t (id bigint PRIMARY KEY, meta jsonb NOT NULL);
                 CREATE INDEX ON t USING gin (meta jsonb_path_ops);",
            )
            .await
            .unwrap();
        });
        let conn = RefCell::new(conn);
        let tally = Tally::default();
        for batch in 0..BATCHES * scale() {
            let mut runner = runner(seed.wrapping_add(u64::from(batch)), FILTERS);
            let generated = rows(&mut runner, false);
            // Every other batch through the GIN index.
            let rows = rt.block_on(pg_batch(&mut conn.borrow_mut(), batch, &generated));
            let result = runner.run(&filter(&rows, false), |f| {
                let expected: Vec<i64> = rows
                    .iter()
                    .filter(|(_, m)| f.matches(m))
                    .map(|(id, _)| *id)
                    .collect();
                tally.count(expected.len(), rows.len());
                let got = rt.block_on(pg_select(&mut conn.borrow_mut(), |qb| {
                    qb.push_filter(&f, "meta").unwrap();
                }));
                let sql = Dialect::Postgres.filter(&f, "meta").unwrap().sql(1);
                prop_assert_eq!(got, Ok(expected), "filter {} rendered {}", f.to_json(), sql);
                Ok(())
            });
            if let Err(e) = result {
                panic!("SQL_PROPTEST_SEED={seed} batch {batch}: {e}");
            }
        }
        tally.check("postgres filters");
    });
}

#[test]
fn postgres_searches_select_what_metadata_contains_accepts() {
    with_postgres("searches", |rt, conn| {
        let seed = seed();
        say(&format!("postgres searches: SQL_PROPTEST_SEED={seed}"));
        rt.block_on(async {
            conn.execute(
                "CREATE TABLE t (id bigint PRIMARY KEY, meta jsonb NOT NULL);
                 CREATE INDEX ON t USING gin (meta jsonb_path_ops);",
            )
            .await
            .unwrap();
        });
        let conn = RefCell::new(conn);
        let tally = Tally::default();
        for batch in 0..BATCHES * scale() {
            let mut runner = runner(seed.wrapping_add(u64::from(batch)), SEARCHES);
            let generated = rows(&mut runner, false);
            let rows = rt.block_on(pg_batch(&mut conn.borrow_mut(), batch, &generated));
            let result = runner.run(&search(&rows, false), |wanted| {
                let expected: Vec<i64> = rows
                    .iter()
                    .filter(|(_, m)| metadata_contains(m, &wanted))
                    .map(|(id, _)| *id)
                    .collect();
                tally.count(expected.len(), rows.len());
                let got = rt.block_on(pg_select(&mut conn.borrow_mut(), |qb| {
                    qb.push_contains(&wanted, "meta").unwrap();
                }));
                let sql = Dialect::Postgres.contains(&wanted, "meta").unwrap().sql(1);
                prop_assert_eq!(
                    got,
                    Ok(expected),
                    "search {} rendered {}",
                    Value::Object(wanted.clone()),
                    sql
                );
                Ok(())
            });
            if let Err(e) = result {
                panic!("SQL_PROPTEST_SEED={seed} batch {batch}: {e}");
            }
        }
        tally.check("postgres searches");
    });
}

/// SQLite: the same filters over the JSON text column and over its `JSONB`.
#[test]
fn sqlite_filters_select_what_matches_accepts() {
    let rt = runtime();
    let mut conn = sqlite(&rt);
    rt.block_on(
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, meta TEXT NOT NULL, metab BLOB)"),
    )
    .unwrap();
    let conn = RefCell::new(conn);
    let seed = seed();
    say(&format!("sqlite filters: SQL_PROPTEST_SEED={seed}"));
    let tally = Tally::default();
    for batch in 0..BATCHES * scale() {
        let mut runner = runner(seed.wrapping_add(u64::from(batch)), FILTERS);
        let generated = rows(&mut runner, true);
        let rows = rt.block_on(lite_load(&mut conn.borrow_mut(), &generated));
        let result = runner.run(&filter(&rows, true), |f| {
            let expected: Vec<i64> = rows
                .iter()
                .filter(|(_, m)| f.matches(m))
                .map(|(id, _)| *id)
                .collect();
            tally.count(expected.len(), rows.len());
            let sql = Dialect::Sqlite.filter(&f, "meta").unwrap().sql(1);
            for column in ["t.meta", "t.metab"] {
                let got = rt.block_on(lite_select(&mut conn.borrow_mut(), |qb| {
                    qb.push_filter(&f, column).unwrap();
                }));
                prop_assert_eq!(
                    got,
                    Ok(expected.clone()),
                    "filter {} on {} rendered {}",
                    f.to_json(),
                    column,
                    sql
                );
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("SQL_PROPTEST_SEED={seed} batch {batch}: {e}");
        }
    }
    tally.check("sqlite filters");
}

#[test]
fn sqlite_searches_select_what_metadata_contains_accepts() {
    let rt = runtime();
    let mut conn = sqlite(&rt);
    rt.block_on(
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, meta TEXT NOT NULL, metab BLOB)"),
    )
    .unwrap();
    let conn = RefCell::new(conn);
    let seed = seed();
    say(&format!("sqlite searches: SQL_PROPTEST_SEED={seed}"));
    let tally = Tally::default();
    for batch in 0..BATCHES * scale() {
        let mut runner = runner(seed.wrapping_add(u64::from(batch)), SEARCHES);
        let generated = rows(&mut runner, true);
        let rows = rt.block_on(lite_load(&mut conn.borrow_mut(), &generated));
        let result = runner.run(&search(&rows, true), |wanted| {
            let expected: Vec<i64> = rows
                .iter()
                .filter(|(_, m)| metadata_contains(m, &wanted))
                .map(|(id, _)| *id)
                .collect();
            tally.count(expected.len(), rows.len());
            let sql = Dialect::Sqlite.contains(&wanted, "meta").unwrap().sql(1);
            for column in ["t.meta", "t.metab"] {
                let got = rt.block_on(lite_select(&mut conn.borrow_mut(), |qb| {
                    qb.push_contains(&wanted, column).unwrap();
                }));
                prop_assert_eq!(
                    got,
                    Ok(expected.clone()),
                    "search {} on {} rendered {}",
                    Value::Object(wanted.clone()),
                    column,
                    sql
                );
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("SQL_PROPTEST_SEED={seed} batch {batch}: {e}");
        }
    }
    tally.check("sqlite searches");
}

// ---------------------------------------------------------------------------------------------
// Injection

/// Keys and values made to break out of a SQL string, identifier, comment or JSON path.
const HOSTILE: &[&str] = &[
    "'; DROP TABLE t; --",
    "' OR 1=1 --",
    "\") OR (\"",
    "') OR TRUE --",
    "*/ OR 1=1 /*",
    "'",
    "''",
    "\"",
    "\\",
    "\\'",
    "\\\"",
    "$1",
    "?1",
    "?",
    "$.\"a\"",
    "$[0]",
    "a\0b",
    "\0",
    "%",
    "_",
    "%' OR '%' = '",
    "]}",
];

/// A hostile string as a key a filter can name (not starting with `$`, which is an operator).
fn as_key(h: &str) -> String {
    if h.starts_with('$') {
        format!("x{h}")
    } else {
        h.to_owned()
    }
}

/// A row per hostile string `h`: `{h: h, "k": h, "tags": [h], "o": {h: 1}}` (`h` as a key made
/// filterable by [`as_key`]); and one without.
fn hostile_rows(nul: bool) -> Vec<Object> {
    let mut rows: Vec<Object> = HOSTILE
        .iter()
        .filter(|h| nul || !h.contains('\0'))
        .map(|h| {
            let mut m = Map::new();
            m.insert(as_key(h), json!(h));
            m.insert("k".to_owned(), json!(h));
            m.insert("tags".to_owned(), json!([h]));
            m.insert("o".to_owned(), json!({ *h: 1 }));
            m
        })
        .collect();
    rows.push(
        json!({"owner": "u1", "k": "safe"})
            .as_object()
            .unwrap()
            .clone(),
    );
    rows
}

/// For each hostile string: filters and searches on it as key and as value.
fn hostile_queries() -> Vec<(Filter, Object)> {
    let mut out = Vec::new();
    for h in HOSTILE {
        let h = (*h).to_owned();
        let key = as_key(&h);
        let object = |v: Value| v.as_object().unwrap().clone();
        out.push((
            Filter::eq(key.clone(), h.clone()),
            object(json!({ &key: &h })),
        ));
        out.push((Filter::eq("k", h.clone()), object(json!({"k": &h}))));
        out.push((
            Filter::contains("tags", h.clone()),
            object(json!({"tags": [&h]})),
        ));
        out.push((
            Filter::eq("o", json!({ &h: 1 })),
            object(json!({"o": { &h: 1 }})),
        ));
        out.push((
            Filter::or([
                Filter::eq(key.clone(), h.clone()),
                Filter::eq("owner", "u1"),
            ]),
            object(json!({ &key: &h, "k": &h })),
        ));
    }
    out
}

/// The rendered SQL holds none of the hostile text that could end a literal or a statement.
fn assert_spliced_nothing(sql: &str) {
    for h in HOSTILE.iter().filter(|h| h.len() > 2) {
        assert!(!sql.contains(h), "{h:?} in {sql}");
    }
}

#[test]
fn postgres_hostile_keys_and_values_change_only_the_match() {
    with_postgres("injection", |rt, conn| {
        rt.block_on(async {
            conn.execute(
                "CREATE TABLE t (id bigint PRIMARY KEY, meta jsonb NOT NULL);
                 CREATE TABLE sentinel (x int); INSERT INTO sentinel VALUES (1);",
            )
            .await
            .unwrap();
            let rows = pg_load(conn, &hostile_rows(false)).await;
            let mut hits = 0;
            for (f, wanted) in hostile_queries() {
                let expected: Vec<i64> = rows
                    .iter()
                    .filter(|(_, m)| f.matches(m))
                    .map(|(id, _)| *id)
                    .collect();
                hits += usize::from(!expected.is_empty());
                let got = pg_select(conn, |qb| {
                    qb.push_filter(&f, "meta").unwrap();
                })
                .await;
                assert_eq!(got, Ok(expected), "{}", f.to_json());
                assert_spliced_nothing(&Dialect::Postgres.filter(&f, "meta").unwrap().sql(1));

                let expected: Vec<i64> = rows
                    .iter()
                    .filter(|(_, m)| metadata_contains(m, &wanted))
                    .map(|(id, _)| *id)
                    .collect();
                let got = pg_select(conn, |qb| {
                    qb.push_contains(&wanted, "meta").unwrap();
                })
                .await;
                assert_eq!(got, Ok(expected), "{wanted:?}");
                assert_spliced_nothing(
                    &Dialect::Postgres.contains(&wanted, "meta").unwrap().sql(1),
                );
            }
            // Every hostile string without U+0000 finds its own row.
            assert!(
                hits >= 3 * (HOSTILE.len() - 2),
                "only {hits} queries found a row"
            );
            let (n, s): (i64, i64) =
                sqlx::query_as("SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM sentinel)")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!((n, s), (rows.len() as i64, 1));
        });
    });
}

#[test]
fn sqlite_hostile_keys_and_values_change_only_the_match() {
    let rt = runtime();
    let mut conn = sqlite(&rt);
    rt.block_on(async {
        conn.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, meta TEXT NOT NULL, metab BLOB);
             CREATE TABLE sentinel (x int); INSERT INTO sentinel VALUES (1);",
        )
        .await
        .unwrap();
        let rows = lite_load(&mut conn, &hostile_rows(true)).await;
        let mut hits = 0;
        for (f, wanted) in hostile_queries() {
            let expected: Vec<i64> = rows
                .iter()
                .filter(|(_, m)| f.matches(m))
                .map(|(id, _)| *id)
                .collect();
            hits += usize::from(!expected.is_empty());
            for column in ["meta", "metab"] {
                let got = lite_select(&mut conn, |qb| {
                    qb.push_filter(&f, column).unwrap();
                })
                .await;
                assert_eq!(got, Ok(expected.clone()), "{} on {column}", f.to_json());
            }
            assert_spliced_nothing(&Dialect::Sqlite.filter(&f, "meta").unwrap().sql(1));

            let expected: Vec<i64> = rows
                .iter()
                .filter(|(_, m)| metadata_contains(m, &wanted))
                .map(|(id, _)| *id)
                .collect();
            for column in ["meta", "metab"] {
                let got = lite_select(&mut conn, |qb| {
                    qb.push_contains(&wanted, column).unwrap();
                })
                .await;
                assert_eq!(got, Ok(expected.clone()), "{wanted:?} on {column}");
            }
            assert_spliced_nothing(&Dialect::Sqlite.contains(&wanted, "meta").unwrap().sql(1));
        }
        // Here U+0000 is stored too: every hostile string finds its own row.
        assert!(hits >= 3 * HOSTILE.len(), "only {hits} queries found a row");
        let (n, s): (i64, i64) =
            sqlx::query_as("SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM sentinel)")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!((n, s), (rows.len() as i64, 1));
    });
}

// ---------------------------------------------------------------------------------------------
// Composition: the caller's own placeholders first, then a filter and a search ANDed.

fn bind_pg<'q>(
    mut q: sqlx::query::QueryScalar<'q, Postgres, i64, sqlx::postgres::PgArguments>,
    binds: Vec<Bind>,
) -> sqlx::query::QueryScalar<'q, Postgres, i64, sqlx::postgres::PgArguments> {
    for b in binds {
        q = match b {
            Bind::Json(v) => q.bind(sqlx::types::Json(v)),
            Bind::Text(s) => q.bind(s),
            Bind::TextArray(a) => q.bind(a),
            Bind::Int(i) => q.bind(i),
            other => panic!("unexpected bind {other:?}"),
        };
    }
    q
}

#[test]
fn postgres_predicate_after_the_callers_placeholders() {
    with_postgres("compose", |rt, conn| {
        rt.block_on(async {
            conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, tenant text, meta jsonb)")
                .await
                .unwrap();
            let metas = [
                json!({"owner": "u1", "n": 1, "tags": ["a"]}),
                json!({"owner": "u1", "n": 1.0, "tags": ["a"]}),
                json!({"owner": "u2", "n": 1, "tags": ["a"]}),
                json!({"owner": "u1", "n": 1, "tags": ["b"]}),
            ];
            for (id, m) in metas.iter().enumerate() {
                for tenant in ["acme", "other"] {
                    sqlx::query("INSERT INTO t VALUES ($1, $2, $3)")
                        .bind(id as i64 + if tenant == "acme" { 0 } else { 100 })
                        .bind(tenant)
                        .bind(sqlx::types::Json(m))
                        .execute(&mut *conn)
                        .await
                        .unwrap();
                }
            }
            let filter = Filter::eq("owner", "u1").and(Filter::eq("n", 1));
            let wanted = json!({"tags": ["a"]}).as_object().unwrap().clone();
            let p = Dialect::Postgres
                .filter(&filter, "meta")
                .unwrap()
                .and(Dialect::Postgres.contains(&wanted, "meta").unwrap());
            let sql = format!(
                "SELECT id FROM t WHERE tenant = $1 AND {} ORDER BY id",
                p.sql(2)
            );
            let q = sqlx::query_scalar(&sql).bind("acme");
            let ids: Vec<i64> = bind_pg(q, p.into_binds())
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            assert_eq!(ids, [0]);
        });
    });
}

#[test]
fn sqlite_predicate_after_the_callers_placeholders() {
    let rt = runtime();
    let mut conn = sqlite(&rt);
    rt.block_on(async {
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, tenant TEXT, meta TEXT)")
            .await
            .unwrap();
        let metas = [
            json!({"owner": "u1", "n": 1, "tags": ["a"]}),
            json!({"owner": "u1", "n": 1.0, "tags": ["a"]}),
            json!({"owner": "u2", "n": 1, "tags": ["a"]}),
            json!({"owner": "u1", "n": 1, "tags": ["b"]}),
        ];
        for (id, m) in metas.iter().enumerate() {
            for tenant in ["acme", "other"] {
                sqlx::query("INSERT INTO t VALUES (?1, ?2, ?3)")
                    .bind(id as i64 + if tenant == "acme" { 0 } else { 100 })
                    .bind(tenant)
                    .bind(m.to_string())
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
        let filter = Filter::eq("owner", "u1").and(Filter::eq("n", 1));
        let wanted = json!({"tags": ["a"]}).as_object().unwrap().clone();
        let p = Dialect::Sqlite
            .filter(&filter, "meta")
            .unwrap()
            .and(Dialect::Sqlite.contains(&wanted, "meta").unwrap());
        let sql = format!(
            "SELECT id FROM t WHERE tenant = ?1 AND {} ORDER BY id",
            p.sql(2)
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql).bind("acme");
        for b in p.into_binds() {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
                other => panic!("unexpected bind {other:?}"),
            };
        }
        let ids: Vec<i64> = q.fetch_all(&mut conn).await.unwrap();
        assert_eq!(ids, [0]);
    });
}

// ---------------------------------------------------------------------------------------------
// Limits: the deepest values and the widest filters and searches run, one level deeper is an
// error (never a database error).

/// A value `levels` deep, alternating arrays and objects beside scalars.
fn deep_value(levels: usize) -> Value {
    let mut v = json!(1.5);
    for i in 0..levels {
        v = if i % 2 == 0 {
            json!([2, v, "s"])
        } else {
            json!({"k": v, "j": 3})
        };
    }
    v
}

/// `(filter, search)` pairs at the limits, each with the metadata of the row it must find.
fn limit_cases() -> Vec<(Filter, Object, Object)> {
    let deep = deep_value(auth::sql::MAX_VALUE_DEPTH);
    let element = deep_value(auth::sql::MAX_VALUE_DEPTH - 1);
    // `$or` nested `Filter::MAX_DEPTH` deep around the deepest value.
    let mut nested = Filter::eq("x", deep.clone());
    let mut meta = json!({"x": deep.clone(), "tags": [element.clone()]});
    for i in 0..Filter::MAX_DEPTH {
        nested = Filter::or([
            nested.and(Filter::eq(format!("y{i}"), i)),
            Filter::eq("z", -1),
        ]);
        meta[format!("y{i}")] = json!(i);
    }
    assert!(nested.error().is_none());
    let meta = meta.as_object().unwrap().clone();
    let wide_meta: Object = (0..1500).map(|i| (format!("k{i}"), json!(i))).collect();
    let wide_filter = (0..700).fold(Filter::all(), |f, i| f.and(Filter::eq(format!("k{i}"), i)));
    // Only the last branch matches.
    let wide_or =
        Filter::or((0..700).map(|i| Filter::eq(format!("k{i}"), if i == 699 { i } else { i + 1 })));
    vec![
        (
            nested.and(Filter::contains("tags", Value::Array(vec![element]))),
            meta.clone(),
            meta,
        ),
        (wide_filter, wide_meta.clone(), wide_meta.clone()),
        (wide_or, wide_meta.clone(), wide_meta),
    ]
}

fn assert_too_deep(d: Dialect) {
    let deeper = deep_value(auth::sql::MAX_VALUE_DEPTH + 1);
    let err = d.filter(&Filter::eq("x", deeper.clone()), "m").unwrap_err();
    assert_eq!(err, auth::sql::SqlError::TooDeep);
    let element = deep_value(auth::sql::MAX_VALUE_DEPTH);
    let err = d
        .filter(&Filter::contains("x", json!([element])), "m")
        .unwrap_err();
    assert_eq!(err, auth::sql::SqlError::TooDeep);
    let wanted = json!({"x": deeper}).as_object().unwrap().clone();
    assert_eq!(
        d.contains(&wanted, "m").unwrap_err(),
        auth::sql::SqlError::TooDeep
    );
}

#[test]
fn sqlite_runs_the_deepest_and_widest() {
    assert_too_deep(Dialect::Sqlite);
    let rt = runtime();
    let mut conn = sqlite(&rt);
    rt.block_on(async {
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, meta TEXT NOT NULL, metab BLOB)")
            .await
            .unwrap();
        for (f, wanted, meta) in limit_cases() {
            let rows = lite_load(&mut conn, &[meta, Map::new()]).await;
            assert!(f.matches(&rows[0].1) && metadata_contains(&rows[0].1, &wanted));
            for column in ["meta", "metab"] {
                let got = lite_select(&mut conn, |qb| {
                    qb.push_filter(&f, column).unwrap();
                })
                .await;
                assert_eq!(got, Ok(vec![0]));
                let got = lite_select(&mut conn, |qb| {
                    qb.push_contains(&wanted, column).unwrap();
                })
                .await;
                assert_eq!(got, Ok(vec![0]));
            }
        }
    });
}

#[test]
fn postgres_runs_the_deepest_and_widest() {
    assert_too_deep(Dialect::Postgres);
    with_postgres("limits", |rt, conn| {
        rt.block_on(async {
            conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, meta jsonb NOT NULL)")
                .await
                .unwrap();
            for (f, wanted, meta) in limit_cases() {
                let rows = pg_load(conn, &[meta, Map::new()]).await;
                assert!(f.matches(&rows[0].1) && metadata_contains(&rows[0].1, &wanted));
                let got = pg_select(conn, |qb| {
                    qb.push_filter(&f, "meta").unwrap();
                })
                .await;
                assert_eq!(got, Ok(vec![0]));
                let got = pg_select(conn, |qb| {
                    qb.push_contains(&wanted, "meta").unwrap();
                })
                .await;
                assert_eq!(got, Ok(vec![0]));
            }
        });
    });
}
