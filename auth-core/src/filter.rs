//! [`Filter`]: LangGraph's metadata filter, the restriction a handler returns.
//!
//! The JSON form is LangGraph's: an object whose conditions are all ANDed.
//!
//! | form | matches when |
//! |---|---|
//! | `{"owner": "u1"}`, `{"owner": {"$eq": "u1"}}` | the key exists and equals the value |
//! | `{"tags": {"$contains": "x"}}` | the key holds an array containing the value |
//! | `{"tags": {"$contains": ["x", "y"]}}` | the key holds an array containing every value |
//! | `{"$or": [f1, f2, …]}` | at least one sub-filter matches (two or more sub-filters) |
//! | `{"$and": [f1, f2, …]}` | every sub-filter matches (two or more sub-filters) |
//! | `{}` | always (no conditions) |
//!
//! Unlike LangGraph, which silently ignores an operator it does not know, anything malformed is an
//! error ([`FilterError`]): a filter never fails open.
//!
//! What a filter is matched against depends on the resource: a thread's, assistant's or cron's
//! metadata; for the store, an item's value with its `namespace` (list of labels) and `key`
//! added, which win over value fields of those names (see below).
//!
//! # What a store handler's filter matches
//!
//! Store items have no metadata. A [`Filter`] a handler of a
//! [`StoreValue`](crate::types::StoreValue) event returns is matched against each item's value
//! with two fields added: `namespace`, the item's namespace as a list of labels, and `key`, its
//! key. They replace value fields of the same names, so an item's value cannot claim another
//! namespace. This is LangGraph.js's rule; LangGraph Python matches the value only, and every
//! filter on value fields behaves the same under both. The example server applies it to every
//! store action: search and list_namespaces show only items that pass (a namespace is listed if
//! one of its items passes), get answers an item that fails as absent, put and delete leave it
//! untouched.
//!
//! ```
//! use auth::Filter;
//! use serde_json::json;
//!
//! // LangGraph.js's documented pattern: only namespaces that contain my id.
//! let mine = Filter::contains("namespace", "user1");
//! // What the filter sees of the item `("user1", "notes")` / `"k"` with value `{"text": …}`.
//! let seen = json!({"text": "likes tea", "namespace": ["user1", "notes"], "key": "k"});
//! assert!(mine.matches(seen.as_object().unwrap()));
//! let others = json!({"text": "hi", "namespace": ["user2", "notes"], "key": "k"});
//! assert!(!mine.matches(others.as_object().unwrap()));
//! // A filter on a value field, as in LangGraph Python, and one on the key.
//! assert!(Filter::eq("text", "likes tea").matches(seen.as_object().unwrap()));
//! assert!(Filter::eq("key", "k").matches(seen.as_object().unwrap()));
//! ```

use std::borrow::Cow;
use std::cmp::{Ordering, Reverse};
use std::fmt;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use smallvec::{SmallVec, smallvec};

/// A metadata filter: the conditions a resource's metadata must meet.
///
/// A handler returns one to restrict what a caller sees; the server applies it with
/// [`matches`](Filter::matches) (or, for an indexed store, starting from
/// [`eq_conditions`](Filter::eq_conditions)). Build one from its JSON form with
/// [`filter!`](crate::filter!) or [`from_json`](Filter::from_json), or with the constructors:
///
/// ```
/// use auth::Filter;
/// use serde_json::json;
///
/// let mine = Filter::eq("owner", "u1");
/// let shared = Filter::contains("shared_with", "u1");
/// let visible = Filter::or([mine, shared]).and(Filter::eq("archived", false));
///
/// let meta = json!({"owner": "u2", "shared_with": ["u1", "u3"], "archived": false});
/// assert!(visible.matches(meta.as_object().unwrap()));
/// assert_eq!(
///     visible.to_json(),
///     json!({"archived": false, "$or": [{"owner": "u1"}, {"shared_with": {"$contains": "u1"}}]}),
/// );
/// ```
///
/// A key that is missing from the metadata never matches. Conditions are kept in a normal form
/// (sorted, duplicates removed, `$and` flattened, nested `$or` of `$or` merged), so two filters
/// with the same conditions compare equal however they were built, and
/// `Filter::from_json(&f.to_json())` gives back `f`.
///
/// A filter may be *poisoned*: built by a constructor given bad input at run time (a key
/// starting with `$`, an empty [`or`](Filter::or), nesting deeper than
/// [`MAX_DEPTH`](Filter::MAX_DEPTH)); [`filter!`](crate::filter!) refuses such input at compile
/// time instead. A poisoned filter matches nothing, reports its
/// [`error`](Filter::error), and refuses to serialize.
#[derive(Clone, Debug, PartialEq)]
#[must_use = "a filter restricts nothing unless returned"]
pub struct Filter {
    /// The ANDed conditions, in normal form. A handler's filter is most often one condition,
    /// which is kept inline: building it allocates nothing beyond its value.
    conds: Conds,
    /// Why this filter is poisoned, if it is.
    error: Option<Box<FilterError>>,
}

/// The conditions of a filter's top-level conjunction.
type Conds = SmallVec<[Cond; 1]>;

/// A metadata key: borrowed when the handler wrote it as a literal, as handlers mostly do.
type Key = Cow<'static, str>;

/// One condition of a conjunction.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cond {
    /// The key exists and equals the value.
    Eq(Key, Value),
    /// The key holds an array containing every one of the values (never empty).
    Contains(Key, Vec<Value>),
    /// At least one branch (a conjunction, in normal form) matches. At least two branches.
    Or {
        branches: Vec<Vec<Cond>>,
        /// The largest [`conj_depth`] of the branches.
        depth: usize,
    },
}

/// Why a filter is malformed: what is wrong, where, and what is allowed.
///
/// ```
/// use auth::Filter;
/// use serde_json::json;
///
/// let err = Filter::from_json(&json!({"owner": {"$ne": "u1"}})).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "unknown operator `$ne` on key `owner`: use `$eq` or `$contains`",
/// );
///
/// let err = Filter::from_json(&json!({"$or": [{"a": 1}, {"b": {"$in": [1]}}]})).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "at `$or[1]`: unknown operator `$in` on key `b`: use `$eq` or `$contains`",
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// Where in the filter, such as `$or[1].$and[0]`; empty at the top.
    path: String,
    message: String,
}

impl FilterError {
    fn new(message: impl Into<String>) -> Self {
        FilterError {
            path: String::new(),
            message: message.into(),
        }
    }

    /// Prefixes the location with one more enclosing step.
    fn within(mut self, step: &str) -> Self {
        if self.path.is_empty() {
            self.path = step.to_owned();
        } else {
            self.path = format!("{step}.{}", self.path);
        }
        self
    }

    /// What is wrong, without the location.
    ///
    /// ```
    /// use auth::Filter;
    /// use serde_json::json;
    ///
    /// let err = Filter::from_json(&json!({"$and": [{"a": 1}, "b"]})).unwrap_err();
    /// assert_eq!(err.message(), "a filter must be a JSON object, not a string");
    /// assert_eq!(err.path(), "$and[1]");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the problem is, such as `$or[1].$and[0]`; empty when it is at the top of the filter.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FilterError {}

/// "a string", "an object"…: how an error names a JSON value's type.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Filter {
    /// The deepest nesting of `$or`/`$and` a filter may have.
    ///
    /// LangGraph allows 2; ours allows more, but bounds it so that hostile input cannot exhaust
    /// the stack. Depth is counted on the JSON form that [`to_json`](Filter::to_json) produces:
    /// `{"$or": [{"a": 1}, {"b": 2}]}` has depth 1. A deeper filter is an error from
    /// [`from_json`](Filter::from_json), and poisons a filter built with [`or`](Filter::or) or
    /// [`and`](Filter::and).
    ///
    /// ```
    /// use auth::Filter;
    ///
    /// let mut f = Filter::eq("a", 0);
    /// for i in 1..=Filter::MAX_DEPTH {
    ///     // Each level alternates `$or` with a conjunction, so nothing flattens.
    ///     f = Filter::or([f.and(Filter::eq("b", i)), Filter::eq("c", i)]);
    /// }
    /// assert!(f.error().is_none());
    /// let deeper = Filter::or([f.and(Filter::eq("b", 0)), Filter::eq("c", 0)]);
    /// assert!(deeper.error().is_some());
    /// ```
    pub const MAX_DEPTH: usize = 8;

