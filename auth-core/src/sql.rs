//! Filters and metadata searches applied **inside the database**: a [`Filter`] (or the caller's
//! own metadata search) rendered as a SQL boolean expression over a JSON metadata column, for
//! PostgreSQL (`jsonb`) and SQLite (its JSON functions on a `TEXT` or `JSONB` column).
//!
//! Enable the cargo feature `sql` (no database driver needed); `sqlx-postgres` and `sqlx-sqlite`
//! add [`QueryBuilderExt`], which pushes a filter into a [`sqlx::QueryBuilder`] in one line.
//!
//! A [`Predicate`] is SQL text with placeholders plus the ordered values to bind ([`Bind`]).
//! Values are always bound, never written into the SQL text, whatever they contain (quotes,
//! `%`, backslashes, NUL…); so are keys, except on SQLite a key that is a plain name (see
//! there). The caller chooses the column expression (trusted SQL,
//! such as `metadata` or `t.metadata`) and the first placeholder's number, so the predicate
//! composes into any query: `WHERE tenant = $1 AND <predicate>`.
//!
//! # PostgreSQL
//!
//! ```
//! use auth::Filter;
//! use auth::sql::{Bind, Dialect};
//! use serde_json::json;
//!
//! let filter = Filter::eq("owner", "user1");
//! let p = Dialect::Postgres.filter(&filter, "metadata").unwrap();
//! // `$1` is the tenant: the filter's placeholders start at `$2`.
//! assert_eq!(p.sql(2), "metadata @> $2::jsonb");
//! assert_eq!(p.binds(), [Bind::Json(json!({"owner": "user1"}))]);
//! ```
//!
//! Every condition on a key is, or starts with, a containment `column @> $n::jsonb`, which a GIN
//! index on the column answers (`jsonb_path_ops` or `jsonb_ops`); where containment alone is
//! looser than [`Filter::matches`] (an object or array compared for equality, a number, see
//! below), an exact test on the same row follows it:
//!
//! ```
//! use auth::Filter;
//! use auth::sql::{Bind, Dialect};
//! use serde_json::json;
//!
//! let filter = Filter::eq("n", 1).and(Filter::contains("tags", "x"));
//! let p = Dialect::Postgres.filter(&filter, "t.metadata").unwrap();
//! assert_eq!(
//!     p.sql(1),
//!     "(t.metadata @> $1::jsonb AND strpos((t.metadata -> $2::text)::text, '.') = 0)",
//! );
//! assert_eq!(
//!     p.binds(),
//!     [Bind::Json(json!({"n": 1, "tags": ["x"]})), Bind::Text("n".into())],
//! );
//! ```
//!
//! The column must be `jsonb`.
//!
//! # SQLite
//!
//! ```
//! use auth::Filter;
//! use auth::sql::{Bind, Dialect};
//!
//! let filter = Filter::eq("owner", "user1").and(Filter::eq("n", 1));
//! let p = Dialect::Sqlite.filter(&filter, "metadata").unwrap();
//! assert_eq!(
//!     p.sql(1),
//!     "(EXISTS (SELECT 1 FROM json_each(metadata) AS __auth_j0 WHERE __auth_j0.key = ?1 \
//!      AND __auth_j0.type = 'integer' AND __auth_j0.atom = ?2) \
//!      AND json_extract(metadata, '$.owner') = ?3)",
//! );
//! assert_eq!(
//!     p.binds(),
//!     [Bind::Text("n".into()), Bind::Int(1), Bind::Text("user1".into())],
//! );
//! ```
//!
//! A string compared for equality with a top-level member whose key is a plain name (ASCII
//! letters, digits and `_`, not starting with a digit), by a filter or a search, is read with
//! `json_extract(column, '$.key')`, the key written into the SQL text: an expression index on
//! exactly that, `CREATE INDEX … ON t (json_extract(metadata, '$.owner'))`, then serves the
//! query (a string that starts with `{` or `[`, which could be an object's or an array's JSON
//! text, keeps the general form). Every other condition looks its keys up with `json_each`,
//! compared to a bound value, rather than with a JSON path (a path cannot spell every key);
//! placeholders are numbered `?N`. The column holds JSON text or SQLite's `JSONB` (SQLite 3.45
//! and later).
//!
//! # Semantics
//!
//! A row matches exactly when [`Filter::matches`] accepts its metadata as the database gives it
//! back, on both dialects. A missing key never matches; `$eq` is JSON equality without coercion
//! (`1`, `"1"` and `true` differ; objects by their members, arrays in order); `$contains` on a
//! key that holds no array never matches; `$or` and `$and` nest. A filter without conditions
//! renders as `TRUE`; a poisoned filter is an error, never a predicate.
//!
//! **Numbers.** [`Filter::matches`] compares `serde_json` numbers, which tell an integer from a
//! float: `1` matches `1` but not `1.0`; `1.0` matches `1.0` (and `0.0` matches `-0.0`), never an
//! integer. `serde_json` reads a number written with a point or an exponent as a float, as it
//! does an integer beyond `i64::MIN..=u64::MAX`; every other as an integer. The SQL agrees:
//!
//! - PostgreSQL compares `jsonb` numbers by their decimal value (`1 = 1.0`), then, where that
//!   is not enough, by the decimal point of the stored number. `jsonb` keeps a number's
//!   decimals but not its exponent: a float that `serde_json` writes as `1e16` is stored, and
//!   read back, as the integer `10000000000000000`, so that `Filter::eq("n", 1e16)` does not
//!   match it, while `10000000000000000.0`, written with its point, is a float.
//! - SQLite keeps the JSON text. An integer of `i64` compares by value; a float, and an integer
//!   beyond `i64`, by its text, which for a number `serde_json` wrote is the shortest one that
//!   reads back as the same number (SQLite's own reading of floats can be one unit in the last
//!   place off). Spellings that `serde_json` never writes differ: a float written another way
//!   (`1.50`, `1E2`) matches no float of a filter, `-0` counts as the integer `0`, and an
//!   integer literal beyond `u64` matches no filter (`serde_json` reads the last two as floats).
//!   Under an object member whose key holds a NUL (SQLite's JSON paths stop there), a number is
//!   compared as SQLite reads it instead, so such a float is one unit in the last place lenient.
//!
//! Floats compare as written, exactly: `serde_json`'s default reader can itself be one unit in
//! the last place off for a long decimal (its `float_roundtrip` feature reads exactly), which
//! the database does not reproduce.
//!
//! **Metadata searches.** [`Dialect::contains`] renders the JSON containment of the search's
//! `{"metadata": {...}}` (PostgreSQL's `@>` on objects: every wanted key present and containing
//! the wanted value; an array containing every wanted element in some element; scalars equal),
//! with the same number rule; [`metadata_contains`] is its reference in Rust.
//!
//! **Limits.** PostgreSQL cannot store the character U+0000 in `jsonb`: a condition whose key or
//! value contains it renders as `FALSE` there (no stored row can hold it). An object with a
//! duplicate key is read by PostgreSQL and `serde_json` as its last member; on SQLite a
//! condition may see either member. The predicate is `TRUE` exactly for matching rows and `FALSE`
//! or `NULL` otherwise (such as where the column is `NULL`): use it in `WHERE`, `AND` and `OR`,
//! and negate it as `NOT COALESCE(<predicate>, FALSE)`.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use crate::filter::Cond;
use crate::{Filter, FilterError};

/// The SQL dialect to render for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL, over a `jsonb` column; placeholders `$N`.
    Postgres,
    /// SQLite, over a column of JSON text or `JSONB`; placeholders `?N`.
    Sqlite,
}

