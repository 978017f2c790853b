//! The database backends: [`sqlite`] (one file, WAL mode) and [`postgres`] (one database shared
//! by any number of replicas), with one table per kind of resource.
//!
//! Both run the same queries, written once: `imp.rs` (the collections and the store) and
//! `queue_imp.rs` (the run queue) are generic over a `Dialect` (`dialect.rs`), the few spellings
//! that differ, which [`sqlite`] and [`postgres`] implement: the migrations and their lock, how
//! a JSON value is bound and read back, the row locks, how a transaction that will write or
//! only read begins, substring and suffix tests, a store item's view, whether writes have a
//! pool of their own and whether inserts are committed in groups. What the queries need of
//! sqlx (running a statement on a pool or a connection, binding, rendering a filter, reading a
//! row) is one trait, `SqlDb`, implemented for both databases by one macro, so that the generic
//! code states no sqlx bound. Each table's columns are declared once (`columns.rs`), and every
//! statement's column lists, bound values and rows read back derive from that declaration.
//!
//! A guarded read (a caller's search, a store search, a history page) runs on a connection armed
//! by `guarded.rs`: its statements stop at the read's deadline, and when the read is abandoned
//! (its client gone) its statement is cancelled (PostgreSQL) or interrupted (SQLite). sqlx's own
//! statement logs are off (they hold the statement's text); a slow statement is one line with
//! the route and the duration (`dialect.rs`, `timed`).
//!
//! SQLite keeps its own optimisations behind the same code: single-row inserts committed in
//! groups (`GroupCommit`), reads by id on the request's thread (`inline.rs`), one writer
//! connection beside the readers.
//!
//! # Schema
//!
//! - `threads`: one row per thread (its state values as JSON, never its history);
//! - `checkpoints`: `(thread_id, seq)`, `seq` counting from 0 in the order they were appended;
//!   history is read a page at a time, newest first;
//! - `runs`: the model's fields plus the queue's columns: `seq` (insertion order, monotonic),
//!   `run_after` (when it may start; `NULL`: at once), `lease_owner` and `lease_until` (`NULL`
//!   when no replica holds it);
//! - `assistants` (the current version's fields) and `assistant_versions`;
//! - `crons`: every field of a cron, `next_run_date` a sortable text column (`NULL`: none);
//! - `store_items`: `(ns, key)`, where `ns` encodes the namespace for prefix searches (below),
//!   with the namespace also kept as a JSON array for filters.
//!
//! Metadata, values and other objects are JSON (`jsonb` on PostgreSQL, with a GIN index on each
//! metadata column; text on SQLite); the sort keys are indexed.
//!
//! # Time
//!
//! Every time (`created_at`, `updated_at`, `run_after`, `lease_until`, `next_run_date`) is kept
//! as the text the server writes: RFC 3339 in UTC with microseconds and a fixed width
//! (`2025-01-31T12:00:00.000123+00:00`, see [`crate::util::now`]), so that text order is time
//! order in both databases and in memory.
//!
//! # Text order
//!
//! Text sorts by code point everywhere (SQLite's `BINARY`, PostgreSQL's `COLLATE "C"`), as Rust
//! compares strings, so that every backend returns the same pages.
//!
//! # Migrations
//!
//! The schema is versioned in the table `pc_schema`; the migrations are embedded in the binary
//! (`migrations/sqlite`, `migrations/postgres`) and applied at connect, in one transaction (on
//! PostgreSQL under an advisory lock, so that replicas starting together apply them once). A
//! database whose version is newer than the binary's is refused with a [`StorageError`].
//!
//! # Store namespaces
//!
//! A namespace is encoded as text whose order is the order of label lists and where a prefix of
//! labels is a prefix of the text: `\u{1}` before and after each label, and within a label
//! `\u{0}`, `\u{1}`, `\u{2}` as `\u{2}\u{2}`, `\u{2}\u{3}`, `\u{2}\u{4}`. So "starts with these
//! labels" is a range of `ns` (an index scan), "ends with" a text suffix, and `cuts` (the length
//! in characters of the encoding of the first 1, 2… labels) truncates to a depth.

//!
//! # Known differences from memory
//!
//! - PostgreSQL cannot store the character U+0000 (in JSON or text): a write holding it is
//!   [`super::StoreError::Unstorable`].
//! - A store search's words are matched against the value's JSON text as the database prints
//!   and lower-cases it (PostgreSQL prints `jsonb` with spaces, SQLite lower-cases ASCII only):
//!   ASCII words inside string values match alike everywhere.
//! - `next_run_date` of a cron is kept when it is a string (a time), else read back as `null`.
//! - Assistants in search results carry no `versions` (not part of their JSON); `get`, `modify`
//!   and `remove` read them.

