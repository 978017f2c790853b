//! The run queue's contract, checked on each backend (memory, SQLite, PostgreSQL): order,
//! delays, leases, takeover, abandonment, cancel, release, exactly-once claims and cron
//! advances.

use std::sync::Arc;
use std::time::Duration;

use auth::types::{RunStatus, ThreadStatus};
use serde_json::{Value, json};

use super::new_thread;
use crate::authz::Access;
use crate::model::{Cron, Object, QueueState, Run};
use crate::storage::{Claim, IfExists, LeaseTerms, Storage, ThreadTx, refresh_status};

const T0: i64 = 1_700_000_000_000;

fn all() -> Access {
    Access::system("test: the run queue")
}

fn terms(worker: &str) -> LeaseTerms {
    LeaseTerms {
        worker: worker.into(),
        lease: Duration::from_secs(10),
        max_attempts: 3,
    }
}

fn id(n: u128) -> String {
    uuid::Uuid::from_u128(n).to_string()
}

async fn thread(s: &Storage, tid: &str) {
    s.threads
        .insert(
            new_thread(tid.into(), Object::new()),
            IfExists::Raise,
            &all(),
        )
        .await
        .unwrap();
}

/// Stores a pending run on `tid`, not to start before `run_after`.
async fn enqueue(s: &Storage, tid: &str, rid: &str, run_after: i64) {
    let run = Run {
        run_id: rid.into(),
        thread_id: tid.into(),
        assistant_id: id(0),
        created_at: crate::util::now(),
        updated_at: crate::util::now(),
        status: RunStatus::Pending,
        metadata: Object::new(),
        kwargs: Object::new(),
        multitask_strategy: "enqueue".into(),
        queue: QueueState {
            run_after,
            ..QueueState::default()
        },
    };
    let change = Box::new(move |tx: &mut ThreadTx<'_>| {
        tx.runs.push(Arc::new(run));
        refresh_status(tx);
        Ok(())
    });
    s.threads
        .transact(tid, &all(), change)
        .await
        .unwrap()
        .unwrap();
}

async fn run(s: &Storage, tid: &str, rid: &str) -> Run {
    let (_, runs) = s.threads.runs(tid, &all()).await.unwrap().unwrap();
    Run::clone(runs.iter().find(|r| r.run_id == rid).unwrap())
}

/// Finishes the claimed run as the worker does: only while the claim holds it.
async fn finish(s: &Storage, claim: &Claim) -> bool {
    let c = claim.clone();
    let change = Box::new(move |tx: &mut ThreadTx<'_>| {
        let Some(r) = tx.runs.iter_mut().find(|r| c.holds(r)) else {
            return Err(crate::storage::StoreError::Conflict("not held".into()));
        };
        let r = Arc::make_mut(r);
        r.status = RunStatus::Success;
        r.queue.lease_owner = None;
        r.queue.lease_until = None;
        refresh_status(tx);
        Ok(())
    });
    s.threads
        .transact(&claim.thread_id, &all(), change)
        .await
        .is_ok()
}

/// Oldest first; a delayed run waits for its time; a thread's runs go one at a time.
pub(crate) async fn claims_follow_order_delay_and_thread(s: Storage) {
    let (a, b) = (id(1), id(2));
    thread(&s, &a).await;
    thread(&s, &b).await;
    enqueue(&s, &a, &id(11), T0).await;
    enqueue(&s, &b, &id(12), T0 + 5_000).await;
    enqueue(&s, &a, &id(13), T0).await;
    let w = terms("w1");
    let first = s.queue.claim(&w, T0).await.unwrap().unwrap();
    assert_eq!(
        (first.thread_id.as_str(), first.run_id.as_str()),
        (a.as_str(), id(11).as_str())
    );
    assert_eq!(first.attempt, 1);
    let r = run(&s, &a, &id(11)).await;
    assert_eq!(r.status, RunStatus::Running);
    assert_eq!(r.queue.lease_owner.as_deref(), Some("w1"));
    assert_eq!(r.queue.lease_until, Some(T0 + 10_000));
    // 13 waits behind 11 on its thread; 12 is not due.
    assert_eq!(s.queue.claim(&w, T0 + 1).await.unwrap(), None);
    assert!(finish(&s, &first).await);
    assert_eq!(run(&s, &a, &id(11)).await.status, RunStatus::Success);
    let next = s.queue.claim(&w, T0 + 2).await.unwrap().unwrap();
    assert_eq!(next.run_id, id(13));
    assert_eq!(s.queue.claim(&w, T0 + 4_999).await.unwrap(), None);
    let delayed = s.queue.claim(&w, T0 + 5_000).await.unwrap().unwrap();
    assert_eq!(delayed.run_id, id(12));
    assert_eq!(s.queue.claim(&w, T0 + 5_001).await.unwrap(), None);
}

