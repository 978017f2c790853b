//! What the two databases spell differently ([`Dialect`], implemented by
//! [`Sqlite`](super::sqlite::Sqlite) and [`Postgres`](super::postgres::Postgres)), and what the
//! shared queries need of sqlx, gathered once ([`SqlDb`]) so that the generic code states no
//! sqlx bound of its own.

use auth::Filter;
use auth::sql::{QueryBuilderExt as _, SqlError};
use futures_util::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Executor, Pool, QueryBuilder, Row as _};

use super::guarded::Armed;

use crate::model::Object;
use crate::storage::StoreError;

/// A query being built for the database of `D`.
pub(super) type Qb<D> = QueryBuilder<'static, <D as Dialect>::Db>;
/// A transaction on the database of `D`.
pub(super) type Tx<D> = sqlx::Transaction<'static, <D as Dialect>::Db>;
/// A connection to the database of `D`.
pub(super) type Conn<D> = <<D as Dialect>::Db as Database>::Connection;

/// A database backend's spellings: the few ways its SQL and its setup differ from the other's.
/// The queries themselves are written once, generic over this trait (`imp.rs`,
/// `queue_imp.rs`).
pub(super) trait Dialect: Clone + Send + Sync + Sized + 'static {
    /// sqlx's database.
    type Db: SqlDb;

    /// The schema's migrations, in order: (version, SQL).
    const MIGRATIONS: &'static [(i64, &'static str)];
    /// What serializes the migrations of servers starting together, if the transaction that
    /// applies them does not already.
    const MIGRATION_LOCK: Option<&'static str>;
    /// Whether writes go through a pool of their own (which [`Storage::writer`] then holds).
    ///
    /// [`Storage::writer`]: crate::storage::Storage::writer
    const SEPARATE_WRITER: bool;
    /// Whether single-row inserts are committed in groups (`GroupCommit`).
    const GROUP_COMMIT: bool;
    /// How a transaction that will write begins.
    const BEGIN: &'static str;
    /// How a transaction that only reads begins: one snapshot for all its statements.
    const READ_BEGIN: &'static str;
    /// Appended to a placeholder that binds JSON text.
    const JSON_IN: &'static str;
    /// Appended to a JSON column read back as text.
    const JSON_OUT: &'static str;
    /// Appended to the `SELECT` that finds the run to claim.
    const CLAIM_LOCK: &'static str;
    /// Appended to a `SELECT` that finds a row to change.
    const FOR_UPDATE: &'static str;
    /// `HOLDS(haystack, needle) > 0`: the needle is a substring.
    const HOLDS: &'static str;
    /// What a store item shows a filter: its value with `namespace` and `key` set (columns
    /// qualified by `store_items`).
    const STORE_VIEW: &'static str;

    /// The handle on this database that [`Storage::database`](crate::storage::Storage) gives.
    fn database(pool: Pool<Self::Db>) -> super::Database;

    /// How many rows a statement changed.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;

    /// Pushes `text ends with suffix`.
    fn push_ends_with(qb: &mut Qb<Self>, column: &str, suffix: String);

    /// Pushes the encoded namespace `ns` truncated to `depth` labels.
    fn push_truncated(qb: &mut Qb<Self>, depth: usize);

    /// Arms `conn` for a guarded read ([`super::guarded`]): its statements stop at the read's
    /// deadline and once it is cancelled; a transaction begins if the dialect or the read needs
    /// one.
    fn arm<'c>(
        conn: &'c mut Conn<Self>,
        armed: &'c Armed,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;

    /// Ends a guarded read whose statements succeeded (its transaction committed).
    fn disarm<'c>(
        conn: &'c mut Conn<Self>,
        armed: &'c Armed,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;

    /// Makes the connection of an ended or abandoned guarded read fit for the pool again (its
    /// transaction rolled back, its handler removed), or closes it.
    fn clean(conn: PoolConnection<Self::Db>, armed: Armed) -> BoxFuture<'static, ()>;

    /// Stops the statement an abandoned guarded read may still be running, from another
    /// connection of `pool` (nothing where the deadline's flag already stops it).
    fn cancel<'a>(pool: &'a Pool<Self::Db>, armed: &'a Armed) -> BoxFuture<'a, ()>;
}

