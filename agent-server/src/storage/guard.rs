//! What keeps one caller's searches from spending the capacity every other caller depends on:
//!
//! - the complexity budget of a caller's containment values ([`SearchBudget`], [`check_value`]):
//!   a search's `metadata` or `values`, a store search's `filter` and words, a history's
//!   `metadata`, checked before any backend sees them, so that memory, SQLite and PostgreSQL
//!   refuse the same requests;
//! - the deadline of a guarded read ([`Deadline`]): each backend stops its work there
//!   (PostgreSQL's `statement_timeout`, SQLite's progress handler, the in-memory evaluation's
//!   [`Meter`]), and as soon as the caller is gone (its future dropped);
//! - how many guarded reads run at once ([`Guard`]): in all (a share of the database's
//!   connections, so that reads by id, writes and the run queue always find one) and per caller
//!   (so that one user's searches cannot take all of that share).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::StoreError;
use crate::authz::Access;
use crate::model::Object;

/// How complex a caller's containment value may be (a search's `metadata` or `values`, a store
/// search's `filter`, a history's `metadata`): what a search may cost is the size of what it
/// wants times the size of what is stored, so what it wants is bounded. Over a bound the search
/// is answered 422 naming it, on every backend alike.
///
/// The defaults are far above what the official clients send (a handful of keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchBudget {
    /// Values in all (each object, array and scalar, the value itself included); also the most
    /// words of a store search's `query`. Default: 256 (`--search-max-nodes`).
    pub max_nodes: usize,
    /// Keys of any one object. Default: 64 (`--search-max-keys`).
    pub max_keys: usize,
    /// Elements of any one array. Default: 64 (`--search-max-elements`).
    pub max_elements: usize,
}

impl Default for SearchBudget {
    fn default() -> Self {
        SearchBudget {
            max_nodes: 256,
            max_keys: 64,
            max_elements: 64,
        }
    }
}

/// [`StoreError::SearchTooComplex`] unless `wanted` (the caller's `what`: `metadata`, `values`,
/// `filter`) fits `budget`. Stops at the first bound passed: a value of 20,000 keys costs one
/// look at its length.
pub(crate) fn check_value(
    what: &str,
    wanted: &Object,
    budget: &SearchBudget,
) -> Result<(), StoreError> {
    let too_complex =
        |detail: String| Err(StoreError::SearchTooComplex(format!("{what}: {detail}")));
    let mut nodes = 1usize;
    let mut pending: Vec<&Value> = Vec::new();
    if wanted.len() > budget.max_keys {
        return too_complex(keys(wanted.len(), budget));
    }
    pending.extend(wanted.values());
    while let Some(v) = pending.pop() {
        nodes += 1;
        if nodes > budget.max_nodes {
            return too_complex(format!(
                "more than {} values in all (--search-max-nodes)",
                budget.max_nodes
            ));
        }
        match v {
            Value::Object(m) => {
                if m.len() > budget.max_keys {
                    return too_complex(keys(m.len(), budget));
                }
                pending.extend(m.values());
            }
            Value::Array(items) => {
                if items.len() > budget.max_elements {
                    return too_complex(format!(
                        "an array of {} elements, more than {} (--search-max-elements)",
                        items.len(),
                        budget.max_elements
                    ));
                }
                pending.extend(items);
            }
            _ => {}
        }
    }
    Ok(())
}

fn keys(n: usize, budget: &SearchBudget) -> String {
    format!(
        "an object of {n} keys, more than {} (--search-max-keys)",
        budget.max_keys
    )
}

/// [`StoreError::SearchTooComplex`] unless a store search's words fit `budget` (each is a
/// substring test of every item's text, and a bound value of the statement).
pub(crate) fn check_words(words: &[String], budget: &SearchBudget) -> Result<(), StoreError> {
    if words.len() > budget.max_nodes {
        return Err(StoreError::SearchTooComplex(format!(
            "query: {} words, more than {} (--search-max-nodes)",
            words.len(),
            budget.max_nodes
        )));
    }
    Ok(())
}

