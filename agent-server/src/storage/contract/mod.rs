//! The contract every storage backend meets: the same scenarios, run on memory, SQLite (a
//! temporary file) and PostgreSQL (a database made for the run from `TEST_DATABASE_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`, dropped after; without PostgreSQL the
//! PostgreSQL part is skipped saying so, unless `CI` is set, then it fails).
//!
//! - [`backends`]: threads, checkpoints, runs, assistants, crons and the store, each scenario on
//!   every backend ([`on_every_backend`]), and the differential test (generated operations
//!   answered alike by all three);
//! - [`queue`]: the run queue's contract, on each backend;
//! - `cost`: what a search may cost (the complexity budget, the deadline each backend
//!   enforces, an abandoned search stopping), on each backend.
//!
//! A new backend is added to [`on_every_backend`] and gets a module in [`queue`]. These are unit
//! tests of the crate because an [`Access`] with a filter can only be made inside it (see
//! [`crate::authz`]).

use std::sync::Arc;

use auth::Filter;
use serde_json::Value;
use sqlx::Connection as _;

use crate::authz::Access;
use crate::model::{Object, Thread};
use crate::storage::{HistoryPage, Query, Storage};

mod backends;
mod cost;
pub(crate) mod queue;

pub(crate) use crate::model::new_thread;

pub(crate) const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

pub(crate) fn meta(v: Value) -> Object {
    v.as_object().cloned().unwrap_or_default()
}

pub(crate) fn owner(o: &str) -> Access {
    Access::for_tests(Some(Filter::eq("owner", o)))
}

pub(crate) fn system() -> Access {
    Access::system("test")
}

/// A PostgreSQL database for one test run, dropped with it.
pub(crate) struct PgDb {
    pub(crate) admin: String,
    pub(crate) name: String,
    pub(crate) url: String,
}

impl PgDb {
    /// A new database, or `None` (saying why) when PostgreSQL is not reachable and `CI` is unset.
    pub(crate) async fn create() -> Option<PgDb> {
        let admin = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.to_owned());
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI is set and PostgreSQL is not reachable at {}: {e}",
                    crate::storage::sql::mask_url(&admin)
                );
                eprintln!(
                    "skipping the PostgreSQL backend: {} is not reachable ({e})",
                    crate::storage::sql::mask_url(&admin)
                );
                return None;
            }
        };
        let name = format!("pc_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        let _ = conn.close().await;
        let base = admin.split('?').next().unwrap_or(&admin);
        let cut = base.rfind('/').expect("a database URL has a path");
        let url = format!("{}/{name}", &base[..cut]);
        Some(PgDb { admin, name, url })
    }

    /// Drops the database (its pools must be closed or dropped).
    pub(crate) async fn drop_db(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
            let _ = sqlx::raw_sql(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

/// A temporary SQLite file, removed with it.
pub(crate) struct TempFile(pub(crate) std::path::PathBuf);

impl TempFile {
    pub(crate) fn new() -> TempFile {
        TempFile(std::env::temp_dir().join(format!("pc-test-{}.db", uuid::Uuid::new_v4())))
    }

    pub(crate) fn url(&self) -> String {
        format!("sqlite:{}", self.0.display())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for ext in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(ext);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Runs `scenario` on a fresh storage of each backend.
pub(crate) async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(&'static str, Storage) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    scenario("memory", Storage::in_memory()).await;
    let file = TempFile::new();
    let sqlite = Storage::connect(&file.url()).await.expect("sqlite");
    scenario("sqlite", sqlite).await;
    if let Some(db) = PgDb::create().await {
        use futures_util::FutureExt as _;
        // The database is dropped even when the scenario fails.
        let ran = std::panic::AssertUnwindSafe(async {
            let pg = Storage::connect(&db.url).await.expect("postgres");
            scenario("postgres", pg).await;
        })
        .catch_unwind()
        .await;
        db.drop_db().await;
        if let Err(panic) = ran {
            std::panic::resume_unwind(panic);
        }
    }
}

/// The checkpoints of thread `id` that `scope` sees (at most 100 of them).
pub(crate) async fn all_history(
    s: &Storage,
    id: &str,
    scope: &Access,
) -> Vec<Arc<crate::model::Checkpoint>> {
    let page = HistoryPage {
        limit: 100,
        before: None,
        metadata: None,
    };
    s.threads
        .history(id, scope, page, &crate::storage::Deadline::unlimited())
        .await
        .unwrap()
        .unwrap()
}

pub(crate) fn thread(id: &str, metadata: Value) -> Thread {
    new_thread(id.to_owned(), meta(metadata))
}

/// The ids of the first 100 threads that `scope` sees, newest first, and their total.
pub(crate) async fn up_to_100(s: &Storage, scope: &Access) -> (Vec<String>, usize) {
    ids_of(
        s,
        Query {
            limit: 100,
            ..Query::new(scope)
        },
    )
    .await
}

pub(crate) async fn ids_of(s: &Storage, q: Query<'_>) -> (Vec<String>, usize) {
    let page = s.threads.search(q).await.unwrap();
    (
        page.items.into_iter().map(|t| t.thread_id).collect(),
        page.total,
    )
}

/// Runs `scenario` on a fresh memory storage.
pub(crate) async fn on_memory<F, Fut>(scenario: F)
where
    F: FnOnce(Storage) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    scenario(Storage::in_memory()).await;
}

/// Runs `scenario` on a fresh SQLite file.
pub(crate) async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Storage) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let file = TempFile::new();
    let storage = Storage::connect(&file.url()).await.expect("sqlite");
    scenario(storage).await;
}

/// Runs `scenario` on a fresh PostgreSQL database, if PostgreSQL is reachable.
pub(crate) async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Storage) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(db) = PgDb::create().await else {
        return;
    };
    let storage = Storage::connect(&db.url).await.expect("postgres");
    scenario(storage).await;
    db.drop_db().await;
}
