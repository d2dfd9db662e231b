//! Sending a study to one of the facility's own DICOM nodes (a diagnostic workstation): the
//! `dicom.send` outbox job. The request itself (row, items, job, audit) is
//! `shared::sends::request`; this is the delivery.
//!
//! One attempt: load the send and its items still pending → group them by (SOP class,
//! stored transfer syntax) → one association per 127 such pairs, calling AE = the
//! platform's, called AE = the node's → each instance is read through the blob store (its
//! SHA-256 checked), its file meta group stripped, and stored on the context for its pair;
//! every few instances the outcomes are written to `dicom_send_items`, the counters
//! refreshed and the job's lease renewed.
//!
//! On retry only the items still pending are sent again: an instance acknowledged with
//! success is never resent, one refused for good (by the workstation, or not sendable as
//! stored) is not retried. A connection or association failure, a timeout, or "out of
//! resources" ends the attempt: the job is retried with backoff, and given up after the
//! configured attempts (the send becomes `failed`, the remaining items with it).

pub mod dimse;
pub mod file_meta;
pub mod scu;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shared::db::DbPool;
use shared::index::Instance;
use shared::outbox::{self, Job};
use shared::sends::{self, ItemOutcome};
use shared::settings::Settings;
use tokio::sync::watch;

use crate::store::{BlobKey, SharedStore, StoreError};
use crate::worker::{blocking, Handler, Outcome};

use self::scu::{Association, ScuConfig, Stored, Target, Transient};

/// Write progress after this many instances…
const PROGRESS_EVERY: usize = 10;
/// …or this much time, whichever comes first.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);
/// Presentation contexts per association (PS3.8 allows 128 ids; one kept spare).
const PAIRS_PER_ASSOCIATION: usize = 127;
/// Where the audit events of the worker say they come from.
const SOURCE: &str = "worker:dicom.send";

/// The `dicom.send` handler.
pub struct SendHandler {
    pool: DbPool,
    store: SharedStore,
    scu: ScuConfig,
    lease: Duration,
}

impl SendHandler {
    pub fn new(pool: DbPool, store: SharedStore, settings: &Settings) -> SendHandler {
        let w = &settings.worker;
        SendHandler {
            pool,
            store,
            scu: ScuConfig {
                calling_ae: settings.dicom.ae_title.trim().to_owned(),
                connect_timeout: Duration::from_secs(u64::from(w.send_connect_timeout_seconds)),
                response_timeout: Duration::from_secs(u64::from(w.send_response_timeout_seconds)),
            },
            lease: Duration::from_secs(u64::from(w.lease_seconds)),
        }
    }
}

fn send_id(job: &Job) -> Option<i64> {
    job.payload_json().get("send_id").and_then(|v| v.as_i64())
}

#[async_trait::async_trait]
impl Handler for SendHandler {
    fn kinds(&self) -> &'static [&'static str] {
        &[outbox::kind::DICOM_SEND]
    }

    async fn run(&self, job: &Job, stop: &watch::Receiver<bool>) -> Outcome {
        let Some(id) = send_id(job) else {
            return Outcome::Fail("payload without a send_id".into());
        };
        match self.attempt(job, id, stop).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(send_id = id, error = %e, "send: database unavailable");
                Outcome::Retry("database unavailable".into())
            }
        }
    }

    async fn gave_up(&self, job: &Job, reason: &str) {
        let Some(id) = send_id(job) else {
            return;
        };
        let reason = reason.to_owned();
        let r = blocking(&self.pool, move |c| {
            sends::finish(c, id, Some(&reason), SOURCE)
        })
        .await;
        match r {
            Ok(s) => tracing::warn!(
                send_id = id,
                sent = s.instances_sent,
                total = s.instances_total,
                "send given up"
            ),
            Err(e) => tracing::error!(send_id = id, error = %e, "could not record a given-up send"),
        }
    }
}

/// Outcomes waiting to be written.
struct Progress {
    pending: Vec<(i64, ItemOutcome)>,
    since: Instant,
}

impl Progress {
    fn due(&self) -> bool {
        self.pending.len() >= PROGRESS_EVERY
            || (!self.pending.is_empty() && self.since.elapsed() >= PROGRESS_INTERVAL)
    }
}

/// How one group of instances ended.
enum GroupEnd {
    Finished,
    Transient(String),
    Stopped,
    Lost,
}