/// When a guarded read must end, and whether its caller is gone: shared by the read and
/// whatever stops it (a backend's progress handler, a task that cancels a statement). Cheap to
/// clone.
#[derive(Debug, Clone)]
pub(crate) struct Deadline {
    /// `None`: no deadline (internal work and the contract tests).
    at: Option<Instant>,
    limit: Duration,
    cancelled: Arc<AtomicBool>,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub(crate) fn after(limit: Duration) -> Self {
        Deadline {
            at: Instant::now().checked_add(limit),
            limit,
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// No deadline: the read stops only when cancelled (the contract tests' reads).
    #[cfg(test)]
    pub(crate) fn unlimited() -> Self {
        Deadline {
            at: None,
            limit: Duration::MAX,
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether there is a deadline at all.
    pub(crate) fn is_limited(&self) -> bool {
        self.at.is_some()
    }

    /// Whether the read must stop now: past the deadline, or cancelled.
    pub(crate) fn expired(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// Time left (zero once expired); `None` without a deadline.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Some(Duration::ZERO);
        }
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The whole allowance, in milliseconds (for messages and `statement_timeout`; 0: none).
    pub(crate) fn limit_ms(&self) -> u64 {
        if self.at.is_none() {
            return 0;
        }
        u64::try_from(self.limit.as_millis()).unwrap_or(u64::MAX)
    }

    /// Stops the read: its caller is gone.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether the read was cancelled (rather than timed out).
    #[cfg(test)]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The error of a read stopped at this deadline.
    pub(crate) fn exceeded(&self) -> StoreError {
        StoreError::Deadline(self.limit_ms())
    }
}

/// Counts the steps of an in-memory evaluation (one comparison of containment, one candidate)
/// and looks at the deadline every [`Meter::EVERY`] steps: a search stops within a few
/// microseconds of its deadline, however large one stored value is.
pub(crate) struct Meter<'d> {
    deadline: Option<&'d Deadline>,
    steps: u32,
}

impl<'d> Meter<'d> {
    /// How many steps between two looks at the clock.
    const EVERY: u32 = 1024;

    /// A meter that stops at `deadline`.
    pub(crate) fn new(deadline: &'d Deadline) -> Self {
        Meter {
            deadline: Some(deadline),
            steps: 0,
        }
    }

    /// A meter that never stops.
    pub(crate) fn unlimited() -> Meter<'static> {
        Meter {
            deadline: None,
            steps: 0,
        }
    }

    /// One step; [`StoreError::Deadline`] once the deadline passed or the read was cancelled.
    #[inline]
    pub(crate) fn step(&mut self) -> Result<(), StoreError> {
        self.steps = self.steps.wrapping_add(1);
        if self.steps % Self::EVERY == 0
            && let Some(d) = self.deadline
            && d.expired()
        {
            return Err(d.exceeded());
        }
        Ok(())
    }
}

/// The settings of a [`Guard`] (from [`crate::Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GuardSettings {
    /// The deadline of one guarded read.
    pub(crate) deadline: Duration,
    /// The complexity budget of a caller's containment values.
    pub(crate) budget: SearchBudget,
    /// Guarded reads at once, in all (capped by the backend's share of its connections).
    pub(crate) in_flight: usize,
    /// Guarded reads at once per caller.
    pub(crate) per_caller: usize,
}

impl Default for GuardSettings {
    fn default() -> Self {
        let limits = crate::Limits::default();
        GuardSettings {
            deadline: limits.storage_timeout,
            budget: limits.search,
            in_flight: limits.searches_in_flight,
            per_caller: limits.searches_per_user,
        }
    }
}

/// Admits guarded reads (searches, history pages, store searches and listings): at most
/// [`GuardSettings::in_flight`] at once (and never more than the backend's `cap`), at most
/// [`GuardSettings::per_caller`] of one caller. A read waits for its turn up to the deadline,
/// then is refused: [`StoreError::Busy`]. It then runs within the deadline, and is stopped
/// when its future is dropped (the client went away).
pub(crate) struct Guard {
    /// The most reads a backend lets run at once (half of its readers' connections).
    cap: usize,
    state: RwLock<(GuardSettings, Arc<Semaphore>)>,
    callers: Mutex<HashMap<Arc<str>, Arc<Semaphore>>>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("cap", &self.cap)
            .field("settings", &self.settings())
            .finish_non_exhaustive()
    }
}

/// Which turn a guarded read waited for in vain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// The caller's own reads in flight: at most this many.
    Caller(usize),
    /// Every caller's reads in flight: at most this many.
    Server(usize),
}

impl Guard {
    /// A guard over a backend that lets at most `cap` reads run at once, with the default
    /// settings.
    pub(crate) fn new(cap: usize) -> Self {
        let settings = GuardSettings::default();
        Guard {
            cap: cap.max(1),
            state: RwLock::new((
                settings,
                Arc::new(Semaphore::new(settings.in_flight.min(cap).max(1))),
            )),
            callers: Mutex::new(HashMap::new()),
        }
    }

    /// The settings now.
    pub(crate) fn settings(&self) -> GuardSettings {
        self.state.read().unwrap_or_else(PoisonError::into_inner).0
    }

    /// Changes the settings; reads already admitted keep their turn.
    pub(crate) fn configure(&self, settings: GuardSettings) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.0.in_flight != settings.in_flight {
            state.1 = Arc::new(Semaphore::new(settings.in_flight.min(self.cap).max(1)));
        }
        state.0 = settings;
        if state.0.per_caller != settings.per_caller {
            // Each caller's count starts anew with the next read of theirs.
            self.callers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }

