//! The run queue's contract ([`crate::storage::queue_tests`]) on SQLite (a temporary file) and
//! PostgreSQL (a database made for each test from `TEST_DATABASE_URL` and dropped after;
//! without PostgreSQL skipped saying so, unless `CI` is set, then failed).

use super::backends::{PgDb, TempFile};
use crate::storage::Storage;

/// Runs `scenario` on a fresh SQLite file.
async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Storage) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let file = TempFile::new();
    let storage = Storage::connect(&file.url()).await.expect("sqlite");
    scenario(storage).await;
}

/// Runs `scenario` on a fresh PostgreSQL database, if PostgreSQL is reachable.
async fn on_postgres<F, Fut>(scenario: F)
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

mod sqlite {
    crate::storage::queue_tests::queue_contract_tests!(super::on_sqlite);
}

mod postgres {
    crate::storage::queue_tests::queue_contract_tests!(super::on_postgres);
}
