//! The run queue of both database backends over the `runs` and `crons` tables, written once
//! over their [`Dialect`] (PostgreSQL claims with `FOR UPDATE OF r, t SKIP LOCKED`; SQLite's
//! `BEGIN IMMEDIATE` serializes writers). Times are the schema's RFC 3339 text; the queue's
//! millisecond clock is converted at this boundary.

use async_trait::async_trait;

use super::columns::{Columns as _, CronRow, List, select_list, text};
use super::db_error;
use super::dialect::Cells as _;
use super::dialect::{Dialect, On, Qb, QbExt as _, Tx};
use super::imp::{Pools, begin, commit};
use crate::model::Cron;
use crate::storage::{Claim, LeaseTerms, RunQueue, StoreError};
use auth::types::{RunStatus, ThreadStatus};

/// The queue's milliseconds as the schema's time text.
pub(super) fn ms_text(ms: i64) -> String {
    let ms = ms.max(0);
    let secs = u64::try_from(ms / 1000).unwrap_or(0);
    let micros = u32::try_from((ms % 1000) * 1000).unwrap_or(0);
    crate::util::format_rfc3339(secs, micros)
}

/// The schema's time text as the queue's milliseconds (`None` when it does not parse).
pub(super) fn text_ms(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// The run queue over the `runs` and `crons` tables.
pub(super) struct SqlQueue<D: Dialect> {
    pub(super) pools: Pools<D>,
}

/// A run being executed, as SQL text.
const RUNNING: &str = RunStatus::Running.as_str();

/// The statuses of a run still to execute (pending or running), as an SQL list.
const IN_FLIGHT: &str = "('pending', 'running')";

/// The candidate a claim found: (seq, thread id, run id, attempts).
type Candidate = (i64, String, String, i64);

impl<D: Dialect> SqlQueue<D> {
    /// The oldest claimable run at `now`, its row (and its thread's, on PostgreSQL) locked.
    async fn candidate(tx: &mut Tx<D>, now: &str) -> Result<Option<Candidate>, StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "SELECT r.seq AS seq, r.thread_id AS thread_id, r.run_id AS run_id, \
             r.attempts AS attempts FROM runs r JOIN threads t ON t.thread_id = r.thread_id \
             WHERE r.status IN {IN_FLIGHT} AND (r.run_after IS NULL OR r.run_after <= ",
        ));
        qb.bind(now.to_owned());
        qb.push(format_args!(
            ") AND NOT (r.status = '{RUNNING}' AND r.lease_until IS NOT NULL AND r.lease_until > ",
        ));
        qb.bind(now.to_owned());
        qb.push(format_args!(
            ") AND NOT EXISTS (SELECT 1 FROM runs e WHERE e.thread_id = r.thread_id \
             AND e.seq < r.seq AND e.status IN {IN_FLIGHT}) ORDER BY r.seq LIMIT 1",
        ));
        qb.push(D::CLAIM_LOCK);
        let row = qb.one(On::Conn(&mut **tx)).await.map_err(db_error)?;
        row.map(|r| {
            Ok((
                r.int("seq")?,
                text(&r, "thread_id")?,
                text(&r, "run_id")?,
                r.int("attempts")?,
            ))
        })
        .transpose()
    }

    /// Finishes a run whose workers kept dying as `error`, and its thread's status with it.
    async fn abandon(
        tx: &mut Tx<D>,
        seq: i64,
        thread_id: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "UPDATE runs SET status = '{}', lease_owner = NULL, lease_until = NULL, updated_at = ",
            RunStatus::Error
        ));
        qb.bind(at.to_owned()).push(" WHERE seq = ").bind(seq);
        qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
        let error =
            serde_json::json!({"error": "RunAbandoned", "message": crate::storage::ABANDONED});
        let mut qb = Qb::<D>::new("UPDATE threads SET error = ");
        List::<D>::new(&mut qb).json(&error);
        qb.push(format_args!(
            ", status = CASE WHEN EXISTS (SELECT 1 FROM runs e WHERE e.thread_id = threads.thread_id \
             AND e.status IN {IN_FLIGHT}) THEN '{}' ELSE '{}' END, updated_at = ",
            ThreadStatus::Busy,
            ThreadStatus::Error,
        ));
        qb.bind(at.to_owned())
            .push(" WHERE thread_id = ")
            .bind(thread_id.to_owned());
        qb.run(On::Conn(&mut **tx)).await.map_err(db_error)?;
        Ok(())
    }

    /// ` WHERE <the claim still holds its run>`.
    fn push_held(qb: &mut Qb<D>, claim: &Claim) {
        qb.push(" WHERE run_id = ")
            .bind(claim.run_id.clone())
            .push(format_args!(" AND status = '{RUNNING}' AND lease_owner = "))
            .bind(claim.owner.clone())
            .push(" AND attempts = ")
            .bind(i64::from(claim.attempt));
    }
}

