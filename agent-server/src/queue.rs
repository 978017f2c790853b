//! The run queue's worker: one per server process, started with its [`AppState`] and stopped at
//! graceful shutdown. It claims runs from [`RunQueue`](crate::storage::RunQueue) with a lease,
//! executes them and fires the crons that are due.
//!
//! It wakes when a run is created in this process ([`QueueHandle::wake`]) and otherwise every
//! [`QueueConfig::poll`], for runs created by other replicas, delayed runs (`after_seconds`) that
//! came due, runs whose lease expired and crons. A delayed run is in storage from its creation, so
//! it survives a restart. Joins, streams and cancels read and change storage, whichever process
//! executes the run: a cancelled run is discarded by the executing worker, whose final
//! transaction finds it no longer held ([`Claim::holds`](crate::storage::Claim::holds)).
//!
//! At shutdown the worker stops claiming, lets the runs in flight finish for up to
//! [`QueueConfig::shutdown_wait`], then gives them back to the queue (pending again, for another
//! process or this one after a restart); a run it cannot give back keeps its lease, which expires.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::storage::{Claim, LeaseTerms, now_ms};
use crate::util::{ApiError, format_rfc3339};
use crate::{AppState, Limits};

/// How the worker claims and executes runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// How often the worker looks for work it was not woken for: runs of other replicas,
    /// delayed runs, expired leases, crons. Default: 250 ms.
    pub poll: Duration,
    /// How long a lease holds; the worker renews it every third of it. Default: 30 s.
    pub lease: Duration,
    /// How many claims a run gets before it is finished as `error` (each claim after the first
    /// is a takeover of a run whose worker died). Default: 3.
    pub max_attempts: u32,
    /// How many runs one process executes at once. Default: 16.
    pub concurrency: usize,
    /// At shutdown, how long the runs in flight may take to finish; past it they are given back
    /// to the queue (released in storage), for another
    /// process (or this one after its restart) to execute. Default: 10 s, within the binary's
    /// shutdown grace.
    pub shutdown_wait: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            poll: Duration::from_millis(250),
            lease: Duration::from_secs(30),
            max_attempts: 3,
            concurrency: 16,
            shutdown_wait: Duration::from_secs(10),
        }
    }
}

struct Shared {
    wake: Notify,
    stop: AtomicBool,
    stopping: Notify,
    /// `true` once the worker has stopped.
    stopped: watch::Sender<bool>,
    /// The limits the worker authorizes cron runs with (kept up to date by
    /// [`AppState::with_limits`]).
    limits: Mutex<Limits>,
    config: QueueConfig,
}

impl Shared {
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stopping.notify_waiters();
        self.stopping.notify_one();
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Stops the worker when the last handle of the states that serve requests goes.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// The handle of a process's worker, held by its [`AppState`]. When every state that serves
/// requests is dropped, the worker stops too.
#[derive(Clone)]
pub struct QueueHandle {
    shared: Arc<Shared>,
    _guard: Option<Arc<StopOnDrop>>,
}

impl QueueHandle {
    /// Wakes the worker: a run was enqueued.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Stops the worker: it claims nothing more, and waits for the runs in flight (at most
    /// [`QueueConfig::shutdown_wait`], then gives them back to the queue). Returns once it has
    /// stopped.
    pub async fn shutdown(&self) {
        self.shared.stop();
        let mut stopped = self.shared.stopped.subscribe();
        let _ = stopped.wait_for(|s| *s).await;
    }

    pub(crate) fn set_limits(&self, limits: Limits) {
        *self
            .shared
            .limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = limits;
    }