/// One value to bind, in placeholder order.
///
/// With sqlx, [`QueryBuilderExt`] binds them; with another driver, bind [`Json`](Bind::Json) as
/// `jsonb` (PostgreSQL only), [`Text`](Bind::Text) as text, [`TextArray`](Bind::TextArray) as
/// `text[]` (PostgreSQL only) and [`Int`](Bind::Int) as a 64-bit integer (SQLite only).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Bind {
    /// A JSON document, placeholder cast `::jsonb`.
    Json(Value),
    /// A string: a key, or a string value.
    Text(String),
    /// A path of keys and array indexes, placeholder cast `::text[]`.
    TextArray(Vec<String>),
    /// An integer.
    Int(i64),
}

/// A SQL boolean expression and the values to bind to its placeholders, in order.
///
/// Made by [`Dialect::filter`] or [`Dialect::contains`]; written out by [`sql`](Predicate::sql)
/// with the placeholder numbers of the caller's choice, or pushed into a `sqlx::QueryBuilder` by
/// [`QueryBuilderExt`].
#[derive(Clone, Debug, PartialEq)]
#[must_use = "a predicate does nothing until it is written into a query"]
pub struct Predicate {
    dialect: Dialect,
    /// The SQL text without its placeholders.
    text: String,
    /// Where each placeholder goes: byte offsets into `text`, ascending.
    holes: Vec<usize>,
    binds: Vec<Bind>,
}

/// The deepest nesting of arrays and objects in a value that a predicate compares: `[[1]]` is 2
/// deep, and so is a `$contains` of `[1]` (an element of the key's array).
///
/// SQLite bounds the depth of an expression, and each level of a value is a nested subquery
/// there; 16 levels stay within it (with `$or`/`$and` nested [`Filter::MAX_DEPTH`] deep).
/// Deeper is an error on both dialects, so that a store behaves the same on either.
pub const MAX_VALUE_DEPTH: usize = 16;

/// Why a filter or a search cannot be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlError {
    /// The filter is poisoned: its error. A server answers 500 (the handler's mistake).
    Filter(FilterError),
    /// A value nests arrays and objects deeper than [`MAX_VALUE_DEPTH`]. For a search, the
    /// caller's mistake: a server answers 422.
    TooDeep,
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlError::Filter(e) => write!(f, "malformed filter: {e}"),
            SqlError::TooDeep => write!(
                f,
                "a value nests arrays and objects more than {MAX_VALUE_DEPTH} levels deep"
            ),
        }
    }
}

impl std::error::Error for SqlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SqlError::Filter(e) => Some(e),
            SqlError::TooDeep => None,
        }
    }
}

impl From<FilterError> for SqlError {
    fn from(e: FilterError) -> Self {
        SqlError::Filter(e)
    }
}

/// How deeply `v` nests arrays and objects (a scalar: 0).
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn conds_too_deep(conds: &[Cond]) -> bool {
    conds.iter().any(|c| match c {
        Cond::Eq(_, v) => depth(v) > MAX_VALUE_DEPTH,
        Cond::Contains(_, vs) => vs.iter().any(|v| 1 + depth(v) > MAX_VALUE_DEPTH),
        Cond::Or { branches, .. } => branches.iter().any(|b| conds_too_deep(b)),
    })
}

impl Dialect {
    /// Renders `filter` as a predicate over the JSON column `column` (a trusted SQL expression,
    /// written as given).
    ///
    /// A filter without conditions gives `TRUE`; a poisoned filter gives its error, and a value
    /// nested deeper than [`MAX_VALUE_DEPTH`] [`SqlError::TooDeep`].
    ///
    /// ```
    /// use auth::sql::Dialect;
    /// use auth::Filter;
    ///
    /// assert_eq!(Dialect::Postgres.filter(&Filter::all(), "m").unwrap().sql(1), "TRUE");
    /// // `$or` needs two branches: this filter is poisoned.
    /// let bad = Filter::or(Vec::new());
    /// assert!(Dialect::Sqlite.filter(&bad, "m").is_err());
    /// ```
    pub fn filter(self, filter: &Filter, column: &str) -> Result<Predicate, SqlError> {
        let conds = filter.conds().map_err(|e| SqlError::Filter(e.clone()))?;
        if conds_too_deep(conds) {
            return Err(SqlError::TooDeep);
        }
        let mut w = Writer::new(self);
        match self {
            Dialect::Postgres => pg::conj(&mut w, column, conds),
            Dialect::Sqlite => lite::conj(&mut w, column, conds),
        }
        Ok(w.finish())
    }

    /// Renders the caller's metadata search: rows whose metadata contains `wanted`, as
    /// [`metadata_contains`] decides. A value nested deeper than [`MAX_VALUE_DEPTH`] is
    /// [`SqlError::TooDeep`].
    ///
    /// ```
    /// use auth::sql::{Bind, Dialect, SqlError};
    /// use serde_json::json;
    ///
    /// let wanted = json!({"tags": ["x"], "org": {"name": "acme"}});
    /// let p = Dialect::Postgres.contains(wanted.as_object().unwrap(), "metadata").unwrap();
    /// assert_eq!(p.sql(1), "metadata @> $1::jsonb");
    /// assert_eq!(p.binds(), [Bind::Json(wanted.clone())]);
    ///
    /// let mut deep = json!(1);
    /// for _ in 0..20 {
    ///     deep = json!([deep]);
    /// }
    /// let wanted = json!({"a": deep});
    /// let err = Dialect::Sqlite.contains(wanted.as_object().unwrap(), "metadata").unwrap_err();
    /// assert_eq!(err, SqlError::TooDeep);
    /// ```
    pub fn contains(
        self,
        wanted: &Map<String, Value>,
        column: &str,
    ) -> Result<Predicate, SqlError> {
        if wanted.values().any(|v| depth(v) > MAX_VALUE_DEPTH) {
            return Err(SqlError::TooDeep);
        }
        let mut w = Writer::new(self);
        match self {
            Dialect::Postgres => pg::search(&mut w, column, wanted),
            Dialect::Sqlite => lite::search(&mut w, column, wanted),
        }
        Ok(w.finish())
    }
}

impl Predicate {
    /// The dialect this predicate is written in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The SQL text, its placeholders numbered from `first` (`$first`, `$first+1`… on
    /// PostgreSQL, `?first`… on SQLite).
    ///
    /// ```
    /// use auth::Filter;
    /// use auth::sql::Dialect;
    ///
    /// let p = Dialect::Sqlite.filter(&Filter::eq("public", true), "m").unwrap();
    /// assert_eq!(
    ///     p.sql(3),
    ///     "EXISTS (SELECT 1 FROM json_each(m) AS __auth_j0 WHERE __auth_j0.key = ?3 \
    ///      AND __auth_j0.type = 'true')",
    /// );
    /// ```
    #[must_use]
    pub fn sql(&self, first: usize) -> String {
        let mut out = String::with_capacity(self.text.len() + 4 * self.holes.len());
        let sigil = match self.dialect {
            Dialect::Postgres => '$',
            Dialect::Sqlite => '?',
        };
        let mut at = 0;
        for (i, &hole) in self.holes.iter().enumerate() {
            out.push_str(&self.text[at..hole]);
            out.push(sigil);
            // Writing to a `String` cannot fail.
            let _ = write!(out, "{}", first + i);
            at = hole;
        }
        out.push_str(&self.text[at..]);
        out
    }

