//! Each table's columns, declared once (`columns!`): a column's name, how its value is kept
//! (a [`Codec`]) and where a resource holds it. The lists a statement names
//! ([`Columns::COLS`], [`Columns::WRITTEN`]), the values an `INSERT` or `UPDATE` binds
//! ([`Columns::push`]) and the resource a row reads back as ([`Columns::read`]) all derive from
//! that one declaration, for every statement that reads or writes the table.
//!
//! A table's key columns that the resource does not hold (a checkpoint's `thread_id` and
//! `seq`, a run's `thread_id`…) are bound by the statement that writes them; the migrations
//! (`migrations/`) create the tables.

use std::borrow::Cow;
use std::sync::Arc;

use auth::types::{RunStatus, ThreadStatus};
use serde::Serialize;
use serde_json::Value;

use super::dialect::{Cells, Dialect, Qb, QbExt as _};
use super::queue_imp::{ms_text, text_ms};
use super::{corrupt, encode_namespace};
use crate::model::{
    Assistant, AssistantVersion, Checkpoint, Cron, Item, Object, QueueState, Record, Run, Thread,
    Values,
};
use crate::storage::StoreError;

/// A list of values pushed into a query, comma-separated.
pub(super) struct List<'b, D: Dialect> {
    qb: &'b mut Qb<D>,
    first: bool,
}

impl<'b, D: Dialect> List<'b, D> {
    /// An empty list pushed into `qb`.
    pub(super) fn new(qb: &'b mut Qb<D>) -> Self {
        List { qb, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.qb.push(", ");
        }
        self.first = false;
    }

    /// Binds text.
    pub(super) fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        self.qb.bind(s.to_owned());
        self
    }

    /// Binds text or `NULL`.
    pub(super) fn opt(&mut self, s: Option<&str>) -> &mut Self {
        self.sep();
        self.qb.bind(s.map(str::to_owned));
        self
    }

    /// Binds an integer.
    pub(super) fn int(&mut self, i: i64) -> &mut Self {
        self.sep();
        self.qb.bind(i);
        self
    }

    /// Binds a boolean.
    pub(super) fn boolean(&mut self, b: bool) -> &mut Self {
        self.sep();
        self.qb.bind(b);
        self
    }

    /// Binds `v` as JSON.
    pub(super) fn json<S: Serialize + ?Sized>(&mut self, v: &S) -> &mut Self {
        self.sep();
        let text = serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned());
        self.qb.bind(text).push(D::JSON_IN);
        self
    }
}

/// `a, b::text AS b, …`: the columns of `cols` for a `SELECT`, JSON ones read back as text.
pub(super) fn select_list<D: Dialect>(cols: &[(&str, bool)]) -> String {
    let mut out = String::new();
    for (i, (name, json)) in cols.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if *json && !D::JSON_OUT.is_empty() {
            out.push_str(&format!("{name}{} AS {name}", D::JSON_OUT));
        } else {
            out.push_str(name);
        }
    }
    out
}

/// `t.a AS a, t.b::text AS b, …`: the columns of `cols` of the table `t` for a `SELECT` that
/// joins others, each renamed `prefix` + its name, JSON ones read back as text.
pub(super) fn qualified_list<D: Dialect>(
    table: &str,
    cols: &[(&str, bool)],
    prefix: &str,
) -> String {
    let mut out = String::new();
    for (i, (name, json)) in cols.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let cast = if *json { D::JSON_OUT } else { "" };
        out.push_str(&format!("{table}.{name}{cast} AS {prefix}{name}"));
    }
    out
}

/// `a, b, …`: the column names.
pub(super) fn name_list(cols: &[(&str, bool)]) -> String {
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

impl Cells for super::inline::Row {
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        match self.get(col) {
            Some(rusqlite::types::Value::Text(s)) => Ok(Some(s.clone())),
            Some(rusqlite::types::Value::Null) => Ok(None),
            _ => Err(corrupt(col)),
        }
    }
    fn int(&self, col: &str) -> Result<i64, StoreError> {
        match self.get(col) {
            Some(rusqlite::types::Value::Integer(i)) => Ok(*i),
            _ => Err(corrupt(col)),
        }
    }
    fn boolean(&self, col: &str) -> Result<bool, StoreError> {
        self.int(col).map(|i| i != 0)
    }
}

