//! The queries of both database backends, written once over their [`Dialect`]: the storage
//! traits implemented by [`SqlCollection`], [`SqlItems`] and (in [`super::queue_imp`]) the
//! run queue, with their rows read and written as the table declarations of [`super::columns`]
//! say. Every value is bound; the SQL text holds only trusted names.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::Pool;

use super::columns::{
    AssistantRow, CheckpointRow, Codec as _, Columns, CronRow, ItemRow, List, Ms, Prefixed, RunRow,
    ThreadRow, VersionRow, name_list, qualified_list, select_list, text,
};
use super::dialect::{Cells, Conn, Dialect, On, Qb, QbExt as _, SqlDb as _, Tx};
use super::guarded::Guarded;
use super::queue_imp::SqlQueue;
use super::{
    StorageError, corrupt, db_error, decode_namespace, encode_namespace, filter_error,
    prefix_range, search_error, storage_error, suffix_text,
};
use crate::authz::Access;
use crate::model::{
    Assistant, AssistantVersion, Checkpoint, Cron, Item, Object, Record, Run, Thread,
};
use crate::storage::{
    Collection, Column, Condition, Deadline, Guard, HistoryPage, IfExists, Inserted, ItemSearch,
    ItemStore, Modifier, Page, Query, Storage, StoreError, ThreadChange, ThreadStore, ThreadTx,
    guard_system,
};
use crate::util::now;

/// The rows of `qb`, one statement run as a guarded read ([`Guarded`]) within `deadline`.
async fn guarded_rows<D: Dialect>(
    pools: &Pools<D>,
    deadline: &Deadline,
    qb: &mut Qb<D>,
) -> Result<Vec<<D::Db as sqlx::Database>::Row>, StoreError> {
    let mut read = Guarded::<D>::open(pools, deadline, false).await?;
    match qb.all(On::Conn(read.conn())).await {
        Ok(rows) => {
            read.finish().await?;
            Ok(rows)
        }
        Err(e) => Err(read.fail(e).await),
    }
}

/// Pushes `LIMIT ? OFFSET ?` bound to `limit` and `offset` (saturated to `i64::MAX`).
fn push_page<D: Dialect>(qb: &mut Qb<D>, limit: usize, offset: usize) {
    qb.push(" LIMIT ")
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .push(" OFFSET ")
        .bind(i64::try_from(offset).unwrap_or(i64::MAX));
}

/// Why the migrations could not be applied.
pub(super) enum MigrateError {
    /// The database's schema is newer than this binary's: its version and ours.
    Newer(i64, i64),
    /// The schema's version does not read back.
    Version(StoreError),
    /// The driver's error.
    Db(sqlx::Error),
}

impl MigrateError {
    /// The error of [`Storage::connect`], naming the database `url`.
    pub(super) fn into_storage_error(
        self,
        url: &str,
        open_error: fn(&str, &sqlx::Error) -> StorageError,
    ) -> StorageError {
        match self {
            MigrateError::Newer(v, ours) => storage_error(
                url,
                &format!(
                    "the database's schema is version {v}, newer than this server's {ours}: run \
                     a newer server"
                ),
                None,
            ),
            MigrateError::Version(e) => storage_error(url, "cannot open the database", Some(&e)),
            MigrateError::Db(e) => open_error(url, &e),
        }
    }
}

impl From<sqlx::Error> for MigrateError {
    fn from(e: sqlx::Error) -> Self {
        MigrateError::Db(e)
    }
}

