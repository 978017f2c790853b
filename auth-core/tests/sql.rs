//! `auth::sql` against real databases: a bundled SQLite and the PostgreSQL of
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a database of its
//! own per test, created and dropped by `test_support`.
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
use test_support::TestDatabase;

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

/// Runs `body` with a connection to a fresh PostgreSQL database, dropped after; without a
/// PostgreSQL, says so and returns (fails if `CI` is set).
fn with_postgres(test: &str, body: impl FnOnce(&tokio::runtime::Runtime, &mut PgConnection)) {
    let rt = runtime();
    let Some(db) = rt.block_on(TestDatabase::postgres_or_skip(test)) else {
        return;
    };
    let mut conn = rt
        .block_on(PgConnection::connect(&db.url))
        .unwrap_or_else(|e| panic!("connecting to the test database {}: {e}", db.url));
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&rt, &mut conn)));
    // Closed before `db` drops the database.
    let _ = rt.block_on(conn.close());
    drop(db);
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

/// `SELECT id FROM t WHERE …` with what `push` pushes, in order.
fn query<'a, DB: sqlx::Database>(
    push: impl FnOnce(&mut QueryBuilder<'a, DB>),
) -> QueryBuilder<'a, DB> {
    let mut qb = QueryBuilder::new("SELECT id FROM t WHERE ");
    push(&mut qb);
    qb.push(" ORDER BY id");
    qb
}

/// The ids `qb` selects; an error names the SQL.
async fn fetch_ids<'a, DB>(
    conn: &mut DB::Connection,
    qb: &'a mut QueryBuilder<'a, DB>,
) -> Result<Vec<i64>, String>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments<'a>: sqlx::IntoArguments<'a, DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let sql = qb.sql().to_owned();
    qb.build_query_scalar()
        .fetch_all(conn)
        .await
        .map_err(|e| format!("{e} in {sql}"))
}

/// The ids of the `rows` whose metadata `accepts`.
fn ids_where(rows: &[(i64, Object)], accepts: impl Fn(&Object) -> bool) -> Vec<i64> {
    rows.iter()
        .filter(|(_, m)| accepts(m))
        .map(|(id, _)| *id)
        .collect()
}

/// What the tests run against a database: a filter or a metadata search.
trait Query: Clone + std::fmt::Debug {
    /// "filter" or "search", for messages.
    const WHAT: &'static str;
    /// Its plural.
    const WHATS: &'static str;
    /// Whether the in-memory check accepts `m`.
    fn accepts(&self, m: &Object) -> bool;
    /// Pushes the rendered predicate over `column`.
    fn push<B: QueryBuilderExt>(&self, qb: &mut B, column: &str);
    /// The predicate's SQL over `meta`.
    fn sql(&self, d: Dialect) -> String;
    fn json(&self) -> Value;
}

impl Query for Filter {
    const WHAT: &'static str = "filter";
    const WHATS: &'static str = "filters";
    fn accepts(&self, m: &Object) -> bool {
        self.matches(m)
    }
    fn push<B: QueryBuilderExt>(&self, qb: &mut B, column: &str) {
        qb.push_filter(self, column).unwrap();
    }
    fn sql(&self, d: Dialect) -> String {
        d.filter(self, "meta").unwrap().sql(1)
    }
    fn json(&self) -> Value {
        self.to_json()
    }
}

impl Query for Object {
    const WHAT: &'static str = "search";
    const WHATS: &'static str = "searches";
    fn accepts(&self, m: &Object) -> bool {
        metadata_contains(m, self)
    }
    fn push<B: QueryBuilderExt>(&self, qb: &mut B, column: &str) {
        qb.push_contains(self, column).unwrap();
    }
    fn sql(&self, d: Dialect) -> String {
        d.contains(self, "meta").unwrap().sql(1)
    }
    fn json(&self) -> Value {
        Value::Object(self.clone())
    }
}

/// A database the tests load rows into and select from, over each of its metadata columns.
trait Backend {
    const NAME: &'static str;
    const DIALECT: Dialect;
    /// Whether it stores U+0000 (PostgreSQL's `jsonb` refuses it).
    const NUL: bool;
    /// The metadata columns of `t`, each asked the same.
    const COLUMNS: &'static [&'static str];
    /// Replaces the rows of `t`; gives back each id with its metadata as the database reads it.
    async fn load(&mut self, rows: &[Object]) -> Vec<(i64, Object)>;
    /// Loads a batch of the differential tests.
    async fn batch(&mut self, _batch: u32, rows: &[Object]) -> Vec<(i64, Object)> {
        self.load(rows).await
    }
    async fn select<Q: Query>(&mut self, q: &Q, column: &str) -> Result<Vec<i64>, String>;
    /// The rows of `t` and of `sentinel`.
    async fn counts(&mut self) -> (i64, i64);
}