    /// The values to bind, in placeholder order.
    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }

    /// The values to bind, in placeholder order, by value.
    pub fn into_binds(self) -> Vec<Bind> {
        self.binds
    }

    /// Both predicates: `(self AND other)`, for a filter and a search in the same `WHERE`.
    ///
    /// ```
    /// use auth::Filter;
    /// use auth::sql::Dialect;
    /// use serde_json::json;
    ///
    /// let auth = Dialect::Postgres.filter(&Filter::eq("owner", "u1"), "m").unwrap();
    /// let search = Dialect::Postgres.contains(json!({"tag": "x"}).as_object().unwrap(), "m").unwrap();
    /// let both = auth.and(search);
    /// assert_eq!(both.sql(1), "(m @> $1::jsonb AND m @> $2::jsonb)");
    /// assert_eq!(both.binds().len(), 2);
    /// ```
    ///
    /// # Panics
    ///
    /// If the two are of different dialects, a programming error.
    pub fn and(mut self, other: Predicate) -> Predicate {
        assert_eq!(
            self.dialect, other.dialect,
            "Predicate::and: predicates of different dialects"
        );
        if self.text == "TRUE" && self.binds.is_empty() {
            return other;
        }
        if other.text == "TRUE" && other.binds.is_empty() {
            return self;
        }
        self.text.insert(0, '(');
        for h in &mut self.holes {
            *h += 1;
        }
        self.text.push_str(" AND ");
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.text.push(')');
        self.holes.extend(other.holes.iter().map(|h| h + base));
        self.binds.extend(other.binds);
        self
    }

    /// The SQL text between placeholders and the bound values: `(text before the first
    /// placeholder, [(bind, text after it)…])`, for a query builder that numbers placeholders
    /// itself.
    #[cfg(any(feature = "sqlx-postgres", feature = "sqlx-sqlite"))]
    fn pieces(self) -> (String, Vec<(Bind, String)>) {
        let mut ends: Vec<usize> = self.holes.iter().skip(1).copied().collect();
        ends.push(self.text.len());
        let first = self.holes.first().map_or(self.text.len(), |&h| h);
        let head = self.text[..first].to_owned();
        let rest = self
            .binds
            .into_iter()
            .zip(self.holes.iter().zip(ends))
            .map(|(b, (&start, end))| (b, self.text[start..end].to_owned()))
            .collect();
        (head, rest)
    }
}

/// Whether `metadata` contains `wanted`: the semantics of a metadata search, and of
/// [`Dialect::contains`].
///
/// Every wanted key is present and contains its wanted value: an object contains an object when
/// it contains each of its members; an array contains an array when each wanted element is
/// contained in some element; any other pair when equal, as JSON values (no coercion: `1` is
/// not `1.0`). This is PostgreSQL's `@>` between two objects, with that number rule.
///
/// ```
/// use auth::sql::metadata_contains;
/// use serde_json::json;
///
/// let meta = json!({"owner": "u1", "tags": ["a", "b"], "org": {"id": 7, "name": "acme"}});
/// let meta = meta.as_object().unwrap();
/// let has = |wanted: serde_json::Value| metadata_contains(meta, wanted.as_object().unwrap());
/// assert!(has(json!({"tags": ["b"], "org": {"id": 7}})));
/// assert!(has(json!({})));
/// assert!(!has(json!({"tags": "a"}))); // an array does not contain a bare scalar
/// assert!(!has(json!({"org": {"id": 7.0}})));
/// ```
#[must_use]
pub fn metadata_contains(metadata: &Map<String, Value>, wanted: &Map<String, Value>) -> bool {
    wanted
        .iter()
        .all(|(k, w)| metadata.get(k).is_some_and(|h| contained(h, w)))
}

fn contained(have: &Value, wanted: &Value) -> bool {
    match (have, wanted) {
        (Value::Object(h), Value::Object(w)) => metadata_contains(h, w),
        (Value::Array(h), Value::Array(w)) => {
            w.iter().all(|wv| h.iter().any(|hv| contained(hv, wv)))
        }
        (h, w) => h == w,
    }
}

/// Builds a predicate: SQL text, and placeholders where binds go.
struct Writer {
    dialect: Dialect,
    text: String,
    holes: Vec<usize>,
    binds: Vec<Bind>,
    /// The next table alias number.
    alias: usize,
}

impl Writer {
    fn new(dialect: Dialect) -> Writer {
        Writer {
            dialect,
            text: String::with_capacity(64),
            holes: Vec::new(),
            binds: Vec::new(),
            alias: 0,
        }
    }

    fn sql(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn bind(&mut self, b: Bind) {
        self.holes.push(self.text.len());
        self.binds.push(b);
    }

    fn new_alias(&mut self) -> String {
        let a = format!("__auth_j{}", self.alias);
        self.alias += 1;
        a
    }

    fn finish(self) -> Predicate {
        Predicate {
            dialect: self.dialect,
            text: self.text,
            holes: self.holes,
            binds: self.binds,
        }
    }
}

/// Whether a key or value holds U+0000, which PostgreSQL cannot store in `jsonb`.
fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Whether `v` holds a number that value equality alone does not tell apart (`needs_point`).
fn needs_points(v: &Value) -> bool {
    match v {
        Value::Number(n) => needs_point(n).is_some(),
        Value::Array(items) => items.iter().any(needs_points),
        Value::Object(m) => m.values().any(needs_points),
        _ => false,
    }
}

/// Whether a stored number equal to `n` must be told apart by its decimal point (PostgreSQL):
/// `Some(false)` if it must have none (an integer), `Some(true)` if it must have one (a float
/// whose value is an integer that `serde_json` could read as one), `None` if value equality
/// settles it.
///
/// A float is bound as `serde_json` writes it (the shortest text that reads back as the same
/// `f64`), and compared by that decimal's value: `-9.223372036854776e18` is
/// `-9223372036854776000`, beyond `i64`, which `serde_json` reads as a float anyway.
fn needs_point(n: &Number) -> Option<bool> {
    if !n.is_f64() {
        return Some(false);
    }
    let int = decimal_integer(&n.to_string())?;
    (i128::from(i64::MIN)..=i128::from(u64::MAX))
        .contains(&int)
        .then_some(true)
}

/// The value of a decimal such as `-1.5e3` if it is an integer of at most 21 digits.
fn decimal_integer(text: &str) -> Option<i128> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    let scale = exp - i32::try_from(frac.len()).ok()? + (digits.len() - trimmed.len()) as i32;
    if trimmed.is_empty() {
        return Some(0);
    }
    if scale < 0 || trimmed.len() as i32 + scale > 21 {
        return None;
    }
    let mut value: i128 = trimmed.parse().ok()?;
    for _ in 0..scale {
        value *= 10;
    }
    Some(if negative { -value } else { value })
}

/// PostgreSQL: containment (`@>`, GIN-indexable) first, then exact tests where containment is
/// looser than equality.
mod pg {
    use super::*;