    /// Runs `read` (`op` names it in logs) as a guarded read of `access`'s caller: waits for
    /// its turn, then gives it a [`Deadline`] of the configured length; cancels that deadline
    /// when this future is dropped before `read` is done. A [`StoreError::Deadline`] of `read`
    /// names the configured deadline.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        op: &'static str,
        access: &Access,
        read: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(Deadline) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let (settings, everyone) = {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            (state.0, state.1.clone())
        };
        let waiting = Deadline::after(settings.deadline);
        let _mine = match access.caller() {
            Some(caller) => Some(self.caller_turn(caller, &settings, &waiting).await?),
            None => None,
        };
        let _turn = turn(everyone, &waiting)
            .await
            .ok_or(StoreError::Busy(Busy::Server(
                settings.in_flight.min(self.cap),
            )))?;
        let deadline = Deadline::after(settings.deadline);
        let on_drop = CancelOnDrop(Some(deadline.clone()));
        let started = Instant::now();
        // A backstop: each backend stops itself at the deadline; should one not, the read is
        // dropped a little later (which cancels it).
        let backstop = settings.deadline.saturating_add(Duration::from_millis(500));
        let result = match tokio::time::timeout(backstop, read(deadline.clone())).await {
            Ok(result) => result,
            Err(_) => {
                deadline.cancel();
                Err(deadline.exceeded())
            }
        };
        on_drop.disarm();
        crate::observe::slow_storage(op, started.elapsed());
        result.map_err(|e| match e {
            StoreError::Deadline(_) => deadline.exceeded(),
            e => e,
        })
    }

    /// A turn among `caller`'s reads, waited for until `waiting` expires.
    async fn caller_turn(
        &self,
        caller: &str,
        settings: &GuardSettings,
        waiting: &Deadline,
    ) -> Result<CallerTurn<'_>, StoreError> {
        let (caller, semaphore) = {
            let mut callers = self.callers.lock().unwrap_or_else(PoisonError::into_inner);
            match callers.get_key_value(caller) {
                Some((name, s)) => (name.clone(), s.clone()),
                None => {
                    let name: Arc<str> = Arc::from(caller);
                    let s = Arc::new(Semaphore::new(settings.per_caller.max(1)));
                    callers.insert(name.clone(), s.clone());
                    (name, s)
                }
            }
        };
        let permit = turn(semaphore, waiting).await;
        let turn = CallerTurn {
            guard: self,
            caller,
            permit,
        };
        if turn.permit.is_none() {
            return Err(StoreError::Busy(Busy::Caller(settings.per_caller.max(1))));
        }
        Ok(turn)
    }
}

/// A permit of `semaphore`, waited for until `waiting` expires (`None` then).
async fn turn(semaphore: Arc<Semaphore>, waiting: &Deadline) -> Option<OwnedSemaphorePermit> {
    let remaining = waiting.remaining().unwrap_or(Duration::MAX);
    match tokio::time::timeout(remaining, semaphore.acquire_owned()).await {
        Ok(Ok(permit)) => Some(permit),
        _ => None,
    }
}

/// A caller's turn; the caller's entry is removed with their last turn.
struct CallerTurn<'g> {
    guard: &'g Guard,
    caller: Arc<str>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for CallerTurn<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut callers = self
            .guard
            .callers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Under the lock no one else takes a clone, so a count of one is the map's own.
        if callers
            .get(&self.caller)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            callers.remove(&self.caller);
        }
    }
}

/// Cancels a read's deadline when dropped before [`CancelOnDrop::disarm`]: the future of the
/// read was dropped (its client went away), and whatever still runs for it stops.
struct CancelOnDrop(Option<Deadline>);

