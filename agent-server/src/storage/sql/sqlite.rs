//! The SQLite backend: one file in WAL mode, foreign keys on, a busy timeout; writes begin
//! with `BEGIN IMMEDIATE`, so that "find with the filter, then change" holds the write lock from
//! the start. JSON is stored as text and filters are rendered by [`auth::sql::Dialect::Sqlite`].
//!
//! # Connections
//!
//! One connection writes (a pool of one: writers queue for it rather than retry on
//! `SQLITE_BUSY`), up to eight read beside it (WAL mode: a reader sees the last commit and never
//! waits for the writer). A read by id (`GET /threads/{id}`) is one `SELECT` with the filter in
//! its `WHERE`, without `BEGIN`/`COMMIT`, run on the request's own thread where it can be
//! (`inline.rs`), else on the pool; each connection keeps its prepared statements, whose
//! text depends on the filter's shape, never on its values. Single-row inserts are committed
//! in groups (`GroupCommit`).
//!
//! The policies' owner filter, `json_extract(<table>.metadata, '$.owner') = ?` as `auth::sql`
//! renders it, is answered by the `*_owner` indexes of migration 3.
//! A connection is not pinged before each use (sqlx's `test_before_acquire`, one more trip to the
//! connection's thread per request): a connection to a local file does not go stale.
//!
//! # Files
//!
//! The database file is created readable and writable by its owner only (0600, whatever the
//! umask), and SQLite creates its `-wal` and `-shm` files with the database file's mode.
//!
//! # Durability
//!
//! `synchronous=FULL`: a commit is on disk (the WAL synced) before the answer, so a 2xx answer
//! survives a crash of the process (SIGKILL) and also the loss of power or of the machine.
//! `NORMAL` would sync the WAL only at checkpoints: still safe across SIGKILL (the WAL is in the
//! operating system's cache) but the last commits could be lost with the power. It is not used:
//! a 2xx answer is meant to hold whatever stops the machine, at the price of one sync per
//! write (`NORMAL` about doubled `POST /threads` per second here: BENCHMARKS.md, "Storage
//! backends").

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::ConnectOptions as _;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::storage_error;
use crate::storage::{Storage, StorageError};

use super::Database;
use super::dialect::{Conn, Dialect, Qb, QbExt as _, SqlDb};
use super::guarded::Armed;
use super::imp::{migrate, storage};

/// SQLite's spellings of the shared queries.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sqlite;

impl Dialect for Sqlite {
    type Db = sqlx::Sqlite;

    const MIGRATIONS: &'static [(i64, &'static str)] = &[
        (1, include_str!("../../../migrations/sqlite/0001_init.sql")),
        (2, include_str!("../../../migrations/sqlite/0002_queue.sql")),
        (3, include_str!("../../../migrations/sqlite/0003_owner.sql")),
        (
            4,
            include_str!("../../../migrations/sqlite/0004_system_assistants.sql"),
        ),
    ];
    /// `BEGIN IMMEDIATE` serializes the migrations of servers starting together.
    const MIGRATION_LOCK: Option<&'static str> = None;
    /// Yes, one connection (SQLite lets one transaction write at a time; queued in the pool,
    /// writers wait their turn without the busy handler's sleeps).
    const SEPARATE_WRITER: bool = true;
    /// Yes: a commit syncs and only one connection writes, so one sync for many inserts
    /// multiplies how many are answered per second.
    const GROUP_COMMIT: bool = true;
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const READ_BEGIN: &'static str = "BEGIN";
    const JSON_IN: &'static str = "";
    const JSON_OUT: &'static str = "";
    /// Nothing: `BEGIN IMMEDIATE` already holds the database's write lock.
    const CLAIM_LOCK: &'static str = "";
    const FOR_UPDATE: &'static str = "";
    const HOLDS: &'static str = "instr";
    /// Columns are qualified: a filter reads this inside `json_each`, whose own columns are
    /// `key` and `value`.
    const STORE_VIEW: &'static str = "json_set(store_items.value, '$.namespace', \
                                      json(store_items.namespace), '$.key', store_items.key)";

    fn database(pool: sqlx::SqlitePool) -> Database {
        Database::Sqlite(pool)
    }

    fn rows_affected(done: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn push_ends_with(qb: &mut Qb<Self>, column: &str, suffix: String) {
        qb.push("substr(")
            .push(column)
            .push(", -length(")
            .bind(suffix.clone())
            .push(")) = ")
            .bind(suffix);
    }

    fn push_truncated(qb: &mut Qb<Self>, depth: usize) {
        let depth = i64::try_from(depth).unwrap_or(i64::MAX);
        qb.push("CASE WHEN depth > ")
            .bind(depth)
            .push(" THEN substr(ns, 1, json_extract(cuts, ")
            .bind(format!("$[{}]", depth - 1))
            .push(")) ELSE ns END");
    }

    /// A progress handler that interrupts the read's statements once its deadline is past or it
    /// is cancelled, while it is active; `BEGIN` for a read of several statements.
    fn arm<'c>(
        conn: &'c mut Conn<Self>,
        armed: &'c Armed,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let watch = armed.clone();
            conn.lock_handle()
                .await?
                .set_progress_handler(PROGRESS_STEPS, move || watch.may_go_on());
            if armed.tx {
                <sqlx::Sqlite as SqlDb>::raw(Self::READ_BEGIN, &mut *conn).await?;
            }
            Ok(())
        })
    }

    /// The handler switched off by its flag (no round trip: the next read replaces it); `COMMIT`
    /// of a transaction.
    fn disarm<'c>(
        conn: &'c mut Conn<Self>,
        armed: &'c Armed,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            armed
                .active
                .store(false, std::sync::atomic::Ordering::Relaxed);
            if armed.tx {
                <sqlx::Sqlite as SqlDb>::raw("COMMIT", &mut *conn).await?;
            }
            Ok(())
        })
    }

    /// The handler removed once the connection's thread is done with what the read left
    /// running (interrupted by then); a transaction rolled back.
    fn clean(mut conn: PoolConnection<Self::Db>, armed: Armed) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let removed = match conn.lock_handle().await {
                Ok(mut handle) => {
                    handle.remove_progress_handler();
                    true
                }
                Err(_) => false,
            };
            if !removed {
                conn.close_on_drop();
                return;
            }
            if armed.tx {
                // An error here means no transaction is open any more.
                let _ = <sqlx::Sqlite as SqlDb>::raw("ROLLBACK", &mut *conn).await;
            }
        })
    }

    /// Nothing: the deadline's flag stops the statement (the progress handler sees it).
    fn cancel<'a>(_pool: &'a sqlx::SqlitePool, _armed: &'a Armed) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// How many virtual machine instructions SQLite runs between two calls of a guarded read's