    /// A `jsonb` expression: a base (the column, or an `elements` alias's `v`), then keys.
    #[derive(Clone)]
    pub(super) struct Expr<'a> {
        base: &'a str,
        keys: Vec<&'a str>,
        /// After the keys, a path (`#>`) of keys and indexes.
        path: Vec<String>,
    }

    impl<'a> Expr<'a> {
        fn new(base: &'a str) -> Self {
            Expr {
                base,
                keys: Vec::new(),
                path: Vec::new(),
            }
        }

        fn key(&self, k: &'a str) -> Self {
            let mut e = self.clone();
            if e.path.is_empty() {
                e.keys.push(k);
            } else {
                e.path.push(k.to_owned());
            }
            e
        }

        fn write(&self, w: &mut Writer) {
            w.sql(self.base);
            for k in &self.keys {
                w.sql(" -> ");
                w.bind(Bind::Text((*k).to_owned()));
                w.sql("::text");
            }
            if !self.path.is_empty() {
                w.sql(" #> ");
                w.bind(Bind::TextArray(self.path.clone()));
                w.sql("::text[]");
            }
        }
    }

    pub(super) fn conj(w: &mut Writer, column: &str, conds: &[Cond]) {
        if conds.is_empty() {
            w.sql("TRUE");
            return;
        }
        // One containment for every condition on a key that can share it (the first on each
        // key): a single GIN probe.
        let mut merged = Map::new();
        let mut own = Vec::with_capacity(conds.len());
        for c in conds {
            let (key, wanted) = match c {
                Cond::Eq(k, v) if !k.contains('\0') && !has_nul(v) => (k, v.clone()),
                Cond::Contains(k, vs) if !k.contains('\0') && !vs.iter().any(has_nul) => {
                    (k, Value::Array(vs.clone()))
                }
                _ => {
                    own.push(false);
                    continue;
                }
            };
            if merged.contains_key(key.as_ref()) {
                own.push(true);
            } else {
                merged.insert(key.as_ref().to_owned(), wanted);
                own.push(false);
            }
        }
        let mut parts = 0;
        let open = w.text.len();
        if !merged.is_empty() {
            w.sql(column);
            w.sql(" @> ");
            w.bind(Bind::Json(Value::Object(merged)));
            w.sql("::jsonb");
            parts += 1;
        }
        for (c, own) in conds.iter().zip(own) {
            let before = w.text.len();
            if parts > 0 {
                w.sql(" AND ");
            }
            if cond(w, column, c, own) {
                parts += 1;
            } else {
                w.text.truncate(before);
            }
        }
        if parts > 1 {
            w.text.insert(open, '(');
            for h in w.holes.iter_mut().rev() {
                if *h < open {
                    break;
                }
                *h += 1;
            }
            w.sql(")");
        }
    }

    /// Writes what `c` needs beyond the merged containment (all of it if `own`); returns false
    /// if it wrote nothing.
    fn cond(w: &mut Writer, column: &str, c: &Cond, own: bool) -> bool {
        let start = w.holes.len();
        let at = w.text.len();
        match c {
            Cond::Eq(k, v) => {
                if k.contains('\0') || has_nul(v) {
                    w.sql("FALSE");
                    return true;
                }
                let mut parts = Vec::new();
                if own {
                    parts.push(Part::Contains(Value::Object(Map::from_iter([(
                        k.to_string(),
                        v.clone(),
                    )]))));
                }
                eq_parts(v, &mut parts);
                write_parts(w, &Expr::new(column), k, &parts);
            }
            Cond::Contains(k, vs) => {
                if k.contains('\0') || vs.iter().any(has_nul) {
                    w.sql("FALSE");
                    return true;
                }
                let mut parts = Vec::new();
                if own {
                    parts.push(Part::Contains(Value::Object(Map::from_iter([(
                        k.to_string(),
                        Value::Array(vs.clone()),
                    )]))));
                }
                for v in vs {
                    // Containment compares containers by containment, numbers by value.
                    if v.is_array() || v.is_object() || needs_points(v) {
                        parts.push(Part::Element(v));
                    }
                }
                write_parts(w, &Expr::new(column), k, &parts);
            }
            Cond::Or { branches, .. } => {
                w.sql("(");
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        w.sql(" OR ");
                    }
                    conj(w, column, b);
                }
                w.sql(")");
            }
        }
        w.holes.len() > start || w.text.len() > at
    }

    /// One test of a condition on a key.
    enum Part<'v> {
        /// `column @> {key: value}`.
        Contains(Value),
        /// `column -> key = value`.
        Equal(&'v Value),
        /// The number at `path` below the key has (or has not) a decimal point.
        Point(Vec<String>, bool),
        /// Some element of the array at the key equals the value exactly.
        Element(&'v Value),
    }

    /// The exact tests of `column -> key` equal to `v`, beyond containment.
    fn eq_parts<'v>(v: &'v Value, parts: &mut Vec<Part<'v>>) {
        match v {
            Value::Number(n) => {
                if let Some(point) = needs_point(n) {
                    parts.push(Part::Point(Vec::new(), point));
                }
            }
            Value::Array(_) | Value::Object(_) => {
                parts.push(Part::Equal(v));
                let mut path = Vec::new();
                points(v, &mut path, parts);
            }
            _ => {}
        }
    }

    /// The decimal-point tests of every number within `v`, by path.
    fn points(v: &Value, path: &mut Vec<String>, parts: &mut Vec<Part<'_>>) {
        match v {
            Value::Number(n) => {
                if let Some(point) = needs_point(n) {
                    parts.push(Part::Point(path.clone(), point));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    points(item, path, parts);
                    path.pop();
                }
            }
            Value::Object(m) => {
                for (k, item) in m {
                    path.push(k.clone());
                    points(item, path, parts);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn write_parts(w: &mut Writer, base: &Expr<'_>, key: &str, parts: &[Part<'_>]) {
        if parts.len() > 1 {
            w.sql("(");
        }
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                w.sql(" AND ");
            }
            match p {
                Part::Contains(wanted) => {
                    base.write(w);
                    w.sql(" @> ");
                    w.bind(Bind::Json(wanted.clone()));
                    w.sql("::jsonb");
                }
                Part::Equal(v) => {
                    base.key(key).write(w);
                    w.sql(" = ");
                    w.bind(Bind::Json((*v).clone()));
                    w.sql("::jsonb");
                }
                Part::Point(path, point) => {
                    let mut e = base.key(key);
                    e.path = path.clone();
                    point_test(w, &e, *point);
                }
                Part::Element(v) => {
                    let k = base.key(key);
                    let alias = elements(w, &k);
                    exact(w, &Expr::new(&alias), v);
                    w.sql(")");
                }
            }
        }
        if parts.len() > 1 {
            w.sql(")");
        }
    }

    /// `strpos((e)::text, '.') = 0` (an integer) or `> 0` (a float).
    fn point_test(w: &mut Writer, e: &Expr<'_>, point: bool) {
        w.sql("strpos((");
        e.write(w);
        w.sql(if point {
            ")::text, '.') > 0"
        } else {
            ")::text, '.') = 0"
        });
    }

    /// Opens `EXISTS (SELECT 1 FROM jsonb_array_elements(<e if an array>) AS a(v) WHERE ` and
    /// returns `a.v`.
    fn elements(w: &mut Writer, e: &Expr<'_>) -> String {
        let alias = w.new_alias();
        w.sql("EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(");
        e.write(w);
        w.sql(") = 'array' THEN ");
        e.write(w);
        w.sql(" END) AS ");
        w.sql(&alias);
        w.sql("(v) WHERE ");
        alias + ".v"
    }

    /// `e` equals `v` exactly: `=` (numbers by value), then the decimal points of its numbers.
    fn exact(w: &mut Writer, e: &Expr<'_>, v: &Value) {
        e.write(w);
        w.sql(" = ");
        w.bind(Bind::Json(v.clone()));
        w.sql("::jsonb");
        let mut parts = Vec::new();
        let mut path = Vec::new();
        points(v, &mut path, &mut parts);
        for p in parts {
            if let Part::Point(path, point) = p {
                w.sql(" AND ");
                let mut at = e.clone();
                at.path = path;
                point_test(w, &at, point);
            }
        }
    }

    pub(super) fn search(w: &mut Writer, column: &str, wanted: &Map<String, Value>) {
        if wanted.is_empty() {
            w.sql("TRUE");
            return;
        }
        if wanted.iter().any(|(k, v)| k.contains('\0') || has_nul(v)) {
            w.sql("FALSE");
            return;
        }
        let numbered: Vec<_> = wanted.iter().filter(|(_, v)| needs_points(v)).collect();
        if !numbered.is_empty() {
            w.sql("(");
        }
        w.sql(column);
        w.sql(" @> ");
        w.bind(Bind::Json(Value::Object(wanted.clone())));
        w.sql("::jsonb");
        let base = Expr::new(column);
        for (k, v) in &numbered {
            w.sql(" AND ");
            contained_exact(w, &base.key(k), v);
        }
        if !numbered.is_empty() {
            w.sql(")");
        }
    }

    /// Every number of `wanted` (objects `{"v": number, "p": has a point}`) is an element of
    /// the array `e` with that decimal point (`strpos` as [`point_test`]): `NOT EXISTS` of the
    /// wanted pairs `EXCEPT` the stored elements' pairs. Elements compare as `jsonb` (numbers by
    /// value), so a set operation (hashed or sorted) answers it in one pass over each side.
    fn points_of_elements(w: &mut Writer, e: &Expr<'_>, wanted: Vec<Value>) {
        let want = w.new_alias();
        let have = w.new_alias();
        w.sql("NOT EXISTS (SELECT ");
        w.sql(&want);
        w.sql(".v, ");
        w.sql(&want);
        w.sql(".p FROM jsonb_to_recordset(");
        w.bind(Bind::Json(Value::Array(wanted)));
        w.sql("::jsonb) AS ");
        w.sql(&want);
        w.sql("(v jsonb, p boolean) EXCEPT SELECT ");
        w.sql(&have);
        w.sql(".v, strpos(");
        w.sql(&have);
        w.sql(".v::text, '.') > 0 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(");
        e.write(w);
        w.sql(") = 'array' THEN ");
        e.write(w);
        w.sql(" END) AS ");
        w.sql(&have);
        w.sql("(v))");
    }

    /// `e` contains `v` (which holds a number), numbers told apart as in `metadata_contains`.
    fn contained_exact(w: &mut Writer, e: &Expr<'_>, v: &Value) {
        match v {
            Value::Object(m) => {
                w.sql("(");
                e.write(w);
                w.sql(" @> ");
                w.bind(Bind::Json(v.clone()));
                w.sql("::jsonb");
                for (k, item) in m.iter().filter(|(_, item)| needs_points(item)) {
                    w.sql(" AND ");
                    contained_exact(w, &e.key(k), item);
                }
                w.sql(")");
            }
            Value::Array(items) => {
                w.sql("(");
                e.write(w);
                w.sql(" @> ");
                w.bind(Bind::Json(v.clone()));
                w.sql("::jsonb");
                // The numbers among the wanted elements: one set difference for all of them
                // (`@>` found each by value; each must also be there with its own decimal point),
                // a hashed or sorted pass over the stored elements instead of one scan per
                // wanted number.
                let numbers: Vec<Value> = items
                    .iter()
                    .filter_map(|item| match item {
                        Value::Number(n) => needs_point(n).map(|point| {
                            let mut pair = Map::new();
                            pair.insert("v".into(), item.clone());
                            pair.insert("p".into(), Value::Bool(point));
                            Value::Object(pair)
                        }),
                        _ => None,
                    })
                    .collect();
                if !numbers.is_empty() {
                    w.sql(" AND ");
                    points_of_elements(w, e, numbers);
                }
                // An array or object holding such a number: some element contains it exactly.
                for item in items
                    .iter()
                    .filter(|item| (item.is_array() || item.is_object()) && needs_points(item))
                {
                    w.sql(" AND ");
                    let alias = elements(w, e);
                    contained_exact(w, &Expr::new(&alias), item);
                    w.sql(")");
                }
                w.sql(")");
            }
            _ => {
                w.sql("(");
                exact(w, e, v);
                w.sql(")");
            }
        }
    }
}