    fn limits(&self) -> Limits {
        *self
            .shared
            .limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts the worker of `state` (whose `queue` is replaced by the new worker's handle).
pub(crate) fn start(state: &mut AppState, config: QueueConfig) {
    let (stopped, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        wake: Notify::new(),
        stop: AtomicBool::new(false),
        stopping: Notify::new(),
        stopped,
        limits: Mutex::new(state.limits),
        config,
    });
    // The worker's own state holds no guard, so that it does not keep itself alive.
    let mut worker = state.clone();
    worker.queue = QueueHandle {
        shared: shared.clone(),
        _guard: None,
    };
    state.queue = QueueHandle {
        shared: shared.clone(),
        _guard: Some(Arc::new(StopOnDrop(shared))),
    };
    tokio::spawn(run(worker));
}

/// A handle whose worker is not running (for a state being built).
pub(crate) fn idle() -> QueueHandle {
    let (stopped, _) = watch::channel(true);
    QueueHandle {
        shared: Arc::new(Shared {
            wake: Notify::new(),
            stop: AtomicBool::new(true),
            stopping: Notify::new(),
            stopped,
            limits: Mutex::new(Limits::default()),
            config: QueueConfig::default(),
        }),
        _guard: None,
    }
}

async fn run(mut state: AppState) {
    let shared = state.queue.shared.clone();
    let config = shared.config;
    let terms = LeaseTerms {
        worker: format!("worker-{}", uuid::Uuid::new_v4()),
        lease: config.lease,
        max_attempts: config.max_attempts,
    };
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut in_flight = JoinSet::new();
    // Set when the runs in flight must be given back (shutdown, past its wait).
    let (give_back, given_back) = watch::channel(false);
    let mut crons_checked: Option<tokio::time::Instant> = None;
    while !shared.stopping() {
        state.limits = state.queue.limits();
        // Crons once per poll period, not at every wake by a new run.
        if crons_checked.is_none_or(|at| at.elapsed() >= config.poll) {
            crons_checked = Some(tokio::time::Instant::now());
            fire_due_crons(&state).await;
        }
        // Claim while there are free slots and claimable runs.
        while !shared.stopping() {
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                break;
            };
            match state.storage.queue().claim(&terms, now_ms()).await {
                Ok(Some(claim)) => {
                    let (state, terms) = (state.clone(), terms.clone());
                    let given_back = given_back.clone();
                    in_flight.spawn(async move {
                        execute_leased(&state, &terms, claim, given_back).await;
                        drop(slot);
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(detail = %e, "the run queue could not be read");
                    break;
                }
            }
        }
        while in_flight.try_join_next().is_some() {}
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = shared.stopping.notified() => {}
            _ = tokio::time::sleep(config.poll) => {}
            // A run finished: a slot is free, and the thread's next run may be claimable.
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
    }
    // Let the runs in flight finish; past the wait, give them back to the queue (a run whose
    // release cannot be written keeps its lease, which expires).
    let finished = tokio::time::timeout(config.shutdown_wait, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        give_back.send_replace(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        in_flight.abort_all();
    }
    shared.stopped.send_replace(true);
}

/// Executes a claimed run, renewing its lease every third of it (at least every second); stops
/// executing as soon as the lease is lost (the run was cancelled, or taken over after this
/// process stalled), or gives the run back when `give_back` says so (shutdown).
async fn execute_leased(
    state: &AppState,
    terms: &LeaseTerms,
    claim: Claim,
    mut give_back: watch::Receiver<bool>,
) {
    let work = crate::runner::execute(state, &claim);
    tokio::pin!(work);
    let every = (terms.lease / 3).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut renewal = tokio::time::interval(every);
    renewal.tick().await;
    loop {
        tokio::select! {
            () = &mut work => break,
            () = given_back(&mut give_back) => {
                if let Err(e) = state.storage.queue().release(&claim).await {
                    tracing::warn!(
                        run_id = claim.run_id,
                        detail = %e,
                        "a run could not be given back: its lease will expire"
                    );
                }
                break;
            }
            _ = renewal.tick() => {
                match state.storage.queue().renew(&claim, terms, now_ms()).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        tracing::warn!(
                            thread_id = claim.thread_id,
                            run_id = claim.run_id,
                            detail = %e,
                            "a run's lease could not be renewed: it is left to another worker"
                        );
                        break;
                    }
                }
            }
        }
    }
    state.runs_done.notify_waiters();
}

/// Completes once `give_back` says the run must be given back.
async fn given_back(give_back: &mut watch::Receiver<bool>) {
    while !*give_back.borrow_and_update() {
        if give_back.changed().await.is_err() {
            // The worker is gone without asking: keep executing.
            std::future::pending::<()>().await;
        }
    }
}

/// Fires every cron that is due: each is advanced to its next date first, and only the worker
/// whose advance succeeds creates its run, as the cron's owner.
async fn fire_due_crons(state: &AppState) {
    let now = jiff::Timestamp::now();
    let due = match state.storage.queue().due_crons(&rfc3339(now), 32).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(detail = %e, "the crons could not be read");
            return;
        }
    };
    for cron in due {
        let Some(from) = cron.next_run_date.as_str() else {
            continue;
        };
        let next = match next_run_date(
            &cron.schedule,
            cron.timezone.as_deref(),
            &cron.end_time,
            now,
        ) {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(
                    cron_id = cron.cron_id,
                    detail = e.detail,
                    "a cron's schedule"
                );
                None
            }
        };
        match state
            .storage
            .queue()
            .advance_cron(&cron.cron_id, from, next)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(cron_id = cron.cron_id, detail = %e, "a cron");
                continue;
            }
        }
        if ended(&cron.end_time, now) {
            continue;
        }
        if let Err(e) = crate::service::runs::create_for_cron(state, &cron).await {
            tracing::warn!(
                cron_id = cron.cron_id,
                status = e.status.as_u16(),
                detail = e.detail,
                "a cron's run was not created"
            );
        }
    }
}