fn latest_version<D: Dialect>() -> i64 {
    D::MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Applies the migrations the database lacks, in one transaction; refuses a newer schema.
pub(super) async fn migrate<D: Dialect>(pool: &Pool<D::Db>) -> Result<(), MigrateError> {
    let mut tx = pool.begin_with(D::BEGIN).await?;
    if let Some(lock) = D::MIGRATION_LOCK {
        // Replicas starting together: one applies the migrations, the others then see them.
        D::Db::raw(lock, &mut *tx).await?;
    }
    D::Db::raw(
        "CREATE TABLE IF NOT EXISTS pc_schema (version BIGINT NOT NULL)",
        &mut *tx,
    )
    .await?;
    let mut qb = Qb::<D>::new("SELECT COALESCE(MAX(version), 0) AS version FROM pc_schema");
    let row = qb.one(On::Conn(&mut *tx)).await?;
    let current = match row {
        Some(row) => row.int("version").map_err(MigrateError::Version)?,
        None => 0,
    };
    if current > latest_version::<D>() {
        return Err(MigrateError::Newer(current, latest_version::<D>()));
    }
    for (version, sql) in D::MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        D::Db::raw(sql, &mut *tx).await?;
        let mut qb = Qb::<D>::new("INSERT INTO pc_schema (version) VALUES (");
        qb.bind(*version).push(")");
        qb.run(On::Conn(&mut *tx)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The connections of a storage: `write` for transactions that change something, `read` for
/// reads (on PostgreSQL one pool serves both; on SQLite, which lets one connection write at a
/// time, `write` holds a single connection, so that writers queue in the pool instead of
/// retrying on `SQLITE_BUSY`, while the readers of WAL mode go on beside it).
pub(super) struct Pools<D: Dialect> {
    pub(super) read: Pool<D::Db>,
    pub(super) write: Pool<D::Db>,
    /// Where single-row inserts are committed in groups, if they are ([`GroupCommit`]).
    group: Option<GroupCommit<D>>,
    /// Where reads by id run on the request's thread, if they do ([`super::inline`]).
    inline: Option<Arc<super::inline::Reads>>,
    /// Where an abandoned guarded read's statement is cancelled from, if the dialect needs
    /// another connection for that ([`super::guarded`]).
    pub(super) cancel: Option<Pool<D::Db>>,
}

impl<D: Dialect> Clone for Pools<D> {
    fn clone(&self) -> Self {
        Pools {
            read: self.read.clone(),
            write: self.write.clone(),
            group: self.group.clone(),
            inline: self.inline.clone(),
            cancel: self.cancel.clone(),
        }
    }
}

/// How many inserts one commit takes at most.
const MAX_GROUP: usize = 64;

/// Group commit for single-row inserts (SQLite): with one writer and a sync per commit, the
/// sync, not the statement, is what an insert waits for. A task of its own takes every insert
/// that is waiting (up to [`MAX_GROUP`]) and writes them in one transaction, one sync for all;
/// each insert is answered once that commit is done, so a 2xx still means on disk. An insert
/// waits for no timer: those that arrive while a commit is syncing form the next group.
///
/// Only `INSERT … ON CONFLICT DO NOTHING` goes through here. If a statement of a group fails,
/// nothing of the group is committed and each insert runs again on its own, so that one bad
/// insert fails alone. If the group cannot begin or commit (the database locked or gone), every
/// insert of it gets that answer at once, rather than each waiting out the busy timeout again.
/// An insert whose commit failed but was in fact applied finds its row when retried and is
/// reported as taken, never written twice.
struct GroupCommit<D: Dialect> {
    jobs: tokio::sync::mpsc::Sender<GroupJob<D>>,
}

impl<D: Dialect> Clone for GroupCommit<D> {
    fn clone(&self) -> Self {
        GroupCommit {
            jobs: self.jobs.clone(),
        }
    }
}

/// One insert waiting for its group: its statement (built anew if it must run again alone)
/// and where its count of inserted rows goes.
struct GroupJob<D: Dialect> {
    query: Box<dyn Fn() -> Qb<D> + Send + Sync>,
    done: tokio::sync::oneshot::Sender<Result<u64, StoreError>>,
}

/// How a group failed.
enum GroupFailure {
    /// A statement failed: each insert runs again on its own.
    Statement,
    /// The transaction could not begin or commit: every insert gets this.
    Whole(StoreError),
}

impl<D: Dialect> GroupCommit<D> {
    /// Starts the task that commits the groups on `pool` (one writer connection); it ends when
    /// the last handle is dropped.
    fn start(pool: Pool<D::Db>) -> Self {
        let (jobs, waiting) = tokio::sync::mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(Self::run(pool, waiting));
        GroupCommit { jobs }
    }

    /// Runs `query` (an `INSERT … ON CONFLICT DO NOTHING`) in the next group; the rows it
    /// inserted, once committed.
    async fn insert(&self, query: Box<dyn Fn() -> Qb<D> + Send + Sync>) -> Result<u64, StoreError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::Closed;
        self.jobs
            .send(GroupJob { query, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn run(pool: Pool<D::Db>, mut waiting: tokio::sync::mpsc::Receiver<GroupJob<D>>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
            if group.len() > 1 {
                match Self::commit(&pool, &group).await {
                    Ok(counts) => {
                        for (job, count) in group.drain(..).zip(counts) {
                            let _ = job.done.send(Ok(count));
                        }
                        continue;
                    }
                    Err(GroupFailure::Whole(e)) => {
                        for job in group.drain(..) {
                            let _ = job.done.send(Err(e.clone()));
                        }
                        continue;
                    }
                    Err(GroupFailure::Statement) => {}
                }
            }
            for job in group.drain(..) {
                let alone = async {
                    let mut conn = pool.acquire().await?;
                    let done = (job.query)().run(On::Conn(&mut *conn)).await?;
                    Ok(D::rows_affected(&done))
                };
                let _ = job.done.send(alone.await.map_err(db_error));
            }
        }
    }

    /// The group in one transaction: each insert's count of rows, once committed.
    async fn commit(pool: &Pool<D::Db>, group: &[GroupJob<D>]) -> Result<Vec<u64>, GroupFailure> {
        let whole = |e| GroupFailure::Whole(db_error(e));
        let mut tx = pool.begin_with(D::BEGIN).await.map_err(whole)?;
        let mut counts = Vec::with_capacity(group.len());
        for job in group {
            match (job.query)().run(On::Conn(&mut *tx)).await {
                Ok(done) => counts.push(D::rows_affected(&done)),
                Err(e) => {
                    tracing::debug!(error = %e, "an insert failed in its group: each runs alone");
                    let _ = tx.rollback().await;
                    return Err(GroupFailure::Statement);
                }
            }
        }
        tx.commit().await.map_err(whole)?;
        Ok(counts)
    }
}

/// The storage over `pools`; [`Storage::database`] gives the `read` pool (a general one). At
/// most half of the readers' connections serve guarded reads at once ([`Guard`]).
pub(super) fn storage<D: Dialect>(
    read: Pool<D::Db>,
    write: Pool<D::Db>,
    inline: Option<Arc<super::inline::Reads>>,
    cancel: Option<Pool<D::Db>>,
) -> Storage {
    let readers = read.options().get_max_connections() as usize;
    let pools = Pools {
        inline,
        cancel,
        group: D::GROUP_COMMIT.then(|| GroupCommit::<D>::start(write.clone())),
        read,
        write,
    };
    Storage {
        threads: Arc::new(SqlCollection::<D, Thread>::new(pools.clone())),
        assistants: Arc::new(SqlCollection::<D, Assistant>::new(pools.clone())),
        crons: Arc::new(SqlCollection::<D, Cron>::new(pools.clone())),
        items: Arc::new(SqlItems {
            pool: pools.clone(),
        }),
        queue: Arc::new(SqlQueue {
            pools: pools.clone(),
        }),
        writer: D::SEPARATE_WRITER.then(|| D::database(pools.write.clone())),
        database: Some(D::database(pools.read)),
        guard: Arc::new(Guard::new(readers / 2)),
    }
}

/// ` AND <the scope's filter over column>` (nothing without a filter).
fn push_scope<D: Dialect>(qb: &mut Qb<D>, scope: &Access, column: &str) -> Result<(), StoreError> {
    if let Some(f) = scope.filter() {
        qb.push(" AND ");
        D::Db::push_filter(qb, f, column).map_err(filter_error)?;
    }
    Ok(())
}

/// The members of a search's `wanted` metadata that the scope's filter does not already imply:
/// a string member `k: s` is contained exactly where `k` equals `s`, which a top-level
/// `k == s` of the filter requires already. (The owner's search under the policy's owner filter
/// then reads the owner once: SQLite answers a single `json_extract` from its index alone, but
/// reads the rows to evaluate a second one.)
fn not_implied<'w>(
    wanted: Option<&'w Object>,
    scope: &Access,
) -> Option<std::borrow::Cow<'w, Object>> {
    let wanted = wanted?;
    let Some(filter) = scope.filter() else {
        return Some(std::borrow::Cow::Borrowed(wanted));
    };
    let implied = |k: &str, v: &Value| {
        v.is_string() && filter.eq_conditions().any(|(fk, fv)| fk == k && fv == v)
    };
    if !wanted.iter().any(|(k, v)| implied(k, v)) {
        return Some(std::borrow::Cow::Borrowed(wanted));
    }
    let rest: Object = wanted
        .iter()
        .filter(|(k, v)| !implied(k, v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!rest.is_empty()).then_some(std::borrow::Cow::Owned(rest))
}

/// ` AND <metadata contains wanted>` (nothing without it).
fn push_wanted<D: Dialect>(
    qb: &mut Qb<D>,
    wanted: Option<&Object>,
    column: &str,
) -> Result<(), StoreError> {
    if let Some(w) = wanted {
        qb.push(" AND ");
        D::Db::push_contains(qb, w, column).map_err(search_error)?;
    }
    Ok(())
}

pub(super) async fn begin<D: Dialect>(pools: &Pools<D>) -> Result<Tx<D>, StoreError> {
    pools.write.begin_with(D::BEGIN).await.map_err(db_error)
}

/// Rolls `tx` back now and answers `e`: a transaction merely dropped is rolled back only when its
/// connection is next used, and until then keeps its row locks (a thread whose change failed
/// would stay locked, and the run queue would skip it).
async fn abort<D: Dialect, T>(tx: Tx<D>, e: StoreError) -> Result<T, StoreError> {
    let _ = tx.rollback().await;
    Err(e)
}

/// A transaction that only reads, and sees one snapshot throughout (PostgreSQL's default, read
/// committed, gives each statement its own: a thread and its checkpoint could be read from
/// either side of a change).
async fn read<D: Dialect>(pools: &Pools<D>) -> Result<Tx<D>, StoreError> {
    pools.read.begin_with(D::READ_BEGIN).await.map_err(db_error)
}

pub(super) async fn commit<D: Dialect>(tx: Tx<D>) -> Result<(), StoreError> {
    tx.commit().await.map_err(db_error)
}

/// A resource kind kept in one table (and perhaps others it owns).
#[async_trait]
pub(super) trait Table: Record + Sized {
    /// The table.
    const TABLE: &'static str;
    /// The id column.
    const ID: &'static str;
    /// The table's columns.
    type Row: Columns<Write = Self, Read = Self>;
    /// The columns a `SELECT` reads.
    const COLS: &'static [(&'static str, bool)] = <Self::Row as Columns>::COLS;
    /// The columns an `INSERT` or `UPDATE` writes.
    const WRITTEN: &'static [(&'static str, bool)] = <Self::Row as Columns>::WRITTEN;
    /// The column of a search's values condition, if this kind has values.
    const VALUES: Option<&'static str> = None;
    /// Whether other tables hold part of the resource ([`Table::load_extra`] reads them).
    const EXTRA: bool = false;

    /// The SQL column of a search column.
    fn sql_column(c: Column) -> Option<&'static str>;

    /// Binds the row's values, in [`Table::WRITTEN`] order.
    fn push_row<D: Dialect>(&self, list: &mut List<'_, D>) {
        Self::Row::push(self, list);
    }

    /// The resource of a row (without what other tables hold).
    fn from_row(row: &impl Cells) -> Result<Self, StoreError> {
        Self::Row::read(row)
    }

    /// Reads what other tables hold for this resource.
    async fn load_extra<D: Dialect>(&mut self, _tx: &mut Tx<D>) -> Result<(), StoreError> {
        Ok(())
    }

    /// Writes what other tables hold for this resource (`old`: as it was read).
    async fn save_extra<D: Dialect>(
        &self,
        _tx: &mut Tx<D>,
        _old: Option<&Self>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A [`Collection`] in a table.
struct SqlCollection<D: Dialect, T> {
    pool: Pools<D>,
    _kind: std::marker::PhantomData<fn() -> T>,
}

impl<D: Dialect, T: Table> SqlCollection<D, T> {
    fn new(pool: Pools<D>) -> Self {
        SqlCollection {
            pool,
            _kind: std::marker::PhantomData,
        }
    }

    fn kind() -> &'static str {
        match T::TABLE {
            "threads" => "Thread",
            "assistants" => "Assistant",
            _ => "Cron",
        }
    }

    /// `SELECT <cols> FROM table WHERE id = ? AND <filter>`, with the row lock when `lock`.
    fn find_query(id: &str, scope: &Access, lock: bool) -> Result<Qb<D>, StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "SELECT {} FROM {} WHERE {} = ",
            select_list::<D>(T::COLS),
            T::TABLE,
            T::ID
        ));
        qb.bind(id.to_owned());
        push_scope::<D>(&mut qb, scope, &format!("{}.metadata", T::TABLE))?;
        if lock {
            qb.push(D::FOR_UPDATE);
        }
        Ok(qb)
    }

    /// The resource `id` if `scope` admits it ([`Self::find_query`]), read in `tx`.
    async fn find(
        tx: &mut Tx<D>,
        id: &str,
        scope: &Access,
        lock: bool,
    ) -> Result<Option<T>, StoreError> {
        let mut qb = Self::find_query(id, scope, lock)?;
        let row = qb.one(On::Conn(&mut **tx)).await.map_err(db_error)?;
        row.as_ref().map(T::from_row).transpose()
    }

    /// `INSERT … ON CONFLICT DO NOTHING` of `item`'s row.
    fn insert_query(item: &T) -> Qb<D> {
        let mut qb = Qb::<D>::new(format!(
            "INSERT INTO {} ({}) VALUES (",
            T::TABLE,
            name_list(T::WRITTEN)
        ));
        item.push_row(&mut List::<D>::new(&mut qb));
        qb.push(format!(") ON CONFLICT ({}) DO NOTHING", T::ID));
        qb
    }

    /// Inserts `item`'s row; whether it was new.
    async fn insert_row(conn: &mut Conn<D>, item: &T) -> Result<bool, StoreError> {
        let mut qb = Self::insert_query(item);
        let done = qb.run(On::Conn(&mut *conn)).await.map_err(db_error)?;
        Ok(D::rows_affected(&done) == 1)
    }

    /// Rewrites `item`'s row.
    async fn update_row(tx: &mut Tx<D>, item: &T) -> Result<(), StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "UPDATE {} SET ({}) = (",
            T::TABLE,
            name_list(T::WRITTEN)
        ));
        item.push_row(&mut List::<D>::new(&mut qb));
        qb.push(format!(") WHERE {} = ", T::ID));
        qb.bind(item.id().to_owned());
        qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
        Ok(())
    }

    async fn delete_row(tx: &mut Tx<D>, id: &str) -> Result<(), StoreError> {
        let mut qb = Qb::<D>::new(format!("DELETE FROM {} WHERE {} = ", T::TABLE, T::ID));
        qb.bind(id.to_owned());
        qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
        Ok(())
    }

    /// Inserts `item` in `tx` as [`Collection::insert`] does.
    async fn insert_in(
        tx: &mut Tx<D>,
        item: T,
        if_exists: IfExists,
        scope: &Access,
    ) -> Result<Inserted<T>, StoreError> {
        if Self::insert_row(&mut *tx, &item).await? {
            item.save_extra::<D>(tx, None).await?;
            return Ok(Inserted::Created(item));
        }
        if if_exists == IfExists::DoNothing
            && let Some(mut existing) = Self::find(tx, item.id(), scope, false).await?
        {
            existing.load_extra::<D>(tx).await?;
            return Ok(Inserted::Existing(existing));
        }
        Err(Self::conflict(item.id()))
    }

    /// The answer to an insert whose id is taken.
    fn conflict(id: &str) -> StoreError {
        StoreError::Exists {
            kind: Self::kind(),
            id: id.to_owned(),
        }
    }

    /// ` WHERE …` of a search.
    fn push_where(qb: &mut Qb<D>, query: &Query<'_>) -> Result<(), StoreError> {
        qb.push(" WHERE TRUE");
        let metadata = format!("{}.metadata", T::TABLE);
        push_scope::<D>(qb, query.scope, &metadata)?;
        push_wanted::<D>(
            qb,
            not_implied(query.metadata, query.scope).as_deref(),
            &metadata,
        )?;
        if let Some(ids) = query.ids {
            if ids.is_empty() {
                qb.push(" AND FALSE");
            } else {
                qb.push(format!(" AND {} IN (", T::ID));
                let mut list = List::<D>::new(qb);
                for id in ids {
                    list.text(id);
                }
                qb.push(")");
            }
        }
        for c in &query.conditions {
            match c {
                Condition::Equals(col, v) => {
                    qb.push(format!(" AND {} = ", column_of::<T>(*col)?));
                    qb.bind(v.clone());
                }
                Condition::Holds(col, v) => {
                    qb.push(format!(" AND {}({}, ", D::HOLDS, column_of::<T>(*col)?));
                    qb.bind(v.clone()).push(") > 0");
                }
                Condition::ValuesContain(w) => {
                    let Some(values) = T::VALUES else {
                        return Err(StoreError::Internal(
                            "this resource has no state values to search".into(),
                        ));
                    };
                    if !w.is_empty() {
                        qb.push(" AND ");
                        D::Db::push_contains(qb, w, &format!("{}.{values}", T::TABLE))
                            .map_err(search_error)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn column_of<T: Table>(c: Column) -> Result<&'static str, StoreError> {
    T::sql_column(c)
        .ok_or_else(|| StoreError::Internal(format!("{} has no column {}", T::TABLE, c.name())))
}

#[async_trait]
impl<D: Dialect, T: Table> Collection<T> for SqlCollection<D, T> {
    async fn insert(
        &self,
        item: T,
        if_exists: IfExists,
        scope: &Access,
    ) -> Result<Inserted<T>, StoreError> {
        guard_system(scope, &item, Self::kind())?;
        if !T::EXTRA {
            // One row, one statement: committed on its own, or in a group where inserts are
            // grouped; no `BEGIN`/`COMMIT` round trips of its own while the writer is held.
            // Only a conflict reads on, outside of it.
            let created = if let Some(group) = &self.pool.group {
                let row = item.clone();
                group
                    .insert(Box::new(move || Self::insert_query(&row)))
                    .await?
                    == 1
            } else {
                let mut conn = self.pool.write.acquire().await.map_err(db_error)?;
                Self::insert_row(&mut conn, &item).await?
            };
            if created {
                return Ok(Inserted::Created(item));
            }
            if if_exists == IfExists::DoNothing
                && let Some(existing) = self.get(item.id(), scope).await?
            {
                return Ok(Inserted::Existing(existing));
            }
            return Err(Self::conflict(item.id()));
        }
        let mut tx = begin(&self.pool).await?;
        let out = Self::insert_in(&mut tx, item, if_exists, scope).await?;
        commit::<D>(tx).await?;
        Ok(out)
    }

    async fn get(&self, id: &str, scope: &Access) -> Result<Option<T>, StoreError> {
        if !T::EXTRA {
            // (Once the storage is closed, the pool answers: unavailable.)
            if let Some(reads) = &self.pool.inline
                && !self.pool.read.is_closed()
                && let Some(found) = reads.by_id(
                    &select_list::<D>(T::COLS),
                    T::TABLE,
                    T::ID,
                    T::COLS,
                    id,
                    scope.filter(),
                )
            {
                return found.as_ref().map(T::from_row).transpose();
            }
            // One row, one statement: no transaction needed.
            let mut qb = Qb::<D>::new(format!(
                "SELECT {} FROM {} WHERE {} = ",
                select_list::<D>(T::COLS),
                T::TABLE,
                T::ID
            ));
            qb.bind(id.to_owned());
            push_scope::<D>(&mut qb, scope, &format!("{}.metadata", T::TABLE))?;
            let row = qb.one(On::Pool(&self.pool.read)).await.map_err(db_error)?;
            return row.as_ref().map(T::from_row).transpose();
        }
        let mut tx = read(&self.pool).await?;
        let Some(mut found) = Self::find(&mut tx, id, scope, false).await? else {
            return Ok(None);
        };
        found.load_extra::<D>(&mut tx).await?;
        commit::<D>(tx).await?;
        Ok(Some(found))
    }

    async fn modify(
        &self,
        id: &str,
        scope: &Access,
        change: Modifier<'_, T>,
    ) -> Result<Option<T>, StoreError> {
        let mut tx = begin(&self.pool).await?;
        let Some(mut old) = Self::find(&mut tx, id, scope, true).await? else {
            return Ok(None);
        };
        if let Err(e) = guard_system(scope, &old, Self::kind()) {
            return abort::<D, _>(tx, e).await;
        }
        old.load_extra::<D>(&mut tx).await?;
        let mut changed = old.clone();
        if let Err(e) = change(&mut changed) {
            return abort::<D, _>(tx, e).await;
        }
        if changed.id() != id {
            return abort::<D, _>(
                tx,
                StoreError::Internal("a change may not alter the id".into()),
            )
            .await;
        }
        if let Err(e) = guard_system(scope, &changed, Self::kind()) {
            return abort::<D, _>(tx, e).await;
        }
        Self::update_row(&mut tx, &changed).await?;
        changed.save_extra::<D>(&mut tx, Some(&old)).await?;
        commit::<D>(tx).await?;
        Ok(Some(changed))
    }

    async fn remove(&self, id: &str, scope: &Access) -> Result<Option<T>, StoreError> {
        let mut tx = begin(&self.pool).await?;
        let Some(mut found) = Self::find(&mut tx, id, scope, true).await? else {
            return Ok(None);
        };
        if let Err(e) = guard_system(scope, &found, Self::kind()) {
            return abort::<D, _>(tx, e).await;
        }
        found.load_extra::<D>(&mut tx).await?;
        Self::delete_row(&mut tx, id).await?;
        commit::<D>(tx).await?;
        Ok(Some(found))
    }

    async fn remove_all(&self, targets: &[(String, Access)]) -> Result<usize, StoreError> {
        let mut removed = 0;
        for (id, scope) in targets {
            removed += usize::from(self.remove(id, scope).await?.is_some());
        }
        Ok(removed)
    }

    async fn search(&self, query: Query<'_>) -> Result<Page<T>, StoreError> {
        let sort = column_of::<T>(query.sort)?;
        // One statement (one snapshot, no BEGIN/COMMIT): the count of the matches, joined with
        // the page of them (no row when the page is empty: the count still comes back).
        // Both read the matches through the filters' indexes (the page may stop at its limit,
        // walking an index in the sort order).
        let mut qb = Qb::<D>::new(format!(
            "SELECT matched.total AS total, page.* FROM (SELECT COUNT(*) AS total FROM {}",
            T::TABLE
        ));
        Self::push_where(&mut qb, &query)?;
        qb.push(format!(
            ") AS matched LEFT JOIN (SELECT {} FROM {}",
            select_list::<D>(T::COLS),
            T::TABLE
        ));
        Self::push_where(&mut qb, &query)?;
        let dir = if query.descending { "DESC" } else { "ASC" };
        qb.push(format!(" ORDER BY {sort} {dir}, {} {dir}", T::ID));
        push_page::<D>(&mut qb, query.limit, query.offset);
        qb.push(format!(
            ") AS page ON TRUE ORDER BY page.{sort} {dir}, page.{} {dir}",
            T::ID
        ));
        let rows = guarded_rows(&self.pool, &query.deadline, &mut qb).await?;
        let total = match rows.first() {
            Some(row) => usize::try_from(row.int("total")?).unwrap_or(0),
            None => 0,
        };
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.opt_text(T::ID)?.is_some() {
                items.push(T::from_row(row)?);
            }
        }
        Ok(Page { items, total })
    }
}

#[async_trait]
impl Table for Thread {
    const TABLE: &'static str = "threads";
    const ID: &'static str = "thread_id";
    type Row = ThreadRow;
    const VALUES: Option<&'static str> = Some("state_values");

    fn sql_column(c: Column) -> Option<&'static str> {
        match c {
            Column::Id => Some("thread_id"),
            Column::CreatedAt => Some("created_at"),
            Column::UpdatedAt => Some("updated_at"),
            Column::Status => Some("status"),
            _ => None,
        }
    }
}

fn version_number(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl Table for Assistant {
    const TABLE: &'static str = "assistants";
    const ID: &'static str = "assistant_id";
    type Row = AssistantRow;
    const EXTRA: bool = true;

    fn sql_column(c: Column) -> Option<&'static str> {
        match c {
            Column::Id => Some("assistant_id"),
            Column::CreatedAt => Some("created_at"),
            Column::UpdatedAt => Some("updated_at"),
            Column::GraphId => Some("graph_id"),
            Column::Name => Some("name"),
            _ => None,
        }
    }

    async fn load_extra<D: Dialect>(&mut self, tx: &mut Tx<D>) -> Result<(), StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "SELECT {} FROM assistant_versions WHERE assistant_id = ",
            select_list::<D>(VersionRow::COLS)
        ));
        qb.bind(self.current.assistant_id.clone())
            .push(" ORDER BY version");
        let rows = qb.all(On::Conn(&mut **tx)).await.map_err(db_error)?;
        self.versions = rows
            .iter()
            .map(VersionRow::read)
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    async fn save_extra<D: Dialect>(
        &self,
        tx: &mut Tx<D>,
        old: Option<&Self>,
    ) -> Result<(), StoreError> {
        let before: HashMap<u64, &AssistantVersion> = old
            .map(|o| o.versions.iter().map(|v| (v.version, v)).collect())
            .unwrap_or_default();
        let kept: Vec<i64> = self
            .versions
            .iter()
            .map(|v| version_number(v.version))
            .collect();
        if old.is_some() {
            let mut qb = Qb::<D>::new("DELETE FROM assistant_versions WHERE assistant_id = ");
            qb.bind(self.current.assistant_id.clone());
            if !kept.is_empty() {
                qb.push(" AND version NOT IN (");
                let mut list = List::<D>::new(&mut qb);
                for v in &kept {
                    list.int(*v);
                }
                qb.push(")");
            }
            qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
        }
        for v in &self.versions {
            if before.get(&v.version).is_some_and(|o| *o == v) {
                continue;
            }
            let mut qb = Qb::<D>::new("DELETE FROM assistant_versions WHERE assistant_id = ");
            qb.bind(self.current.assistant_id.clone())
                .push(" AND version = ")
                .bind(version_number(v.version));
            qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
            let mut qb = Qb::<D>::new(format!(
                "INSERT INTO assistant_versions (assistant_id, {}) VALUES (",
                name_list(VersionRow::WRITTEN)
            ));
            let mut list = List::<D>::new(&mut qb);
            list.text(&self.current.assistant_id);
            VersionRow::push(v, &mut list);
            qb.push(")");
            qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Table for Cron {
    const TABLE: &'static str = "crons";
    const ID: &'static str = "cron_id";
    type Row = CronRow;

    fn sql_column(c: Column) -> Option<&'static str> {
        match c {
            Column::Id => Some("cron_id"),
            Column::CreatedAt => Some("created_at"),
            Column::UpdatedAt => Some("updated_at"),
            Column::AssistantId => Some("assistant_id"),
            Column::ThreadId => Some("thread_id"),
            _ => None,
        }
    }
}

type Threads<D> = SqlCollection<D, Thread>;

impl<D: Dialect> Threads<D> {
    async fn runs_of(tx: &mut Tx<D>, id: &str) -> Result<Vec<Arc<Run>>, StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "SELECT {} FROM runs WHERE thread_id = ",
            select_list::<D>(RunRow::COLS)
        ));
        qb.bind(id.to_owned()).push(" ORDER BY seq");
        let rows = qb.all(On::Conn(&mut **tx)).await.map_err(db_error)?;
        rows.iter().map(|r| RunRow::read(r).map(Arc::new)).collect()
    }

    /// The checkpoint `checkpoint_id` (the latest when `None`) and its `seq`.
    async fn checkpoint_at(
        tx: &mut Tx<D>,
        id: &str,
        checkpoint_id: Option<&str>,
    ) -> Result<Option<(Arc<Checkpoint>, i64)>, StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "SELECT {} FROM checkpoints WHERE thread_id = ",
            select_list::<D>(CheckpointRow::COLS)
        ));
        qb.bind(id.to_owned());
        if let Some(c) = checkpoint_id {
            qb.push(" AND checkpoint_id = ").bind(c.to_owned());
        }
        qb.push(" ORDER BY seq DESC LIMIT 1");
        let row = qb.one(On::Conn(&mut **tx)).await.map_err(db_error)?;
        row.as_ref().map(CheckpointRow::read).transpose()
    }

    /// Writes the runs as `runs` has them, given how they were read (`old`).
    async fn save_runs(
        tx: &mut Tx<D>,
        id: &str,
        old: &[Arc<Run>],
        runs: &[Arc<Run>],
    ) -> Result<(), StoreError> {
        let before: HashMap<&str, &Arc<Run>> = old.iter().map(|r| (r.run_id.as_str(), r)).collect();
        let after: HashMap<&str, &Arc<Run>> = runs.iter().map(|r| (r.run_id.as_str(), r)).collect();
        for gone in old
            .iter()
            .filter(|r| !after.contains_key(r.run_id.as_str()))
        {
            let mut qb = Qb::<D>::new("DELETE FROM runs WHERE run_id = ");
            qb.bind(gone.run_id.clone());
            qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
        }
        for run in runs {
            match before.get(run.run_id.as_str()) {
                Some(was) if Arc::ptr_eq(was, run) || ***was == **run => {}
                Some(_) => {
                    // The queue's columns (seq, run_after, lease) are the queue's: kept.
                    let mut qb = Qb::<D>::new(format!(
                        "UPDATE runs SET ({}) = (",
                        name_list(RunRow::WRITTEN)
                    ));
                    RunRow::push(run, &mut List::<D>::new(&mut qb));
                    qb.push(") WHERE run_id = ").bind(run.run_id.clone());
                    qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
                }
                None => {
                    // The queue's `run_after` once, as the run is enqueued.
                    let mut qb = Qb::<D>::new(format!(
                        "INSERT INTO runs (thread_id, run_after, {}) VALUES (",
                        name_list(RunRow::WRITTEN)
                    ));
                    let mut list = List::<D>::new(&mut qb);
                    list.text(id);
                    Ms::bind(&run.queue.run_after, &mut list);
                    RunRow::push(run, &mut list);
                    qb.push(")");
                    qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
                }
            }
        }
        Ok(())
    }

    async fn insert_checkpoint(
        tx: &mut Tx<D>,
        id: &str,
        seq: i64,
        c: &Checkpoint,
    ) -> Result<(), StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "INSERT INTO checkpoints (thread_id, seq, {}) VALUES (",
            name_list(CheckpointRow::WRITTEN)
        ));
        let mut list = List::<D>::new(&mut qb);
        list.text(id).int(seq);
        CheckpointRow::push(c, &mut list);
        qb.push(")");
        qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
        Ok(())
    }
}