/// Where a statement runs: on a pool (one statement, committed alone) or on a connection
/// (perhaps in a transaction).
pub(super) enum On<'e, DB: Database> {
    /// Any connection of the pool.
    Pool(&'e Pool<DB>),
    /// This connection.
    Conn(&'e mut DB::Connection),
}

/// What the shared queries need of an sqlx database: statements that run on a pool or a
/// connection, values bound by type, filters rendered by [`auth::sql`], rows read by name.
/// Implemented for both databases by one text (`sql_db!`): the generic code states no sqlx
/// bound of its own.
pub(super) trait SqlDb: Database<Row: Cells> {
    /// Runs the statement; what it changed.
    fn execute<'e>(
        qb: &'e mut QueryBuilder<'static, Self>,
        on: On<'e, Self>,
    ) -> BoxFuture<'e, Result<Self::QueryResult, sqlx::Error>>;

    /// Runs the query; its first row, if any.
    fn fetch_optional<'e>(
        qb: &'e mut QueryBuilder<'static, Self>,
        on: On<'e, Self>,
    ) -> BoxFuture<'e, Result<Option<Self::Row>, sqlx::Error>>;

    /// Runs `sql` as it is, unprepared (several statements, such as a migration).
    fn raw<'e>(
        sql: &'e str,
        conn: &'e mut Self::Connection,
    ) -> BoxFuture<'e, Result<Self::QueryResult, sqlx::Error>>;

    /// Runs the query; its rows.
    fn fetch_all<'e>(
        qb: &'e mut QueryBuilder<'static, Self>,
        on: On<'e, Self>,
    ) -> BoxFuture<'e, Result<Vec<Self::Row>, sqlx::Error>>;

    /// Binds text.
    fn bind_text(qb: &mut QueryBuilder<'static, Self>, value: String);
    /// Binds text or `NULL`.
    fn bind_opt_text(qb: &mut QueryBuilder<'static, Self>, value: Option<String>);
    /// Binds a 64-bit integer.
    fn bind_int(qb: &mut QueryBuilder<'static, Self>, value: i64);
    /// Binds a 32-bit integer.
    fn bind_int32(qb: &mut QueryBuilder<'static, Self>, value: i32);
    /// Binds a boolean.
    fn bind_bool(qb: &mut QueryBuilder<'static, Self>, value: bool);

    /// Pushes the authorization filter over `column`.
    fn push_filter(
        qb: &mut QueryBuilder<'static, Self>,
        filter: &Filter,
        column: &str,
    ) -> Result<(), SqlError>;

    /// Pushes "`column` contains `wanted`" (JSON containment).
    fn push_contains(
        qb: &mut QueryBuilder<'static, Self>,
        wanted: &Object,
        column: &str,
    ) -> Result<(), SqlError>;
}

/// `statement`, its duration logged if slow ([`crate::observe::slow_storage`]: the route and
/// the duration, never the statement; sqlx's own statement logs are off).
fn timed<'e, T: Send + 'e>(
    statement: BoxFuture<'e, Result<T, sqlx::Error>>,
) -> BoxFuture<'e, Result<T, sqlx::Error>> {
    Box::pin(async move {
        let started = std::time::Instant::now();
        let done = statement.await;
        crate::observe::slow_storage("statement", started.elapsed());
        done
    })
}

/// [`SqlDb`] and [`Cells`] for an sqlx database and its row type: one text, compiled with each
/// database's concrete types (which is what sqlx's traits are implemented for).
macro_rules! sql_db {
    ($db:ty, $row:ty) => {
        impl SqlDb for $db {
            fn execute<'e>(
                qb: &'e mut QueryBuilder<'static, Self>,
                on: On<'e, Self>,
            ) -> BoxFuture<'e, Result<Self::QueryResult, sqlx::Error>> {
                let query = qb.build();
                timed(match on {
                    On::Pool(pool) => pool.execute(query),
                    On::Conn(conn) => conn.execute(query),
                })
            }

            fn fetch_optional<'e>(
                qb: &'e mut QueryBuilder<'static, Self>,
                on: On<'e, Self>,
            ) -> BoxFuture<'e, Result<Option<Self::Row>, sqlx::Error>> {
                let query = qb.build();
                timed(match on {
                    On::Pool(pool) => pool.fetch_optional(query),
                    On::Conn(conn) => conn.fetch_optional(query),
                })
            }

            fn raw<'e>(
                sql: &'e str,
                conn: &'e mut Self::Connection,
            ) -> BoxFuture<'e, Result<Self::QueryResult, sqlx::Error>> {
                conn.execute(sqlx::raw_sql(sql))
            }

            fn fetch_all<'e>(
                qb: &'e mut QueryBuilder<'static, Self>,
                on: On<'e, Self>,
            ) -> BoxFuture<'e, Result<Vec<Self::Row>, sqlx::Error>> {
                let query = qb.build();
                timed(match on {
                    On::Pool(pool) => pool.fetch_all(query),
                    On::Conn(conn) => conn.fetch_all(query),
                })
            }

            fn bind_text(qb: &mut QueryBuilder<'static, Self>, value: String) {
                qb.push_bind(value);
            }
            fn bind_opt_text(qb: &mut QueryBuilder<'static, Self>, value: Option<String>) {
                qb.push_bind(value);
            }
            fn bind_int(qb: &mut QueryBuilder<'static, Self>, value: i64) {
                qb.push_bind(value);
            }
            fn bind_int32(qb: &mut QueryBuilder<'static, Self>, value: i32) {
                qb.push_bind(value);
            }
            fn bind_bool(qb: &mut QueryBuilder<'static, Self>, value: bool) {
                qb.push_bind(value);
            }

            fn push_filter(
                qb: &mut QueryBuilder<'static, Self>,
                filter: &Filter,
                column: &str,
            ) -> Result<(), SqlError> {
                qb.push_filter(filter, column).map(|_| ())
            }

            fn push_contains(
                qb: &mut QueryBuilder<'static, Self>,
                wanted: &Object,
                column: &str,
            ) -> Result<(), SqlError> {
                qb.push_contains(wanted, column).map(|_| ())
            }
        }

        impl Cells for $row {
            fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
                self.try_get::<Option<String>, _>(col)
                    .map_err(super::db_error)
            }
            fn int(&self, col: &str) -> Result<i64, StoreError> {
                self.try_get::<i64, _>(col).map_err(super::db_error)
            }
            fn boolean(&self, col: &str) -> Result<bool, StoreError> {
                self.try_get::<bool, _>(col).map_err(super::db_error)
            }
        }
    };
}

