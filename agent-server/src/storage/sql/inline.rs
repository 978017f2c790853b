//! SQLite's single-row reads on the request's own thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: every statement is a round trip
//! between the request's thread and that one (two thread switches at least, more than the
//! statement itself costs for one row in the page cache). A read by primary key, the commonest
//! request (`GET /threads/{id}`), is therefore run here instead, with rusqlite on the same
//! bundled SQLite, synchronously on the calling thread: a few microseconds of B-tree lookup in
//! WAL mode, which never waits for the writer.
//!
//! The filter is in the statement exactly as on the sqlx path ([`auth::sql`], the same text);
//! nothing is filtered in Rust. Whatever this cannot answer at once it leaves to the usual
//! path, which answers it the usual way: all its connections in use, the database busy
//! (`SQLITE_BUSY` is never waited for here: the busy timeout is zero), or any error at all (the
//! usual path then reports it, as [`StoreError::Unavailable`](crate::storage::StoreError) for a
//! database that is gone).

use std::sync::Mutex;

use auth::Filter;
use auth::sql::{Bind, Dialect};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

/// Connections that read one row on the calling thread; one per thread that may read at once.
pub(super) struct Reads {
    conns: Box<[Mutex<Connection>]>,
}

/// A row read here: its values in the order of the columns selected.
pub(super) struct Row {
    cols: &'static [(&'static str, bool)],
    values: Vec<Value>,
}

impl Row {
    /// The value of the column `col`, if selected.
    pub(super) fn get(&self, col: &str) -> Option<&Value> {
        let i = self.cols.iter().position(|(name, _)| *name == col)?;
        self.values.get(i)
    }
}

impl Reads {
    /// `count` read-only connections to the SQLite file `path`, which exists and is in WAL
    /// mode (the writer opened it and applied the migrations).
    pub(super) fn open(path: &str, count: usize) -> rusqlite::Result<Reads> {
        let conns = (0..count.max(1))
            .map(|_| {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.pragma_update(None, "query_only", true)?;
                conn.busy_timeout(std::time::Duration::ZERO)?;
                conn.set_prepared_statement_cache_capacity(32);
                Ok(Mutex::new(conn))
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Reads {
            conns: conns.into_boxed_slice(),
        })
    }

    /// `SELECT <cols> FROM <table> WHERE <id_col> = ?1 AND <filter>`, run here: `Some` with the
    /// row (or `None` where the id or the filter finds none), or `None` when it could not be
    /// answered here at once (see the module's docs).
    pub(super) fn by_id(
        &self,
        select: &str,
        table: &str,
        id_col: &str,
        cols: &'static [(&'static str, bool)],
        id: &str,
        filter: Option<&Filter>,
    ) -> Option<Option<Row>> {
        let mut sql = format!("SELECT {select} FROM {table} WHERE {id_col} = ?1");
        let mut binds = vec![Value::Text(id.to_owned())];
        if let Some(f) = filter {
            // A poisoned filter: the usual path refuses it.
            let p = Dialect::Sqlite
                .filter(f, &format!("{table}.metadata"))
                .ok()?;
            sql.push_str(" AND ");
            sql.push_str(&p.sql(2));
            for b in p.binds() {
                binds.push(match b {
                    Bind::Text(s) => Value::Text(s.clone()),
                    Bind::Int(i) => Value::Integer(*i),
                    _ => return None,
                });
            }
        }
        let conn = self.conns.iter().find_map(|c| c.try_lock().ok())?;
        let read = || -> rusqlite::Result<Option<Row>> {
            let mut statement = conn.prepare_cached(&sql)?;
            let mut rows = statement.query(rusqlite::params_from_iter(binds.iter()))?;
            let Some(row) = rows.next()? else {
                return Ok(None);
            };
            let values = (0..cols.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(Row { cols, values }))
        };
        match read() {
            Ok(found) => Some(found),
            Err(e) => {
                tracing::debug!(error = %e, "single-row read left to the connection pool");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: &[(&str, bool)] = &[("id", false), ("metadata", true), ("n", false)];

    /// A WAL database holding `t(id, metadata, n)` with rows `a` (owner u1) and `b` (owner u2).
    fn database() -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("pc-inline-{}.db", uuid::Uuid::new_v4()));
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE t (id TEXT PRIMARY KEY, metadata TEXT NOT NULL, n INTEGER);
             INSERT INTO t VALUES ('a', '{\"owner\": \"u1\"}', 1), ('b', '{\"owner\": \"u2\"}', NULL);",
        )
        .unwrap();
        path
    }

    fn read(reads: &Reads, id: &str, filter: Option<&Filter>) -> Option<Option<Row>> {
        reads.by_id("id, metadata, n", "t", "id", COLS, id, filter)
    }

    #[test]
    fn reads_a_row_through_its_filter_or_leaves_it_to_the_pool() {
        let path = database();
        let reads = Reads::open(path.to_str().unwrap(), 2).unwrap();
        let u1 = Filter::eq("owner", "u1");
        let row = read(&reads, "a", Some(&u1)).unwrap().unwrap();
        assert_eq!(row.get("id"), Some(&Value::Text("a".into())));
        assert_eq!(row.get("n"), Some(&Value::Integer(1)));
        assert_eq!(row.get("missing"), None);
        // Hidden by the filter, or absent: answered, with no row.
        assert!(read(&reads, "b", Some(&u1)).unwrap().is_none());
        assert!(read(&reads, "zz", None).unwrap().is_none());
        assert_eq!(
            read(&reads, "b", None).unwrap().unwrap().get("n"),
            Some(&Value::Null)
        );
        // A poisoned filter, a statement SQLite refuses: left to the pool.
        assert!(read(&reads, "a", Some(&Filter::eq("$bad", 1))).is_none());
        assert!(reads.by_id("nothing", "t", "id", COLS, "a", None).is_none());
        // Every connection in use: left to the pool, without waiting.
        let held: Vec<_> = reads.conns.iter().map(|c| c.lock().unwrap()).collect();
        assert!(read(&reads, "a", None).is_none());
        drop(held);
        assert!(read(&reads, "a", None).unwrap().is_some());
        // Read-only: a statement that would write fails (and would be left to the pool).
        let conn = reads.conns[0].lock().unwrap();
        assert!(conn.execute("DELETE FROM t", []).is_err());
        drop(conn);
        for ext in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(ext);
            let _ = std::fs::remove_file(p);
        }
    }
}