impl CancelOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            d.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn budgets_name_the_bound_passed() {
        let budget = SearchBudget {
            max_nodes: 10,
            max_keys: 3,
            max_elements: 4,
        };
        check_value(
            "metadata",
            &obj(json!({"a": 1, "b": [1, 2, 3, 4]})),
            &budget,
        )
        .unwrap();
        let too = |v: Value| {
            check_value("metadata", &obj(v), &budget)
                .unwrap_err()
                .to_string()
        };
        let wide: Object = (0..20_000).map(|i| (i.to_string(), json!(i))).collect();
        assert_eq!(
            check_value("metadata", &wide, &budget)
                .unwrap_err()
                .to_string(),
            "search too complex: metadata: an object of 20000 keys, more than 3 \
             (--search-max-keys)"
        );
        assert!(too(json!({"a": {"b": 1, "c": 2, "d": 3, "e": 4}})).contains("--search-max-keys"),);
        assert!(too(json!({"a": [1, 2, 3, 4, 5]})).contains("an array of 5 elements"));
        assert!(too(json!({"a": [[1, 2], [3, 4], [5, 6], [7]]})).contains("--search-max-nodes"));
        let words: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        assert!(check_words(&words[..10], &budget).is_ok());
        assert!(
            check_words(&words, &budget)
                .unwrap_err()
                .to_string()
                .contains("11 words")
        );
    }

    #[test]
    fn a_meter_stops_at_its_deadline_or_when_cancelled() {
        let d = Deadline::after(Duration::from_secs(60));
        let mut m = Meter::new(&d);
        for _ in 0..10_000 {
            m.step().unwrap();
        }
        d.cancel();
        assert!((0..Meter::EVERY).any(|_| m.step().is_err()));
        let past = Deadline::after(Duration::ZERO);
        let mut m = Meter::new(&past);
        assert!(matches!(
            (0..Meter::EVERY).find_map(|_| m.step().err()),
            Some(StoreError::Deadline(0))
        ));
        let mut free = Meter::unlimited();
        assert!((0..10_000).all(|_| free.step().is_ok()));
    }

    #[tokio::test]
    async fn turns_are_counted_per_caller_and_in_all() {
        let guard = Guard::new(3);
        guard.configure(GuardSettings {
            deadline: Duration::from_millis(200),
            budget: SearchBudget::default(),
            in_flight: 8,
            per_caller: 2,
        });
        let (release, held) = tokio::sync::watch::channel(false);
        let hold = |who: &'static str| {
            let mut held = held.clone();
            let guard = &guard;
            async move {
                let access = Access::for_caller(who);
                guard
                    .run("test", &access, |_| async move {
                        let _ = held.wait_for(|h| *h).await;
                        Ok(())
                    })
                    .await
            }
        };
        let refused = async {
            // The holders take their turns first.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let alice = Access::for_caller("alice");
            let third_of_alice = guard.run("test", &alice, |_| async { Ok(()) }).await;
            let bob = Access::for_caller("bob");
            let second_of_bob = guard.run("test", &bob, |_| async { Ok(()) }).await;
            let _ = release.send(true);
            (third_of_alice, second_of_bob)
        };
        let (a1, a2, b1, (a3, b2)) =
            tokio::join!(hold("alice"), hold("alice"), hold("bob"), refused);
        assert!(a1.is_ok() && a2.is_ok() && b1.is_ok());
        // Alice has two reads in flight, her limit; Bob has one of his two, but the three turns
        // of the backend are taken.
        assert!(
            matches!(a3, Err(StoreError::Busy(Busy::Caller(2)))),
            "{a3:?}"
        );
        assert!(
            matches!(b2, Err(StoreError::Busy(Busy::Server(3)))),
            "{b2:?}"
        );
        assert!(guard.callers.lock().unwrap().is_empty());
        // Internal work waits for no caller's turn.
        let system = Access::system("test");
        guard
            .run("test", &system, |_| async { Ok(()) })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_read_ends_at_its_deadline_and_is_cancelled_when_dropped() {
        let guard = Guard::new(8);
        guard.configure(GuardSettings {
            deadline: Duration::from_millis(100),
            ..GuardSettings::default()
        });
        let access = Access::for_caller("alice");
        // A read that watches its deadline.
        let watched = guard
            .run("test", &access, |d| async move {
                while !d.expired() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err::<(), _>(d.exceeded())
            })
            .await;
        assert!(
            matches!(watched, Err(StoreError::Deadline(100))),
            "{watched:?}"
        );
        // A read that does not is dropped by the backstop, its deadline cancelled.
        let seen = Mutex::new(None);
        let ignored = guard
            .run("test", &access, |d| {
                *seen.lock().unwrap() = Some(d);
                std::future::pending::<Result<(), StoreError>>()
            })
            .await;
        assert!(
            matches!(ignored, Err(StoreError::Deadline(100))),
            "{ignored:?}"
        );
        assert!(seen.lock().unwrap().take().unwrap().is_cancelled());
        // A read whose caller goes away is cancelled at once.
        let long = GuardSettings {
            deadline: Duration::from_secs(60),
            ..GuardSettings::default()
        };
        guard.configure(long);
        let read = guard.run("test", &access, |d| {
            *seen.lock().unwrap() = Some(d);
            std::future::pending::<Result<(), StoreError>>()
        });
        let gone = tokio::time::timeout(Duration::from_millis(20), read).await;
        assert!(gone.is_err());
        let d = seen.lock().unwrap().take().unwrap();
        assert!(d.is_cancelled() && d.expired());
    }
}
