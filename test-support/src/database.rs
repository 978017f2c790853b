//! Test databases: a fresh SQLite file in the temporary directory, or a uniquely named
//! PostgreSQL database on `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! each removed when its [`TestDatabase`] is dropped. [`TestDatabase::from_env`] picks the
//! backend `PC_TEST_BACKEND` names (`memory`, the default, `sqlite` or `postgres`): the server's
//! HTTP suites run on it.
//!
//! A test that needs PostgreSQL and finds none skips, saying why, unless the environment variable
//! `CI` is set: then it fails ([`TestDatabase::postgres_or_skip`], [`unavailable`]).
//!
//! Only URLs are handed out: a test opens them with its own driver or storage.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Connection;

/// Where the PostgreSQL test databases are created.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The backends a test server can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sqlite,
    Postgres,
}

impl Backend {
    /// `PC_TEST_BACKEND` (default `memory`); any other value fails the test.
    pub fn from_env() -> Backend {
        match std::env::var("PC_TEST_BACKEND").as_deref() {
            Err(_) | Ok("" | "memory") => Backend::Memory,
            Ok("sqlite") => Backend::Sqlite,
            Ok("postgres") => Backend::Postgres,
            Ok(other) => panic!("PC_TEST_BACKEND={other:?}: expected memory, sqlite or postgres"),
        }
    }
}

/// What a test does when a database it needs is missing (`why`): with the environment variable
/// `CI` set, it fails (panics); otherwise it prints `SKIPPED {test}: {why}` past the test
/// harness's capture and returns, and the test returns too.
pub fn unavailable(test: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why} (CI is set, so this is a failure)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// A unique name for a database or file of this test process.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

enum Kind {
    Memory,
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

/// A database for one server or test: `url` is what the server's `--database` or
/// `Storage::connect` takes (`memory`, `sqlite:PATH`, `postgres://…`). Dropping it deletes the
/// SQLite file or drops the PostgreSQL database (connections still open are ended).
pub struct TestDatabase {
    pub url: String,
    kind: Kind,
}

impl TestDatabase {
    /// A fresh database of the backend `PC_TEST_BACKEND` names. PostgreSQL unreachable fails the
    /// test: that backend was asked for.
    pub async fn from_env() -> TestDatabase {
        match Backend::from_env() {
            Backend::Memory => TestDatabase {
                url: "memory".into(),
                kind: Kind::Memory,
            },
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => match TestDatabase::try_postgres().await {
                Ok(db) => db,
                Err(why) => panic!("PC_TEST_BACKEND=postgres: {why}"),
            },
        }
    }

    /// A SQLite database in a new file of the temporary directory (created by whoever opens it).
    pub fn sqlite() -> TestDatabase {
        let path = std::env::temp_dir().join(format!("{}.db", unique("test_support")));
        TestDatabase {
            url: format!("sqlite:{}", path.display()),
            kind: Kind::Sqlite(path),
        }
    }

    /// A new, empty PostgreSQL database on [`admin_url`], or why there is none.
    pub async fn try_postgres() -> Result<TestDatabase, String> {
        let admin = admin_url();
        let name = unique("test_support");
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .map_err(|e| format!("no PostgreSQL at {admin} (TEST_DATABASE_URL): {e}"))?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("creating database {name} on {admin}: {e}"))?;
        let _ = conn.close().await;
        Ok(TestDatabase {
            url: with_database(&admin, &name),
            kind: Kind::Postgres(name),
        })
    }

    /// A new PostgreSQL database; `None` when PostgreSQL is unreachable: the test `test` is
    /// skipped, saying why, or fails when `CI` is set (see [`unavailable`]).
    pub async fn postgres_or_skip(test: &str) -> Option<TestDatabase> {
        match TestDatabase::try_postgres().await {
            Ok(db) => Some(db),
            Err(why) => {
                unavailable(test, &why);
                None
            }
        }
    }
}

/// `url` (a PostgreSQL URL) naming the database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = head.split_once("://").expect("a URL with ://");
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    format!("{scheme}://{authority}/{name}{query}")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.kind {
            Kind::Memory => {}
            Kind::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Kind::Postgres(name) => {
                // On a thread of its own: this may run inside the test's runtime.
                let name = name.clone();
                let dropped = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async move {
                        let mut conn = sqlx::PgConnection::connect(&admin_url()).await?;
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut conn)
                            .await?;
                        conn.close().await
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("could not drop a test database: {dropped:?}");
                }
            }
        }
    }
}
