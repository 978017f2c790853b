//! The PostgreSQL backend: one database that any number of replicas share. Rows to change are
//! found with `SELECT … FOR UPDATE` and the filter in the same statement; JSON is `jsonb`
//! (bound as text cast `::jsonb`, read back as text) and filters are rendered by
//! [`auth::sql::Dialect::Postgres`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::storage_error;
use crate::storage::{Storage, StorageError};

use super::Database;
use super::dialect::{Dialect, Qb, QbExt as _};
use super::imp::{migrate, storage};

/// PostgreSQL's spellings of the shared queries.
#[derive(Debug, Clone, Copy)]
pub(super) struct Postgres;

impl Dialect for Postgres {
    type Db = sqlx::Postgres;

    const MIGRATIONS: &'static [(i64, &'static str)] = &[
        (
            1,
            include_str!("../../../migrations/postgres/0001_init.sql"),
        ),
        (
            2,
            include_str!("../../../migrations/postgres/0002_queue.sql"),
        ),
        (
            3,
            include_str!("../../../migrations/postgres/0003_system_assistants.sql"),
        ),
    ];
    /// A transaction-scoped advisory lock (its key is arbitrary, fixed for this server).
    const MIGRATION_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(7274230751)");
    /// No: PostgreSQL lets transactions write side by side.
    const SEPARATE_WRITER: bool = false;
    /// No: concurrent commits on several connections share their WAL flushes in PostgreSQL
    /// itself.
    const GROUP_COMMIT: bool = false;
    const BEGIN: &'static str = "BEGIN";
    const READ_BEGIN: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ";
    const JSON_IN: &'static str = "::jsonb";
    const JSON_OUT: &'static str = "::text";
    /// The run's row and its thread's are locked, and rows another transaction holds are
    /// skipped (another replica claims them, or a change to the thread is under way).
    const CLAIM_LOCK: &'static str = " FOR UPDATE OF r, t SKIP LOCKED";
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const HOLDS: &'static str = "strpos";
    const STORE_VIEW: &'static str = "(store_items.value || jsonb_build_object('namespace', \
                                      store_items.namespace, 'key', store_items.key))";

    fn database(pool: sqlx::PgPool) -> Database {
        Database::Postgres(pool)
    }

    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn push_ends_with(qb: &mut Qb<Self>, column: &str, suffix: String) {
        qb.push("right(")
            .push(column)
            .push(", length(")
            .bind(suffix.clone())
            .push(")) = ")
            .bind(suffix);
    }

    fn push_truncated(qb: &mut Qb<Self>, depth: usize) {
        let depth = i64::try_from(depth).unwrap_or(i64::MAX);
        qb.push("CASE WHEN depth > ")
            .bind(depth)
            .push(" THEN left(ns, (cuts ->> ")
            .bind(i32::try_from(depth - 1).unwrap_or(i32::MAX))
            .push(")::int) ELSE ns END");
    }
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
    migrate::<Postgres>(&pool)
        .await
        .map_err(|e| e.into_storage_error(url, open_error))?;
    Ok(storage::<Postgres>(pool.clone(), pool, None))
}

/// Why PostgreSQL could not be reached at `url`, in words.
fn open_error(url: &str, e: &sqlx::Error) -> StorageError {
    storage_error(url, "cannot connect to the database", Some(e))
}