    fn from_conds(conds: Conds) -> Filter {
        Filter { conds, error: None }
    }

    fn poisoned(error: FilterError) -> Filter {
        Filter {
            conds: Conds::new(),
            error: Some(Box::new(error)),
        }
    }

    /// Normalizes and checks the depth, poisoning a filter that nests too deeply.
    fn checked(mut conds: Vec<Cond>) -> Filter {
        canonicalize(&mut conds);
        match check_depth(&conds) {
            Ok(()) => Filter::from_conds(Conds::from_vec(conds)),
            Err(e) => Filter::poisoned(e),
        }
    }

    /// The filter with no conditions: it matches every resource (LangGraph's `{}`).
    ///
    /// ```
    /// use auth::Filter;
    /// use serde_json::{Map, json};
    ///
    /// assert!(Filter::all().matches(&Map::new()));
    /// assert!(Filter::all().is_empty());
    /// assert_eq!(Filter::all().to_json(), json!({}));
    /// ```
    #[must_use = "a filter restricts nothing unless returned"]
    pub fn all() -> Filter {
        Filter::from_conds(Conds::new())
    }

    /// `key` exists and equals `value` (any JSON value): `{"key": value}`.
    ///
    /// The key is a string literal, kept as it is, or a `String` (write `name.to_owned()` for a
    /// borrowed one).
    ///
    /// A key starting with `$` cannot be filtered on (in the JSON form it would be an operator):
    /// such a filter is poisoned.
    ///
    /// ```
    /// use auth::Filter;
    /// use serde_json::json;
    ///
    /// let f = Filter::eq("owner", "u1");
    /// assert!(f.matches(json!({"owner": "u1", "x": 1}).as_object().unwrap()));
    /// assert!(!f.matches(json!({"owner": "u2"}).as_object().unwrap()));
    /// assert!(!f.matches(json!({}).as_object().unwrap()));
    /// assert!(Filter::eq("$or", 1).error().is_some());
    /// ```
    #[must_use = "a filter restricts nothing unless returned"]
    pub fn eq(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Filter {
        let key = key.into();
        match check_key(&key) {
            Ok(()) => Filter::from_conds(smallvec![Cond::Eq(key, value.into())]),
            Err(e) => Filter::poisoned(e),
        }
    }

    /// `key` holds an array containing `value`; if `value` is an array, containing every one of
    /// its elements: `{"key": {"$contains": value}}`.
    ///
    /// The key is taken as by [`eq`](Filter::eq). To require an array element that is itself an
    /// array, wrap it: `json!([[1, 2]])`. An empty array poisons the filter (it would restrict
    /// nothing, most likely by mistake), as does a key starting with `$`.
    ///
    /// ```
    /// use auth::Filter;
    /// use serde_json::json;
    ///
    /// let meta = json!({"tags": ["a", "b", "c"], "name": "a"});
    /// let meta = meta.as_object().unwrap();
    /// assert!(Filter::contains("tags", "a").matches(meta));
    /// assert!(Filter::contains("tags", json!(["a", "c"])).matches(meta));
    /// assert!(!Filter::contains("tags", json!(["a", "z"])).matches(meta));
    /// assert!(!Filter::contains("name", "a").matches(meta)); // not an array
    /// assert!(Filter::contains("tags", json!([])).error().is_some());
    /// ```
    #[must_use = "a filter restricts nothing unless returned"]
    pub fn contains(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Filter {
        let key = key.into();
        let values = match value.into() {
            Value::Array(values) => values,
            single => vec![single],
        };
        match check_key(&key).and_then(|()| contains_cond(key, values)) {
            Ok(cond) => Filter::from_conds(smallvec![cond]),
            Err(e) => Filter::poisoned(e),
        }
    }

    /// Matches when at least one of `filters` matches: `{"$or": [...]}`.
    ///
    /// One filter gives that filter back. No filter at all poisons the result (an empty `$or`
    /// would match nothing, which is almost certainly a mistake), as does any poisoned input or
    /// nesting deeper than [`MAX_DEPTH`](Filter::MAX_DEPTH).
    ///
    /// ```
    /// use auth::Filter;
    /// use serde_json::json;
    ///
    /// let f = Filter::or([Filter::eq("owner", "u1"), Filter::eq("public", true)]);
    /// assert!(f.matches(json!({"public": true}).as_object().unwrap()));
    /// assert!(!f.matches(json!({"owner": "u2"}).as_object().unwrap()));
    /// assert_eq!(f.to_json(), json!({"$or": [{"owner": "u1"}, {"public": true}]}));
    ///
    /// assert!(Filter::or(Vec::new()).error().is_some());
    /// ```
    #[must_use = "a filter restricts nothing unless returned"]
    pub fn or(filters: impl IntoIterator<Item = Filter>) -> Filter {
        let mut branches = Vec::new();
        for f in filters {
            if let Some(e) = f.error {
                return Filter {
                    conds: Conds::new(),
                    error: Some(e),
                };
            }
            branches.push(f.conds.into_vec());
        }
        if branches.is_empty() {
            return Filter::poisoned(FilterError::new(
                "`Filter::or` needs at least one alternative: an empty `$or` would match nothing",
            ));
        }
        let mut conds = Vec::new();
        push_or(branches, &mut conds);
        Filter::checked(conds)
    }

    /// Both `self` and `other` must match: their conditions together.
    ///
    /// This is how the server narrows a caller's own search filter with the handler's: the
    /// result can only match less. If either is poisoned the result is poisoned.
    ///
    /// ```
    /// use auth::Filter;
    /// use serde_json::json;
    ///
    /// let f = Filter::eq("owner", "u1").and(Filter::contains("tags", "x"));
    /// assert!(f.matches(json!({"owner": "u1", "tags": ["x"]}).as_object().unwrap()));
    /// assert!(!f.matches(json!({"owner": "u1", "tags": []}).as_object().unwrap()));
    /// assert_eq!(Filter::all().and(f.clone()), f);
    /// ```
    #[must_use = "a filter restricts nothing unless returned"]
    pub fn and(mut self, other: Filter) -> Filter {
        if self.error.is_some() {
            return self;
        }
        if other.error.is_some() {
            return other;
        }
        if other.conds.is_empty() {
            return self;
        }
        if self.conds.is_empty() {
            return other;
        }
        self.conds.extend(other.conds);
        Filter::checked(self.conds.into_vec())
    }

    /// Reads LangGraph's JSON form; anything malformed is an error naming the offending part.
    ///
    /// ```
    /// use auth::Filter;
    /// use serde_json::json;
    ///
    /// let f = Filter::from_json(&json!({
    ///     "org": "acme",
    ///     "$or": [{"owner": "u1"}, {"members": {"$contains": "u1"}}],
    /// }))
    /// .unwrap();
    /// assert!(f.matches(json!({"org": "acme", "members": ["u1"]}).as_object().unwrap()));
    ///
    /// assert!(Filter::from_json(&json!({"$or": [{"a": 1}]})).is_err()); // fewer than two
    /// assert!(Filter::from_json(&json!({"n": {"$gt": 1}})).is_err()); // unknown operator
    /// assert!(Filter::from_json(&json!(["a"])).is_err()); // not an object
    /// ```
    pub fn from_json(value: &Value) -> Result<Filter, FilterError> {
        let mut conds = Vec::new();
        parse_conj(value, 0, &mut conds)?;
        canonicalize(&mut conds);
        check_depth(&conds)?;
        Ok(Filter::from_conds(Conds::from_vec(conds)))
    }

    /// LangGraph's JSON form of this filter.
    ///
    /// An equality is written `{"k": v}`, or `{"k": {"$eq": v}}` when `v` is an object; conditions
    /// that cannot share one object (two on the same key, or several `$or`) go into `$and`.
    /// [`from_json`](Filter::from_json) reads the result back to an equal filter. A poisoned filter
    /// has no JSON form: it gives `{"$or": []}`, which is not a valid filter; use
    /// [`error`](Filter::error) first, or serialize, which fails.
    ///
    /// ```
    /// use auth::Filter;
    /// use serde_json::json;
    ///
    /// let f = Filter::eq("a", 1).and(Filter::eq("a", 2)).and(Filter::eq("b", json!({"x": 1})));
    /// let j = f.to_json();
    /// assert_eq!(j, json!({"b": {"$eq": {"x": 1}}, "$and": [{"a": 1}, {"a": 2}]}));
    /// assert_eq!(Filter::from_json(&j).unwrap(), f);
    /// ```
    pub fn to_json(&self) -> Value {
        if self.error.is_some() {
            let mut obj = Map::new();
            obj.insert("$or".to_owned(), Value::Array(Vec::new()));
            return Value::Object(obj);
        }
        conj_to_json(&self.conds)
    }

    /// Whether `metadata` meets every condition. A poisoned filter matches nothing.
    ///
    /// This neither allocates nor clones.
    ///
    /// ```
    /// use auth::filter;
    /// use serde_json::json;
    ///
    /// let f = filter!({"owner": "u1", "tags": {"$contains": "x"}});
    /// assert!(f.matches(json!({"owner": "u1", "tags": ["x", "y"]}).as_object().unwrap()));
    /// assert!(!f.matches(json!({"owner": "u1", "tags": "x"}).as_object().unwrap()));
    /// ```
    pub fn matches(&self, metadata: &Map<String, Value>) -> bool {
        self.error.is_none() && conj_matches(&self.conds, metadata)
    }

    /// Whether this filter has no conditions, so that it matches everything.
    ///
    /// A poisoned filter is not empty (it matches nothing): a storage layer may skip filtering
    /// when this is `true`, and only then.
    ///
    /// ```
    /// use auth::{Filter, filter};
    ///
    /// assert!(filter!({}).is_empty());
    /// assert!(!Filter::eq("a", 1).is_empty());
    /// assert!(!Filter::eq("$bad", 1).is_empty()); // poisoned: matches nothing
    /// ```
    pub fn is_empty(&self) -> bool {
        self.error.is_none() && self.conds.is_empty()
    }

    /// The top-level `$eq` conditions, as `(key, value)`: every matching resource meets all of
    /// them, so a storage layer may look them up in an index and then check the candidates with
    /// [`matches`](Filter::matches). Conditions inside `$or` are not listed. A poisoned filter
    /// lists none (and matches nothing).
    ///
    /// ```
    /// use auth::filter;
    /// use serde_json::json;
    ///
    /// let f = filter!({"owner": "u1", "$or": [{"a": 1}, {"b": 2}], "org": {"$eq": "acme"}});
    /// let eqs: Vec<_> = f.eq_conditions().collect();
    /// assert_eq!(eqs, [("org", &json!("acme")), ("owner", &json!("u1"))]);
    /// ```
    pub fn eq_conditions(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.conds.iter().filter_map(|c| match c {
            Cond::Eq(k, v) => Some((k.as_ref(), v)),
            _ => None,
        })
    }

    /// Why this filter is poisoned, or `None` for a well-formed filter.
    ///
    /// ```
    /// use auth::{Filter, filter};
    ///
    /// let f = Filter::eq("$ne", "u1");
    /// assert_eq!(
    ///     f.error().unwrap().to_string(),
    ///     "metadata key `$ne` cannot be filtered on: keys starting with `$` are operators",
    /// );
    /// assert!(filter!({"owner": "u1"}).error().is_none());
    /// ```
    pub fn error(&self) -> Option<&FilterError> {
        self.error.as_deref()
    }

    /// For `auth::sql`: the conditions of a well-formed filter, or why it is poisoned.
    #[cfg(feature = "sql")]
    pub(crate) fn conds(&self) -> Result<&[Cond], &FilterError> {
        self.error.as_deref().map_or(Ok(&self.conds), Err)
    }

    /// A malformed filter becomes a poisoned one.
    pub(crate) fn from_json_lossy(value: Value) -> Filter {
        Filter::from_json(&value).unwrap_or_else(Filter::poisoned)
    }
}

impl TryFrom<Value> for Filter {
    type Error = FilterError;

    /// Same as [`Filter::from_json`].
    ///
    /// ```
    /// use auth::Filter;
    /// use serde_json::json;
    ///
    /// let f = Filter::try_from(json!({"owner": "u1"})).unwrap();
    /// assert_eq!(f, Filter::eq("owner", "u1"));
    /// ```
    fn try_from(value: Value) -> Result<Filter, FilterError> {
        Filter::from_json(&value)
    }
}

impl TryFrom<&Value> for Filter {
    type Error = FilterError;

    /// Same as [`Filter::from_json`].
    fn try_from(value: &Value) -> Result<Filter, FilterError> {
        Filter::from_json(value)
    }
}

/// Serializes the JSON form ([`Filter::to_json`]); a poisoned filter is a serialization error.
///
/// ```
/// use auth::Filter;
///
/// let f = Filter::eq("owner", "u1");
/// assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"owner":"u1"}"#);
/// assert!(serde_json::to_string(&Filter::eq("$ne", 1)).is_err());
/// ```
impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(e) = &self.error {
            return Err(S::Error::custom(format_args!(
                "cannot serialize a malformed filter: {e}"
            )));
        }
        conj_to_json(&self.conds).serialize(serializer)
    }
}

