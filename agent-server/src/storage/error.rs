//! What can go wrong in storage, in storage terms: [`StoreError`]. The HTTP edge
//! (`impl From<StoreError> for ApiError` in [`crate::util`]) decides how each is answered.

use std::sync::Arc;

use auth::sql::SqlError;

/// Why a storage operation failed.
///
/// Every backend answers with these; none of them names an HTTP status. A change passed to
/// [`Collection::modify`](super::Collection::modify) or
/// [`ThreadStore::transact`](super::ThreadStore::transact) refuses itself with any of them
/// (usually [`StoreError::Conflict`], or its caller's own error as [`StoreError::Refused`]),
/// and the operation returns that error unchanged, having changed nothing.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot answer now: unreachable, its pool timed out or was closed, busy
    /// past the busy timeout, or any other failure of the driver (logged where it happens;
    /// the cause holds no values, as every value is bound). The caller may retry.
    #[error("database unavailable")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// The storage is closing: the task that commits grouped inserts has stopped.
    #[error("the database is closing")]
    Closed,
    /// A resource with this id exists already (visible to the caller or not).
    #[error("{kind} {id} already exists")]
    Exists {
        /// The kind of resource: `Thread`, `Assistant`, `Cron`.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The resource is not in the state a change expects (it changed meanwhile, or a
    /// compare-and-set lost): the message says which.
    #[error("{0}")]
    Conflict(String),
    /// A value the database cannot store: PostgreSQL refuses the character U+0000 in JSON and
    /// text.
    #[error("the character U+0000 cannot be stored in this database")]
    Unstorable,
    /// A caller's search the backend cannot run: a value nested deeper than
    /// [`auth::sql::MAX_VALUE_DEPTH`].
    #[error("invalid search: {0}")]
    InvalidSearch(#[source] SqlError),
    /// A caller's search over the complexity budget ([`super::SearchBudget`]), or one the
    /// database's driver cannot take (too many bound values, an expression too deep): which
    /// bound, in words.
    #[error("search too complex: {0}")]
    SearchTooComplex(String),
    /// A guarded read (a caller's search, a history page, a store search) did not finish within
    /// the storage deadline (its milliseconds) and was stopped: a query too expensive to answer.
    #[error(
        "the search did not finish within the storage deadline of {0} ms and was stopped: \
         narrow it (fewer or smaller values, a smaller page)"
    )]
    Deadline(u64),
    /// A guarded read waited for its turn until the deadline: the caller's own reads in
    /// flight, or everyone's, were at their bound.
    #[error("{}", busy_message(.0))]
    Busy(super::guard::Busy),
    /// The authorization filter cannot be applied (poisoned, or nested too deep): the
    /// handler's mistake.
    #[error("the authorization filter cannot be applied: {0}")]
    Filter(#[source] SqlError),
    /// A stored value does not read back (the database holds what no server wrote): the
    /// column's name.
    #[error("a stored {0} is malformed")]
    Corrupt(String),
    /// The storage was asked for what it does not do (a column the resource lacks, a change
    /// that alters the id): the server's mistake, in words.
    #[error("{0}")]
    Internal(String),
    /// A user's write to a resource the server owns (a graph's default assistant): creating,
    /// changing or removing it is the server's own work only.
    #[error(
        "{kind} {id} belongs to the server (the default assistant of its graph): it cannot be \
         changed or deleted"
    )]
    SystemOwned {
        /// The kind of resource: `Assistant`.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A change refused itself with its caller's own error, handed back unchanged.
    #[error("{0}")]
    Refused(Arc<dyn std::error::Error + Send + Sync>),
}

fn busy_message(busy: &super::guard::Busy) -> String {
    match busy {
        super::guard::Busy::Caller(n) => format!(
            "too many searches in flight: at most {n} at once per user (--searches-per-user)"
        ),
        super::guard::Busy::Server(n) => {
            format!("the server is busy: {n} searches are in flight (--searches-in-flight)")
        }
    }
}

impl StoreError {
    /// The caller's own error of a [`StoreError::Refused`], if it is an `E`.
    pub fn refusal<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            StoreError::Refused(e) => e.downcast_ref::<E>(),
            _ => None,
        }
    }
}