/// The columns of `row` named `prefix` + a name (a table's columns in a join, as
/// [`qualified_list`] renames them).
pub(super) struct Prefixed<'r, C>(pub(super) &'r C, pub(super) &'static str);

impl<C: Cells + Sync> Cells for Prefixed<'_, C> {
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        self.0.opt_text(&self.name(col))
    }
    fn int(&self, col: &str) -> Result<i64, StoreError> {
        self.0.int(&self.name(col))
    }
    fn boolean(&self, col: &str) -> Result<bool, StoreError> {
        self.0.boolean(&self.name(col))
    }
}

impl<C> Prefixed<'_, C> {
    fn name<'c>(&self, col: &'c str) -> Cow<'c, str> {
        if self.1.is_empty() {
            Cow::Borrowed(col)
        } else {
            Cow::Owned(format!("{}{col}", self.1))
        }
    }
}

/// A text column that must hold a value.
pub(super) fn text(row: &impl Cells, col: &str) -> Result<String, StoreError> {
    row.opt_text(col)?.ok_or_else(|| corrupt(col))
}

/// A JSON column.
fn json(row: &impl Cells, col: &str) -> Result<Value, StoreError> {
    serde_json::from_str(&text(row, col)?).map_err(|_| corrupt(col))
}

/// A JSON column holding an object.
fn object(row: &impl Cells, col: &str) -> Result<Object, StoreError> {
    match json(row, col)? {
        Value::Object(m) => Ok(m),
        _ => Err(corrupt(col)),
    }
}