/// SQLite: `json_each` rows compared by `type` and `atom`, keys bound.
mod lite {
    use super::*;

    /// A `json_each` row: its alias, the JSON it iterates, and how the row is addressed in it
    /// (for the literal text of an integer beyond `i64`).
    struct Row {
        alias: String,
        parent: String,
        addr: Addr,
    }

    enum Addr {
        /// An object member of this key.
        Key(String),
        /// The array element at this index.
        Index(usize),
        /// Any array element (the row's own `key`).
        Each,
    }

    /// Writes `items` joined by `sep` (` AND `, ` OR `), parenthesized as a balanced tree:
    /// SQLite bounds the depth of an expression, and a chain of n terms is n deep.
    fn join<T>(w: &mut Writer, items: &[T], sep: &str, each: &mut impl FnMut(&mut Writer, &T)) {
        if items.len() <= 4 {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    w.sql(sep);
                }
                each(w, item);
            }
        } else {
            let (a, b) = items.split_at(items.len() / 2);
            w.sql("(");
            join(w, a, sep, each);
            w.sql(")");
            w.sql(sep);
            w.sql("(");
            join(w, b, sep, each);
            w.sql(")");
        }
    }

    pub(super) fn conj(w: &mut Writer, column: &str, conds: &[Cond]) {
        match conds {
            [] => w.sql("TRUE"),
            [c] => cond(w, column, c),
            _ => {
                w.sql("(");
                join(w, conds, " AND ", &mut |w, c| cond(w, column, c));
                w.sql(")");
            }
        }
    }

    fn cond(w: &mut Writer, column: &str, c: &Cond) {
        match c {
            Cond::Eq(k, Value::String(s)) if indexable(k, s) => extract_equal(w, column, k, s),
            Cond::Eq(k, v) => {
                let row = member(w, column, k);
                equal(w, &row, v);
                w.sql(")");
            }
            Cond::Contains(k, vs) => {
                let row = member(w, column, k);
                w.sql(&row.alias);
                w.sql(".type = 'array' AND ");
                let value = format!("{}.value", row.alias);
                join(w, vs, " AND ", &mut |w, v| {
                    let item = each(w, &value);
                    equal(w, &item, v);
                    w.sql(")");
                });
                w.sql(")");
            }
            Cond::Or { branches, .. } => {
                w.sql("(");
                join(w, branches, " OR ", &mut |w, b| conj(w, column, b));
                w.sql(")");
            }
        }
    }

    /// Whether the string condition `key = s` on the column itself may be written as
    /// `json_extract(column, '$.key') = ?`, which an index on that expression serves.
    ///
    /// The key must be a plain name (ASCII letters, digits and `_`, not starting with a digit),
    /// as it is written into the SQL text, inside a literal path. The value must not start with
    /// `{` or `[`: `json_extract` gives a string member as its text, and an object or array
    /// member as its JSON text, which always starts with one of those; so for any other string
    /// the comparison is true exactly for a string member of that text. A NUL in the value keeps
    /// the general form.
    fn indexable(key: &str, s: &str) -> bool {
        let mut chars = key.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(['{', '['])
            && !s.contains('\0')
    }

    /// `json_extract(column, '$.key') = ?`, for a key and value that [`indexable`] accepts.
    fn extract_equal(w: &mut Writer, column: &str, key: &str, s: &str) {
        w.sql("json_extract(");
        w.sql(column);
        w.sql(", '$.");
        w.sql(key);
        w.sql("') = ");
        w.bind(Bind::Text(s.to_owned()));
    }

    /// Opens `EXISTS (SELECT 1 FROM json_each(json) AS a WHERE ` and returns the row `a`, an
    /// array element.
    fn each(w: &mut Writer, json: &str) -> Row {
        let alias = w.new_alias();
        w.sql("EXISTS (SELECT 1 FROM json_each(");
        w.sql(json);
        w.sql(") AS ");
        w.sql(&alias);
        w.sql(" WHERE ");
        Row {
            alias,
            parent: json.to_owned(),
            addr: Addr::Each,
        }
    }

    /// Opens the `json_each` of `json` restricted to the member `key` (`… WHERE a.key = ? AND `)
    /// and returns the row `a`.
    fn member(w: &mut Writer, json: &str, key: &str) -> Row {
        let mut row = each(w, json);
        w.sql(&row.alias);
        w.sql(".key = ");
        w.bind(Bind::Text(key.to_owned()));
        w.sql(" AND ");
        row.addr = Addr::Key(key.to_owned());
        row
    }

    /// Opens the `json_each` of `json` restricted to the element `i` (`… WHERE a.key = i AND `)
    /// and returns the row `a`.
    fn element(w: &mut Writer, json: &str, i: usize) -> Row {
        let mut row = each(w, json);
        w.sql(&row.alias);
        w.sql(".key = ");
        w.sql(&i.to_string());
        w.sql(" AND ");
        row.addr = Addr::Index(i);
        row
    }

    /// The row `row` holds a value equal to `v`.
    fn equal(w: &mut Writer, row: &Row, v: &Value) {
        let a = row.alias.as_str();
        w.sql(a);
        match v {
            Value::Null => w.sql(".type = 'null'"),
            Value::Bool(true) => w.sql(".type = 'true'"),
            Value::Bool(false) => w.sql(".type = 'false'"),
            Value::String(s) => {
                w.sql(".type = 'text' AND ");
                w.sql(a);
                w.sql(".atom = ");
                w.bind(Bind::Text(s.clone()));
            }
            Value::Number(n) => number(w, row, n),
            Value::Array(items) => {
                let indexed: Vec<(usize, &Value)> = items.iter().enumerate().collect();
                parts_equal(
                    w,
                    a,
                    ("array", "json_array_length(", ")"),
                    &indexed,
                    |w, value, &i| element(w, value, i),
                );
            }
            Value::Object(m) => {
                let members: Vec<(&String, &Value)> = m.iter().collect();
                parts_equal(
                    w,
                    a,
                    ("object", "(SELECT count(*) FROM json_each(", "))"),
                    &members,
                    |w, value, k| member(w, value, k),
                );
            }
        }
    }

    /// After the alias `a` of a row holding an array or an object: its type, that the count
    /// of its value's parts (`count` opens and closes around the value) is that of `parts`,
    /// and each part, opened in the value by `open`, equal to its value.
    fn parts_equal<K>(
        w: &mut Writer,
        a: &str,
        (kind, count, close): (&str, &str, &str),
        parts: &[(K, &Value)],
        open: impl Fn(&mut Writer, &str, &K) -> Row,
    ) {
        w.sql(".type = '");
        w.sql(kind);
        w.sql("' AND ");
        w.sql(count);
        w.sql(a);
        w.sql(".value");
        w.sql(close);
        w.sql(" = ");
        w.sql(&parts.len().to_string());
        if parts.is_empty() {
            return;
        }
        w.sql(" AND ");
        let value = format!("{a}.value");
        join(w, parts, " AND ", &mut |w, (k, item)| {
            let at = open(w, &value, k);
            equal(w, &at, item);
            w.sql(")");
        });
    }

    /// After the row's alias: the number `n`, of the same kind.
    ///
    /// An integer of `i64` compares by its `atom`. Beyond `i64`, SQLite's `atom` is a float,
    /// which cannot tell such integers apart, and SQLite reads some floats one unit in the last
    /// place away from the nearest `f64`: those compare by their literal, as `serde_json` writes
    /// it (the shortest text that reads back as the same number).
    fn number(w: &mut Writer, row: &Row, n: &Number) {
        let a = row.alias.as_str();
        if let Some(i) = n.as_i64() {
            w.sql(".type = 'integer' AND ");
            w.sql(a);
            w.sql(".atom = ");
            w.bind(Bind::Int(i));
            return;
        }
        w.sql(if n.is_f64() {
            ".type = 'real' AND "
        } else {
            ".type = 'integer' AND "
        });
        if matches!(&row.addr, Addr::Key(k) if k.contains('\0')) {
            // SQLite's JSON paths stop at a NUL, so such a member has no literal to read: its
            // number is compared as SQLite parses it, the bound text parsed the same way.
            w.sql(a);
            w.sql(".atom = CAST(");
            w.bind(Bind::Text(n.to_string()));
            w.sql(" AS REAL)");
            return;
        }
        literal(w, row);
        if n.as_f64() == Some(0.0) {
            w.sql(" IN (");
            w.bind(Bind::Text("0.0".to_owned()));
            w.sql(", ");
            w.bind(Bind::Text("-0.0".to_owned()));
            w.sql(")");
        } else {
            w.sql(" = ");
            w.bind(Bind::Text(n.to_string()));
        }
    }

    /// The row's value as JSON text, literals as written: `->` of the row in its parent.
    fn literal(w: &mut Writer, row: &Row) {
        w.sql("(");
        w.sql(&row.parent);
        w.sql(" -> ");
        match &row.addr {
            Addr::Key(k) => w.bind(Bind::Text(label_path(k))),
            Addr::Index(i) => {
                w.sql("'$[");
                w.sql(&i.to_string());
                w.sql("]'");
            }
            Addr::Each => {
                w.sql("('$[' || ");
                w.sql(&row.alias);
                w.sql(".key || ']')");
            }
        }
        w.sql(")");
    }

    /// The JSON path `$."key"` of an object member, with `"`, `\` and control characters
    /// escaped (SQLite 3.45 and later compare an escaped label by its decoded text).
    pub(super) fn label_path(key: &str) -> String {
        let mut path = String::with_capacity(key.len() + 4);
        path.push_str("$.\"");
        for c in key.chars() {
            if c == '"' || c == '\\' || c < ' ' {
                let _ = write!(path, "\\u{:04x}", u32::from(c));
            } else {
                path.push(c);
            }
        }
        path.push('"');
        path
    }

    pub(super) fn search(w: &mut Writer, column: &str, wanted: &Map<String, Value>) {
        match wanted.len() {
            0 => w.sql("TRUE"),
            1 => top_members(w, column, wanted),
            _ => {
                w.sql("(");
                top_members(w, column, wanted);
                w.sql(")");
            }
        }
    }

    /// [`members`] of the column itself: a string member that [`indexable`] accepts (within an
    /// object, a string contains only itself) is compared with `json_extract`.
    fn top_members(w: &mut Writer, column: &str, wanted: &Map<String, Value>) {
        let members: Vec<(&String, &Value)> = wanted.iter().collect();
        join(w, &members, " AND ", &mut |w, &(k, v)| match v {
            Value::String(s) if indexable(k, s) => extract_equal(w, column, k, s),
            _ => {
                let row = member(w, column, k);
                contained(w, &row, v);
                w.sql(")");
            }
        });
    }

    /// Each wanted member is contained in the object `json`, ANDed.
    fn members(w: &mut Writer, json: &str, wanted: &Map<String, Value>) {
        let members: Vec<(&String, &Value)> = wanted.iter().collect();
        join(w, &members, " AND ", &mut |w, &(k, v)| {
            let row = member(w, json, k);
            contained(w, &row, v);
            w.sql(")");
        });
    }

    /// The row `row` holds a value containing `v`.
    fn contained(w: &mut Writer, row: &Row, v: &Value) {
        match v {
            Value::Object(m) => {
                w.sql(&row.alias);
                w.sql(".type = 'object'");
                if !m.is_empty() {
                    w.sql(" AND ");
                    members(w, &format!("{}.value", row.alias), m);
                }
            }
            Value::Array(items) => {
                w.sql(&row.alias);
                w.sql(".type = 'array'");
                if items.is_empty() {
                    return;
                }
                w.sql(" AND ");
                let value = format!("{}.value", row.alias);
                join(w, items, " AND ", &mut |w, item| {
                    let at = each(w, &value);
                    contained(w, &at, item);
                    w.sql(")");
                });
            }
            scalar => equal(w, row, scalar),
        }
    }
}

