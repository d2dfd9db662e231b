//! The outbox worker: claims due jobs of the kinds its handlers know (others stay pending
//! for a worker that knows them — mail jobs wait for the mail sender), runs them, and marks
//! them done, retries them with exponential backoff, or gives them up after the configured
//! attempts. A job whose worker died is claimed again when its lease runs out (see
//! `shared::outbox`). `enkaku serve` runs one worker beside the HTTP server and the DICOM
//! listener; any number may run against PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use shared::db::DbPool;
use shared::outbox::{self, AfterFailure, Job, RetryPolicy};
use shared::settings::WorkerSettings;
use tokio::sync::watch;

/// What a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Try again after the backoff (the reason has no patient data).
    Retry(String),
    /// Will never succeed: give up now.
    Fail(String),
    /// Stopped for shutdown: give the job back without counting the attempt.
    Interrupted,
    /// The claim was lost (lease expired and another worker took the job): leave it alone.
    Lost,
}

/// Runs the jobs of some kinds.
#[async_trait::async_trait]
pub trait Handler: Send + Sync {
    fn kinds(&self) -> &'static [&'static str];
    /// Runs one claimed job; `stop` turns true when the process shuts down.
    async fn run(&self, job: &Job, stop: &watch::Receiver<bool>) -> Outcome;
    /// The job was given up (attempts spent, or `Fail`): record it where users see it.
    async fn gave_up(&self, job: &Job, reason: &str);
}

/// The worker's retry policy from the settings.
pub fn policy(s: &WorkerSettings) -> RetryPolicy {
    RetryPolicy {
        max_attempts: i32::try_from(s.max_attempts).unwrap_or(i32::MAX),
        base: Duration::from_secs(u64::from(s.retry_base_seconds)),
        cap: Duration::from_secs(u64::from(s.retry_max_seconds)),
        lease: Duration::from_secs(u64::from(s.lease_seconds)),
    }
}

pub struct Worker {
    pool: DbPool,
    policy: RetryPolicy,
    poll: Duration,
    handlers: Vec<Arc<dyn Handler>>,
}

/// Runs blocking database work with a pooled connection.
pub(crate) async fn blocking<T, F>(pool: &DbPool, f: F) -> Result<T, shared::Error>
where
    T: Send + 'static,
    F: FnOnce(&mut shared::db::DbConnection) -> Result<T, shared::Error> + Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = pool.get()?;
        f(&mut c)
    })
    .await
    .map_err(|e| shared::Error::Internal(format!("blocking task: {e}")))?
}

impl Worker {
    pub fn new(pool: DbPool, settings: &WorkerSettings) -> Worker {
        Worker {
            pool,
            policy: policy(settings),
            poll: Duration::from_millis(settings.poll_millis),
            handlers: Vec::new(),
        }
    }

    pub fn with_handler(mut self, h: Arc<dyn Handler>) -> Worker {
        self.handlers.push(h);
        self
    }

    /// The kinds this worker runs.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.handlers
            .iter()
            .flat_map(|h| h.kinds().iter().copied())
            .collect()
    }

    fn handler_for(&self, kind: &str) -> Option<&Arc<dyn Handler>> {
        self.handlers.iter().find(|h| h.kinds().contains(&kind))
    }

    /// Claims and runs one due job; `false` when none was due.
    pub async fn tick(&self, stop: &watch::Receiver<bool>) -> Result<bool, shared::Error> {
        let kinds = self.kinds();
        if kinds.is_empty() {
            return Ok(false);
        }
        let lease = self.policy.lease;
        let job = blocking(&self.pool, move |c| {
            outbox::claim(c, &kinds, shared::db::now(), lease)
        })
        .await?;
        let Some(job) = job else {
            return Ok(false);
        };
        let Some(handler) = self.handler_for(&job.kind).cloned() else {
            return Ok(false);
        };
        tracing::info!(job_id = job.id, kind = %job.kind, attempt = job.attempts, "outbox job started");
        let outcome = handler.run(&job, stop).await;
        let policy = self.policy;
        let (failure, permanent) = match &outcome {
            Outcome::Done => {
                let j = job.clone();
                if !blocking(&self.pool, move |c| outbox::complete(c, &j)).await? {
                    tracing::warn!(
                        job_id = job.id,
                        "outbox job finished after its claim was lost"
                    );
                }
                tracing::info!(job_id = job.id, "outbox job done");
                return Ok(true);
            }
            Outcome::Interrupted => {
                let j = job.clone();
                blocking(&self.pool, move |c| outbox::release(c, &j)).await?;
                tracing::info!(job_id = job.id, "outbox job handed back (shutting down)");
                return Ok(true);
            }
            Outcome::Lost => {
                tracing::warn!(job_id = job.id, "outbox job's claim was lost");
                return Ok(true);
            }
            Outcome::Retry(e) => (e.clone(), false),
            Outcome::Fail(e) => (e.clone(), true),
        };
        let j = job.clone();
        let err = failure.clone();
        let after = blocking(&self.pool, move |c| {
            outbox::retry_or_give_up(c, &j, &err, permanent, &policy)
        })
        .await?;
        match after {
            AfterFailure::Retry(at) => {
                tracing::warn!(job_id = job.id, attempt = job.attempts, reason = %failure, next = %at, "outbox job failed, will retry");
            }
            AfterFailure::GaveUp => {
                tracing::warn!(job_id = job.id, attempt = job.attempts, reason = %failure, "outbox job given up");
                handler.gave_up(&job, &failure).await;
            }
            AfterFailure::Lost => {
                tracing::warn!(
                    job_id = job.id,
                    "outbox job failed after its claim was lost"
                );
            }
        }
        Ok(true)
    }

    /// Runs due jobs until none is left (tests, and each wake-up of [`run`](Worker::run)).
    pub async fn drain(&self, stop: &watch::Receiver<bool>) -> Result<usize, shared::Error> {
        let mut n = 0;
        while !*stop.borrow() && self.tick(stop).await? {
            n += 1;
        }
        Ok(n)
    }

    /// Polls for due jobs until `stop` turns true; a job in progress is handed back
    /// (interrupted between instances) rather than cut mid-write.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(kinds = ?self.kinds(), "outbox worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let pause = match self.drain(&stop).await {
                Ok(_) => self.poll,
                Err(e) => {
                    tracing::error!(error = %e, "outbox worker: database unavailable");
                    self.poll.max(Duration::from_secs(5))
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                r = stop.changed() => if r.is_err() { break },
            }
        }
        tracing::info!("outbox worker stopped");
    }
}
