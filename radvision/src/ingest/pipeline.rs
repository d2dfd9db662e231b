//! The one ingest pipeline that C-STORE, STOW-RS and browser uploads all use:
//! bounded parse and validation → durable blob → index row and audit event in one
//! transaction. Success is reported only after both the blob and the index are durable; a
//! crash in between leaves at most an unreferenced blob, removed by the start-up sweep.
//!
//! With the ingest journal (the default for the DICOM listener, see
//! [`crate::store::journal`]) "durable" is one flush of the journal record, which holds
//! the instance's bytes and its index entry; the index commit then does not wait for the
//! database's flush, and start-up replays the journal before any listener runs.

use std::sync::Arc;

use bytes::Bytes;
use shared::audit::{self, Ctx, Event, Outcome};
use shared::db::DbConnection;
use shared::db::DbPool;
use shared::index::{self, Flush, NewInstance, Recorded};
use shared::settings::IngestSettings;

use crate::ingest::model::{ParsedInstance, Reject};
use crate::ingest::parse::{parse_instance, Limits};
use crate::store::{BlobWriter, JournalSizes, JournaledStore, SharedStore, StoreError, StoredBlob};

/// How an instance reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    CStore,
    StowRs,
    Upload,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::CStore => "c-store",
            Channel::StowRs => "stow-rs",
            Channel::Upload => "upload",
        }
    }
}

/// Who is sending: the facility that will own the instance, the channel, and the audit
/// context (a user or API token, or a DICOM node's AE title and address).
#[derive(Debug, Clone)]
pub struct Source {
    pub facility_id: i64,
    pub channel: Channel,
    pub ctx: Ctx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New { instance_id: i64, study_id: i64 },
    Duplicate { instance_id: i64, study_id: i64 },
}