/// Deserializes the JSON form through [`Filter::from_json`]: a malformed filter is an error.
///
/// ```
/// use auth::Filter;
///
/// let f: Filter = serde_json::from_str(r#"{"tags": {"$contains": "x"}}"#).unwrap();
/// assert_eq!(f, Filter::contains("tags", "x"));
/// let err = serde_json::from_str::<Filter>(r#"{"tags": {"$in": ["x"]}}"#).unwrap_err();
/// assert!(err.to_string().contains("unknown operator `$in`"));
/// ```
impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Filter, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Filter::from_json(&value).map_err(D::Error::custom)
    }
}

/// Builds a [`Filter`] from its JSON form, checked at compile time and compiled to the builder
/// calls, so that it costs what [`Filter::eq`] and friends cost.
///
/// ```text
/// filter!( object )
/// object    := '{' ( entry ( ',' entry )* ','? )? '}'
/// entry     := "key" ':' value                    the key equals the value
///            | "key" ':' '{' op ':' value ( ',' op ':' value )* '}'
///            | "$or"  ':' '[' object ',' object ( ',' object )* ']'
///            | "$and" ':' '[' object ',' object ( ',' object )* ']'
/// op        := "$eq" | "$contains"
/// value     := a Rust expression (anything `Into<serde_json::Value>`) | null | '[' JSON ']'
/// ```
///
/// | you write | it is |
/// |---|---|
/// | `filter!({})` | [`Filter::all()`] |
/// | `filter!({"k": e})`, `filter!({"k": {"$eq": e}})` | [`Filter::eq("k", e)`](Filter::eq) |
/// | `filter!({"k": {"$contains": e}})` | [`Filter::contains("k", e)`](Filter::contains) |
/// | `filter!({"a": x, "b": y})` | `Filter::eq("a", x).and(Filter::eq("b", y))` |
/// | `filter!({"$or": [{..}, {..}]})` | [`Filter::or([..])`](Filter::or) |
/// | `filter!({"$and": [{..}, {..}]})` | `...and(..)` ([`Filter::and`]) |
///
/// Keys are string literals and stay borrowed (`&'static str`). A key computed at run time is
/// written with the builder: `Filter::eq(key, value)`.
///
/// ```
/// use auth::{Filter, filter};
/// use serde_json::json;
///
/// let identity = "u1";
/// let f = filter!({"owner": identity});
/// assert_eq!(f, Filter::eq("owner", "u1"));
/// assert!(f.matches(json!({"owner": "u1"}).as_object().unwrap()));
///
/// let shared = filter!({"$or": [{"owner": identity}, {"shared_with": {"$contains": identity}}]});
/// assert_eq!(
///     shared,
///     Filter::or([Filter::eq("owner", "u1"), Filter::contains("shared_with", "u1")])
/// );
/// assert!(filter!({}).is_empty());
///
/// // Arrays, objects and `null` are JSON values, as in `serde_json::json!`.
/// let f = filter!({"tags": ["a", "b"], "archived": null, "meta": {"$eq": {"v": 1}}});
/// assert_eq!(f.to_json(), json!({"tags": ["a", "b"], "archived": null, "meta": {"$eq": {"v": 1}}}));
/// ```
///
/// A mistake is a compile error at the token, not a filter that fails at run time: an unknown
/// operator, a key starting with `$` other than `$or`/`$and`, a `$or` or `$and` with fewer than
/// two branches, an empty `$contains`.
///
/// ```compile_fail
/// let f = auth::filter!({"owner": {"$ne": "u1"}}); // error: unknown operator `$ne`
/// ```
///
/// ```compile_fail
/// let f = auth::filter!({"$or": [{"owner": "u1"}]}); // error: `$or` needs at least two branches
/// ```
///
/// A filter built from JSON at run time ([`Filter::from_json`]) is still checked at run time.
#[macro_export]
macro_rules! filter {
    ($($json:tt)*) => {
        $crate::__private_0_1_0::filter!($crate; $($json)*)
    };
}