/// Pushing filters and searches into a [`sqlx::QueryBuilder`], for PostgreSQL (feature
/// `sqlx-postgres`) and SQLite (feature `sqlx-sqlite`).
///
/// ```
/// # #[cfg(feature = "sqlx-postgres")] {
/// use auth::Filter;
/// use auth::sql::QueryBuilderExt;
/// use sqlx::{Postgres, QueryBuilder};
///
/// let filter = Filter::eq("owner", "user1");
/// let mut qb = QueryBuilder::<Postgres>::new("SELECT id FROM threads WHERE tenant = ");
/// qb.push_bind("acme");
/// qb.push(" AND ").push_filter(&filter, "metadata").unwrap();
/// assert_eq!(
///     qb.sql(),
///     "SELECT id FROM threads WHERE tenant = $1 AND metadata @> $2::jsonb",
/// );
/// # }
/// ```
///
/// ```
/// # #[cfg(feature = "sqlx-sqlite")] {
/// use auth::Filter;
/// use auth::sql::QueryBuilderExt;
/// use serde_json::json;
/// use sqlx::{QueryBuilder, Sqlite};
///
/// let mut qb = QueryBuilder::<Sqlite>::new("SELECT id FROM threads WHERE ");
/// qb.push_filter(&Filter::contains("tags", "x"), "metadata").unwrap();
/// let search = json!({"org": "acme", "the org": "acme"});
/// qb.push(" AND ").push_contains(search.as_object().unwrap(), "metadata").unwrap();
/// // Every value bound, and every key but the plain `org` (written as `'$.org'`).
/// assert_eq!(qb.sql().matches('?').count(), 5);
/// assert!(qb.sql().contains("json_extract(metadata, '$.org') = ?"));
/// assert!(!qb.sql().contains("acme"));
/// # }
/// ```
#[cfg(any(feature = "sqlx-postgres", feature = "sqlx-sqlite"))]
pub trait QueryBuilderExt {
    /// Pushes [`Dialect::filter`] of `filter` over `column`, binding its values; on an error
    /// (a poisoned filter, a value too deep) pushes nothing.
    fn push_filter(&mut self, filter: &Filter, column: &str) -> Result<&mut Self, SqlError>;