/// How a column keeps a value: its SQL type (JSON or not) and how the value is bound.
pub(super) trait Codec {
    /// Whether the column is JSON (`jsonb` on PostgreSQL).
    const JSON: bool;
    /// The value a resource holds.
    type Value: ?Sized;
    /// Binds `v` as the column's next value.
    fn bind<D: Dialect>(v: &Self::Value, list: &mut List<'_, D>);
}

/// How a column's value reads back.
pub(super) trait Decode: Codec {
    /// The value read.
    type Owned;
    /// The value of the column `col` of `row`.
    fn read(row: &impl Cells, col: &str) -> Result<Self::Owned, StoreError>;
}

/// Declares a codec: `name(Value -> Owned, json) { bind |v, list| …; read |row, col| … }`.
macro_rules! codec {
    ($(#[$doc:meta])* $name:ident($value:ty => $owned:ty, json: $json:expr)
        bind |$v:ident, $list:ident| $bind:expr;
        read |$row:ident, $col:ident| $read:expr;
    ) => {
        $(#[$doc])*
        pub(super) struct $name;

        impl Codec for $name {
            const JSON: bool = $json;
            type Value = $value;
            fn bind<D: Dialect>($v: &$value, $list: &mut List<'_, D>) {
                $bind;
            }
        }

        impl Decode for $name {
            type Owned = $owned;
            fn read($row: &impl Cells, $col: &str) -> Result<$owned, StoreError> {
                $read
            }
        }
    };
}

codec! {
    /// Text, never `NULL`.
    Text(str => String, json: false)
    bind |v, list| list.text(v);
    read |row, col| text(row, col);
}

codec! {
    /// Text or `NULL`.
    OptText(Option<String> => Option<String>, json: false)
    bind |v, list| list.opt(v.as_deref());
    read |row, col| row.opt_text(col);
}

codec! {
    /// A thread's status, as its name.
    ThreadState(ThreadStatus => ThreadStatus, json: false)
    bind |v, list| list.text(v.as_str());
    read |row, col| text(row, col)?.parse().map_err(|_| corrupt(col));
}

codec! {
    /// A run's status, as its name.
    RunState(RunStatus => RunStatus, json: false)
    bind |v, list| list.text(v.as_str());
    read |row, col| text(row, col)?.parse().map_err(|_| corrupt(col));
}

codec! {
    /// Any JSON value.
    Json(Value => Value, json: true)
    bind |v, list| list.json(v);
    read |row, col| json(row, col);
}

codec! {
    /// A JSON object.
    Obj(Object => Object, json: true)
    bind |v, list| list.json(v);
    read |row, col| object(row, col);
}

codec! {
    /// A thread's or a checkpoint's state values, as JSON.
    Vals(Values => Values, json: true)
    bind |v, list| list.json(v);
    read |row, col| Ok(Values::from_json(json(row, col)?));
}

codec! {
    /// A list of texts, as a JSON array.
    Strings(Vec<String> => Vec<String>, json: true)
    bind |v, list| list.json(v);
    read |row, col| match json(row, col)? {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(corrupt(col)),
            })
            .collect(),
        _ => Err(corrupt(col)),
    };
}

codec! {
    /// A boolean.
    Flag(bool => bool, json: false)
    bind |v, list| list.boolean(*v);
    read |row, col| row.boolean(col);
}

codec! {
    /// A 64-bit integer.
    Int(i64 => i64, json: false)
    bind |v, list| list.int(*v);
    read |row, col| row.int(col);
}

codec! {
    /// An assistant's version number, as an integer.
    Version(u64 => u64, json: false)
    bind |v, list| list.int(i64::try_from(*v).unwrap_or(i64::MAX));
    read |row, col| u64::try_from(row.int(col)?).map_err(|_| corrupt(col));
}

codec! {
    /// A count, as an integer.
    Count(u32 => u32, json: false)
    bind |v, list| list.int(i64::from(*v));
    read |row, col| u32::try_from(row.int(col)?).map_err(|_| corrupt(col));
}

codec! {
    /// A time kept as text when the value is a string, else `NULL` (read back as `null`).
    TimeOrNull(Value => Value, json: false)
    bind |v, list| list.opt(v.as_str());
    read |row, col| Ok(row.opt_text(col)?.map_or(Value::Null, Value::String));
}

codec! {
    /// An optional JSON value, `None` kept as JSON `null`.
    NullOr(Option<Value> => Option<Value>, json: true)
    bind |v, list| list.json(v);
    read |row, col| Ok(match json(row, col)? {
        Value::Null => None,
        v => Some(v),
    });
}

codec! {
    /// The queue's milliseconds as the schema's time text (`NULL` reads as 0: at once).
    Ms(i64 => i64, json: false)
    bind |v, list| list.text(&ms_text(*v));
    read |row, col| Ok(row
        .opt_text(col)?
        .map(|t| text_ms(&t).ok_or_else(|| corrupt(col)))
        .transpose()?
        .unwrap_or(0));
}

codec! {
    /// Optional milliseconds as the schema's time text or `NULL`.
    OptMs(Option<i64> => Option<i64>, json: false)
    bind |v, list| list.opt(v.map(ms_text).as_deref());
    read |row, col| row
        .opt_text(col)?
        .map(|t| text_ms(&t).ok_or_else(|| corrupt(col)))
        .transpose();
}

/// Any value that serializes, as JSON (written only).
pub(super) struct JsonOf<T>(std::marker::PhantomData<T>);

impl<T: Serialize> Codec for JsonOf<T> {
    const JSON: bool = true;
    type Value = T;
    fn bind<D: Dialect>(v: &T, list: &mut List<'_, D>) {
        list.json(v);
    }
}

/// A table's columns, declared by `columns!`.
pub(super) trait Columns {
    /// What a row is written from.
    type Write: ?Sized;
    /// What a row reads back as.
    type Read;
    /// The columns a `SELECT` reads, in order: (name, holds JSON).
    const COLS: &'static [(&'static str, bool)];
    /// The columns an `INSERT` or an `UPDATE` writes, in the order of [`Columns::push`].
    const WRITTEN: &'static [(&'static str, bool)];
    /// Binds the values of [`Columns::WRITTEN`] of `row`.
    fn push<D: Dialect>(row: &Self::Write, list: &mut List<'_, D>);
    /// The row's [`Columns::COLS`] read back.
    fn read(row: &impl Cells) -> Result<Self::Read, StoreError>;
}