impl Backend for PgConnection {
    const NAME: &'static str = "postgres";
    const DIALECT: Dialect = Dialect::Postgres;
    const NUL: bool = false;
    const COLUMNS: &'static [&'static str] = &["meta"];
    async fn load(&mut self, rows: &[Object]) -> Vec<(i64, Object)> {
        pg_load(self, rows).await
    }
    async fn batch(&mut self, batch: u32, rows: &[Object]) -> Vec<(i64, Object)> {
        pg_batch(self, batch, rows).await
    }
    async fn select<Q: Query>(&mut self, q: &Q, column: &str) -> Result<Vec<i64>, String> {
        fetch_ids::<Postgres>(self, &mut query(|qb| q.push(qb, column))).await
    }
    async fn counts(&mut self) -> (i64, i64) {
        sqlx::query_as(COUNTS).fetch_one(self).await.unwrap()
    }
}

impl Backend for SqliteConnection {
    const NAME: &'static str = "sqlite";
    const DIALECT: Dialect = Dialect::Sqlite;
    const NUL: bool = true;
    /// The JSON text and its `JSONB`.
    const COLUMNS: &'static [&'static str] = &["meta", "metab"];
    async fn load(&mut self, rows: &[Object]) -> Vec<(i64, Object)> {
        lite_load(self, rows).await
    }
    async fn select<Q: Query>(&mut self, q: &Q, column: &str) -> Result<Vec<i64>, String> {
        fetch_ids::<Sqlite>(self, &mut query(|qb| q.push(qb, column))).await
    }
    async fn counts(&mut self) -> (i64, i64) {
        sqlx::query_as(COUNTS).fetch_one(self).await.unwrap()
    }
}

const COUNTS: &str = "SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM sentinel)";