impl SendHandler {
    async fn attempt(
        &self,
        job: &Job,
        id: i64,
        stop: &watch::Receiver<bool>,
    ) -> Result<Outcome, shared::Error> {
        let attempt = match blocking(&self.pool, move |c| sends::begin_attempt(c, id)).await {
            Ok(a) => a,
            // Finished already, or gone: nothing left to do.
            Err(shared::Error::NotFound) => return Ok(Outcome::Done),
            Err(e) => return Err(e),
        };
        let node = match attempt.node {
            Ok(n) => n,
            Err(reason) => return Ok(Outcome::Fail(reason.into())),
        };
        if attempt.study.is_none() {
            return Ok(Outcome::Fail(
                "the study is no longer visible to the facility".into(),
            ));
        }
        let (Some(host), Some(port)) = (node.host.clone(), node.port) else {
            return Ok(Outcome::Fail("the DICOM node has no host and port".into()));
        };
        let Ok(port) = u16::try_from(port) else {
            return Ok(Outcome::Fail("the DICOM node's port is invalid".into()));
        };
        let target = Target {
            host,
            port,
            called_ae: node.ae_title.trim().to_owned(),
        };
        tracing::info!(
            send_id = id, node_id = node.id, called_ae = %target.called_ae,
            pending = attempt.pending.len(), attempt = attempt.send.attempts, "send started"
        );
        let mut progress = Progress {
            pending: Vec::new(),
            since: Instant::now(),
        };
        for group in groups(attempt.pending, pair_of) {
            let end = self
                .send_group(job, id, &target, group, &mut progress, stop)
                .await?;
            let flushed = self.flush(job, id, &mut progress).await?;
            match end {
                GroupEnd::Finished if flushed => {}
                GroupEnd::Lost | GroupEnd::Finished => return Ok(Outcome::Lost),
                GroupEnd::Stopped => {
                    blocking(&self.pool, move |c| sends::requeue(c, id)).await?;
                    return Ok(Outcome::Interrupted);
                }
                GroupEnd::Transient(reason) => {
                    tracing::warn!(send_id = id, reason = %reason, "send attempt failed");
                    let r = reason.clone();
                    blocking(&self.pool, move |c| sends::attempt_failed(c, id, &r)).await?;
                    return Ok(Outcome::Retry(reason));
                }
            }
        }
        let s = blocking(&self.pool, move |c| sends::finish(c, id, None, SOURCE)).await?;
        tracing::info!(
            send_id = id, status = %s.status, sent = s.instances_sent,
            failed = s.instances_failed, total = s.instances_total, "send finished"
        );
        Ok(Outcome::Done)
    }

    /// Writes the outcomes so far and renews the lease; `false` when the claim was lost.
    async fn flush(&self, job: &Job, id: i64, p: &mut Progress) -> Result<bool, shared::Error> {
        let results = std::mem::take(&mut p.pending);
        p.since = Instant::now();
        let j = job.clone();
        let lease = self.lease;
        blocking(&self.pool, move |c| {
            if !outbox::renew(c, &j, lease)? {
                return Ok(false);
            }
            if !results.is_empty() {
                sends::record_progress(c, id, &results)?;
            }
            Ok(true)
        })
        .await
    }

    async fn send_group(
        &self,
        job: &Job,
        id: i64,
        target: &Target,
        group: Group<Instance>,
        progress: &mut Progress,
        stop: &watch::Receiver<bool>,
    ) -> Result<GroupEnd, shared::Error> {
        let mut assoc = match Association::open(&self.scu, target, &group.pairs).await {
            Ok(a) => a,
            Err(Transient(reason)) => return Ok(GroupEnd::Transient(reason)),
        };
        for inst in group.instances {
            if *stop.borrow() {
                assoc.abort().await;
                return Ok(GroupEnd::Stopped);
            }
            match self.store_one(&mut assoc, &inst).await {
                Ok(outcome) => progress.pending.push((inst.id, outcome)),
                Err(Transient(reason)) => {
                    assoc.abort().await;
                    return Ok(GroupEnd::Transient(reason));
                }
            }
            if progress.due() && !self.flush(job, id, progress).await? {
                assoc.abort().await;
                return Ok(GroupEnd::Lost);
            }
        }
        assoc.release().await;
        Ok(GroupEnd::Finished)
    }

