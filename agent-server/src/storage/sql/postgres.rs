//! The PostgreSQL backend: one database that any number of replicas share. Rows to change are
//! found with `SELECT … FOR UPDATE` and the filter in the same statement; JSON is `jsonb`
//! (bound as text cast `::jsonb`, read back as text) and filters are rendered by
//! [`auth::sql::Dialect::Postgres`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::storage_error;
use crate::storage::{Storage, StorageError};

type Db = sqlx::Postgres;
/// A row of this database (named, not projected from `Db`, so that other row types may
/// implement the same traits).
type DbRow = sqlx::postgres::PgRow;

/// The schema's migrations, in order: (version, SQL).
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_queue.sql"),
    ),
];
/// What serializes the migrations of replicas starting together: a transaction-scoped
/// advisory lock (its key is arbitrary, fixed for this server).
const MIGRATION_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7274230751)");
/// Whether single-row inserts are committed in groups ([`GroupCommit`]): no, concurrent
/// commits on several connections share their WAL flushes in PostgreSQL itself.
const GROUP_COMMIT: bool = false;
/// The handle on this database that [`Storage::database`] gives.
const DATABASE: fn(sqlx::Pool<Db>) -> super::Database = super::Database::Postgres;
/// Whether writes go through a pool of their own: no, PostgreSQL lets transactions write
/// side by side.
const SEPARATE_WRITER: bool = false;
/// How a transaction that will write begins.
const BEGIN: &str = "BEGIN";
/// How a transaction that only reads begins: one snapshot for all its statements.
const READ_BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ";
/// Appended to a placeholder that binds JSON text.
const JSON_IN: &str = "::jsonb";
/// Appended to a JSON column read back as text.
const JSON_OUT: &str = "::text";
/// Appended to the `SELECT` that finds the run to claim: the run's row and its thread's are
/// locked, and rows another transaction holds are skipped (another replica claims them, or a
/// change to the thread is under way).
const CLAIM_LOCK: &str = " FOR UPDATE OF r, t SKIP LOCKED";
/// Appended to a `SELECT` that finds a row to change.
const FOR_UPDATE: &str = " FOR UPDATE";
/// `HOLDS(haystack, needle) > 0`: the needle is a substring.
const HOLDS: &str = "strpos";
/// What a store item shows a filter: its value with `namespace` and `key` set.
const STORE_VIEW: &str = "(store_items.value || jsonb_build_object('namespace', \
                          store_items.namespace, 'key', store_items.key))";

/// `text ends with ?`.
fn push_ends_with(qb: &mut sqlx::QueryBuilder<'static, Db>, column: &str, suffix: String) {
    qb.push("right(")
        .push(column)
        .push(", length(")
        .push_bind(suffix.clone())
        .push(")) = ")
        .push_bind(suffix);
}

/// The encoded namespace `ns` truncated to `depth` labels.
fn push_truncated(qb: &mut sqlx::QueryBuilder<'static, Db>, depth: usize) {
    let depth = i64::try_from(depth).unwrap_or(i64::MAX);
    qb.push("CASE WHEN depth > ")
        .push_bind(depth)
        .push(" THEN left(ns, (cuts ->> ")
        .push_bind(i32::try_from(depth - 1).unwrap_or(i32::MAX))
        .push(")::int) ELSE ns END");
}

/// Connects to the PostgreSQL database `url` (`postgres://…`) and applies the migrations.
pub async fn connect(url: &str) -> Result<Storage, StorageError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| storage_error(url, "invalid database URL", Some(&e)))?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| open_error(url, &e))?;
    migrate(&pool)
        .await
        .map_err(|e| e.into_storage_error(url, open_error))?;
    Ok(storage(pool.clone(), pool, None))
}

/// Why PostgreSQL could not be reached at `url`, in words.
fn open_error(url: &str, e: &sqlx::Error) -> StorageError {
    storage_error(url, "cannot connect to the database", Some(e))
}

include!("imp.rs");
include!("queue_imp.rs");