    /// Pushes [`Dialect::contains`] of `wanted` over `column`, binding its values; on an error
    /// (a value too deep) pushes nothing.
    fn push_contains(
        &mut self,
        wanted: &Map<String, Value>,
        column: &str,
    ) -> Result<&mut Self, SqlError>;
}

#[cfg(any(feature = "sqlx-postgres", feature = "sqlx-sqlite"))]
impl<'args, DB: sealed::Database> QueryBuilderExt for sqlx::QueryBuilder<'args, DB> {
    fn push_filter(&mut self, filter: &Filter, column: &str) -> Result<&mut Self, SqlError> {
        let p = DB::DIALECT.filter(filter, column)?;
        Ok(push_predicate(self, p))
    }

    fn push_contains(
        &mut self,
        wanted: &Map<String, Value>,
        column: &str,
    ) -> Result<&mut Self, SqlError> {
        let p = DB::DIALECT.contains(wanted, column)?;
        Ok(push_predicate(self, p))
    }
}

/// Pushes `p`'s text with its values bound in place.
#[cfg(any(feature = "sqlx-postgres", feature = "sqlx-sqlite"))]
fn push_predicate<'q, 'args, DB: sealed::Database>(
    qb: &'q mut sqlx::QueryBuilder<'args, DB>,
    p: Predicate,
) -> &'q mut sqlx::QueryBuilder<'args, DB> {
    let (head, rest) = p.pieces();
    qb.push(head);
    for (bind, text) in rest {
        DB::push_bind(qb, bind);
        qb.push(text);
    }
    qb
}

/// The databases [`QueryBuilderExt`] pushes into; sealed: outside this crate it cannot be
/// implemented.
#[cfg(any(feature = "sqlx-postgres", feature = "sqlx-sqlite"))]
mod sealed {
    use super::{Bind, Dialect};

    pub trait Database: sqlx::Database {
        /// The SQL a predicate for this database is rendered in.
        const DIALECT: Dialect;

        /// Binds `bind` as this database takes it.
        fn push_bind(qb: &mut sqlx::QueryBuilder<'_, Self>, bind: Bind);
    }

    #[cfg(feature = "sqlx-postgres")]
    impl Database for sqlx::Postgres {
        const DIALECT: Dialect = Dialect::Postgres;

        fn push_bind(qb: &mut sqlx::QueryBuilder<'_, Self>, bind: Bind) {
            match bind {
                Bind::Json(v) => qb.push_bind(sqlx::types::Json(v)),
                Bind::Text(s) => qb.push_bind(s),
                Bind::TextArray(a) => qb.push_bind(a),
                Bind::Int(i) => qb.push_bind(i),
            };
        }
    }

    #[cfg(feature = "sqlx-sqlite")]
    impl Database for sqlx::Sqlite {
        const DIALECT: Dialect = Dialect::Sqlite;

