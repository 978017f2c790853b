//! What a search may cost, on every backend alike: a caller's containment values over the
//! complexity budget are refused before any backend work; a search past its deadline is stopped
//! by the backend itself (not merely no longer waited for); a search whose caller is gone stops.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{meta, on_every_backend, system, thread};
use crate::authz::Scope;
use crate::model::Object;
use crate::storage::sql::Database;
use crate::storage::{
    Condition, Deadline, HistoryPage, IfExists, ItemSearch, Query, Search, Storage, StoreError,
};

/// Whether `e` is a refusal over the budget naming `bound`.
fn over(e: &StoreError, bound: &str) -> bool {
    matches!(e, StoreError::SearchTooComplex(m) if m.contains(bound))
}

/// Every caller's containment value (a search's `metadata` and `values`, a history's
/// `metadata`, a store search's `filter` and words) is held to the budget through the facade,
/// whatever the backend: a search of 20,000 keys is refused naming the bound, as are an array
/// too long, a value too large and too many words; a search within the budget is answered.
#[tokio::test]
async fn searches_over_the_budget_are_refused_alike() {
    on_every_backend(|name, s| async move {
        let scope = Scope::system("test: searches over the budget");
        s.threads()
            .insert(thread("t", json!({"a": 1})), IfExists::Raise, &scope)
            .await
            .unwrap();
        let wide: Object = (0..20_000).map(|i| (format!("k{i}"), json!(i))).collect();
        let long = meta(json!({"a": (0..65).collect::<Vec<i32>>()}));
        let large = meta(json!({"a": (0..30).map(|i| json!([i, i, i, i, i, i, i, i, i])).collect::<Vec<Value>>()}));
        for (value, bound) in [
            (&wide, "--search-max-keys"),
            (&long, "--search-max-elements"),
            (&large, "--search-max-nodes"),
        ] {
            let threads = s.threads();
            let e = threads
                .search(Search {
                    metadata: Some(value),
                    ..Search::new(&scope)
                })
                .await
                .unwrap_err();
            assert!(over(&e, bound), "{name}: metadata: {e}");
            let e = threads
                .search(Search {
                    conditions: vec![Condition::ValuesContain(value.clone())],
                    ..Search::new(&scope)
                })
                .await
                .unwrap_err();
            assert!(over(&e, bound), "{name}: values: {e}");
            let page = HistoryPage {
                limit: 10,
                before: None,
                metadata: Some(value),
            };
            let e = threads.history("t", &scope, page).await.unwrap_err();
            assert!(over(&e, bound), "{name}: history: {e}");
            let e = s
                .assistants()
                .search(Search {
                    metadata: Some(value),
                    ..Search::new(&scope)
                })
                .await
                .unwrap_err();
            assert!(over(&e, bound), "{name}: assistants: {e}");
            let e = s
                .crons()
                .search(Search {
                    metadata: Some(value),
                    ..Search::new(&scope)
                })
                .await
                .unwrap_err();
            assert!(over(&e, bound), "{name}: crons: {e}");
            let search = ItemSearch {
                filter: Some(value.clone()),
                words: Vec::new(),
            };
            let e = s
                .items()
                .search(&scope, &[], &search, 10, 0)
                .await
                .unwrap_err();
            assert!(over(&e, bound), "{name}: store filter: {e}");
        }
        let words = ItemSearch {
            filter: None,
            words: (0..257).map(|i| format!("w{i}")).collect(),
        };
        let e = s
            .items()
            .search(&scope, &[], &words, 10, 0)
            .await
            .unwrap_err();
        assert!(over(&e, "257 words"), "{name}: words: {e}");
        // At the bounds: answered.
        let at = meta(json!({"a": (0..64).collect::<Vec<i32>>()}));
        let found = s
            .threads()
            .search(Search {
                metadata: Some(&at),
                ..Search::new(&scope)
            })
            .await
            .unwrap();
        assert_eq!(found.total, 0, "{name}");
        let one = meta(json!({"a": 1}));
        let found = s
            .threads()
            .search(Search {
                metadata: Some(&one),
                ..Search::new(&scope)
            })
            .await
            .unwrap();
        assert_eq!(found.total, 1, "{name}");
    })
    .await;
}

/// How many threads the expensive searches below look at, and how many strings each holds.
const ROWS: usize = 200;
const TAGS: usize = 10_000;

/// `ROWS` threads whose metadata and values hold `TAGS` strings each, and store items likewise;
/// what a search within the budget for the last 64 of them, reversed, wants: about
/// `ROWS × 64 × TAGS` comparisons (1.3 × 10⁸), seconds on every backend, far more than a
/// deadline of a fraction of a second allows.
async fn expensive(s: &Storage) -> Object {
    let tags: Vec<String> = (0..TAGS).map(|i| format!("tag-{i:05}")).collect();
    let sys = system();
    let scope = Scope::system("test: expensive searches");
    for r in 0..ROWS {
        let mut t = thread(&format!("x{r:03}"), json!({"tags": tags}));
        t.values = crate::model::Values::from_json(json!({"tags": tags}));
        s.threads.insert(t, IfExists::Raise, &sys).await.unwrap();
        if r < ROWS / 4 {
            let value = meta(json!({"tags": tags}));
            s.items()
                .put(&scope, vec!["x".into()], format!("k{r}"), value)
                .await
                .unwrap();
        }
    }
    let reversed: Vec<&String> = tags.iter().rev().take(64).collect();
    meta(json!({"tags": reversed}))
}