#[async_trait]
impl<D: Dialect> ThreadStore for Threads<D> {
    async fn transact(
        &self,
        id: &str,
        scope: &Access,
        change: ThreadChange<'_>,
    ) -> Result<Option<Thread>, StoreError> {
        let mut tx = begin(&self.pool).await?;
        let Some(mut thread) = Self::find(&mut tx, id, scope, true).await? else {
            return Ok(None);
        };
        let old_runs = Self::runs_of(&mut tx, id).await?;
        let latest = Self::checkpoint_at(&mut tx, id, None).await?;
        let last_seq = latest.as_ref().map_or(-1, |(_, s)| *s);
        let mut runs = old_runs.clone();
        let mut ttx = ThreadTx::new(&mut thread, &mut runs, latest.map(|(c, _)| c));
        if let Err(e) = change(&mut ttx) {
            return abort::<D, _>(tx, e).await;
        }
        let appended = ttx.into_appended();
        if thread.thread_id != id {
            return abort::<D, _>(
                tx,
                StoreError::Internal("a change may not alter the id".into()),
            )
            .await;
        }
        Self::update_row(&mut tx, &thread).await?;
        Self::save_runs(&mut tx, id, &old_runs, &runs).await?;
        for (i, c) in appended.iter().enumerate() {
            let seq = last_seq + 1 + i64::try_from(i).unwrap_or(i64::MAX);
            Self::insert_checkpoint(&mut tx, id, seq, c).await?;
        }
        commit::<D>(tx).await?;
        Ok(Some(thread))
    }