impl Stored {
    pub fn study_id(self) -> i64 {
        match self {
            Stored::New { study_id, .. } | Stored::Duplicate { study_id, .. } => study_id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The instance itself is unacceptable; the sender should not retry it unchanged.
    #[error("refused: {0}")]
    Rejected(Reject),
    /// Storage or database unavailable: nothing was recorded; the sender may retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl IngestError {
    /// C-STORE status: the reject's, or 0xA700 (out of resources) when unavailable.
    pub fn dicom_status(&self) -> u16 {
        match self {
            IngestError::Rejected(r) => r.dicom_status(),
            IngestError::Unavailable(_) => 0xA700,
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            IngestError::Rejected(r) => r.http_status(),
            IngestError::Unavailable(_) => 503,
        }
    }
}

pub struct Ingestor {
    pool: DbPool,
    store: SharedStore,
    /// The ingest journal in front of `store`, when streamed writes go through one.
    journal: Option<Arc<JournaledStore>>,
    limits: Limits,
    max_study_bytes: i64,
}

fn store_unavailable(e: StoreError) -> IngestError {
    tracing::error!(error = %e, "blob store unavailable");
    IngestError::Unavailable(e.to_string())
}

impl Ingestor {
    pub fn new(pool: DbPool, store: SharedStore, s: &IngestSettings) -> Ingestor {
        let limits = Limits {
            max_instance_bytes: s.max_instance_bytes,
            ..Limits::default()
        };
        Ingestor {
            pool,
            store,
            journal: None,
            limits,
            max_study_bytes: i64::try_from(s.max_study_bytes).unwrap_or(i64::MAX),
        }
    }

    /// An ingestor whose streamed writes (the DICOM listener) go through the ingest journal
    /// in `journal_dir` in front of `store`; call [`startup_sweep`](Self::startup_sweep)
    /// (which replays what an earlier run left in the journal) before any listener runs.
    pub fn journaled(
        pool: DbPool,
        store: SharedStore,
        s: &IngestSettings,
        journal_dir: &std::path::Path,
    ) -> Result<Ingestor, StoreError> {
        const MIB: u64 = 1024 * 1024;
        let journal = JournaledStore::open(
            journal_dir,
            store,
            JournalSizes {
                segment_bytes: u64::from(s.journal_segment_mib) * MIB,
                max_backlog: u64::from(s.journal_backlog_mib) * MIB,
                recycle_bytes: u64::from(s.journal_recycle_mib) * MIB,
            },
        )?;
        let barrier_pool = pool.clone();
        journal.set_barrier(Arc::new(move || {
            let mut c = barrier_pool.get().map_err(|e| e.to_string())?;
            index::mark_durable(&mut c, "ingest-journal").map_err(|e| e.to_string())
        }));
        let mut i = Ingestor::new(pool, Arc::new(journal.clone()), s);
        i.journal = Some(journal);
        Ok(i)
    }

    /// The ingest journal, if streamed writes go through one.
    pub fn journal(&self) -> Option<&Arc<JournaledStore>> {
        self.journal.as_ref()
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    async fn audit_refusal(&self, src: &Source, reason: String) {
        let pool = self.pool.clone();
        let ctx = src.ctx.clone();
        let via = src.channel.as_str();
        let r = tokio::task::spawn_blocking(move || -> Result<(), shared::Error> {
            let mut c = pool.get()?;
            audit::record_now(
                &mut c,
                &ctx,
                Event::new("instance.store", Outcome::Failure)
                    .detail(serde_json::json!({"via": via, "reason": reason})),
            )?;
            Ok(())
        })
        .await;
        if !matches!(r, Ok(Ok(()))) {
            tracing::error!("could not audit a refused instance");
        }
    }

    /// Refuses an instance over the size limit (audited).
    async fn check_size(&self, src: &Source, len: usize) -> Result<(), IngestError> {
        if len as u64 > self.limits.max_instance_bytes {
            let r = Reject::TooLarge(self.limits.max_instance_bytes);
            tracing::warn!(via = src.channel.as_str(), reason = %r, "instance refused");
            self.audit_refusal(src, r.to_string()).await;
            return Err(IngestError::Rejected(r));
        }
        Ok(())
    }

    /// Logs and audits a refusal by the parser.
    async fn refused(&self, src: &Source, r: Reject) -> IngestError {
        tracing::warn!(via = src.channel.as_str(), reason = %r, "instance refused");
        self.audit_refusal(src, r.to_string()).await;
        IngestError::Rejected(r)
    }

    /// Ingests one DICOM Part 10 instance for `src.facility_id`.
    pub async fn ingest(&self, src: &Source, data: Bytes) -> Result<Stored, IngestError> {
        self.check_size(src, data.len()).await?;
        let limits = self.limits.clone();
        let parse_input = data.clone();
        let parsed = tokio::task::spawn_blocking(move || parse_instance(&parse_input, &limits))
            .await
            .map_err(|e| IngestError::Unavailable(format!("parser task: {e}")))?;
        let p = match parsed {
            Ok(v) => v,
            Err(r) => return Err(self.refused(src, r).await),
        };
        // Durable blob first, then the index: an index row never points at a missing blob.
        // The store computes the SHA-256 (the content address) once.
        let blob = self.store.put(data).await.map_err(store_unavailable)?;
        self.record(src, &p, blob).await
    }

    /// Ingests an instance whose bytes were also streamed into `writer` as they arrived
    /// (the DICOM listener: hashing and writing overlap with the network). `data` is the
    /// same Part 10 file, for parsing; the parse is a bounded walk over the header (a few
    /// microseconds), so it runs here. A refused instance's writer is dropped, which
    /// discards its temporary file.
    pub async fn ingest_streamed(
        &self,
        src: &Source,
        data: Bytes,
        writer: Box<dyn BlobWriter>,
    ) -> Result<Stored, IngestError> {
        self.check_size(src, data.len()).await?;
        let p = match parse_instance(&data, &self.limits) {
            Ok(v) => v,
            Err(r) => {
                drop(writer);
                return Err(self.refused(src, r).await);
            }
        };
        drop(data);
        // The content's name is known now; make it durable while the index rows are
        // written, and commit them only once it is (an index row never points at a blob
        // that might not survive a crash). A journaled writer keeps the index entry in the
        // same flushed record, so the index commit need not wait for its own flush.
        let mut writer = writer;
        let named = writer.seal().map_err(store_unavailable)?;
        let n = self.new_instance(src, &p, &named);
        let entry = JournalEntry {
            instance: n.clone(),
            ctx: src.ctx.clone(),
        };
        let flush = match serde_json::to_vec(&entry) {
            Ok(e) => {
                if writer.set_recovery_entry(e) {
                    Flush::Deferred
                } else {
                    Flush::Now
                }
            }
            Err(_) => Flush::Now,
        };
        let (tell, told) = std::sync::mpsc::sync_channel::<bool>(1);
        let pool = self.pool.clone();
        let ctx = src.ctx.clone();
        let max = self.max_study_bytes;
        let index = tokio::task::spawn_blocking(move || -> Result<Recorded, shared::Error> {
            let mut c = pool.get()?;
            let mut answer: Option<bool> = None;
            let mut durable = || *answer.get_or_insert_with(|| told.recv().unwrap_or(false));
            index::record_instance_when(&mut c, &ctx, &n, max, flush, &mut durable)
        });
        let stored = writer.finish().await;
        // The index task may have ended early (database down): nobody listens then.
        let _ = tell.send(stored.is_ok());
        let recorded = index
            .await
            .map_err(|e| IngestError::Unavailable(format!("index task: {e}")));
        let result = recorded.and_then(outcome);
        if let (Some(j), Ok(blob)) = (&self.journal, &stored) {
            j.settle(blob, result.is_ok());
        }
        let blob = stored.map_err(store_unavailable)?;
        if blob != named {
            return Err(IngestError::Unavailable("streamed blob changed".into()));
        }
        result
    }

    /// Indexes a parsed instance whose blob is durable (one transaction with its audit
    /// event); answers what the sender is told.
    async fn record(
        &self,
        src: &Source,
        p: &ParsedInstance,
        blob: StoredBlob,
    ) -> Result<Stored, IngestError> {
        let n = self.new_instance(src, p, &blob);
        let pool = self.pool.clone();
        let ctx = src.ctx.clone();
        let max = self.max_study_bytes;
        let recorded = tokio::task::spawn_blocking(move || -> Result<Recorded, shared::Error> {
            let mut c = pool.get()?;
            index::record_instance(&mut c, &ctx, &n, max)
        })
        .await
        .map_err(|e| IngestError::Unavailable(format!("index task: {e}")))?;
        outcome(recorded)
    }

    /// The index row of a parsed instance stored as `blob`.
    pub fn new_instance(&self, src: &Source, p: &ParsedInstance, blob: &StoredBlob) -> NewInstance {
        NewInstance {
            facility_id: src.facility_id,
            patient_key: p.patient_id.clone(),
            name_alphabetic: p.patient_name.alphabetic.clone(),
            name_ideographic: p.patient_name.ideographic.clone(),
            name_phonetic: p.patient_name.phonetic.clone(),
            birth_date: p.patient_birth_date,
            sex: p.patient_sex.clone(),
            study_uid: p.study_instance_uid.clone(),
            accession_number: p.accession_number.clone(),
            study_date: p.study_date,
            study_time: p.study_time.clone(),
            study_description: p.study_description.clone(),
            referring_physician: [
                p.referring_physician.alphabetic.as_str(),
                p.referring_physician.ideographic.as_str(),
                p.referring_physician.phonetic.as_str(),
            ]
            .iter()
            .copied()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("="),
            modality: p.modality.clone(),
            body_part: p.body_part_examined.clone(),
            series_uid: p.series_instance_uid.clone(),
            series_number: p.series_number,
            series_description: p.series_description.clone(),
            sop_instance_uid: p.sop_instance_uid.clone(),
            sop_class_uid: p.sop_class_uid.clone(),
            transfer_syntax_uid: p.transfer_syntax_uid.clone(),
            instance_number: p.instance_number,
            rows: p.rows.map(i32::from),
            columns: p.columns.map(i32::from),
            frames: p.number_of_frames.and_then(|f| i32::try_from(f).ok()),
            imaging: p.imaging.clone(),
            size_bytes: i64::try_from(blob.size).unwrap_or(i64::MAX),
            sha256: blob.sha256.clone(),
            storage_key: blob.key.as_str().to_owned(),
            received_via: src.channel.as_str().to_owned(),
        }
    }

    /// Replays what an earlier run left in the ingest journal (each record indexed again
    /// unless it is, its blob put into the blob store), then deletes the segments. Part of
    /// [`startup_sweep`](Self::startup_sweep). Returns (records replayed, blobs stored).
    pub async fn recover_journal(&self) -> Result<(u64, u64), IngestError> {
        let Some(journal) = self.journal.clone() else {
            return Ok((0, 0));
        };
        let pool = self.pool.clone();
        let max = self.max_study_bytes;
        tokio::task::spawn_blocking(move || {
            let mut conn = pool
                .get()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            journal.recover(&mut |entry, blob| replay(&mut conn, entry, blob, max))
        })
        .await
        .map_err(|e| IngestError::Unavailable(format!("journal task: {e}")))?
        .map_err(|e| IngestError::Unavailable(e.to_string()))
    }

    /// Start-up sweep, before any listener runs: replays the ingest journal, removes
    /// temporary files left by a crash and blobs no index row refers to (written, but the
    /// server died before indexing them).
    pub async fn startup_sweep(&self) -> Result<(u64, u64), IngestError> {
        self.recover_journal().await?;
        self.sweep_store().await
    }

    /// The blob-store half of [`startup_sweep`](Self::startup_sweep): temporary files and
    /// orphans (for a caller that replayed the journal itself).
    pub async fn sweep_store(&self) -> Result<(u64, u64), IngestError> {
        let temps = self
            .store
            .sweep_temporary()
            .await
            .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        let pool = self.pool.clone();
        let referenced =
            tokio::task::spawn_blocking(move || -> Result<Vec<String>, shared::Error> {
                let mut c = pool.get()?;
                index::storage_keys(&mut c)
            })
            .await
            .map_err(|e| IngestError::Unavailable(e.to_string()))?
            .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        let referenced: std::collections::HashSet<String> = referenced.into_iter().collect();
        let mut orphans = 0;
        for key in self
            .store
            .list()
            .await
            .map_err(|e| IngestError::Unavailable(e.to_string()))?
        {
            if !referenced.contains(key.as_str()) {
                self.store
                    .delete(&key)
                    .await
                    .map_err(|e| IngestError::Unavailable(e.to_string()))?;
                orphans += 1;
            }
        }
        if temps > 0 || orphans > 0 {
            tracing::info!(
                temporary = temps,
                orphans,
                "start-up sweep cleaned the blob store"
            );
        }
        Ok((temps, orphans))
    }
}

/// What a journal record keeps beside the instance's bytes: its index entry and who sent it.
#[derive(serde::Serialize, serde::Deserialize)]
struct JournalEntry {
    instance: NewInstance,
    ctx: shared::audit::Ctx,
}

/// Indexes a replayed journal record unless it already is; says whether its blob is wanted.
fn replay(
    c: &mut DbConnection,
    entry: &[u8],
    blob: &StoredBlob,
    max_study_bytes: i64,
) -> Result<bool, String> {
    let e: JournalEntry = match serde_json::from_slice(entry) {
        Ok(e) => e,
        Err(_) => {
            // A record without a readable entry cannot be attributed to a facility.
            tracing::warn!("journal record without a readable index entry; not replayed");
            return Ok(false);
        }
    };
    let n = e.instance;
    if n.sha256 != blob.sha256 || n.storage_key != blob.key.as_str() {
        tracing::warn!("journal record whose entry names other content; not replayed");
        return Ok(false);
    }
    if index::is_indexed(c, n.facility_id, &n.sop_instance_uid, &n.sha256)
        .map_err(|e| e.to_string())?
    {
        return Ok(true);
    }
    match index::record_instance(c, &e.ctx, &n, max_study_bytes).map_err(|e| e.to_string())? {
        Recorded::New { .. } | Recorded::Duplicate { .. } => {
            tracing::info!(
                via = n.received_via,
                "instance indexed again from the ingest journal"
            );
            Ok(true)
        }
        Recorded::Conflict { .. } | Recorded::StudyTooLarge => Ok(false),
    }
}

/// What the sender is told about an indexing result.
fn outcome(recorded: Result<Recorded, shared::Error>) -> Result<Stored, IngestError> {
    let recorded = recorded.map_err(|e| {
        tracing::error!(error = %e, "index unavailable");
        IngestError::Unavailable(e.to_string())
    })?;
    match recorded {
        Recorded::New {
            instance_id,
            study_id,
        } => Ok(Stored::New {
            instance_id,
            study_id,
        }),
        Recorded::Duplicate {
            instance_id,
            study_id,
        } => Ok(Stored::Duplicate {
            instance_id,
            study_id,
        }),
        Recorded::Conflict { .. } => Err(IngestError::Rejected(Reject::Conflict)),
        Recorded::StudyTooLarge => Err(IngestError::Rejected(Reject::StudyTooLarge)),
    }
}