/// A lease keeps other workers out while it is renewed; once it expires the run is taken over,
/// and the first worker can neither renew nor finish it.
pub(crate) async fn leases_exclude_then_expire_into_takeover(s: Storage) {
    let t = id(1);
    thread(&s, &t).await;
    enqueue(&s, &t, &id(11), T0).await;
    let (w1, w2) = (terms("w1"), terms("w2"));
    let c1 = s.queue.claim(&w1, T0).await.unwrap().unwrap();
    assert_eq!(s.queue.claim(&w2, T0 + 9_999).await.unwrap(), None);
    assert!(s.queue.renew(&c1, &w1, T0 + 9_000).await.unwrap());
    assert_eq!(s.queue.claim(&w2, T0 + 15_000).await.unwrap(), None);
    let c2 = s.queue.claim(&w2, T0 + 19_001).await.unwrap().unwrap();
    assert_eq!(
        (c2.run_id.as_str(), c2.owner.as_str(), c2.attempt),
        (id(11).as_str(), "w2", 2)
    );
    assert!(!s.queue.renew(&c1, &w1, T0 + 19_002).await.unwrap());
    assert!(
        !finish(&s, &c1).await,
        "the first worker finished a run taken over"
    );
    assert_eq!(run(&s, &t, &id(11)).await.status, RunStatus::Running);
    assert!(finish(&s, &c2).await);
    assert_eq!(run(&s, &t, &id(11)).await.status, RunStatus::Success);
    assert!(!s.queue.release(&c2).await.unwrap());
}

/// A run whose lease expired on every attempt is finished as `error`, not claimed again.
pub(crate) async fn a_run_whose_workers_keep_dying_ends_in_error(s: Storage) {
    let t = id(1);
    thread(&s, &t).await;
    enqueue(&s, &t, &id(11), T0).await;
    let w = LeaseTerms {
        max_attempts: 2,
        ..terms("w")
    };
    assert_eq!(s.queue.claim(&w, T0).await.unwrap().unwrap().attempt, 1);
    assert_eq!(
        s.queue
            .claim(&w, T0 + 10_001)
            .await
            .unwrap()
            .unwrap()
            .attempt,
        2
    );
    assert_eq!(s.queue.claim(&w, T0 + 20_002).await.unwrap(), None);
    let r = run(&s, &t, &id(11)).await;
    assert_eq!(r.status, RunStatus::Error);
    assert_eq!(r.queue.lease_owner, None);
    let thread = s.threads.get(&t, &all()).await.unwrap().unwrap();
    assert_eq!(thread.status, ThreadStatus::Error);
    assert_eq!(thread.error["message"], json!(crate::storage::ABANDONED));
    assert_eq!(s.queue.claim(&w, T0 + 40_000).await.unwrap(), None);
}

/// A claimed run cancelled meanwhile: the worker's renewal and final transaction fail, and the
/// run stays interrupted. A released run is claimable again at once, the release not counted.
pub(crate) async fn cancel_and_release(s: Storage) {
    let t = id(1);
    thread(&s, &t).await;
    enqueue(&s, &t, &id(11), T0).await;
    enqueue(&s, &t, &id(12), T0).await;
    let w = terms("w");
    let c = s.queue.claim(&w, T0).await.unwrap().unwrap();
    let cancel = Box::new(|tx: &mut ThreadTx<'_>| {
        let r = Arc::make_mut(&mut tx.runs[0]);
        r.status = RunStatus::Interrupted;
        refresh_status(tx);
        Ok(())
    });
    s.threads.transact(&t, &all(), cancel).await.unwrap();
    assert!(!s.queue.renew(&c, &w, T0 + 1).await.unwrap());
    assert!(!finish(&s, &c).await);
    assert_eq!(run(&s, &t, &id(11)).await.status, RunStatus::Interrupted);
    // The next run of the thread is free to go.
    let c = s.queue.claim(&w, T0 + 2).await.unwrap().unwrap();
    assert_eq!(c.run_id, id(12));
    assert!(s.queue.release(&c).await.unwrap());
    let r = run(&s, &t, &id(12)).await;
    assert_eq!(
        (r.status.as_str(), r.queue.lease_owner.clone()),
        ("pending", None)
    );
    let again = s
        .queue
        .claim(&terms("other"), T0 + 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.run_id.as_str(), again.attempt), (id(12).as_str(), 1));
}

