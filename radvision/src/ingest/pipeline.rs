//! The one ingest pipeline that C-STORE, STOW-RS and browser uploads all use:
//! bounded parse and validation → durable blob → index row and audit event in one
//! transaction. Success is reported only after both the blob and the index are durable; a
//! crash in between leaves at most an unreferenced blob, removed by the start-up sweep.

use bytes::Bytes;
use shared::audit::{self, Ctx, Event, Outcome};
use shared::db::DbPool;
use shared::index::{self, NewInstance, Recorded};
use shared::settings::IngestSettings;

use crate::ingest::model::{ParsedInstance, Reject};
use crate::ingest::parse::{parse_instance, Limits};
use crate::store::{BlobWriter, SharedStore, StoreError, StoredBlob};

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
            limits,
            max_study_bytes: i64::try_from(s.max_study_bytes).unwrap_or(i64::MAX),
        }
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
        // that might not survive a crash).
        let mut writer = writer;
        let named = writer.seal().map_err(store_unavailable)?;
        let n = self.new_instance(src, &p, &named);
        let (tell, told) = std::sync::mpsc::sync_channel::<bool>(1);
        let pool = self.pool.clone();
        let ctx = src.ctx.clone();
        let max = self.max_study_bytes;
        let index = tokio::task::spawn_blocking(move || -> Result<Recorded, shared::Error> {
            let mut c = pool.get()?;
            let mut answer: Option<bool> = None;
            let mut durable = || *answer.get_or_insert_with(|| told.recv().unwrap_or(false));
            index::record_instance_when(&mut c, &ctx, &n, max, &mut durable)
        });
        let stored = writer.finish().await;
        // The index task may have ended early (database down): nobody listens then.
        let _ = tell.send(stored.is_ok());
        let recorded = index
            .await
            .map_err(|e| IngestError::Unavailable(format!("index task: {e}")))?;
        let blob = stored.map_err(store_unavailable)?;
        if blob != named {
            return Err(IngestError::Unavailable("streamed blob changed".into()));
        }
        outcome(recorded)
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
    fn new_instance(&self, src: &Source, p: &ParsedInstance, blob: &StoredBlob) -> NewInstance {
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
            received_via: src.channel.as_str(),
        }
    }

    /// Start-up sweep, before any listener runs: removes temporary files left by a crash and
    /// blobs no index row refers to (written, but the server died before indexing them).
    pub async fn startup_sweep(&self) -> Result<(u64, u64), IngestError> {
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