    async fn checkpoint(
        &self,
        id: &str,
        scope: &Access,
        checkpoint_id: Option<&str>,
    ) -> Result<Option<(Thread, Option<Arc<Checkpoint>>)>, StoreError> {
        // One statement (one snapshot, no BEGIN/COMMIT): the thread where the scope admits it,
        // joined with its latest checkpoint (or the one named), if any.
        let mut qb = Qb::<D>::new(format!(
            "SELECT {}, {} FROM threads LEFT JOIN checkpoints ON checkpoints.thread_id = \
             threads.thread_id AND checkpoints.seq = (SELECT MAX(seq) FROM checkpoints AS c \
             WHERE c.thread_id = threads.thread_id",
            qualified_list::<D>("threads", ThreadRow::COLS, ""),
            qualified_list::<D>("checkpoints", CheckpointRow::COLS, "c_"),
        ));
        if let Some(c) = checkpoint_id {
            qb.push(" AND c.checkpoint_id = ").bind(c.to_owned());
        }
        qb.push(") WHERE threads.thread_id = ").bind(id.to_owned());
        push_scope::<D>(&mut qb, scope, "threads.metadata")?;
        let Some(row) = qb.one(On::Pool(&self.pool.read)).await.map_err(db_error)? else {
            return Ok(None);
        };
        let thread = Thread::from_row(&row)?;
        let at = match row.opt_text("c_checkpoint_id")? {
            Some(_) => Some(CheckpointRow::read(&Prefixed(&row, "c_"))?.0),
            None => None,
        };
        Ok(Some((thread, at)))
    }