/// Whether a statement other than this session's runs on the storage's PostgreSQL database
/// (always `false` on the other backends).
async fn pg_busy(s: &Storage) -> bool {
    let Some(Database::Postgres(pool)) = &s.database else {
        return false;
    };
    let running: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state = 'active' AND pid <> pg_backend_pid()",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    running > 0
}

/// Whether every connection of a SQLite storage's readers is back in its pool (always `true`
/// on the other backends).
fn sqlite_readers_idle(s: &Storage) -> bool {
    match &s.database {
        Some(Database::Sqlite(pool)) => pool.num_idle() == pool.size() as usize,
        _ => true,
    }
}

/// Waits (up to `limit`) until `done` says so; whether it did.
async fn eventually(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done().await
}

/// A search past its deadline is stopped by the backend itself, below the facade (no backstop
/// there): [`StoreError::Deadline`] naming it, long before the search could have finished; on
/// PostgreSQL nothing of it still runs afterwards. The same for a values search and a store
/// search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_past_its_deadline_is_stopped_by_the_backend() {
    on_every_backend(|name, s| async move {
        let wanted = expensive(&s).await;
        let sys = system();
        let limit = Duration::from_millis(200);
        let stopped = |what: &str, e: StoreError, started: Instant| {
            assert!(
                matches!(e, StoreError::Deadline(200)),
                "{name}: {what}: {e:?}"
            );
            // Generous: finishing the search would take many seconds on every backend.
            let took = started.elapsed();
            assert!(
                took < Duration::from_secs(3),
                "{name}: {what}: took {took:?}"
            );
        };
        let started = Instant::now();
        let q = Query {
            metadata: Some(&wanted),
            deadline: Deadline::after(limit),
            ..Query::new(&sys)
        };
        stopped("metadata", s.threads.search(q).await.unwrap_err(), started);
        assert!(!pg_busy(&s).await, "{name}: a statement still runs");
        let started = Instant::now();
        let q = Query {
            conditions: vec![Condition::ValuesContain(wanted.clone())],
            deadline: Deadline::after(limit),
            ..Query::new(&sys)
        };
        stopped("values", s.threads.search(q).await.unwrap_err(), started);
        let started = Instant::now();
        let search = ItemSearch {
            filter: Some(wanted.clone()),
            words: Vec::new(),
        };
        let e = s
            .items
            .search(&sys, &[], &search, 10, 0, &Deadline::after(limit))
            .await
            .unwrap_err();
        stopped("store", e, started);
        assert!(!pg_busy(&s).await, "{name}: a statement still runs");
        // The interrupted statement's connection goes back to the pool as its task ends.
        assert!(
            eventually(Duration::from_secs(2), async || sqlite_readers_idle(&s)).await,
            "{name}: a reader is still held"
        );
    })
    .await;
}

/// A search whose caller is gone (its future dropped, as when a client disconnects) stops at
/// once rather than at its deadline: on PostgreSQL its statement is cancelled (gone from
/// `pg_stat_activity`), on SQLite it is interrupted and its connection back in the pool, in
/// memory its evaluation sees the deadline cancelled (below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_search_stops() {
    on_every_backend(|name, s| async move {
        let wanted = expensive(&s).await;
        s.configure(&crate::Limits {
            storage_timeout: Duration::from_secs(60),
            searches_per_user: 1,
            ..crate::Limits::default()
        });
        let scope = Scope::system("test: an abandoned search");
        let threads = s.threads();
        // Seconds of work on every backend (PostgreSQL: about 6 s, SQLite: minutes).
        let search = threads.search(Search {
            metadata: Some(&wanted),
            conditions: vec![Condition::ValuesContain(wanted.clone())],
            ..Search::new(&scope)
        });
        let abandoned = tokio::time::timeout(Duration::from_millis(500), search).await;
        assert!(abandoned.is_err(), "{name}: the search finished");
        let dropped = Instant::now();
        // Generous for a cancellation (milliseconds), far less than what is left of the search.
        assert!(
            eventually(Duration::from_secs(2), async || !pg_busy(&s).await).await,
            "{name}: the statement still runs {:?} after its caller left",
            dropped.elapsed()
        );
        assert!(
            eventually(Duration::from_secs(2), async || sqlite_readers_idle(&s)).await,
            "{name}: the reader is still held"
        );
        // The storage answers the next search as before.
        let one = meta(json!({"tags": ["tag-00001"]}));
        let found = threads
            .search(Search {
                metadata: Some(&one),
                limit: 1,
                ..Search::new(&scope)
            })
            .await
            .unwrap();
        assert_eq!(found.total, ROWS, "{name}");
    })
    .await;
}

/// The in-memory evaluation stops when its deadline is cancelled (the facade cancels it when its
/// caller is gone), not at the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_evaluation_in_memory_stops() {
    let s = Storage::in_memory();
    let wanted = expensive(&s).await;
    let sys = system();
    let deadline = Deadline::after(Duration::from_secs(60));
    let q = Query {
        metadata: Some(&wanted),
        deadline: deadline.clone(),
        ..Query::new(&sys)
    };
    let started = Instant::now();
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        deadline.cancel();
    };
    let (found, ()) = tokio::join!(s.threads.search(q), cancel);
    assert!(matches!(found, Err(StoreError::Deadline(_))), "{found:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}