// ---------------------------------------------------------------------------------------------
// Matching

fn conj_matches(conds: &[Cond], metadata: &Map<String, Value>) -> bool {
    conds.iter().all(|c| cond_matches(c, metadata))
}

fn cond_matches(cond: &Cond, metadata: &Map<String, Value>) -> bool {
    match cond {
        Cond::Eq(key, value) => metadata.get(key.as_ref()) == Some(value),
        Cond::Contains(key, values) => match metadata.get(key.as_ref()) {
            Some(Value::Array(items)) => values.iter().all(|v| items.contains(v)),
            _ => false,
        },
        Cond::Or { branches, .. } => branches.iter().any(|b| conj_matches(b, metadata)),
    }
}

// ---------------------------------------------------------------------------------------------
// Normal form

#[inline]
fn check_key(key: &str) -> Result<(), FilterError> {
    if key.starts_with('$') {
        Err(operator_key(key))
    } else {
        Ok(())
    }
}

#[cold]
fn operator_key(key: &str) -> FilterError {
    FilterError::new(format!(
        "metadata key `{key}` cannot be filtered on: keys starting with `$` are operators"
    ))
}

fn contains_cond(key: Key, values: Vec<Value>) -> Result<Cond, FilterError> {
    if values.is_empty() {
        return Err(FilterError::new(format!(
            "`$contains` on key `{key}` needs at least one value, got an empty array"
        )));
    }
    Ok(Cond::Contains(key, values))
}

/// The order of the normal form: equalities and containments by key, then `$or`s, deepest first
/// (the one [`conj_to_json`] keeps out of `$and`), ties broken by content, so that the same
/// conditions give the same filter in whatever order they were combined.
fn cmp_cond(a: &Cond, b: &Cond) -> Ordering {
    fn rank(c: &Cond) -> (u8, &str, u8, Reverse<usize>) {
        match c {
            Cond::Eq(k, _) => (0, k.as_ref(), 0, Reverse(0)),
            Cond::Contains(k, _) => (0, k.as_ref(), 1, Reverse(0)),
            Cond::Or { depth, .. } => (1, "", 2, Reverse(*depth)),
        }
    }
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Cond::Eq(_, x), Cond::Eq(_, y)) => cmp_value(x, y),
        (Cond::Contains(_, xs), Cond::Contains(_, ys)) => cmp_seq(xs, ys, cmp_value),
        (Cond::Or { branches: xs, .. }, Cond::Or { branches: ys, .. }) => {
            cmp_seq(xs, ys, |x, y| cmp_seq(x, y, cmp_cond))
        }
        _ => Ordering::Equal,
    })
}