    async fn history(
        &self,
        id: &str,
        scope: &Access,
        page: HistoryPage<'_>,
        deadline: &Deadline,
    ) -> Result<Option<Vec<Arc<Checkpoint>>>, StoreError> {
        // Refused before the thread is looked for, as in memory.
        crate::storage::check_search(page.metadata)?;
        // A guarded read of two statements (one snapshot).
        let mut read = Guarded::<D>::open(&self.pool, deadline, true).await?;
        let found = {
            let conn = read.conn();
            let mut qb = Self::find_query(id, scope, false)?;
            qb.one(On::Conn(conn)).await
        };
        match found {
            Ok(Some(_)) => {}
            Ok(None) => {
                read.finish().await?;
                return Ok(None);
            }
            Err(e) => return Err(read.fail(e).await),
        }
        let mut qb = Qb::<D>::new(format!(
            "SELECT {} FROM checkpoints WHERE thread_id = ",
            select_list::<D>(CheckpointRow::COLS)
        ));
        qb.bind(id.to_owned());
        if let Some(before) = page.before {
            qb.push(" AND seq < COALESCE((SELECT MAX(seq) FROM checkpoints WHERE thread_id = ")
                .bind(id.to_owned())
                .push(" AND checkpoint_id = ")
                .bind(before.to_owned())
                .push("), ")
                .bind(i64::MAX)
                .push(")");
        }
        push_wanted::<D>(&mut qb, page.metadata, "checkpoints.metadata")?;
        qb.push(" ORDER BY seq DESC LIMIT ")
            .bind(i64::try_from(page.limit).unwrap_or(i64::MAX));
        let rows = match qb.all(On::Conn(read.conn())).await {
            Ok(rows) => rows,
            Err(e) => return Err(read.fail(e).await),
        };
        read.finish().await?;
        rows.iter()
            .map(|r| CheckpointRow::read(r).map(|(c, _)| c))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    async fn runs(
        &self,
        id: &str,
        scope: &Access,
    ) -> Result<Option<(Thread, Vec<Arc<Run>>)>, StoreError> {
        let mut tx = self.pool.read.begin().await.map_err(db_error)?;
        // Locked: on PostgreSQL (read committed) each statement has its own snapshot, and a run
        // finished between reading the thread and its runs would show `success` with the values
        // of before (a join answering the old state). The lock waits for a change in flight.
        let Some(thread) = Self::find(&mut tx, id, scope, true).await? else {
            return Ok(None);
        };
        let runs = Self::runs_of(&mut tx, id).await?;
        commit::<D>(tx).await?;
        Ok(Some((thread, runs)))
    }

    async fn copy(
        &self,
        from: &str,
        read: &Access,
        to: Thread,
        create: &Access,
    ) -> Result<Option<Thread>, StoreError> {
        let mut tx = begin(&self.pool).await?;
        let Some(source) = Self::find(&mut tx, from, read, true).await? else {
            return Ok(None);
        };
        let mut to = to;
        to.values = source.values;
        to.config = source.config;
        let to = match Self::insert_in(&mut tx, to, IfExists::Raise, create).await? {
            Inserted::Created(t) | Inserted::Existing(t) => t,
        };
        let columns = name_list(CheckpointRow::WRITTEN);
        let mut qb = Qb::<D>::new(format!(
            "INSERT INTO checkpoints (thread_id, seq, {columns}) SELECT "
        ));
        qb.bind(to.thread_id.clone()).push(format!(
            ", seq, {columns} FROM checkpoints WHERE thread_id = "
        ));
        qb.bind(from.to_owned());
        qb.run(On::Conn(&mut *tx)).await.map_err(db_error)?;
        commit::<D>(tx).await?;
        Ok(Some(to))
    }

    async fn keep_latest(&self, targets: &[(String, Access)]) -> Result<usize, StoreError> {
        let mut pruned = 0;
        for (id, scope) in targets {
            let mut tx = begin(&self.pool).await?;
            if Self::find(&mut tx, id, scope, true).await?.is_none() {
                continue;
            }
            let mut qb = Qb::<D>::new("DELETE FROM checkpoints WHERE thread_id = ");
            qb.bind(id.clone())
                .push(" AND seq < (SELECT MAX(seq) FROM checkpoints WHERE thread_id = ")
                .bind(id.clone())
                .push(")");
            qb.run(On::Conn(&mut *tx)).await.map_err(db_error)?;
            commit::<D>(tx).await?;
            pruned += 1;
        }
        Ok(pruned)
    }
}

/// The long-term store in the table `store_items`.
struct SqlItems<D: Dialect> {
    pool: Pools<D>,
}

impl<D: Dialect> SqlItems<D> {
    /// The item's `created_at` and whether the scope admits it, if it exists (locked).
    async fn probe(
        tx: &mut Tx<D>,
        scope: &Access,
        ns: &str,
        key: &str,
    ) -> Result<Option<(String, bool)>, StoreError> {
        let mut qb = Qb::<D>::new("SELECT created_at, CASE WHEN ");
        match scope.filter() {
            Some(f) => {
                D::Db::push_filter(&mut qb, f, D::STORE_VIEW).map_err(filter_error)?;
            }
            None => {
                qb.push("TRUE");
            }
        }
        qb.push(" THEN TRUE ELSE FALSE END AS ok FROM store_items WHERE ns = ")
            .bind(ns.to_owned())
            .push(" AND key = ")
            .bind(key.to_owned())
            .push(D::FOR_UPDATE);
        let row = qb.one(On::Conn(&mut **tx)).await.map_err(db_error)?;
        row.map(|r| Ok((text(&r, "created_at")?, r.boolean("ok")?)))
            .transpose()
    }
}

#[async_trait]
impl<D: Dialect> ItemStore for SqlItems<D> {
    async fn put(
        &self,
        scope: &Access,
        namespace: Vec<String>,
        key: String,
        value: Object,
    ) -> Result<Option<Item>, StoreError> {
        let at = now();
        let mut item = Item {
            namespace,
            key,
            value,
            created_at: at.clone(),
            updated_at: at,
        };
        // One statement: a new item is inserted; an existing one is replaced only where the
        // scope admits it as it is (the filter reads the stored row), keeping its `created_at`.
        let mut qb = Qb::<D>::new(format!(
            "INSERT INTO store_items ({}) VALUES (",
            name_list(ItemRow::WRITTEN)
        ));
        ItemRow::push(&item, &mut List::<D>::new(&mut qb));
        qb.push(
            ") ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        );
        if let Some(f) = scope.filter() {
            qb.push(" WHERE ");
            D::Db::push_filter(&mut qb, f, D::STORE_VIEW).map_err(filter_error)?;
        }
        qb.push(" RETURNING created_at");
        let row = qb.one(On::Pool(&self.pool.write)).await.map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        item.created_at = text(&row, "created_at")?;
        Ok(Some(item))
    }

    async fn get(
        &self,
        scope: &Access,
        namespace: &[String],
        key: &str,
    ) -> Result<Option<Item>, StoreError> {
        let (ns, _) = encode_namespace(namespace);
        let mut qb = Qb::<D>::new(format!(
            "SELECT {} FROM store_items WHERE ns = ",
            select_list::<D>(ItemRow::COLS)
        ));
        qb.bind(ns).push(" AND key = ").bind(key.to_owned());
        push_scope::<D>(&mut qb, scope, D::STORE_VIEW)?;
        let row = qb.one(On::Pool(&self.pool.read)).await.map_err(db_error)?;
        row.as_ref().map(ItemRow::read).transpose()
    }

    async fn delete(
        &self,
        scope: &Access,
        namespace: &[String],
        key: &str,
    ) -> Result<Option<bool>, StoreError> {
        let (ns, _) = encode_namespace(namespace);
        let mut tx = begin(&self.pool).await?;
        match Self::probe(&mut tx, scope, &ns, key).await? {
            None => Ok(Some(false)),
            Some((_, false)) => Ok(None),
            Some((_, true)) => {
                let mut qb = Qb::<D>::new("DELETE FROM store_items WHERE ns = ");
                qb.bind(ns).push(" AND key = ").bind(key.to_owned());
                qb.run(On::Conn(&mut *tx)).await.map_err(db_error)?;
                commit::<D>(tx).await?;
                Ok(Some(true))
            }
        }
    }

    async fn search(
        &self,
        scope: &Access,
        prefix: &[String],
        search: &ItemSearch,
        limit: usize,
        offset: usize,
        deadline: &Deadline,
    ) -> Result<Vec<Item>, StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "SELECT {} FROM store_items WHERE TRUE",
            select_list::<D>(ItemRow::COLS)
        ));
        push_prefix::<D>(&mut qb, prefix);
        push_scope::<D>(&mut qb, scope, D::STORE_VIEW)?;
        push_wanted::<D>(&mut qb, search.filter.as_ref(), "store_items.value")?;
        if !search.words.is_empty() {
            qb.push(" AND (");
            for (i, w) in search.words.iter().enumerate() {
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push(format!(
                    "{}(lower(store_items.value{}), ",
                    D::HOLDS,
                    D::JSON_OUT
                ))
                .bind(w.clone())
                .push(") > 0");
            }
            qb.push(")");
        }
        qb.push(" ORDER BY updated_at DESC, ns, key");
        push_page::<D>(&mut qb, limit, offset);
        let rows = guarded_rows(&self.pool, deadline, &mut qb).await?;
        rows.iter().map(ItemRow::read).collect()
    }

    async fn list_namespaces(
        &self,
        scope: &Access,
        prefix: &[String],
        suffix: &[String],
        max_depth: Option<usize>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        let mut qb = Qb::<D>::new("SELECT DISTINCT ");
        match max_depth {
            Some(d) if d > 0 => D::push_truncated(&mut qb, d),
            _ => {
                qb.push("ns");
            }
        }
        qb.push(" AS tns FROM store_items WHERE TRUE");
        push_prefix::<D>(&mut qb, prefix);
        if !suffix.is_empty() {
            qb.push(" AND ");
            D::push_ends_with(&mut qb, "ns", suffix_text(suffix));
        }
        push_scope::<D>(&mut qb, scope, D::STORE_VIEW)?;
        qb.push(" ORDER BY tns");
        push_page::<D>(&mut qb, limit, offset);
        let rows = qb.all(On::Pool(&self.pool.read)).await.map_err(db_error)?;
        rows.iter()
            .map(|r| decode_namespace(&text(r, "tns")?).ok_or_else(|| corrupt("ns")))
            .collect()
    }
}

/// ` AND ns` within the range of namespaces under `prefix` (nothing for an empty prefix).
fn push_prefix<D: Dialect>(qb: &mut Qb<D>, prefix: &[String]) {
    if !prefix.is_empty() {
        let (low, high) = prefix_range(prefix);
        qb.push(" AND ns >= ")
            .bind(low)
            .push(" AND ns < ")
            .bind(high);
    }
}