        fn push_bind(qb: &mut sqlx::QueryBuilder<'_, Self>, bind: Bind) {
            match bind {
                // The SQLite renderer binds only text and integers.
                Bind::Json(v) => qb.push_bind(v.to_string()),
                Bind::Text(s) => qb.push_bind(s),
                Bind::TextArray(a) => qb.push_bind(serde_json::Value::from(a).to_string()),
                Bind::Int(i) => qb.push_bind(i),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimal_integers() {
        assert_eq!(decimal_integer("0.0"), Some(0));
        assert_eq!(decimal_integer("-0.0"), Some(0));
        assert_eq!(decimal_integer("1.0"), Some(1));
        assert_eq!(decimal_integer("1e16"), Some(10_000_000_000_000_000));
        assert_eq!(decimal_integer("1.5e1"), Some(15));
        assert_eq!(
            decimal_integer("-9.223372036854776e18"),
            Some(-9_223_372_036_854_776_000)
        );
        assert_eq!(decimal_integer("1.5"), None);
        assert_eq!(decimal_integer("1e-7"), None);
        assert_eq!(decimal_integer("1e300"), None);
    }

    #[test]
    fn which_numbers_need_a_point_test() {
        let point = |v: Value| match v {
            Value::Number(n) => needs_point(&n),
            _ => unreachable!(),
        };
        assert_eq!(point(json!(1)), Some(false));
        assert_eq!(point(json!(u64::MAX)), Some(false));
        assert_eq!(point(json!(1.0)), Some(true));
        assert_eq!(point(json!(-0.0)), Some(true));
        assert_eq!(point(json!(1e16)), Some(true));
        // Its shortest decimal is beyond `i64`: read back as a float whatever its form.
        assert_eq!(point(json!(-9_223_372_036_854_775_808.0)), None);
        assert_eq!(point(json!(18_446_744_073_709_551_616.0)), None);
        assert_eq!(point(json!(1.5)), None);
    }

    #[test]
    fn label_paths_escape_what_a_path_cannot_hold() {
        assert_eq!(lite::label_path("owner"), r#"$."owner""#);
        assert_eq!(
            lite::label_path("a\"b\\c\0"),
            r#"$."a\u0022b\u005cc\u0000""#
        );
        assert_eq!(lite::label_path(""), r#"$."""#);
    }

    #[test]
    fn placeholders_number_from_the_first() {
        let f = Filter::eq("a", json!([1])).and(Filter::eq("b", "x"));
        let p = Dialect::Postgres.filter(&f, "m").unwrap();
        assert_eq!(
            p.sql(1),
            "(m @> $1::jsonb AND (m -> $2::text = $3::jsonb \
             AND strpos((m -> $4::text #> $5::text[])::text, '.') = 0))"
        );
        assert_eq!(
            p.binds(),
            [
                Bind::Json(json!({"a": [1], "b": "x"})),
                Bind::Text("a".into()),
                Bind::Json(json!([1])),
                Bind::Text("a".into()),
                Bind::TextArray(vec!["0".into()]),
            ]
        );
        assert!(p.sql(7).contains("$11::text[]"));
        let lite = Dialect::Sqlite.filter(&f, "m").unwrap();
        assert_eq!(lite.sql(1).matches('?').count(), lite.binds().len());
        assert!(lite.sql(5).starts_with(
            "(EXISTS (SELECT 1 FROM json_each(m) AS __auth_j0 WHERE __auth_j0.key = ?5 "
        ));
    }

    /// The numbers of a wanted array are checked by one set difference, whatever their count: one
    /// bind, no scan of the stored array per wanted number. Only an array or object holding a
    /// number gets a scan of its own.
    #[test]
    fn numbers_of_a_wanted_array_are_one_set_difference() {
        let wanted = json!({"a": [3, 2, 1, 2.0, 1.5, "x"]});
        let p = Dialect::Postgres
            .contains(wanted.as_object().unwrap(), "m")
            .unwrap();
        assert_eq!(
            p.sql(1),
            "(m @> $1::jsonb AND (m -> $2::text @> $3::jsonb AND NOT EXISTS (SELECT \
             __auth_j0.v, __auth_j0.p FROM jsonb_to_recordset($4::jsonb) AS __auth_j0(v jsonb, \
             p boolean) EXCEPT SELECT __auth_j1.v, strpos(__auth_j1.v::text, '.') > 0 FROM \
             jsonb_array_elements(CASE WHEN jsonb_typeof(m -> $5::text) = 'array' THEN m -> \
             $6::text END) AS __auth_j1(v))))"
        );
        assert_eq!(
            p.binds()[3],
            Bind::Json(json!([
                {"v": 3, "p": false},
                {"v": 2, "p": false},
                {"v": 1, "p": false},
                {"v": 2.0, "p": true},
            ]))
        );
        let long: Vec<Value> = (0..1000).map(|i| json!(i)).collect();
        let wanted = json!({"a": long});
        let p = Dialect::Postgres
            .contains(wanted.as_object().unwrap(), "m")
            .unwrap();
        assert_eq!(p.binds().len(), 6);
        assert_eq!(p.sql(1).matches("EXISTS").count(), 1);
        let nested = json!({"a": [[1], {"b": 2}, ["x"]]});
        let p = Dialect::Postgres
            .contains(nested.as_object().unwrap(), "m")
            .unwrap();
        // A scan for `[1]` and one for `{"b": 2}`, and within the first the set difference of
        // its number; none for `["x"]`.
        assert_eq!(p.sql(1).matches("jsonb_array_elements").count(), 3);
        assert_eq!(p.sql(1).matches("jsonb_to_recordset").count(), 1);
    }

    #[test]
    fn conditions_on_one_key_keep_their_own_containment() {
        let f = Filter::contains("t", "a").and(Filter::eq("t", json!(["a"])));
        let p = Dialect::Postgres.filter(&f, "m").unwrap();
        assert_eq!(
            p.sql(1),
            "(m @> $1::jsonb AND m -> $2::text = $3::jsonb AND m @> $4::jsonb)"
        );
        assert_eq!(p.binds()[0], Bind::Json(json!({"t": ["a"]})));
        assert_eq!(p.binds()[3], Bind::Json(json!({"t": ["a"]})));
    }

    #[test]
    fn nul_cannot_be_stored_in_postgres() {
        let p = Dialect::Postgres
            .filter(&Filter::eq("a\0", 1).and(Filter::eq("b", 2)), "m")
            .unwrap();
        assert_eq!(
            p.sql(1),
            "(m @> $1::jsonb AND FALSE AND strpos((m -> $2::text)::text, '.') = 0)"
        );
        let search = json!({"a": "x\0"});
        let p = Dialect::Postgres
            .contains(search.as_object().unwrap(), "m")
            .unwrap();
        assert_eq!((p.sql(1).as_str(), p.binds()), ("FALSE", &[][..]));
    }

    #[test]
    fn or_and_empty() {
        let f = Filter::or([Filter::eq("a", "x"), Filter::eq("b", true)]);
        let p = Dialect::Postgres.filter(&f, "m").unwrap();
        assert_eq!(p.sql(1), "(m @> $1::jsonb OR m @> $2::jsonb)");
        assert_eq!(
            Dialect::Sqlite.filter(&Filter::all(), "m").unwrap().sql(1),
            "TRUE"
        );
        assert_eq!(
            Dialect::Sqlite.contains(&Map::new(), "m").unwrap().sql(1),
            "TRUE"
        );
        assert_eq!(
            Dialect::Postgres.contains(&Map::new(), "m").unwrap().sql(1),
            "TRUE"
        );
        let t = Dialect::Postgres.contains(&Map::new(), "m").unwrap();
        let q = Dialect::Postgres
            .filter(&Filter::eq("a", "x"), "m")
            .unwrap();
        assert_eq!(t.clone().and(q.clone()), q);
        assert_eq!(q.clone().and(t), q);
    }

    #[test]
    fn a_poisoned_filter_is_an_error() {
        let bad = Filter::from_json_lossy(serde_json::json!({"owner": {"$ne": "u1"}}));
        for d in [Dialect::Postgres, Dialect::Sqlite] {
            let err = d.filter(&bad, "m").unwrap_err();
            assert_eq!(
                Some(&err),
                bad.error().cloned().map(SqlError::Filter).as_ref()
            );
        }
    }

    #[cfg(all(feature = "sqlx-postgres", feature = "sqlx-sqlite"))]
    #[test]
    fn query_builders_get_nothing_from_a_poisoned_filter() {
        let bad = Filter::or(Vec::new());
        let mut pg = sqlx::QueryBuilder::<sqlx::Postgres>::new("SELECT 1 WHERE ");
        assert!(pg.push_filter(&bad, "m").is_err());
        assert_eq!(pg.sql(), "SELECT 1 WHERE ");
        let mut lite = sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT 1 WHERE ");
        assert!(lite.push_filter(&bad, "m").is_err());
        assert_eq!(lite.sql(), "SELECT 1 WHERE ");

        let f = Filter::eq("a", json!({"b": 1.0}));
        let mut pg = sqlx::QueryBuilder::<sqlx::Postgres>::new("SELECT 1 WHERE x = ");
        pg.push_bind(1).push(" AND ").push_filter(&f, "m").unwrap();
        let rendered = Dialect::Postgres.filter(&f, "m").unwrap().sql(2);
        assert_eq!(pg.sql(), format!("SELECT 1 WHERE x = $1 AND {rendered}"));
    }
}
