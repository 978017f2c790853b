//! What only the databases do: refusing a file or a schema they cannot open, a file locked by
//! another process, the owner index, a database lost while serving. The contract every backend
//! meets is [`crate::storage::contract`].

use auth::Filter;
use serde_json::json;
use sqlx::Connection as _;

use crate::storage::contract::{PgDb, TempFile, system, thread, up_to_100};
use crate::storage::{IfExists, Inserted, Query, Storage, StoreError};

#[tokio::test]
async fn sqlite_refuses_what_it_cannot_open() {
    // not a database
    let file = TempFile::new();
    std::fs::write(
        &file.0,
        b"this is not a database, just some text that is long enough",
    )
    .unwrap();
    let err = Storage::connect(&file.url()).await.err().expect("refused");
    assert!(err.message.contains("not a SQLite database"), "{err}");
    // a newer schema
    let file = TempFile::new();
    drop(Storage::connect(&file.url()).await.unwrap());
    {
        let mut conn = sqlx::SqliteConnection::connect(&file.url()).await.unwrap();
        sqlx::query("INSERT INTO pc_schema (version) VALUES (999)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let err = Storage::connect(&file.url()).await.err().expect("refused");
    assert!(err.message.contains("newer"), "{err}");
    assert!(err.message.contains("999"), "{err}");
    // reopening a current one keeps its data
    let file = TempFile::new();
    let s = Storage::connect(&file.url()).await.unwrap();
    s.threads
        .insert(thread("kept", json!({})), IfExists::Raise, &system())
        .await
        .unwrap();
    assert!(matches!(s.database, Some(super::Database::Sqlite(_))));
    s.close().await;
    let closed = s.threads.get("kept", &system()).await.unwrap_err();
    assert!(matches!(closed, StoreError::Unavailable(_)), "{closed:?}");
    assert_eq!(closed.to_string(), "database unavailable");
    let s = Storage::connect(&file.url()).await.unwrap();
    assert!(s.threads.get("kept", &system()).await.unwrap().is_some());
}

#[tokio::test]
async fn sqlite_refuses_a_file_locked_by_another() {
    let file = TempFile::new();
    drop(Storage::connect(&file.url()).await.unwrap());
    // Another process's exclusive lock, held by a connection of our own.
    let mut other = sqlx::SqliteConnection::connect(&file.url()).await.unwrap();
    sqlx::raw_sql("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .execute(&mut other)
        .await
        .unwrap();
    let err = Storage::connect(&file.url()).await.err().expect("refused");
    assert!(err.message.contains("locked by another process"), "{err}");
    assert!(err.message.starts_with(&file.url()), "{err}");
    drop(other);
}

/// Inserts that arrive while another holds SQLite's write lock are each answered 503 (the
/// group that cannot begin answers all its inserts at once), store nothing, and work again once
/// the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_inserts_while_locked_are_503_then_work() {
    let file = TempFile::new();
    let s = Storage::connect(&file.url()).await.unwrap();
    let mut other = sqlx::SqliteConnection::connect(&file.url()).await.unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE;")
        .execute(&mut other)
        .await
        .unwrap();
    let inserts = |prefix: &'static str| {
        (0..6)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    let t = thread(&format!("{prefix}{i}"), json!({"owner": "a"}));
                    s.threads.insert(t, IfExists::Raise, &system()).await
                })
            })
            .collect::<Vec<_>>()
    };
    for task in inserts("locked") {
        let Err(err) = task.await.unwrap() else {
            panic!("an insert while locked was answered");
        };
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
    sqlx::raw_sql("ROLLBACK;")
        .execute(&mut other)
        .await
        .unwrap();
    drop(other);
    for task in inserts("free") {
        assert!(matches!(task.await.unwrap(), Ok(Inserted::Created(_))));
    }
    let sys = system();
    let (ids, total) = up_to_100(&s, &sys).await;
    assert_eq!(total, 6, "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("free")), "{ids:?}");
    s.close().await;
}

/// On SQLite the owner filter is answered by the `threads_owner` index: the page walks it in
/// creation order (no sort of the owner's rows), and so does the count.
#[tokio::test]
async fn sqlite_owner_searches_use_the_owner_index() {
    let file = TempFile::new();
    let s = Storage::connect(&file.url()).await.expect("sqlite");
    let Some(super::Database::Sqlite(pool)) = s.database.clone() else {
        panic!("a SQLite storage has a SQLite pool");
    };
    // The page and the count, each under the owner filter as the storage renders it.
    for (select, rest) in [
        (
            "SELECT thread_id",
            " ORDER BY created_at DESC, thread_id DESC LIMIT 10",
        ),
        ("SELECT COUNT(*)", ""),
    ] {
        use auth::sql::QueryBuilderExt as _;
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
            "EXPLAIN QUERY PLAN {select} FROM threads WHERE "
        ));
        qb.push_filter(&Filter::eq("owner", "a"), "threads.metadata")
            .unwrap();
        qb.push(rest);
        let plan: Vec<String> = qb
            .build()
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
            .collect();
        // One step, the index: no scan of the table, no sort.
        assert_eq!(plan.len(), 1, "{select}: {plan:?}");
        assert!(
            plan[0].contains("INDEX threads_owner"),
            "{select}: {plan:?}"
        );
    }
    s.close().await;
}