/// Workers claiming at once: each run is claimed exactly once, and every run is claimed.
pub(crate) async fn concurrent_claims_take_each_run_once(s: Storage) {
    const RUNS: u128 = 40;
    for n in 0..RUNS {
        let t = id(100 + n);
        thread(&s, &t).await;
        enqueue(&s, &t, &id(1000 + n), T0).await;
    }
    let mut workers = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        workers.push(tokio::spawn(async move {
            let terms = terms(&format!("w{w}"));
            let mut mine = Vec::new();
            while let Some(c) = s.queue.claim(&terms, T0).await.unwrap() {
                mine.push(c.run_id);
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.unwrap());
    }
    claimed.sort();
    let mut expected: Vec<String> = (0..RUNS).map(|n| id(1000 + n)).collect();
    expected.sort();
    assert_eq!(claimed, expected);
}

fn cron(cron_id: &str, next: Value, enabled: bool) -> Cron {
    Cron {
        cron_id: cron_id.into(),
        assistant_id: id(0),
        thread_id: None,
        schedule: "* * * * *".into(),
        end_time: Value::Null,
        payload: Object::new(),
        user_id: None,
        metadata: Object::new(),
        enabled,
        timezone: None,
        on_run_completed: Value::Null,
        next_run_date: next,
        owner: None,
        created_at: crate::util::now(),
        updated_at: crate::util::now(),
    }
}

/// Only enabled crons whose date came are due, oldest first; of the workers that advance a due
/// cron from the same date, exactly one succeeds.
pub(crate) async fn crons_are_due_and_advanced_once(s: Storage) {
    let at = |m: u32| format!("2025-01-01T00:{m:02}:00.000000+00:00");
    s.crons
        .insert(cron(&id(1), json!(at(5)), true), IfExists::Raise, &all())
        .await
        .unwrap();
    s.crons
        .insert(cron(&id(2), json!(at(3)), true), IfExists::Raise, &all())
        .await
        .unwrap();
    s.crons
        .insert(cron(&id(3), json!(at(1)), false), IfExists::Raise, &all())
        .await
        .unwrap();
    s.crons
        .insert(cron(&id(4), Value::Null, true), IfExists::Raise, &all())
        .await
        .unwrap();
    s.crons
        .insert(cron(&id(5), json!(at(9)), true), IfExists::Raise, &all())
        .await
        .unwrap();
    let due: Vec<String> = s
        .queue
        .due_crons(&at(5), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.cron_id)
        .collect();
    assert_eq!(due, [id(2), id(1)]);
    assert_eq!(s.queue.due_crons(&at(5), 1).await.unwrap().len(), 1);
    let mut racers = Vec::new();
    for _ in 0..8 {
        let (s, from, cid) = (s.clone(), at(3), id(2));
        racers.push(tokio::spawn(async move {
            s.queue
                .advance_cron(&cid, &from, Some(at(4)))
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for r in racers {
        won += usize::from(r.await.unwrap());
    }
    assert_eq!(won, 1);
    let c = s.crons.get(&id(2), &all()).await.unwrap().unwrap();
    assert_eq!(c.next_run_date, json!(at(4)));
    // A stale date advances nothing; advancing to none stops the cron.
    assert!(!s.queue.advance_cron(&id(2), &at(3), None).await.unwrap());
    assert!(s.queue.advance_cron(&id(2), &at(4), None).await.unwrap());
    assert_eq!(
        s.crons
            .get(&id(2), &all())
            .await
            .unwrap()
            .unwrap()
            .next_run_date,
        Value::Null
    );
    assert!(!s.queue.advance_cron(&id(9), &at(4), None).await.unwrap());
}

/// Every check of the contract, each on a fresh storage that `$on(scenario)` makes and hands to
/// `scenario` (an `async fn(F)` where `F: FnOnce(Storage) -> impl Future<Output = ()>`).
macro_rules! queue_contract_tests {
    ($on:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn claims_follow_order_delay_and_thread() {
            $on($crate::storage::contract::queue::claims_follow_order_delay_and_thread).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn leases_exclude_then_expire_into_takeover() {
            $on($crate::storage::contract::queue::leases_exclude_then_expire_into_takeover).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn a_run_whose_workers_keep_dying_ends_in_error() {
            $on($crate::storage::contract::queue::a_run_whose_workers_keep_dying_ends_in_error)
                .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn cancel_and_release() {
            $on($crate::storage::contract::queue::cancel_and_release).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_claims_take_each_run_once() {
            $on($crate::storage::contract::queue::concurrent_claims_take_each_run_once).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn crons_are_due_and_advanced_once() {
            $on($crate::storage::contract::queue::crons_are_due_and_advanced_once).await;
        }
    };
}

use queue_contract_tests;

mod memory {
    super::queue_contract_tests!(crate::storage::contract::on_memory);
}

mod sqlite {
    super::queue_contract_tests!(crate::storage::contract::on_sqlite);
}

mod postgres {
    super::queue_contract_tests!(crate::storage::contract::on_postgres);
}
