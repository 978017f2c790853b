//! A guarded read on a database ([`Guarded`]): a connection of the readers' pool whose statements
//! stop at the read's [`Deadline`], and whose work stops when the read is abandoned (its future
//! dropped: the client went away).
//!
//! - PostgreSQL: the read is a read-only transaction that begins with `SET LOCAL
//!   statement_timeout` (the time left) and `SET LOCAL application_name` (a tag of its own), in
//!   one round trip. The server stops a statement past the timeout. An abandoned read's
//!   statement is cancelled at once with `pg_cancel_backend`, from a small pool of its own (the
//!   readers' pool may be the one that is full), found by its tag (sqlx does not give a
//!   connection's process id, nor cancel a statement whose future is dropped); then rolled back.
//! - SQLite: a progress handler on the connection interrupts the statement once the deadline is
//!   past or the read cancelled (it looks at a clock and a flag every few hundred virtual
//!   machine instructions); when the read is done it is switched off by a flag, without a round
//!   trip, and an abandoned read's connection has it removed before it goes back to the pool.
//!
//! Either way a statement stopped is [`StoreError::Deadline`] (`57014` on PostgreSQL,
//! `SQLITE_INTERRUPT` on SQLite, see `super::db_error`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::pool::PoolConnection;

use super::db_error;
use super::dialect::{Conn, Dialect};
use super::imp::Pools;
use crate::storage::{Deadline, StoreError};

/// What a dialect arms a connection with for one guarded read, made before anything is sent so
/// that an abandoned read can always be stopped.
#[derive(Debug, Clone)]
pub(super) struct Armed {
    /// PostgreSQL: the `application_name` of the read's transaction.
    pub(super) tag: String,
    /// SQLite: whether the progress handler may still interrupt (the read is not done).
    pub(super) active: Arc<AtomicBool>,
    /// The read's deadline.
    pub(super) deadline: Deadline,
    /// Whether the read is a transaction on SQLite (several statements, one snapshot);
    /// PostgreSQL's always is.
    pub(super) tx: bool,
}

impl Armed {
    fn new(deadline: &Deadline, tx: bool) -> Self {
        Armed {
            tag: format!("agent-server read {}", uuid::Uuid::new_v4().simple()),
            active: Arc::new(AtomicBool::new(true)),
            deadline: deadline.clone(),
            tx,
        }
    }

    /// Whether a statement of the read may go on (SQLite's progress handler).
    pub(super) fn may_go_on(&self) -> bool {
        !self.active.load(Ordering::Relaxed) || !self.deadline.expired()
    }
}

/// One guarded read: run its statements on [`Guarded::conn`], then [`Guarded::finish`] it (or
/// [`Guarded::fail`] with a statement's error). Dropped before either, it cancels its deadline
/// and hands its connection to a task that stops what still runs and cleans it before it goes
/// back to the pool.
pub(super) struct Guarded<D: Dialect> {
    conn: Option<PoolConnection<D::Db>>,
    armed: Armed,
    /// Where an abandoned read's statement is cancelled from (PostgreSQL).
    cancel: Option<sqlx::Pool<D::Db>>,
    done: bool,
}

impl<D: Dialect> Guarded<D> {
    /// A connection of `pools.read` (waited for within the deadline), armed for a read that ends
    /// at `deadline`; `tx`: its statements see one snapshot.
    pub(super) async fn open(
        pools: &Pools<D>,
        deadline: &Deadline,
        tx: bool,
    ) -> Result<Self, StoreError> {
        let conn = match deadline.remaining() {
            Some(left) => match tokio::time::timeout(left, pools.read.acquire()).await {
                Ok(conn) => conn,
                // Every connection stayed in use until the deadline: the database cannot
                // answer now.
                Err(_) => Err(sqlx::Error::PoolTimedOut),
            },
            None => pools.read.acquire().await,
        }
        .map_err(db_error)?;
        let mut guarded = Guarded {
            conn: Some(conn),
            armed: Armed::new(deadline, tx),
            cancel: pools.cancel.clone(),
            done: false,
        };
        if deadline.expired() {
            return Err(guarded.abort(deadline.exceeded()).await);
        }
        let armed = guarded.armed.clone();
        if let Err(e) = D::arm(guarded.conn(), &armed).await {
            return Err(guarded.fail(e).await);
        }
        Ok(guarded)
    }

    /// The connection the read's statements run on.
    pub(super) fn conn(&mut self) -> &mut Conn<D> {
        self.conn
            .as_deref_mut()
            .expect("a guarded read holds its connection until it is done")
    }

    /// Ends the read (PostgreSQL: `COMMIT`; SQLite: the handler switched off, `COMMIT` of a
    /// transaction); the connection goes back to the pool.
    pub(super) async fn finish(mut self) -> Result<(), StoreError> {
        let armed = self.armed.clone();
        let ended = D::disarm(self.conn(), &armed).await;
        match ended {
            Ok(()) => {
                self.done = true;
                Ok(())
            }
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// Ends the read after a statement failed with `e` (rolled back, the handler off); the error
    /// to answer.
    pub(super) async fn fail(self, e: sqlx::Error) -> StoreError {
        let e = match db_error(e) {
            StoreError::Deadline(_) => self.armed.deadline.exceeded(),
            e => e,
        };
        self.abort(e).await
    }

    /// Ends the read with `e`, rolling back what it began.
    async fn abort(mut self, e: StoreError) -> StoreError {
        self.armed.active.store(false, Ordering::Relaxed);
        if let Some(conn) = self.conn.take() {
            let armed = self.armed.clone();
            D::clean(conn, armed).await;
        }
        self.done = true;
        e
    }
}

impl<D: Dialect> Drop for Guarded<D> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Abandoned: whatever runs for it stops (SQLite's handler sees the flag), and its
        // statement is cancelled (PostgreSQL) before the connection is cleaned.
        self.armed.deadline.cancel();
        let Some(conn) = self.conn.take() else {
            return;
        };
        let (armed, cancel) = (self.armed.clone(), self.cancel.take());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Some(pool) = cancel {
                    D::cancel(&pool, &armed).await;
                }
                D::clean(conn, armed).await;
            });
        }
    }
}