/// Declares a table's columns once:
///
/// ```text
/// Name: Written => Read, |row| {
///     column: Codec = &row.field,  // written and read
///     …
/// } writes {
///     column: Codec = &…,          // written, not read (derived from the resource)
/// } sorts {
///     column: Codec = &…,          // written and selected (to sort by), not read back
/// } reads {
///     column: Codec,               // read, not written by this row (a key, the queue's)
/// } => <the Read value, from the columns read, each named as its column>
/// ```
///
/// Every column read must be used to build the value, and every field of it set: the compiler
/// checks the declaration against the resource.
macro_rules! columns {
    (
        $(#[$doc:meta])*
        $name:ident: $write:ty => $read:ty, |$this:ident| {
            $( $col:ident: $codec:ty = $get:expr ),* $(,)?
        }
        $( writes { $( $wcol:ident: $wcodec:ty = $wget:expr ),* $(,)? } )?
        $( sorts { $( $scol:ident: $scodec:ty = $sget:expr ),* $(,)? } )?
        $( reads { $( $rcol:ident: $rcodec:ty ),* $(,)? } )?
        => $build:expr
    ) => {
        $(#[$doc])*
        pub(super) struct $name;

        impl Columns for $name {
            type Write = $write;
            type Read = $read;
            const COLS: &'static [(&'static str, bool)] = &[
                $( (stringify!($col), <$codec as Codec>::JSON), )*
                $($( (stringify!($scol), <$scodec as Codec>::JSON), )*)?
                $($( (stringify!($rcol), <$rcodec as Codec>::JSON), )*)?
            ];
            const WRITTEN: &'static [(&'static str, bool)] = &[
                $( (stringify!($col), <$codec as Codec>::JSON), )*
                $($( (stringify!($wcol), <$wcodec as Codec>::JSON), )*)?
                $($( (stringify!($scol), <$scodec as Codec>::JSON), )*)?
            ];
            fn push<D: Dialect>($this: &$write, list: &mut List<'_, D>) {
                $( <$codec as Codec>::bind($get, list); )*
                $($( <$wcodec as Codec>::bind($wget, list); )*)?
                $($( <$scodec as Codec>::bind($sget, list); )*)?
            }
            fn read(row: &impl Cells) -> Result<$read, StoreError> {
                $( let $col = <$codec as Decode>::read(row, stringify!($col))?; )*
                $($( let $rcol = <$rcodec as Decode>::read(row, stringify!($rcol))?; )*)?
                Ok($build)
            }
        }
    };
}

columns! {
    /// `threads`: one row per thread (its state values, never its history).
    ThreadRow: Thread => Thread, |t| {
        thread_id: Text = &t.thread_id,
        created_at: Text = &t.created_at,
        updated_at: Text = &t.updated_at,
        metadata: Obj = &t.metadata,
        status: ThreadState = &t.status,
        state_values: Vals = &t.values,
        interrupts: Obj = &t.interrupts,
        config: Obj = &t.config,
        error: Json = &t.error,
    } => Thread {
        thread_id,
        created_at,
        updated_at,
        metadata,
        status,
        values: state_values,
        interrupts,
        config,
        error,
    }
}

columns! {
    /// `assistants`: the current version's fields; read without its versions (a search's
    /// results), which `assistant_versions` holds. Its `created_at` is its first version's
    /// (searches sort by it).
    AssistantRow: Assistant => Assistant, |a| {
        assistant_id: Text = &a.current.assistant_id,
        graph_id: Text = &a.current.graph_id,
        config: Json = &a.current.config,
        context: Json = &a.current.context,
        metadata: Obj = &a.current.metadata,
        version: Version = &a.current.version,
        name: Text = &a.current.name,
        description: OptText = &a.current.description,
        version_created_at: Text = &a.current.created_at,
        updated_at: Text = &a.updated_at,
    } sorts {
        created_at: Text = Record::created_at(a),
    } => Assistant {
        current: AssistantVersion {
            assistant_id,
            graph_id,
            config,
            context,
            metadata,
            version,
            name,
            description,
            created_at: version_created_at,
        },
        updated_at,
        versions: Vec::new(),
    }
}