/// Asserts that `q` selects over every column exactly the rows it accepts; gives back how many.
async fn assert_selects_accepted<D: Backend, Q: Query>(
    db: &mut D,
    rows: &[(i64, Object)],
    q: &Q,
) -> usize {
    let expected = ids_where(rows, |m| q.accepts(m));
    for column in D::COLUMNS {
        let got = db.select(q, column).await;
        assert_eq!(got, Ok(expected.clone()), "{} on {column}", q.json());
    }
    expected.len()
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

/// For `SQL_PROPTEST_SCALE` times `BATCHES` batches of generated rows, `cases` queries drawn by
/// `strategy` from each: the ids the rendered SQL selects over each column (qualified by the
/// table) are those the in-memory check accepts.
fn differential<D: Backend, Q: Query, S: Strategy<Value = Q>>(
    rt: &tokio::runtime::Runtime,
    db: &mut D,
    cases: u32,
    strategy: impl Fn(&[(i64, Object)], bool) -> S,
) {
    let what = format!("{} {}", D::NAME, Q::WHATS);
    let seed = seed();
    say(&format!("{what}: SQL_PROPTEST_SEED={seed}"));
    let db = RefCell::new(db);
    let tally = Tally::default();
    for batch in 0..BATCHES * scale() {
        let mut runner = runner(seed.wrapping_add(u64::from(batch)), cases);
        let generated = rows(&mut runner, D::NUL);
        let rows = rt.block_on(db.borrow_mut().batch(batch, &generated));
        let result = runner.run(&strategy(&rows, D::NUL), |q| {
            let expected = ids_where(&rows, |m| q.accepts(m));
            tally.count(expected.len(), rows.len());
            let sql = q.sql(D::DIALECT);
            for column in D::COLUMNS {
                let column = format!("t.{column}");
                let got = rt.block_on(db.borrow_mut().select(&q, &column));
                prop_assert_eq!(
                    got,
                    Ok(expected.clone()),
                    "{} {} on {} rendered {}",
                    Q::WHAT,
                    q.json(),
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
    tally.check(&what);
}

const PG_TABLE: &str = "CREATE TABLE t (id bigint PRIMARY KEY, meta jsonb NOT NULL);
                        CREATE INDEX ON t USING gin (meta jsonb_path_ops);";

/// SQLite: the JSON text column and its `JSONB`.
const LITE_TABLE: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, meta TEXT NOT NULL, metab BLOB)";

/// An in-memory SQLite with the table `t`.
fn sqlite_table(rt: &tokio::runtime::Runtime) -> SqliteConnection {
    let mut conn = sqlite(rt);
    rt.block_on(conn.execute(LITE_TABLE)).unwrap();
    conn
}

#[test]
fn postgres_filters_select_what_matches_accepts() {
    with_postgres("filters", |rt, conn| {
        rt.block_on(conn.execute(PG_TABLE)).unwrap();
        // Every other batch through the GIN index.
        differential(rt, conn, FILTERS, filter);
    });
}

#[test]
fn postgres_searches_select_what_metadata_contains_accepts() {
    with_postgres("searches", |rt, conn| {
        rt.block_on(conn.execute(PG_TABLE)).unwrap();
        differential(rt, conn, SEARCHES, search);
    });
}

/// SQLite: the same filters over the JSON text column and over its `JSONB`.
#[test]
fn sqlite_filters_select_what_matches_accepts() {
    let rt = runtime();
    differential(&rt, &mut sqlite_table(&rt), FILTERS, filter);
}

#[test]
fn sqlite_searches_select_what_metadata_contains_accepts() {
    let rt = runtime();
    differential(&rt, &mut sqlite_table(&rt), SEARCHES, search);
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

/// Every hostile filter and search selects exactly the rows it accepts, renders none of the
/// hostile text into the SQL, and leaves both tables as they were; gives back how many found a
/// row.
async fn assert_hostile_change_only_the_match<D: Backend>(db: &mut D) -> usize {
    let rows = db.load(&hostile_rows(D::NUL)).await;
    let mut hits = 0;
    for (f, wanted) in hostile_queries() {
        hits += usize::from(assert_selects_accepted(db, &rows, &f).await > 0);
        assert_spliced_nothing(&f.sql(D::DIALECT));
        assert_selects_accepted(db, &rows, &wanted).await;
        assert_spliced_nothing(&wanted.sql(D::DIALECT));
    }
    assert_eq!(db.counts().await, (rows.len() as i64, 1));
    hits
}

const SENTINEL: &str = "CREATE TABLE sentinel (x int); INSERT INTO sentinel VALUES (1);";

#[test]
fn postgres_hostile_keys_and_values_change_only_the_match() {
    with_postgres("injection", |rt, conn| {
        rt.block_on(async {
            conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, meta jsonb NOT NULL)")
                .await
                .unwrap();
            conn.execute(SENTINEL).await.unwrap();
            let hits = assert_hostile_change_only_the_match(conn).await;
            // Every hostile string without U+0000 finds its own row.
            assert!(
                hits >= 3 * (HOSTILE.len() - 2),
                "only {hits} queries found a row"
            );
        });
    });
}

#[test]
fn sqlite_hostile_keys_and_values_change_only_the_match() {
    let rt = runtime();
    let mut conn = sqlite_table(&rt);
    rt.block_on(async {
        conn.execute(SENTINEL).await.unwrap();
        let hits = assert_hostile_change_only_the_match(&mut conn).await;
        // Here U+0000 is stored too: every hostile string finds its own row.
        assert!(hits >= 3 * HOSTILE.len(), "only {hits} queries found a row");
    });
}

// ---------------------------------------------------------------------------------------------
// Composition: the caller's own placeholders first, then a filter and a search ANDed.

/// `(id, tenant, metadata)`: four rows for "acme" (ids 0 to 3) and the same for "other" (ids
/// 100 to 103); of each tenant's, only the first has owner u1, the integer 1 as `n` and the tag
/// "a".
fn tenant_rows() -> Vec<(i64, &'static str, Value)> {
    let metas = [
        json!({"owner": "u1", "n": 1, "tags": ["a"]}),
        json!({"owner": "u1", "n": 1.0, "tags": ["a"]}),
        json!({"owner": "u2", "n": 1, "tags": ["a"]}),
        json!({"owner": "u1", "n": 1, "tags": ["b"]}),
    ];
    let mut rows = Vec::new();
    for (id, m) in metas.into_iter().enumerate() {
        for (tenant, offset) in [("acme", 0), ("other", 100)] {
            rows.push((id as i64 + offset, tenant, m.clone()));
        }
    }
    rows
}

/// The filter `owner = u1 AND n = 1` ANDed with the search `{"tags": ["a"]}`.
fn composed(d: Dialect) -> auth::sql::Predicate {
    let filter = Filter::eq("owner", "u1").and(Filter::eq("n", 1));
    let wanted = json!({"tags": ["a"]}).as_object().unwrap().clone();
    d.filter(&filter, "meta")
        .unwrap()
        .and(d.contains(&wanted, "meta").unwrap())
}

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
            for (id, tenant, m) in tenant_rows() {
                sqlx::query("INSERT INTO t VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(tenant)
                    .bind(sqlx::types::Json(m))
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
            let p = composed(Dialect::Postgres);
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
        for (id, tenant, m) in tenant_rows() {
            sqlx::query("INSERT INTO t VALUES (?1, ?2, ?3)")
                .bind(id)
                .bind(tenant)
                .bind(m.to_string())
                .execute(&mut conn)
                .await
                .unwrap();
        }
        let p = composed(Dialect::Sqlite);
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

/// Each limit case's filter and search select its row, over every column.
async fn assert_limits_run<D: Backend>(db: &mut D) {
    for (f, wanted, meta) in limit_cases() {
        let rows = db.load(&[meta, Map::new()]).await;
        assert!(f.matches(&rows[0].1) && metadata_contains(&rows[0].1, &wanted));
        assert_eq!(assert_selects_accepted(db, &rows, &f).await, 1);
        assert_eq!(assert_selects_accepted(db, &rows, &wanted).await, 1);
    }
}

#[test]
fn sqlite_runs_the_deepest_and_widest() {
    assert_too_deep(Dialect::Sqlite);
    let rt = runtime();
    let mut conn = sqlite_table(&rt);
    rt.block_on(assert_limits_run(&mut conn));
}

#[test]
fn postgres_runs_the_deepest_and_widest() {
    assert_too_deep(Dialect::Postgres);
    with_postgres("limits", |rt, conn| {
        rt.block_on(async {
            conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, meta jsonb NOT NULL)")
                .await
                .unwrap();
            assert_limits_run(conn).await;
        });
    });
}