use super::StorageError;
use super::StoreError;

#[cfg(test)]
mod backends;
mod columns;
mod dialect;
mod guarded;
mod imp;
mod inline;
pub mod postgres;
mod queue_imp;
pub mod sqlite;

/// The database behind a [`Storage`](super::Storage), for what works on its tables directly
/// (such as a run queue): a pool of connections to it.
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite file.
    Sqlite(sqlx::SqlitePool),
    /// A PostgreSQL database.
    Postgres(sqlx::PgPool),
}

impl Database {
    /// Closes every connection (waiting for those in use to come back); later operations fail
    /// with [`super::StoreError::Unavailable`].
    pub async fn close(&self) {
        match self {
            Database::Sqlite(p) => p.close().await,
            Database::Postgres(p) => p.close().await,
        }
    }
}

/// `url` with its password (if any) replaced by `***`: `postgres://user:***@host/db`. A
/// `password=` query parameter is masked too.
///
/// (`postgres://u@h/db?password=x&a=b` becomes `postgres://u@h/db?password=***&a=b`; a URL
/// without a password is kept as it is.)
pub fn mask_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", masked.join("&"));
    }
    out
}

/// The password in `url`, if any, to scrub from a driver's messages.
fn password_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let (_, pw) = userinfo.split_once(':')?;
    let from_query = url.split_once('?').and_then(|(_, q)| {
        q.split('&').find_map(|p| {
            p.split_once('=')
                .filter(|(k, _)| k.eq_ignore_ascii_case("password"))
                .map(|(_, v)| v.to_owned())
        })
    });
    (!pw.is_empty()).then(|| pw.to_owned()).or(from_query)
}

/// A [`StorageError`] about the database `url`: the message names it with its password masked,
/// and the driver's `cause` is scrubbed of the password too.
fn storage_error(url: &str, what: &str, cause: Option<&dyn std::fmt::Display>) -> StorageError {
    let mut message = format!("{}: {what}", mask_url(url));
    if let Some(cause) = cause {
        message.push_str(": ");
        message.push_str(&cause.to_string());
    }
    if let Some(pw) = password_of(url).filter(|p| p.len() > 2) {
        message = message.replace(&pw, "***");
    }
    StorageError { message }
}

/// The error of a database that fails: [`StoreError::Unavailable`] (the cause is logged at error
/// level, without values: drivers' messages carry none, as every value is bound), except what
/// is the caller's:
/// - PostgreSQL's refusal of the character U+0000: [`StoreError::Unstorable`];
/// - a statement stopped at its deadline or cancelled (PostgreSQL `57014`, SQLite
///   `SQLITE_INTERRUPT`): [`StoreError::Deadline`] (its milliseconds are filled in by the guard
///   that set the deadline);
/// - a statement beyond the driver's or the database's limits (too many bound values, an
///   expression too deep or too large): [`StoreError::SearchTooComplex`].
fn db_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if let Some(lite) = d.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
            use sqlx::error::DatabaseError as _;
            let primary = lite
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .map(|c| c & 0xff);
            let message = lite.message();
            match primary {
                // SQLITE_INTERRUPT: the progress handler stopped it.
                Some(9) => return StoreError::Deadline(0),
                // SQLITE_TOOBIG, and the limits SQLite reports as SQLITE_ERROR.
                Some(18) => return too_complex(message),
                Some(1)
                    if [
                        "too many SQL variables",
                        "Expression tree is too large",
                        "too many terms",
                        "parser stack overflow",
                        "at most 64 tables in a join",
                        "too many FROM clause terms",
                    ]
                    .iter()
                    .any(|m| message.contains(m)) =>
                {
                    return too_complex(message);
                }
                _ => {}
            }
        } else {
            match d.code().as_deref() {
                Some("22P05" | "22021") => return StoreError::Unstorable,
                // query_canceled: statement_timeout, or cancelled once its client was gone.
                Some("57014") => return StoreError::Deadline(0),
                // statement_too_complex (stack depth), program_limit_exceeded,
                // too_many_columns, too_many_arguments.
                Some("54001" | "54000" | "54011" | "54023") => return too_complex(d.message()),
                _ => {}
            }
        }
    }
    if let sqlx::Error::Protocol(message) = &e
        && message.contains("too many arguments")
    {
        return too_complex(message);
    }
    tracing::error!(error = %e, "database error");
    StoreError::Unavailable(std::sync::Arc::new(e))
}

/// A statement the database or its driver cannot take: `message` is the driver's (it names a
/// limit, never a value).
fn too_complex(message: &str) -> StoreError {
    tracing::info!(error = message, "a search beyond the database's limits");
    StoreError::SearchTooComplex(format!("the database cannot run it: {message}"))
}