/// RFC 3339 in UTC with microseconds, as [`crate::util::now`] writes it (so dates compare as
/// strings).
pub fn rfc3339(at: jiff::Timestamp) -> String {
    let secs = u64::try_from(at.as_second()).unwrap_or(0);
    let micros = u32::try_from(at.subsec_microsecond()).unwrap_or(0);
    format_rfc3339(secs, micros)
}

/// Parses a cron's `end_time`: RFC 3339 with an offset, or a date-time without one (read as
/// UTC).
pub fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    s.parse::<jiff::Timestamp>().ok().or_else(|| {
        s.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

fn ended(end_time: &Value, now: jiff::Timestamp) -> bool {
    end_time
        .as_str()
        .and_then(parse_time)
        .is_some_and(|end| end <= now)
}

/// Parses a schedule: five fields (minute to day of week) or six (seconds first), as `croner`
/// reads them.
pub fn parse_schedule(schedule: &str) -> Result<croner::Cron, ApiError> {
    let n = schedule.split_whitespace().count();
    if !(5..=6).contains(&n) {
        return Err(ApiError::invalid(format!(
            "Invalid cron schedule {schedule:?}"
        )));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(schedule)
        .map_err(|e| ApiError::invalid(format!("Invalid cron schedule {schedule:?}: {e}")))
}

/// The time zone a cron's schedule is read in: an IANA name (from the system's time zone
/// database), UTC when none.
pub fn time_zone(name: Option<&str>) -> Result<jiff::tz::TimeZone, ApiError> {
    match name {
        None => Ok(jiff::tz::TimeZone::UTC),
        Some(name) => jiff::tz::TimeZone::get(name)
            .map_err(|_| ApiError::invalid(format!("Unknown timezone {name:?}"))),
    }
}

/// The first time after `after` that the schedule names, read in `timezone`, as RFC 3339 in
/// UTC; `None` when it is past `end_time` (or there is none).
pub fn next_run_date(
    schedule: &str,
    timezone: Option<&str>,
    end_time: &Value,
    after: jiff::Timestamp,
) -> Result<Option<String>, ApiError> {
    let cron = parse_schedule(schedule)?;
    let zone = time_zone(timezone)?;
    let Ok(next) = cron.find_next_occurrence(&after.to_zoned(zone), false) else {
        return Ok(None);
    };
    let next = next.timestamp();
    if let Some(end) = end_time.as_str().and_then(parse_time)
        && next > end
    {
        return Ok(None);
    }
    Ok(Some(rfc3339(next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn next_dates_follow_the_schedule_zone_and_end() {
        let t = at("2025-03-01T10:20:30.5Z");
        let next = |s: &str, tz: Option<&str>, end: Value| next_run_date(s, tz, &end, t).unwrap();
        assert_eq!(
            next("*/15 * * * *", None, Value::Null).as_deref(),
            Some("2025-03-01T10:30:00.000000+00:00")
        );
        assert_eq!(
            next("* * * * * *", None, Value::Null).as_deref(),
            Some("2025-03-01T10:20:31.000000+00:00")
        );
        // 9:00 in Paris is 8:00 UTC in winter.
        assert_eq!(
            next("0 9 * * *", Some("Europe/Paris"), Value::Null).as_deref(),
            Some("2025-03-02T08:00:00.000000+00:00")
        );
        assert_eq!(next("0 9 * * *", None, json!("2025-03-02T08:59:59Z")), None);
        assert_eq!(
            next("0 9 * * *", None, json!("2025-03-02T09:00:00")).as_deref(),
            Some("2025-03-02T09:00:00.000000+00:00")
        );
    }

    #[test]
    fn bad_schedules_and_zones_are_422() {
        for bad in ["", "* * * *", "61 * * * *", "* * * * * * *", "x y z a b"] {
            let e = parse_schedule(bad).unwrap_err();
            assert_eq!(
                e.status,
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}"
            );
        }
        assert!(time_zone(Some("Mars/Olympus")).is_err());
        assert!(time_zone(Some("America/New_York")).is_ok());
    }
}