/// progress handler (a few microseconds).
const PROGRESS_STEPS: i32 = 1000;

/// How many connections read (WAL mode: readers never wait for the writer nor for each other).
const READERS: u32 = 8;
/// After how many pages in the WAL a commit copies them back into the database (SQLite's
/// default is 1000). That checkpoint runs in the commit, and every write queued behind it waits:
/// half as many pages at a time halved the worst waits of `POST /threads` (p99 3.6 to 3.9 ms
/// against 5.3 to 6.4 ms, at the same rate; BENCHMARKS.md).
const WAL_CHECKPOINT_PAGES: &str = "500";
/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating it if missing) the SQLite database `url` (`sqlite:PATH`) and applies the
/// migrations.
pub async fn connect(url: &str) -> Result<Storage, StorageError> {
    let path = file_of(url);
    if path.is_empty() {
        return Err(storage_error(url, "no file named", None));
    }
    create_owner_only(path);
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES)
        // sqlx's own statement logs are off: they hold the statement's text (a slow one at
        // `warn`); a slow statement is one line of ours instead, with the route and duration.
        .disable_statement_logging();
    // The writer first: it creates the file, sets WAL mode and applies the migrations.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await
        .map_err(|e| open_error(url, &e))?;
    migrate::<Sqlite>(&write)
        .await
        .map_err(|e| e.into_storage_error(url, open_error))?;
    let read = SqlitePoolOptions::new()
        .max_connections(READERS)
        .min_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| open_error(url, &e))?;
    // One connection per thread that may read at once: the runtime's workers.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let inline = super::inline::Reads::open(path, threads.min(READERS as usize))
        .map_err(|e| storage_error(url, "cannot open the database", Some(&e)))?;
    Ok(storage::<Sqlite>(read, write, Some(Arc::new(inline)), None))
}

/// The file a `sqlite:PATH` (or `sqlite://PATH`) URL names, as [`connect`] opens it.
pub(crate) fn file_of(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Creates the database file at `path` if there is none, readable and writable by its owner
/// only: created with mode 0600, then set to 0600 (a `chmod`, which the process's umask does not
/// touch). SQLite gives the `-wal` and `-shm` files it creates beside it the database file's
/// mode, so they are 0600 too. A file that exists keeps its mode (the server's start-up warns
/// when others may read it); an in-memory name is left alone; a file that cannot be created
/// here (a missing directory) is left to SQLite to report.
fn create_owner_only(path: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if path.starts_with(':') {
            return;
        }
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        if let Ok(file) = created {
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
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
