//! The SQLite backend: one file in WAL mode, foreign keys on, a busy timeout; writes begin
//! with `BEGIN IMMEDIATE`, so that "find with the filter, then change" holds the write lock from
//! the start. JSON is stored as text and filters are rendered by [`auth::sql::Dialect::Sqlite`].

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use super::storage_error;
use crate::storage::{Storage, StorageError};

type Db = sqlx::Sqlite;

/// The schema's migrations, in order: (version, SQL).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../../migrations/sqlite/0002_queue.sql")),
];
/// What serializes the migrations of servers starting together (`BEGIN IMMEDIATE` does here).
const MIGRATION_LOCK: Option<&str> = None;
/// The handle on this database that [`Storage::database`] gives.
const DATABASE: fn(sqlx::Pool<Db>) -> super::Database = super::Database::Sqlite;
/// How a transaction that will write begins.
const BEGIN: &str = "BEGIN IMMEDIATE";
/// How a transaction that only reads begins: one snapshot for all its statements.
const READ_BEGIN: &str = "BEGIN";
/// Appended to a placeholder that binds JSON text.
const JSON_IN: &str = "";
/// Appended to a JSON column read back as text.
const JSON_OUT: &str = "";
/// Appended to the `SELECT` that finds the run to claim: nothing, as `BEGIN IMMEDIATE` already
/// holds the database's write lock.
const CLAIM_LOCK: &str = "";
/// Appended to a `SELECT` that finds a row to change.
const FOR_UPDATE: &str = "";
/// `HOLDS(haystack, needle) > 0`: the needle is a substring.
const HOLDS: &str = "instr";
/// What a store item shows a filter: its value with `namespace` and `key` set. Columns are
/// qualified: a filter reads this inside `json_each`, whose own columns are `key` and `value`.
const STORE_VIEW: &str = "json_set(store_items.value, '$.namespace', \
                          json(store_items.namespace), '$.key', store_items.key)";
/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `text ends with ?`.
fn push_ends_with(qb: &mut sqlx::QueryBuilder<'static, Db>, column: &str, suffix: String) {
    qb.push("substr(")
        .push(column)
        .push(", -length(")
        .push_bind(suffix.clone())
        .push(")) = ")
        .push_bind(suffix);
}

/// The encoded namespace `ns` truncated to `depth` labels.
fn push_truncated(qb: &mut sqlx::QueryBuilder<'static, Db>, depth: usize) {
    let depth = i64::try_from(depth).unwrap_or(i64::MAX);
    qb.push("CASE WHEN depth > ")
        .push_bind(depth)
        .push(" THEN substr(ns, 1, json_extract(cuts, ")
        .push_bind(format!("$[{}]", depth - 1))
        .push(")) ELSE ns END");
}

/// Opens (creating it if missing) the SQLite database `url` (`sqlite:PATH`) and applies the
/// migrations.
pub async fn connect(url: &str) -> Result<Storage, StorageError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        return Err(storage_error(url, "no file named", None));
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| open_error(url, &e))?;
    migrate(&pool)
        .await
        .map_err(|e| e.into_storage_error(url, open_error))?;
    Ok(storage(pool))
}

/// Why SQLite could not open `url`, in words.
fn open_error(url: &str, e: &sqlx::Error) -> StorageError {
    let code = match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    };
    // Primary result codes: 26 NOTADB, 5 BUSY, 6 LOCKED (extended codes keep them in the low byte).
    match code
        .as_deref()
        .and_then(|c| c.parse::<i64>().ok())
        .map(|c| c & 0xff)
    {
        Some(26) => storage_error(url, "the file is not a SQLite database", None),
        Some(5 | 6) => storage_error(url, "the database is locked by another process", None),
        _ => storage_error(url, "cannot open the database", Some(e)),
    }
}

include!("imp.rs");
include!("queue_imp.rs");