    /// Reads one instance (hash-checked), strips its file meta group and stores it.
    async fn store_one(
        &self,
        assoc: &mut Association,
        inst: &Instance,
    ) -> Result<ItemOutcome, Transient> {
        let Some(pc) = assoc.context_for(&inst.sop_class_uid, &inst.transfer_syntax_uid) else {
            return Ok(ItemOutcome::Failed(format!(
                "the workstation does not accept SOP class {} in transfer syntax {} \
                 (instances are sent as stored, without transcoding)",
                inst.sop_class_uid, inst.transfer_syntax_uid
            )));
        };
        let Some(key) = BlobKey::parse(&inst.storage_key).filter(|k| k.sha256() == inst.sha256)
        else {
            return Ok(ItemOutcome::Failed(
                "the stored file's key is invalid".into(),
            ));
        };
        let file = match self.store.get(&key).await {
            Ok(b) => b,
            Err(StoreError::NotFound) => {
                tracing::error!(instance_id = inst.id, "send: stored file missing");
                return Ok(ItemOutcome::Failed("the stored file is missing".into()));
            }
            Err(StoreError::Corrupt(_)) => {
                tracing::error!(instance_id = inst.id, "send: stored file corrupt");
                return Ok(ItemOutcome::Failed(
                    "the stored file is corrupt (SHA-256 mismatch)".into(),
                ));
            }
            Err(e) => {
                tracing::error!(instance_id = inst.id, error = %e, "send: storage unavailable");
                return Err(Transient("storage unavailable".into()));
            }
        };
        if u64::try_from(inst.size_bytes).ok() != Some(file.len() as u64) {
            return Ok(ItemOutcome::Failed(
                "the stored file's size does not match the index".into(),
            ));
        }
        let meta = match file_meta::read(&file) {
            Ok(m) => m,
            Err(reason) => return Ok(ItemOutcome::Failed(reason.into())),
        };
        if meta.transfer_syntax_uid != inst.transfer_syntax_uid
            || meta.sop_instance_uid != inst.sop_instance_uid
        {
            return Ok(ItemOutcome::Failed(
                "the stored file does not match the index".into(),
            ));
        }
        let data_set = file.slice(meta.data_set_offset..);
        match assoc
            .store(pc, &inst.sop_class_uid, &inst.sop_instance_uid, data_set)
            .await?
        {
            Stored::Accepted => Ok(ItemOutcome::Sent),
            Stored::Refused(reason) => Ok(ItemOutcome::Failed(reason)),
        }
    }
}

/// Instances sent over one association, with the pairs it negotiates.
struct Group<T> {
    pairs: Vec<(String, String)>,
    instances: Vec<T>,
}

/// Splits items (kept in order within each group) into groups of at most
/// [`PAIRS_PER_ASSOCIATION`] distinct (SOP class, transfer syntax) pairs.
fn groups<T>(items: Vec<T>, pair_of: impl Fn(&T) -> (String, String)) -> Vec<Group<T>> {
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut out: Vec<Group<T>> = Vec::new();
    for item in items {
        let pair = pair_of(&item);
        let g = match index.get(&pair) {
            Some(g) => *g,
            None => {
                let g = match out.last() {
                    Some(last) if last.pairs.len() < PAIRS_PER_ASSOCIATION => out.len() - 1,
                    _ => {
                        out.push(Group {
                            pairs: Vec::new(),
                            instances: Vec::new(),
                        });
                        out.len() - 1
                    }
                };
                out[g].pairs.push(pair.clone());
                index.insert(pair, g);
                g
            }
        };
        out[g].instances.push(item);
    }
    out
}

fn pair_of(i: &Instance) -> (String, String) {
    (i.sop_class_uid.clone(), i.transfer_syntax_uid.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: &(i64, String)) -> (String, String) {
        (t.1.clone(), "ts".into())
    }

    #[test]
    fn one_group_per_127_pairs() {
        let few = vec![(1, "1".to_owned()), (2, "1".into()), (3, "2".into())];
        let g = groups(few, key);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].pairs.len(), 2);
        assert_eq!(g[0].instances.len(), 3);

        let many: Vec<(i64, String)> = (0..300).map(|i| (i, format!("1.{}", i % 200))).collect();
        let g = groups(many, key);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].pairs.len(), 127);
        assert_eq!(g[1].pairs.len(), 73);
        assert_eq!(g.iter().map(|g| g.instances.len()).sum::<usize>(), 300);
    }
}