/// Lexicographic order of two sequences.
fn cmp_seq<T>(xs: &[T], ys: &[T], cmp: impl Fn(&T, &T) -> Ordering) -> Ordering {
    xs.iter()
        .zip(ys)
        .map(|(x, y)| cmp(x, y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| xs.len().cmp(&ys.len()))
}

/// A total order on JSON values (by type, then content), equal only for equal values.
fn cmp_value(a: &Value, b: &Value) -> Ordering {
    fn type_rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => cmp_number(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => cmp_seq(x, y, cmp_value),
        (Value::Object(x), Value::Object(y)) => {
            // Maps iterate in key order.
            let xs: Vec<_> = x.iter().collect();
            let ys: Vec<_> = y.iter().collect();
            cmp_seq(&xs, &ys, |(k1, v1), (k2, v2)| {
                k1.cmp(k2).then_with(|| cmp_value(v1, v2))
            })
        }
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

/// Integers exactly, then floats by value; an integer and a float of the same value (`1` and
/// `1.0`, which JSON equality tells apart) are ordered integer first.
fn cmp_number(x: &serde_json::Number, y: &serde_json::Number) -> Ordering {
    if !x.is_f64() && !y.is_f64() {
        return match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(a), Some(b), _, _) => a.cmp(&b),
            (_, _, Some(a), Some(b)) => a.cmp(&b),
            // One is negative, the other beyond `i64::MAX`.
            (Some(_), None, _, _) => Ordering::Less,
            _ => Ordering::Greater,
        };
    }
    let (a, b) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
    a.total_cmp(&b).then_with(|| x.is_f64().cmp(&y.is_f64()))
}

/// Whether two conditions compete for the same place in a JSON object.
fn same_slot(a: &Cond, b: &Cond) -> bool {
    match (a, b) {
        (Cond::Eq(x, _), Cond::Eq(y, _)) | (Cond::Contains(x, _), Cond::Contains(y, _)) => x == y,
        (Cond::Or { .. }, Cond::Or { .. }) => true,
        _ => false,
    }
}

/// Sorts into the normal order and drops exact duplicates.
fn canonicalize(conds: &mut Vec<Cond>) {
    conds.sort_by(cmp_cond);
    conds.dedup();
}

/// Adds an `$or` of normalized branches to a conjunction, simplifying: a branch with no
/// conditions makes the whole `$or` true, a branch that is itself a single `$or` is merged in,
/// branches are sorted and duplicates dropped, and a single remaining branch is ANDed directly.
fn push_or(branches: Vec<Vec<Cond>>, out: &mut Vec<Cond>) {
    let mut flat: Vec<Vec<Cond>> = Vec::with_capacity(branches.len());
    for branch in branches {
        if branch.is_empty() {
            return;
        }
        let nested = match <[Cond; 1]>::try_from(branch) {
            Ok([Cond::Or { branches, .. }]) => branches,
            Ok([single]) => vec![vec![single]],
            Err(branch) => vec![branch],
        };
        flat.extend(nested);
    }
    flat.sort_by(|x, y| cmp_seq(x, y, cmp_cond));
    flat.dedup();
    if flat.len() == 1 {
        out.extend(flat.pop().into_iter().flatten());
    } else {
        let depth = flat.iter().map(|b| conj_depth(b)).max().unwrap_or(0);
        out.push(Cond::Or {
            branches: flat,
            depth,
        });
    }
}

/// How [`conj_to_json`] lays out a normalized conjunction: the first condition of each slot
/// goes into the object itself, the others into `$and`. `$and` needs two elements, so when only
/// one condition is left over, another joins it: the first of its slot, or, for an `$or`, the
/// first condition (an equality or containment if there is one).
struct Layout {
    any_and: bool,
    moved: Option<usize>,
}

impl Layout {
    fn of(conds: &[Cond]) -> Layout {
        let mut leftovers = 0;
        let mut last = 0;
        for i in 1..conds.len() {
            if same_slot(&conds[i - 1], &conds[i]) {
                leftovers += 1;
                last = i;
            }
        }
        let moved = (leftovers == 1).then(|| {
            let is_or = |c: &Cond| matches!(c, Cond::Or { .. });
            if is_or(&conds[last]) && !is_or(&conds[0]) {
                0
            } else {
                last - 1
            }
        });
        Layout {
            any_and: leftovers > 0,
            moved,
        }
    }

    fn in_and(&self, conds: &[Cond], i: usize) -> bool {
        (i > 0 && same_slot(&conds[i - 1], &conds[i])) || self.moved == Some(i)
    }
}

/// The `$or`/`$and` nesting depth of the JSON form of a normalized conjunction.
fn conj_depth(conds: &[Cond]) -> usize {
    let layout = Layout::of(conds);
    let mut depth = usize::from(layout.any_and);
    for (i, c) in conds.iter().enumerate() {
        if let Cond::Or { depth: inner, .. } = c {
            let wrapped = usize::from(layout.in_and(conds, i));
            depth = depth.max(1 + inner + wrapped);
        }
    }
    depth
}

fn check_depth(conds: &[Cond]) -> Result<(), FilterError> {
    let depth = conj_depth(conds);
    if depth > Filter::MAX_DEPTH {
        Err(too_deep())
    } else {
        Ok(())
    }
}

fn too_deep() -> FilterError {
    FilterError::new(format!(
        "the filter nests `$or`/`$and` more than {} levels deep",
        Filter::MAX_DEPTH
    ))
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Reads one filter object into `out` (not yet normalized). `level` is the number of enclosing
/// `$or`/`$and`, checked before descending so that hostile nesting stops early.
fn parse_conj(value: &Value, level: usize, out: &mut Vec<Cond>) -> Result<(), FilterError> {
    let Value::Object(obj) = value else {
        return Err(FilterError::new(format!(
            "a filter must be a JSON object, not {}",
            kind(value)
        )));
    };
    for (key, v) in obj {
        if key.starts_with('$') {
            if key != "$or" && key != "$and" {
                return Err(FilterError::new(format!(
                    "unknown operator `{key}` at the top of a filter: use `$or` or `$and` \
                     (metadata keys cannot start with `$`)"
                )));
            }
        } else {
            parse_key(key, v, out)?;
        }
    }
    for op in ["$or", "$and"] {
        let Some(v) = obj.get(op) else { continue };
        let elements = match v {
            Value::Array(elements) if elements.len() >= 2 => elements,
            Value::Array(elements) => {
                return Err(FilterError::new(format!(
                    "`{op}` needs an array of at least two filters, got {}",
                    elements.len()
                )));
            }
            other => {
                return Err(FilterError::new(format!(
                    "`{op}` needs an array of at least two filters, not {}",
                    kind(other)
                )));
            }
        };
        if level >= Filter::MAX_DEPTH {
            return Err(too_deep());
        }
        let mut branches = Vec::with_capacity(elements.len());
        for (i, element) in elements.iter().enumerate() {
            let mut branch = Vec::new();
            let target = if op == "$or" { &mut branch } else { &mut *out };
            parse_conj(element, level + 1, target).map_err(|e| e.within(&format!("{op}[{i}]")))?;
            if op == "$or" {
                canonicalize(&mut branch);
                branches.push(branch);
            }
        }
        if op == "$or" {
            push_or(branches, out);
        }
    }
    Ok(())
}

/// Reads the condition on one metadata key.
fn parse_key(key: &str, value: &Value, out: &mut Vec<Cond>) -> Result<(), FilterError> {
    let ops = match value {
        Value::Object(ops) if ops.keys().any(|k| k.starts_with('$')) => ops,
        _ => {
            out.push(Cond::Eq(Cow::Owned(key.to_owned()), value.clone()));
            return Ok(());
        }
    };
    if let Some(plain) = ops.keys().find(|k| !k.starts_with('$')) {
        let op = ops.keys().find(|k| k.starts_with('$')).map_or("", |k| k);
        return Err(FilterError::new(format!(
            "the condition on key `{key}` mixes the operator `{op}` with the plain key `{plain}`: \
             to compare with an object, write {{\"$eq\": {{…}}}}"
        )));
    }
    for (op, operand) in ops {
        match op.as_str() {
            "$eq" => out.push(Cond::Eq(Cow::Owned(key.to_owned()), operand.clone())),
            "$contains" => {
                let values = match operand {
                    Value::Array(values) => values.clone(),
                    single => vec![single.clone()],
                };
                out.push(contains_cond(Cow::Owned(key.to_owned()), values)?);
            }
            _ => {
                return Err(FilterError::new(format!(
                    "unknown operator `{op}` on key `{key}`: use `$eq` or `$contains`"
                )));
            }
        }
    }
    Ok(())
}

/// Writes a normalized conjunction (see [`Layout`]).
fn conj_to_json(conds: &[Cond]) -> Value {
    let layout = Layout::of(conds);
    let mut obj = Map::new();
    let mut and = Vec::new();
    for (i, c) in conds.iter().enumerate() {
        if layout.in_and(conds, i) {
            let mut single = Map::new();
            write_cond(c, &mut single);
            and.push(Value::Object(single));
        } else {
            write_cond(c, &mut obj);
        }
    }
    if !and.is_empty() {
        obj.insert("$and".to_owned(), Value::Array(and));
    }
    Value::Object(obj)
}

/// Writes one condition into an object that has no other condition in the same slot.
fn write_cond(c: &Cond, obj: &mut Map<String, Value>) {
    match c {
        Cond::Eq(key, value) => {
            let written = if value.is_object() {
                op_object("$eq", value.clone())
            } else {
                value.clone()
            };
            obj.insert(key.as_ref().to_owned(), written);
        }
        Cond::Contains(key, values) => {
            let operand = match values.as_slice() {
                [single] if !single.is_array() => single.clone(),
                _ => Value::Array(values.clone()),
            };
            // The normal form puts an equality on the same key first.
            match obj.get_mut(key.as_ref()) {
                Some(Value::Object(ops)) => {
                    ops.insert("$contains".to_owned(), operand);
                }
                Some(shorthand) => {
                    let mut ops = Map::new();
                    ops.insert("$eq".to_owned(), shorthand.take());
                    ops.insert("$contains".to_owned(), operand);
                    *shorthand = Value::Object(ops);
                }
                None => {
                    obj.insert(key.as_ref().to_owned(), op_object("$contains", operand));
                }
            }
        }
        Cond::Or { branches, .. } => {
            let branches = branches.iter().map(|b| conj_to_json(b)).collect();
            obj.insert("$or".to_owned(), Value::Array(branches));
        }
    }
}

fn op_object(op: &str, operand: Value) -> Value {
    let mut ops = Map::new();
    ops.insert(op.to_owned(), operand);
    Value::Object(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("test metadata must be an object, got {other}"),
        }
    }

    fn parse(v: Value) -> Filter {
        Filter::from_json(&v).unwrap_or_else(|e| panic!("{v} should parse: {e}"))
    }

    fn parse_err(v: Value) -> FilterError {
        match Filter::from_json(&v) {
            Ok(f) => panic!("{v} should be rejected, got {f:?}"),
            Err(e) => e,
        }
    }

    fn assert_round_trip(f: &Filter) {
        let j = f.to_json();
        let back = Filter::from_json(&j).unwrap_or_else(|e| panic!("{j} should parse: {e}"));
        assert_eq!(&back, f, "JSON {j}");
        assert_eq!(back.to_json(), j);
    }

    #[test]
    fn eq_shorthand_and_operator_match_alike() {
        let short = parse(json!({"owner": "u1"}));
        let op = parse(json!({"owner": {"$eq": "u1"}}));
        assert_eq!(short, op);
        assert_eq!(short, Filter::eq("owner", "u1"));
        for f in [&short, &op] {
            assert!(f.matches(&meta(json!({"owner": "u1", "other": 2}))));
            assert!(!f.matches(&meta(json!({"owner": "u2"}))));
            assert!(!f.matches(&meta(json!({"owner": ["u1"]}))));
            assert!(!f.matches(&meta(json!({"Owner": "u1"}))));
            assert!(!f.matches(&Map::new()));
        }
    }

    #[test]
    fn eq_on_any_json_value() {
        let obj = parse(json!({"k": {"a": 1}}));
        assert_eq!(obj, Filter::eq("k", json!({"a": 1})));
        assert_eq!(obj, parse(json!({"k": {"$eq": {"a": 1}}})));
        assert!(obj.matches(&meta(json!({"k": {"a": 1}}))));
        assert!(!obj.matches(&meta(json!({"k": {"a": 1, "b": 2}}))));

        let empty_obj = parse(json!({"k": {}}));
        assert!(empty_obj.matches(&meta(json!({"k": {}}))));
        assert!(!empty_obj.matches(&meta(json!({"k": []}))));

        let null = parse(json!({"k": null}));
        assert!(null.matches(&meta(json!({"k": null}))));
        assert!(!null.matches(&Map::new()), "a missing key is not null");

        let arr = parse(json!({"k": [1, 2]}));
        assert!(arr.matches(&meta(json!({"k": [1, 2]}))));
        assert!(!arr.matches(&meta(json!({"k": [2, 1]}))));

        let num = parse(json!({"n": 3, "b": true}));
        assert!(num.matches(&meta(json!({"n": 3, "b": true}))));
        assert!(!num.matches(&meta(json!({"n": 3, "b": false}))));
        assert!(!num.matches(&meta(json!({"n": "3", "b": true}))));

        // An operator value that is itself an object with `$` keys is compared as a value.
        let odd = parse(json!({"k": {"$eq": {"$ne": 1}}}));
        assert!(odd.matches(&meta(json!({"k": {"$ne": 1}}))));
        assert_round_trip(&odd);
    }

    #[test]
    fn contains_scalar_list_non_list_and_missing() {
        let m = meta(json!({"tags": ["a", "b", 3, ["x"]], "name": "a", "obj": {"a": 1}}));
        assert!(parse(json!({"tags": {"$contains": "a"}})).matches(&m));
        assert!(parse(json!({"tags": {"$contains": 3}})).matches(&m));
        assert!(!parse(json!({"tags": {"$contains": "c"}})).matches(&m));
        assert!(parse(json!({"tags": {"$contains": ["a", "b"]}})).matches(&m));
        assert!(!parse(json!({"tags": {"$contains": ["a", "c"]}})).matches(&m));
        assert!(parse(json!({"tags": {"$contains": [["x"]]}})).matches(&m));
        assert!(!parse(json!({"tags": {"$contains": ["x"]}})).matches(&m));
        // Not an array: no match, even when a string "contains" the value.
        assert!(!parse(json!({"name": {"$contains": "a"}})).matches(&m));
        assert!(!parse(json!({"obj": {"$contains": "a"}})).matches(&m));
        assert!(!parse(json!({"missing": {"$contains": "a"}})).matches(&m));
        assert_eq!(
            parse(json!({"tags": {"$contains": "a"}})),
            Filter::contains("tags", "a")
        );
        assert_eq!(
            parse(json!({"tags": {"$contains": ["a", "b"]}})),
            Filter::contains("tags", json!(["a", "b"]))
        );
    }

    #[test]
    fn several_operators_on_one_key_are_anded() {
        let f = parse(json!({"tags": {"$eq": ["a", "b"], "$contains": "a"}}));
        assert!(f.matches(&meta(json!({"tags": ["a", "b"]}))));
        assert!(!f.matches(&meta(json!({"tags": ["a"]}))));
        let g = parse(json!({"tags": {"$eq": ["b"], "$contains": "a"}}));
        assert!(!g.matches(&meta(json!({"tags": ["b"]}))));
        assert_eq!(
            f,
            Filter::eq("tags", json!(["a", "b"])).and(Filter::contains("tags", "a"))
        );
        assert_round_trip(&f);
        assert_round_trip(&g);
        assert_eq!(
            Filter::eq("t", 1).and(Filter::contains("t", 1)).to_json(),
            json!({"t": {"$eq": 1, "$contains": 1}})
        );
    }

    #[test]
    fn top_level_keys_are_anded() {
        let f = parse(json!({"a": 1, "b": 2}));
        assert!(f.matches(&meta(json!({"a": 1, "b": 2, "c": 3}))));
        assert!(!f.matches(&meta(json!({"a": 1}))));
        assert!(!f.matches(&meta(json!({"a": 1, "b": 3}))));
    }

    #[test]
    fn or_and_with_extra_keys() {
        let f = parse(json!({
            "org": "acme",
            "$or": [{"owner": "u1"}, {"members": {"$contains": "u1"}}],
        }));
        assert!(f.matches(&meta(json!({"org": "acme", "owner": "u1"}))));
        assert!(f.matches(&meta(json!({"org": "acme", "members": ["u1"]}))));
        assert!(!f.matches(&meta(json!({"org": "other", "owner": "u1"}))));
        assert!(!f.matches(&meta(json!({"org": "acme", "owner": "u2"}))));

        let g = parse(json!({"org": "acme", "$and": [{"a": 1}, {"b": {"$contains": 2}}]}));
        assert!(g.matches(&meta(json!({"org": "acme", "a": 1, "b": [2]}))));
        assert!(!g.matches(&meta(json!({"org": "acme", "a": 1, "b": [3]}))));
        assert!(!g.matches(&meta(json!({"a": 1, "b": [2]}))));
        // `$and` is flattened into the conjunction.
        assert_eq!(
            g,
            parse(json!({"org": "acme", "a": 1, "b": {"$contains": 2}}))
        );

        let both = parse(json!({
            "$or": [{"a": 1}, {"b": 1}],
            "$and": [{"$or": [{"c": 1}, {"d": 1}]}, {"e": 1}],
        }));
        assert!(both.matches(&meta(json!({"a": 1, "d": 1, "e": 1}))));
        assert!(!both.matches(&meta(json!({"a": 1, "d": 1}))));
        assert!(!both.matches(&meta(json!({"a": 1, "e": 1}))));
        assert!(!both.matches(&meta(json!({"d": 1, "e": 1}))));
        assert_round_trip(&both);
    }

    #[test]
    fn nested_or_and() {
        let f = parse(json!({"$or": [
            {"$and": [{"a": 1}, {"$or": [{"b": 1}, {"c": 1}]}]},
            {"d": 1},
        ]}));
        assert!(f.matches(&meta(json!({"a": 1, "c": 1}))));
        assert!(f.matches(&meta(json!({"d": 1}))));
        assert!(!f.matches(&meta(json!({"a": 1}))));
        assert!(!f.matches(&meta(json!({"c": 1}))));
        assert_round_trip(&f);
    }

    #[test]
    fn empty_filter_matches_everything() {
        let f = parse(json!({}));
        assert!(f.is_empty());
        assert_eq!(f, Filter::all());
        assert!(f.matches(&Map::new()));
        assert!(f.matches(&meta(json!({"a": 1}))));
        assert!(!Filter::eq("a", 1).is_empty());
        // An `$or` with an always-true branch is always true.
        assert!(parse(json!({"$or": [{}, {"a": 1}]})).is_empty());
        assert!(parse(json!({"$and": [{}, {}]})).is_empty());
    }

    #[test]
    fn or_simplifications() {
        // Nested `$or` merges; duplicate branches and duplicate conditions go.
        let nested = parse(json!({"$or": [{"$or": [{"a": 1}, {"b": 1}]}, {"c": 1}]}));
        assert_eq!(
            nested,
            parse(json!({"$or": [{"a": 1}, {"b": 1}, {"c": 1}]}))
        );
        assert_eq!(
            parse(json!({"$or": [{"a": 1}, {"a": 1}]})),
            Filter::eq("a", 1)
        );
        assert_eq!(Filter::or([Filter::eq("a", 1)]), Filter::eq("a", 1));
        assert_eq!(
            Filter::eq("a", 1).and(Filter::eq("a", 1)),
            Filter::eq("a", 1)
        );
        assert_eq!(
            Filter::or([Filter::eq("a", 1), Filter::eq("b", 1)]),
            Filter::or([Filter::or([Filter::eq("a", 1)]), Filter::eq("b", 1)])
        );
    }

    #[test]
    fn and_of_ors() {
        let ab = Filter::or([Filter::eq("a", 1), Filter::eq("b", 1)]);
        let cd = Filter::or([Filter::eq("c", 1), Filter::contains("d", 1)]);
        let f = ab.clone().and(cd.clone());
        assert!(f.matches(&meta(json!({"a": 1, "d": [1]}))));
        assert!(f.matches(&meta(json!({"b": 1, "c": 1}))));
        assert!(!f.matches(&meta(json!({"a": 1, "b": 1}))));
        assert!(!f.matches(&meta(json!({"c": 1, "d": [1]}))));
        assert_eq!(
            f.to_json(),
            json!({"$and": [
                {"$or": [{"a": 1}, {"b": 1}]},
                {"$or": [{"c": 1}, {"d": {"$contains": 1}}]},
            ]})
        );
        assert_round_trip(&f);
        // Order of construction does not matter.
        assert_eq!(f, cd.clone().and(ab.clone()));
        assert_eq!(ab, Filter::or([Filter::eq("b", 1), Filter::eq("a", 1)]));
        assert_eq!(
            Filter::eq("a", 2).and(Filter::eq("a", 1)),
            Filter::eq("a", 1).and(Filter::eq("a", 2))
        );

        let g = f.clone().and(Filter::eq("x", 1));
        assert_eq!(
            g.to_json(),
            json!({
                "$or": [{"a": 1}, {"b": 1}],
                "$and": [{"x": 1}, {"$or": [{"c": 1}, {"d": {"$contains": 1}}]}],
            })
        );
        assert_round_trip(&g);
        assert!(g.matches(&meta(json!({"a": 1, "c": 1, "x": 1}))));
        assert!(!g.matches(&meta(json!({"a": 1, "c": 1}))));

        let h = g.and(Filter::or([Filter::eq("e", 1), Filter::eq("f", 1)]));
        assert_round_trip(&h);
        assert!(h.matches(&meta(json!({"a": 1, "c": 1, "x": 1, "f": 1}))));
        assert!(!h.matches(&meta(json!({"a": 1, "c": 1, "x": 1}))));
    }

    #[test]
    fn same_key_twice_uses_and() {
        let f = Filter::eq("a", 1).and(Filter::eq("a", 2));
        assert!(!f.matches(&meta(json!({"a": 1}))));
        assert_eq!(f.to_json(), json!({"$and": [{"a": 1}, {"a": 2}]}));
        assert_round_trip(&f);
        let g = f.and(Filter::eq("a", 3)).and(Filter::eq("b", 1));
        assert_eq!(
            g.to_json(),
            json!({"a": 1, "b": 1, "$and": [{"a": 2}, {"a": 3}]})
        );
        assert_round_trip(&g);
        let c = Filter::contains("t", "x").and(Filter::contains("t", "y"));
        assert!(c.matches(&meta(json!({"t": ["x", "y"]}))));
        assert!(!c.matches(&meta(json!({"t": ["x"]}))));
        assert_round_trip(&c);
    }

    #[test]
    fn to_json_forms() {
        assert_eq!(Filter::eq("k", "v").to_json(), json!({"k": "v"}));
        assert_eq!(
            Filter::eq("k", json!({"a": 1})).to_json(),
            json!({"k": {"$eq": {"a": 1}}})
        );
        assert_eq!(
            Filter::eq("k", json!({})).to_json(),
            json!({"k": {"$eq": {}}})
        );
        assert_eq!(
            Filter::contains("k", "v").to_json(),
            json!({"k": {"$contains": "v"}})
        );
        assert_eq!(
            Filter::contains("k", json!(["v", "w"])).to_json(),
            json!({"k": {"$contains": ["v", "w"]}})
        );
        assert_eq!(
            Filter::contains("k", json!([["v"]])).to_json(),
            json!({"k": {"$contains": [["v"]]}})
        );
        assert_eq!(
            Filter::eq("k", json!({"a": 1}))
                .and(Filter::contains("k", 1))
                .to_json(),
            json!({"k": {"$eq": {"a": 1}, "$contains": 1}})
        );
    }

    #[test]
    fn json_round_trip_of_parsed_filters() {
        let samples = [
            json!({}),
            json!({"owner": "u1"}),
            json!({"owner": {"$eq": {"nested": [1, {"x": null}]}}}),
            json!({"tags": {"$contains": ["a", "b"]}, "n": 1.5}),
            json!({"$or": [{"a": 1}, {"b": {"$contains": "x"}}], "c": false}),
            json!({"$and": [{"a": 1}, {"a": 2}], "$or": [{"b": 1}, {"$and": [{"c": 1}, {"c": 2}]}]}),
            json!({"$and": [{"$or": [{"a": 1}, {"b": 1}]}, {"$or": [{"c": 1}, {"d": 1}]}]}),
            json!({"$or": [{"$or": [{"a": 1}, {"$and": [{"b": 1}, {"$or": [{"c": 1}, {"d": 1}]}]}]}, {"e": 1}]}),
        ];
        for s in samples {
            let f = parse(s);
            assert_round_trip(&f);
        }
    }

    /// A small deterministic generator (no extra dependency) for property checks.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    fn random_filter(rng: &mut Lcg, depth: u32) -> Filter {
        let keys = ["a", "b", "c"];
        let key = keys[rng.next(3) as usize];
        match rng.next(if depth == 0 { 3 } else { 6 }) {
            0 => Filter::eq(key, rng.next(2)),
            1 => Filter::contains(key, rng.next(2)),
            2 => Filter::eq(key, json!({"o": rng.next(2)})),
            3 => {
                let n = 1 + rng.next(3);
                Filter::or((0..n).map(|_| random_filter(rng, depth - 1)))
            }
            _ => random_filter(rng, depth - 1).and(random_filter(rng, depth - 1)),
        }
    }

    fn random_meta(rng: &mut Lcg) -> Map<String, Value> {
        let mut m = Map::new();
        for key in ["a", "b", "c"] {
            let v = match rng.next(5) {
                0 => continue,
                1 => json!(rng.next(2)),
                2 => json!({"o": rng.next(2)}),
                3 => json!([rng.next(2)]),
                _ => json!([0, 1]),
            };
            m.insert(key.to_owned(), v);
        }
        m
    }

    #[test]
    fn random_filters_round_trip_and_keep_their_meaning() {
        let mut rng = Lcg(7);
        let mut checked = 0;
        for _ in 0..2000 {
            let f = random_filter(&mut rng, 4);
            if f.error().is_some() {
                continue;
            }
            checked += 1;
            assert_round_trip(&f);
            let back = Filter::from_json(&f.to_json()).unwrap();
            let serde_back: Filter =
                serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
            assert_eq!(serde_back, f);
            for _ in 0..10 {
                let m = random_meta(&mut rng);
                assert_eq!(back.matches(&m), f.matches(&m), "{} on {m:?}", f.to_json());
            }
        }
        assert!(checked > 1500, "only {checked} well-formed samples");
    }

    #[test]
    fn and_matches_like_both() {
        let mut rng = Lcg(11);
        for _ in 0..500 {
            let f = random_filter(&mut rng, 3);
            let g = random_filter(&mut rng, 3);
            let fg = f.clone().and(g.clone());
            let f_or_g = Filter::or([f.clone(), g.clone()]);
            for _ in 0..10 {
                let m = random_meta(&mut rng);
                assert_eq!(fg.matches(&m), f.matches(&m) && g.matches(&m));
                assert_eq!(f_or_g.matches(&m), f.matches(&m) || g.matches(&m));
            }
        }
    }

    #[test]
    fn serde_round_trip() {
        let f = parse(json!({"owner": "u1", "$or": [{"a": [1]}, {"t": {"$contains": [1, 2]}}]}));
        let s = serde_json::to_string(&f).unwrap();
        let back: Filter = serde_json::from_str(&s).unwrap();
        assert_eq!(back, f);
        // Inside another structure, too.
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Req {
            filter: Filter,
        }
        let req: Req = serde_json::from_value(json!({"filter": {"a": 1}})).unwrap();
        assert_eq!(req.filter, Filter::eq("a", 1));
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"filter": {"a": 1}})
        );
        let err = serde_json::from_value::<Req>(json!({"filter": {"a": {"$gt": 1}}})).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown operator `$gt` on key `a`"),
            "{err}"
        );
        assert!(serde_json::from_str::<Filter>("[1]").is_err());
    }

    #[test]
    fn try_from_value() {
        assert_eq!(
            Filter::try_from(json!({"a": 1})).unwrap(),
            Filter::eq("a", 1)
        );
        assert!(Filter::try_from(json!({"a": {"$in": [1]}})).is_err());
        assert_eq!(Filter::try_from(&json!({})).unwrap(), Filter::all());
    }

    #[test]
    fn malformed_filters_are_errors() {
        let cases = [
            (json!(null), "a filter must be a JSON object, not null"),
            (
                json!("owner"),
                "a filter must be a JSON object, not a string",
            ),
            (
                json!([{"a": 1}]),
                "a filter must be a JSON object, not an array",
            ),
            (json!(1), "a filter must be a JSON object, not a number"),
            (
                json!({"owner": {"$ne": "u1"}}),
                "unknown operator `$ne` on key `owner`: use `$eq` or `$contains`",
            ),
            (
                json!({"n": {"$in": [1]}}),
                "unknown operator `$in` on key `n`: use `$eq` or `$contains`",
            ),
            (
                json!({"n": {"$gt": 1}}),
                "unknown operator `$gt` on key `n`: use `$eq` or `$contains`",
            ),
            (
                json!({"n": {"$eq": 1, "$lt": 1}}),
                "unknown operator `$lt` on key `n`: use `$eq` or `$contains`",
            ),
            (
                json!({"k": {"$eq": 1, "a": 2}}),
                "the condition on key `k` mixes the operator `$eq` with the plain key `a`: \
                 to compare with an object, write {\"$eq\": {…}}",
            ),
            (
                json!({"$not": {"a": 1}}),
                "unknown operator `$not` at the top of a filter: use `$or` or `$and` \
                 (metadata keys cannot start with `$`)",
            ),
            (
                json!({"$contains": "a"}),
                "unknown operator `$contains` at the top of a filter: use `$or` or `$and` \
                 (metadata keys cannot start with `$`)",
            ),
            (
                json!({"$or": {"a": 1}}),
                "`$or` needs an array of at least two filters, not an object",
            ),
            (
                json!({"$or": [{"a": 1}]}),
                "`$or` needs an array of at least two filters, got 1",
            ),
            (
                json!({"$or": []}),
                "`$or` needs an array of at least two filters, got 0",
            ),
            (
                json!({"$and": [{"a": 1}]}),
                "`$and` needs an array of at least two filters, got 1",
            ),
            (
                json!({"$and": "x"}),
                "`$and` needs an array of at least two filters, not a string",
            ),
            (
                json!({"$or": [{"a": 1}, "b"]}),
                "at `$or[1]`: a filter must be a JSON object, not a string",
            ),
            (
                json!({"$and": [null, {"a": 1}]}),
                "at `$and[0]`: a filter must be a JSON object, not null",
            ),
            (
                json!({"$or": [{"a": 1}, {"$and": [{"b": 1}, {"c": {"$ne": 1}}]}]}),
                "at `$or[1].$and[1]`: unknown operator `$ne` on key `c`: use `$eq` or `$contains`",
            ),
            (
                json!({"tags": {"$contains": []}}),
                "`$contains` on key `tags` needs at least one value, got an empty array",
            ),
        ];
        for (input, message) in cases {
            let err = parse_err(input.clone());
            assert_eq!(err.to_string(), message, "for {input}");
            // The lossy form is poisoned with the same error, never "allow".
            let lossy = Filter::from_json_lossy(input);
            assert_eq!(lossy.error(), Some(&err));
            assert!(!lossy.matches(&Map::new()));
            assert!(!lossy.is_empty());
        }
    }

    /// `{"$or": [{"$or": [... {"x": 0} ..., {"y": i}]}, {"z": i}]}` nested `levels` deep. Each
    /// inner `$or` is a branch beside another condition, so nothing flattens.
    fn nested_json(levels: usize) -> Value {
        let mut v = json!({"x": 0});
        for i in 0..levels {
            v = json!({"$or": [{"y": i, "$or": v["$or"].clone()}, {"z": i}]});
            if i == 0 {
                v = json!({"$or": [{"y": 0, "x": 0}, {"z": 0}]});
            }
        }
        v
    }

    #[test]
    fn nesting_limit() {
        let ok = nested_json(Filter::MAX_DEPTH);
        let f = parse(ok.clone());
        assert_round_trip(&f);
        assert!(f.matches(&meta(json!({"z": Filter::MAX_DEPTH - 1}))));

        let too_deep = nested_json(Filter::MAX_DEPTH + 1);
        let err = parse_err(too_deep.clone());
        assert!(err.message().contains("more than 8 levels deep"), "{err}");
        assert!(Filter::from_json_lossy(too_deep).error().is_some());

        // `$and` counts too.
        let mut and = json!({"a": 1});
        for i in 0..=Filter::MAX_DEPTH {
            and = json!({"$and": [and, {"b": i}]});
        }
        assert!(parse_err(and).message().contains("levels deep"));

        // Hostile nesting stops early instead of exhausting the stack.
        let mut hostile = json!({});
        for _ in 0..100 {
            hostile = json!({"$or": [hostile, {}]});
        }
        assert!(parse_err(hostile).message().contains("levels deep"));

        // The same limit holds for filters built in code.
        let mut built = Filter::eq("x", 0);
        for i in 0..Filter::MAX_DEPTH {
            built = Filter::or([built.and(Filter::eq("y", i)), Filter::eq("z", i)]);
        }
        assert_eq!(built, f);
        let deeper = Filter::or([built.and(Filter::eq("y", 99)), Filter::eq("z", 99)]);
        assert!(deeper.error().unwrap().message().contains("levels deep"));
    }

    #[test]
    fn depth_counts_and_wrappers_from_to_json() {
        let mut deep = Filter::eq("x", 0);
        for i in 0..Filter::MAX_DEPTH {
            deep = Filter::or([deep.and(Filter::eq("y", i)), Filter::eq("z", i)]);
        }
        assert!(deep.error().is_none());
        let other = Filter::or([Filter::eq("p", 1), Filter::eq("q", 1)]);
        // The deepest `$or` stays out of `$and`; "w" pairs with the other one inside it.
        let with_key = deep.clone().and(other.clone().and(Filter::eq("w", 1)));
        assert!(with_key.error().is_none());
        assert_round_trip(&with_key);
        assert_eq!(with_key.to_json()["$and"][0], json!({"w": 1}));
        // Without a key to pair with, both `$or`s go into `$and`: one level too many.
        let both = deep.and(other);
        assert!(both.error().is_some());
    }

    #[test]
    fn poisoned_filters() {
        let p = Filter::from_json_lossy(json!({"owner": {"$ne": "u1"}}));
        assert!(!p.matches(&meta(json!({"owner": "u2"}))));
        assert!(!p.matches(&Map::new()));
        assert!(!p.is_empty());
        assert_eq!(p.eq_conditions().count(), 0);
        let err = serde_json::to_string(&p).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot serialize a malformed filter: unknown operator `$ne`"),
            "{err}"
        );
        assert!(Filter::from_json(&p.to_json()).is_err());

        // Poison spreads through `and` and `or`.
        let ok = Filter::eq("a", 1);
        assert_eq!(ok.clone().and(p.clone()).error(), p.error());
        assert_eq!(p.clone().and(ok.clone()).error(), p.error());
        assert_eq!(Filter::all().and(p.clone()).error(), p.error());
        assert_eq!(Filter::or([ok.clone(), p.clone()]).error(), p.error());
        assert!(!Filter::or([Filter::all(), p.clone()]).matches(&Map::new()));

        // Constructors given bad input poison.
        for bad in [
            Filter::eq("$or", 1),
            Filter::contains("$x", 1),
            Filter::contains("t", json!([])),
            Filter::or(Vec::new()),
        ] {
            assert!(bad.error().is_some(), "{bad:?}");
            assert!(!bad.matches(&meta(json!({"$or": 1, "$x": [1], "t": [1]}))));
        }
    }

    #[test]
    fn eq_conditions_lists_top_level_equalities() {
        let f = parse(json!({
            "owner": "u1",
            "tags": {"$contains": "x"},
            "org": {"$eq": {"id": 1}},
            "$or": [{"a": 1}, {"b": 1}],
            "$and": [{"owner": "u1"}, {"team": 7}],
        }));
        let eqs: Vec<(&str, &Value)> = f.eq_conditions().collect();
        assert_eq!(
            eqs,
            [
                ("org", &json!({"id": 1})),
                ("owner", &json!("u1")),
                ("team", &json!(7)),
            ]
        );
        assert_eq!(Filter::all().eq_conditions().count(), 0);
    }

    #[test]
    fn filter_macro() {
        let identity = String::from("u1");
        let f = crate::filter!({"owner": identity});
        assert_eq!(f, Filter::eq("owner", "u1"));
        let tags = vec!["a", "b"];
        let g = crate::filter!({"$or": [{"owner": "u1"}, {"tags": {"$contains": tags}}]});
        assert!(g.matches(&meta(json!({"tags": ["b", "a"]}))));
        assert!(crate::filter!({}).is_empty());
        let several = crate::filter!({
            "owner": {"$eq": "u1"},
            "$and": [{"a": 1}, {"b": null}],
            "tags": ["x"],
        });
        assert_eq!(
            several,
            Filter::from_json(&json!({"owner": "u1", "a": 1, "b": null, "tags": {"$eq": ["x"]}}))
                .unwrap()
        );
        let bad = Filter::from_json_lossy(json!({"owner": {"$ne": "u1"}}));
        assert!(bad.error().is_some());
        assert!(!bad.matches(&meta(json!({"owner": "u2"}))));
        let not_object = Filter::from_json_lossy(json!("owner"));
        assert_eq!(
            not_object.error().unwrap().message(),
            "a filter must be a JSON object, not a string"
        );
    }

    #[test]
    fn error_type_traits() {
        let e = parse_err(json!({"a": {"$ne": 1}}));
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e.clone());
        assert_eq!(boxed.to_string(), e.to_string());
        assert_eq!(e.path(), "");
        assert_eq!(e, e.clone());
    }
}