columns! {
    /// `assistant_versions`: one row per version of an assistant (its `assistant_id`, the
    /// key, bound by the statement).
    VersionRow: AssistantVersion => AssistantVersion, |v| {
        version: Version = &v.version,
        graph_id: Text = &v.graph_id,
        config: Json = &v.config,
        context: Json = &v.context,
        metadata: Obj = &v.metadata,
        name: Text = &v.name,
        description: OptText = &v.description,
        created_at: Text = &v.created_at,
    } reads {
        assistant_id: Text,
    } => AssistantVersion {
        assistant_id,
        graph_id,
        config,
        context,
        metadata,
        version,
        name,
        description,
        created_at,
    }
}

columns! {
    /// `crons`: every field of a cron; `next_run_date` kept as text when it is a string (a
    /// time), else `NULL`.
    CronRow: Cron => Cron, |c| {
        cron_id: Text = &c.cron_id,
        assistant_id: Text = &c.assistant_id,
        thread_id: OptText = &c.thread_id,
        schedule: Text = &c.schedule,
        end_time: Json = &c.end_time,
        payload: Obj = &c.payload,
        user_id: OptText = &c.user_id,
        metadata: Obj = &c.metadata,
        enabled: Flag = &c.enabled,
        timezone: OptText = &c.timezone,
        on_run_completed: Json = &c.on_run_completed,
        next_run_date: TimeOrNull = &c.next_run_date,
        created_at: Text = &c.created_at,
        updated_at: Text = &c.updated_at,
        owner: NullOr = &c.owner,
    } => Cron {
        cron_id,
        assistant_id,
        thread_id,
        schedule,
        end_time,
        payload,
        user_id,
        metadata,
        enabled,
        timezone,
        on_run_completed,
        next_run_date,
        created_at,
        updated_at,
        owner,
    }
}

columns! {
    /// `runs`: the model's fields, which a transaction on the thread writes, and the queue's
    /// (`run_after`, bound once by the `INSERT`; the lease and the attempts, which only the
    /// queue changes); `thread_id`, the key, bound by the statement.
    RunRow: Run => Run, |r| {
        run_id: Text = &r.run_id,
        assistant_id: Text = &r.assistant_id,
        created_at: Text = &r.created_at,
        updated_at: Text = &r.updated_at,
        status: RunState = &r.status,
        metadata: Obj = &r.metadata,
        kwargs: Obj = &r.kwargs,
        multitask_strategy: Text = &r.multitask_strategy,
    } reads {
        thread_id: Text,
        run_after: Ms,
        lease_owner: OptText,
        lease_until: OptMs,
        attempts: Count,
    } => Run {
        queue: QueueState {
            run_after,
            lease_owner,
            lease_until,
            attempts,
        },
        run_id,
        thread_id,
        assistant_id,
        created_at,
        updated_at,
        status,
        metadata,
        kwargs,
        multitask_strategy,
    }
}

columns! {
    /// `checkpoints`: a thread's checkpoints, read with their `seq` (the order they were
    /// appended in, from 0); `thread_id` and `seq`, the key, bound by the statement.
    CheckpointRow: Checkpoint => (Arc<Checkpoint>, i64), |c| {
        checkpoint_id: Text = &c.checkpoint_id,
        parent_checkpoint_id: OptText = &c.parent_checkpoint_id,
        state_values: Vals = &c.values,
        metadata: Obj = &c.metadata,
        next: Strings = &c.next,
        created_at: Text = &c.created_at,
    } reads {
        seq: Int,
    } => (
        Arc::new(Checkpoint {
            checkpoint_id,
            parent_checkpoint_id,
            values: state_values,
            metadata,
            next,
            created_at,
        }),
        seq,
    )
}

columns! {
    /// `store_items`: an item under `(ns, key)`, `ns` the encoded namespace with its `depth`
    /// and `cuts` (see the module's docs), the namespace also kept as a JSON array.
    ItemRow: Item => Item, |i| {
        namespace: Strings = &i.namespace,
        key: Text = &i.key,
        value: Obj = &i.value,
        created_at: Text = &i.created_at,
        updated_at: Text = &i.updated_at,
    } writes {
        ns: Text = &encode_namespace(&i.namespace).0,
        depth: Int = &i64::try_from(i.namespace.len()).unwrap_or(i64::MAX),
        cuts: JsonOf<Vec<usize>> = &encode_namespace(&i.namespace).1,
    } => Item {
        namespace,
        key,
        value,
        created_at,
        updated_at,
    }
}