sql_db!(sqlx::Sqlite, sqlx::sqlite::SqliteRow);
sql_db!(sqlx::Postgres, sqlx::postgres::PgRow);

/// A value the shared queries bind (see [`SqlDb`]).
pub(super) trait Param {
    /// Binds it into `qb`.
    fn bind_into<DB: SqlDb>(self, qb: &mut QueryBuilder<'static, DB>);
}

impl Param for String {
    fn bind_into<DB: SqlDb>(self, qb: &mut QueryBuilder<'static, DB>) {
        DB::bind_text(qb, self);
    }
}

impl Param for Option<String> {
    fn bind_into<DB: SqlDb>(self, qb: &mut QueryBuilder<'static, DB>) {
        DB::bind_opt_text(qb, self);
    }
}

impl Param for i64 {
    fn bind_into<DB: SqlDb>(self, qb: &mut QueryBuilder<'static, DB>) {
        DB::bind_int(qb, self);
    }
}

impl Param for i32 {
    fn bind_into<DB: SqlDb>(self, qb: &mut QueryBuilder<'static, DB>) {
        DB::bind_int32(qb, self);
    }
}

impl Param for bool {
    fn bind_into<DB: SqlDb>(self, qb: &mut QueryBuilder<'static, DB>) {
        DB::bind_bool(qb, self);
    }
}

/// The shared queries' use of a query builder: bind a [`Param`], run it [`On`] a pool or a
/// connection.
pub(super) trait QbExt<DB: SqlDb> {
    /// Binds `value` (as sqlx's `push_bind`).
    fn bind(&mut self, value: impl Param) -> &mut Self;
    /// Runs the statement; what it changed.
    fn run<'e>(&'e mut self, on: On<'e, DB>)
    -> BoxFuture<'e, Result<DB::QueryResult, sqlx::Error>>;
    /// Runs the query; its first row, if any.
    fn one<'e>(&'e mut self, on: On<'e, DB>)
    -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>;
    /// Runs the query; its rows.
    fn all<'e>(&'e mut self, on: On<'e, DB>) -> BoxFuture<'e, Result<Vec<DB::Row>, sqlx::Error>>;
}

impl<DB: SqlDb> QbExt<DB> for QueryBuilder<'static, DB> {
    fn bind(&mut self, value: impl Param) -> &mut Self {
        value.bind_into(self);
        self
    }
    fn run<'e>(
        &'e mut self,
        on: On<'e, DB>,
    ) -> BoxFuture<'e, Result<DB::QueryResult, sqlx::Error>> {
        DB::execute(self, on)
    }
    fn one<'e>(
        &'e mut self,
        on: On<'e, DB>,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>> {
        DB::fetch_optional(self, on)
    }
    fn all<'e>(&'e mut self, on: On<'e, DB>) -> BoxFuture<'e, Result<Vec<DB::Row>, sqlx::Error>> {
        DB::fetch_all(self, on)
    }
}

/// The columns of a row, by name: one of sqlx's, or one read on the request's thread
/// ([`super::inline`], SQLite only).
pub(super) trait Cells: Send {
    /// A text column, `None` for `NULL`.
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError>;
    /// An integer column.
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    /// A boolean column.
    fn boolean(&self, col: &str) -> Result<bool, StoreError>;
}