#[tokio::test]
async fn postgres_refuses_a_newer_schema_and_hides_passwords() {
    let err = Storage::connect("postgres://someone:s3cretpw@127.0.0.1:1/nothing")
        .await
        .err()
        .expect("refused");
    assert!(!err.message.contains("s3cretpw"), "{err}");
    assert!(
        err.message
            .contains("postgres://someone:***@127.0.0.1:1/nothing"),
        "{err}"
    );
    let Some(db) = PgDb::create().await else {
        return;
    };
    drop(Storage::connect(&db.url).await.unwrap());
    {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query("INSERT INTO pc_schema (version) VALUES (999)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let err = Storage::connect(&db.url).await.err().expect("refused");
    assert!(err.message.contains("newer"), "{err}");
    db.drop_db().await;
}

/// A database lost while serving: every operation answers 503 `database unavailable` (no
/// panic, no SQL, no password), and nothing is reported as absent.
#[tokio::test]
async fn a_lost_database_answers_503() {
    let Some(db) = PgDb::create().await else {
        return;
    };
    let s = Storage::connect(&db.url).await.unwrap();
    let sys = system();
    s.threads
        .insert(thread("t", json!({"owner": "a"})), IfExists::Raise, &sys)
        .await
        .unwrap();
    let admin = db.admin.clone();
    let name = db.name.clone();
    db.drop_db().await;
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    assert!(exists.is_none(), "the database is gone");
    let errors = [
        s.threads.get("t", &sys).await.err(),
        s.threads.search(Query::new(&sys)).await.err(),
        s.threads.remove("t", &sys).await.err(),
        s.items.get(&sys, &["n".to_owned()], "k").await.err(),
    ];
    for e in errors {
        let e = e.expect("an error, not an answer");
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        assert_eq!(e.to_string(), "database unavailable");
    }
}

/// The rows an earlier server left in `assistants` (before `system_owned`): its own default
/// assistant of `agent`, exactly as it created it; an assistant a user created first under the
/// default id of a graph added later (`later`), with a config of their own; and one a user made
/// to look like a default assistant (`looks`) but changed once (two versions).
fn earlier_rows() -> (String, [(String, bool); 3]) {
    let id = |g: &str| crate::graph::default_assistant_id(g).to_string();
    let row = |id: &str, graph: &str, config: &str, metadata: &str, versions: &[i64]| {
        let at = "2025-01-01T00:00:00.000000+00:00";
        let mut sql = format!(
            "INSERT INTO assistants (assistant_id, graph_id, config, context, metadata, version, \
             name, description, version_created_at, created_at, updated_at) VALUES ('{id}', \
             '{graph}', '{config}', '{{}}', '{metadata}', {}, '{graph}', NULL, '{at}', '{at}', \
             '{at}');",
            versions.len()
        );
        for v in versions {
            sql.push_str(&format!(
                "INSERT INTO assistant_versions (assistant_id, version, graph_id, config, \
                 context, metadata, name, description, created_at) VALUES ('{id}', {v}, \
                 '{graph}', '{config}', '{{}}', '{metadata}', '{graph}', NULL, '{at}');"
            ));
        }
        sql
    };
    let system = r#"{"created_by":"system"}"#;
    let sql = [
        row(&id("agent"), "agent", "{}", system, &[1]),
        row(
            &id("later"),
            "later",
            r#"{"configurable":{"model":"mine"}}"#,
            r#"{"owner":"bob"}"#,
            &[1],
        ),
        row(&id("looks"), "looks", "{}", system, &[1, 2]),
    ]
    .concat();
    (
        sql,
        [
            (id("agent"), true),
            (id("later"), false),
            (id("looks"), false),
        ],
    )
}

/// Opens `url` (holding the earlier schema and [`earlier_rows`]) and checks that the migration
/// marked exactly the server's own default assistant as the server's.
async fn the_migration_marks_the_servers_own(url: &str, backend: &str) {
    let s = Storage::connect(url).await.unwrap();
    for (id, owned) in earlier_rows().1 {
        let a = s.assistants.get(&id, &system()).await.unwrap().unwrap();
        assert_eq!(a.system, owned, "{backend}: {id} {a:?}");
    }
    s.close().await;
}

#[tokio::test]
async fn sqlite_existing_default_assistants_become_the_servers() {
    use super::dialect::Dialect as _;
    use super::sqlite::Sqlite;
    let file = TempFile::new();
    {
        let mut conn = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", file.url()))
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE pc_schema (version BIGINT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        for (version, sql) in Sqlite::MIGRATIONS.iter().filter(|(v, _)| *v < 4) {
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            sqlx::raw_sql(&format!(
                "INSERT INTO pc_schema (version) VALUES ({version})"
            ))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        sqlx::raw_sql(&earlier_rows().0)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    the_migration_marks_the_servers_own(&file.url(), "sqlite").await;
}

#[tokio::test]
async fn postgres_existing_default_assistants_become_the_servers() {
    use super::dialect::Dialect as _;
    use super::postgres::Postgres;
    let Some(db) = PgDb::create().await else {
        return;
    };
    {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql("CREATE TABLE pc_schema (version BIGINT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        for (version, sql) in Postgres::MIGRATIONS.iter().filter(|(v, _)| *v < 3) {
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            sqlx::raw_sql(&format!(
                "INSERT INTO pc_schema (version) VALUES ({version})"
            ))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        sqlx::raw_sql(&earlier_rows().0)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    the_migration_marks_the_servers_own(&db.url, "postgres").await;
    db.drop_db().await;
}

/// The SQLite file and the `-wal` and `-shm` files SQLite makes beside it are readable and
/// writable by their owner only (before: the umask's mode, 0644 with the usual 022), whatever
/// the umask; a file that exists keeps its mode.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_created_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let with = |file: &TempFile, ext: &str| {
        let mut p = file.0.clone().into_os_string();
        p.push(ext);
        std::path::PathBuf::from(p)
    };
    // A permissive umask (the process's: other tests' temporary files are only more open
    // meanwhile), so that only the server's own choice makes the files private.
    // SAFETY: umask has no memory effects; it only changes the mode of files created later.
    let before = unsafe { libc::umask(0o002) };
    let file = TempFile::new();
    let s = Storage::connect(&file.url()).await.unwrap();
    unsafe { libc::umask(before) };
    s.threads
        .insert(
            thread("t", json!({"owner": "a"})),
            IfExists::Raise,
            &system(),
        )
        .await
        .unwrap();
    for ext in ["", "-wal", "-shm"] {
        assert_eq!(mode(&with(&file, ext)), 0o600, "{ext}");
    }
    s.close().await;

    // A file that was there keeps its mode (the start-up warns about it).
    let file = TempFile::new();
    std::fs::write(&file.0, b"").unwrap();
    std::fs::set_permissions(&file.0, std::fs::Permissions::from_mode(0o640)).unwrap();
    let s = Storage::connect(&file.url()).await.unwrap();
    assert_eq!(mode(&file.0), 0o640);
    s.close().await;
}