/// A filter the handler returned that cannot be rendered (poisoned, or nested too deep): the
/// handler's mistake.
fn filter_error(e: auth::sql::SqlError) -> StoreError {
    tracing::error!(error = %e, "authorization filter not rendered as SQL");
    StoreError::Filter(e)
}

/// A caller's search that cannot be rendered (too deep).
fn search_error(e: auth::sql::SqlError) -> StoreError {
    StoreError::InvalidSearch(e)
}

/// A stored value that does not read back (the database holds what no server wrote).
fn corrupt(what: &str) -> StoreError {
    tracing::error!(column = what, "stored value does not read back");
    StoreError::Corrupt(what.to_owned())
}

/// The encoding of a namespace (see the module's docs) and its cuts.
fn encode_namespace(namespace: &[String]) -> (String, Vec<usize>) {
    let mut ns = String::from('\u{1}');
    let mut cuts = Vec::with_capacity(namespace.len());
    for label in namespace {
        for c in label.chars() {
            match c {
                '\u{0}' => ns.push_str("\u{2}\u{2}"),
                '\u{1}' => ns.push_str("\u{2}\u{3}"),
                '\u{2}' => ns.push_str("\u{2}\u{4}"),
                c => ns.push(c),
            }
        }
        ns.push('\u{1}');
        cuts.push(ns.chars().count());
    }
    (ns, cuts)
}

/// The labels of an encoded namespace; `None` if it is not one.
fn decode_namespace(ns: &str) -> Option<Vec<String>> {
    let body = ns.strip_prefix('\u{1}')?;
    if body.is_empty() {
        return Some(Vec::new());
    }
    let body = body.strip_suffix('\u{1}')?;
    body.split('\u{1}')
        .map(|label| {
            let mut out = String::with_capacity(label.len());
            let mut chars = label.chars();
            while let Some(c) = chars.next() {
                if c == '\u{2}' {
                    out.push(match chars.next()? {
                        '\u{2}' => '\u{0}',
                        '\u{3}' => '\u{1}',
                        '\u{4}' => '\u{2}',
                        _ => return None,
                    });
                } else {
                    out.push(c);
                }
            }
            Some(out)
        })
        .collect()
}

/// The half-open range `[low, high)` of encoded namespaces that start with `prefix` (non-empty).
fn prefix_range(prefix: &[String]) -> (String, String) {
    let (low, _) = encode_namespace(prefix);
    let mut high = low.clone();
    high.pop();
    high.push('\u{2}');
    (low, high)
}

/// The text that an encoded namespace ending with `suffix` (non-empty) ends with.
fn suffix_text(suffix: &[String]) -> String {
    encode_namespace(suffix).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(labels: &[&str]) -> Vec<String> {
        labels.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn namespaces_encode_in_order_and_back() {
        let all = [
            ns(&[]),
            ns(&["a"]),
            ns(&["a", "b"]),
            ns(&["a", "\u{0}"]),
            ns(&["a\u{0}"]),
            ns(&["a\u{1}", "x"]),
            ns(&["a\u{2}"]),
            ns(&["a%"]),
            ns(&["a "]),
            ns(&["ab"]),
            ns(&["b"]),
        ];
        for a in &all {
            let (enc, cuts) = encode_namespace(a);
            assert_eq!(decode_namespace(&enc).as_ref(), Some(a));
            assert_eq!(cuts.len(), a.len());
            for (i, cut) in cuts.iter().enumerate() {
                let head: String = enc.chars().take(*cut).collect();
                assert_eq!(decode_namespace(&head), Some(a[..=i].to_vec()));
            }
            for b in &all {
                let (eb, _) = encode_namespace(b);
                assert_eq!(a.cmp(b), enc.cmp(&eb), "{a:?} {b:?}");
                if !a.is_empty() {
                    let (low, high) = prefix_range(a);
                    assert_eq!(b.starts_with(a), low <= eb && eb < high, "{a:?} {b:?}");
                    assert_eq!(b.ends_with(a), eb.ends_with(&suffix_text(a)), "{a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn passwords_never_show() {
        let url = "postgres://user:s3cret@localhost:1/db";
        let e = storage_error(url, "cannot connect", Some(&"auth failed for s3cret"));
        assert!(!e.message.contains("s3cret"), "{}", e.message);
        assert!(e.message.contains("postgres://user:***@localhost:1/db"));
        assert_eq!(mask_url("postgres://u:p@w@h/db"), "postgres://u:***@h/db");
    }
}

#[cfg(test)]
mod mask_tests {
    use super::mask_url;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            mask_url("postgres://u@h/db?password=x&a=b"),
            "postgres://u@h/db?password=***&a=b"
        );
        assert_eq!(mask_url("sqlite:data.db"), "sqlite:data.db");
    }
}