#[async_trait]
impl<D: Dialect> RunQueue for SqlQueue<D> {
    async fn claim(&self, terms: &LeaseTerms, now: i64) -> Result<Option<Claim>, StoreError> {
        let now_text = ms_text(now);
        // Each round claims a run or finishes one that used up its attempts; bounded anyway.
        for _ in 0..64 {
            let mut tx = begin(&self.pools).await?;
            let Some((seq, thread_id, run_id, attempts)) =
                Self::candidate(&mut tx, &now_text).await?
            else {
                commit::<D>(tx).await?;
                return Ok(None);
            };
            let at = crate::util::now();
            if attempts >= i64::from(terms.max_attempts) {
                Self::abandon(&mut tx, seq, &thread_id, &at).await?;
                commit::<D>(tx).await?;
                continue;
            }
            let mut qb = Qb::<D>::new(format!(
                "UPDATE runs SET status = '{RUNNING}', attempts = attempts + 1, lease_owner = ",
            ));
            qb.bind(terms.worker.clone())
                .push(", lease_until = ")
                .bind(ms_text(terms.until(now)))
                .push(", updated_at = ")
                .bind(at)
                .push(" WHERE seq = ")
                .bind(seq);
            qb.run(On::Conn(&mut *tx)).await.map_err(db_error)?;
            commit::<D>(tx).await?;
            return Ok(Some(Claim {
                thread_id,
                run_id,
                owner: terms.worker.clone(),
                attempt: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
            }));
        }
        Ok(None)
    }

    async fn renew(&self, claim: &Claim, terms: &LeaseTerms, now: i64) -> Result<bool, StoreError> {
        let mut qb = Qb::<D>::new("UPDATE runs SET lease_until = ");
        qb.bind(ms_text(terms.until(now)));
        Self::push_held(&mut qb, claim);
        let done = qb
            .run(On::Pool(&self.pools.write))
            .await
            .map_err(db_error)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn release(&self, claim: &Claim) -> Result<bool, StoreError> {
        let mut tx = begin(&self.pools).await?;
        // The thread's row first, as every change to its runs takes it.
        let mut qb = Qb::<D>::new("SELECT thread_id FROM threads WHERE thread_id = ");
        qb.bind(claim.thread_id.clone()).push(D::FOR_UPDATE);
        qb.one(On::Conn(&mut *tx)).await.map_err(db_error)?;
        let mut qb = Qb::<D>::new(format!(
            "UPDATE runs SET status = '{}', lease_owner = NULL, lease_until = NULL, \
             attempts = attempts - 1",
            RunStatus::Pending
        ));
        Self::push_held(&mut qb, claim);
        let done = qb.run(On::Conn(&mut *tx)).await.map_err(db_error)?;
        commit::<D>(tx).await?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn due_crons(&self, now: &str, limit: usize) -> Result<Vec<Cron>, StoreError> {
        let mut qb = Qb::<D>::new(format!(
            "SELECT {} FROM crons WHERE enabled AND next_run_date IS NOT NULL AND next_run_date <= ",
            select_list::<D>(CronRow::COLS)
        ));
        qb.bind(now.to_owned())
            .push(" ORDER BY next_run_date, cron_id LIMIT ")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = qb.all(On::Pool(&self.pools.read)).await.map_err(db_error)?;
        rows.iter().map(CronRow::read).collect()
    }

    async fn advance_cron(
        &self,
        cron_id: &str,
        from: &str,
        to: Option<String>,
    ) -> Result<bool, StoreError> {
        let mut qb = Qb::<D>::new("UPDATE crons SET next_run_date = ");
        qb.bind(to)
            .push(" WHERE cron_id = ")
            .bind(cron_id.to_owned())
            .push(" AND next_run_date = ")
            .bind(from.to_owned());
        let done = qb
            .run(On::Pool(&self.pools.write))
            .await
            .map_err(db_error)?;
        Ok(D::rows_affected(&done) == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL list of in-flight statuses names exactly the statuses that are not finished.
    #[test]
    fn in_flight_is_the_unfinished_statuses() {
        let all = [
            RunStatus::Pending,
            RunStatus::Running,
            RunStatus::Error,
            RunStatus::Success,
            RunStatus::Timeout,
            RunStatus::Interrupted,
        ];
        let unfinished: Vec<String> = all
            .iter()
            .filter(|s| !s.is_finished())
            .map(|s| format!("'{s}'"))
            .collect();
        assert_eq!(IN_FLIGHT, format!("({})", unfinished.join(", ")));
    }
}
