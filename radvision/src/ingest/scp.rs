//! The DICOM listener: a C-STORE and C-ECHO SCP for the registered DICOM nodes of member
//! facilities.
//!
//! Each TCP connection gets its own task. Before the association is negotiated the
//! A-ASSOCIATE-RQ is *peeked* (left in the socket) so the calling AE title and the peer
//! address can be checked against the database without blocking the runtime; a refused
//! peer gets an A-ASSOCIATE-RJ and an audit event, an accepted one is negotiated by
//! `dicom-ul`. Every received instance goes through the one ingest pipeline
//! ([`Ingestor::ingest`]) and is acknowledged with success only once it is durable and
//! indexed. Nothing read from the network can panic the process; a malformed PDU or
//! command aborts the association. Logs carry AE titles, addresses and counts, never
//! patient data.

mod dimse;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dicom_ul::association::server::AsyncServerAssociation;
use dicom_ul::association::server::ServerAssociationOptions;
use dicom_ul::pdu::{
    AssociationRJ, AssociationRJResult, AssociationRJServiceProviderPresentationReason,
    AssociationRJServiceUserReason, AssociationRJSource, AssociationRQ, PDataValue, PDataValueType,
    Pdu, PresentationContextNegotiated, PresentationContextResultReason,
};
use shared::audit::{self, Actor, Ctx, Event, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::ingest::parse::{SOP_CLASSES, TRANSFER_SYNTAXES};
use crate::ingest::pipeline::{Channel, Ingestor, Source, Stored};
use crate::store::BlobWriter;

use self::dimse::Command;

/// What the listener needs: the ingest pipeline, the database and its own configuration.
pub struct ScpContext {
    pub ingestor: Arc<Ingestor>,
    pub pool: shared::db::DbPool,
    pub ae_title: String,
    pub max_associations: usize,
}

pub const VERIFICATION: &str = "1.2.840.10008.1.1";

/// Largest PDU we accept (and announce).
const MAX_PDU: u32 = 256 * 1024;
/// Largest A-ASSOCIATE-RQ inspected before negotiation.
const MAX_ASSOCIATE_RQ: usize = 256 * 1024;
/// Time a new connection has to send its A-ASSOCIATE-RQ.
const ASSOCIATE_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest silence tolerated on an established association.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest command set accepted (they are a few hundred bytes).
const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Room reserved up front for an incoming data set (a 512×512 CT slice is ~526 KB); the
/// buffer grows beyond it as needed, up to the instance limit.
const EXPECTED_DATA_SET_BYTES: usize = 600 * 1024;

/// Accepts associations until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, ctx: Arc<ScpContext>) {
    let permits = Arc::new(Semaphore::new(ctx.max_associations.max(1)));
    // Connections held at all (associations plus those being negotiated or refused): past
    // this, new connections are closed at once rather than given a task each.
    let connections = Arc::new(Semaphore::new(
        ctx.max_associations
            .max(1)
            .saturating_mul(2)
            .saturating_add(16),
    ));
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(v) => v,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!(error = %e, "DICOM accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if let Err(e) = sock.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        let Ok(slot) = connections.clone().try_acquire_owned() else {
            tracing::warn!(ip = %peer.ip().to_canonical(), "too many DICOM connections: closed");
            drop(sock);
            continue;
        };
        let ctx = ctx.clone();
        let permits = permits.clone();
        tokio::spawn(async move {
            let permit = permits.try_acquire_owned().ok();
            connection(sock, peer, ctx, permit.is_some()).await;
            drop(permit);
            drop(slot);
        });
    }
}

/// Why an association was refused (safe to log and audit).
struct Refusal {
    rj: AssociationRJ,
    reason: &'static str,
}

fn permanent(reason: AssociationRJServiceUserReason, text: &'static str) -> Refusal {
    Refusal {
        rj: AssociationRJ {
            result: AssociationRJResult::Permanent,
            source: AssociationRJSource::ServiceUser(reason),
        },
        reason: text,
    }
}

fn transient(
    reason: AssociationRJServiceProviderPresentationReason,
    text: &'static str,
) -> Refusal {
    Refusal {
        rj: AssociationRJ {
            result: AssociationRJResult::Transient,
            source: AssociationRJSource::ServiceProviderPresentation(reason),
        },
        reason: text,
    }
}

/// An AE title fit for logs and audit: trimmed, printable ASCII, at most 16 characters.
fn clean_ae(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(16)
        .collect()
}

async fn connection(mut sock: TcpStream, peer: SocketAddr, ctx: Arc<ScpContext>, admitted: bool) {
    let ip = peer.ip().to_canonical();
    let (rq, rq_len) = match peek_associate_rq(&sock).await {
        Ok(v) => v,
        Err(reason) => {
            tracing::info!(%ip, reason, "DICOM connection closed before association");
            let _ = sock.shutdown().await;
            return;
        }
    };
    let calling = clean_ae(&rq.calling_ae_title);
    let called = clean_ae(&rq.called_ae_title);
    let source = format!("{calling}@{ip}");

    if !admitted {
        tracing::warn!(calling_ae = %calling, %ip, "association refused: too many associations");
        reject(
            sock,
            rq_len,
            transient(
                AssociationRJServiceProviderPresentationReason::LocalLimitExceeded,
                "local limit exceeded",
            ),
        )
        .await;
        return;
    }

    let decision = if called != ctx.ae_title.trim() {
        Err(permanent(
            AssociationRJServiceUserReason::CalledAETitleNotRecognized,
            "called AE title not recognized",
        ))
    } else {
        match authorise(&ctx, &calling, ip).await {
            Ok(Some(ids)) => Ok(ids),
            Ok(None) => Err(permanent(
                AssociationRJServiceUserReason::CallingAETitleNotRecognized,
                "calling AE title not recognized",
            )),
            Err(e) => {
                tracing::error!(error = %e, "database unavailable while authorising a DICOM peer");
                Err(transient(
                    AssociationRJServiceProviderPresentationReason::TemporaryCongestion,
                    "database unavailable",
                ))
            }
        }
    };
    let (node_id, facility_id) = match decision {
        Ok(v) => v,
        Err(refusal) => {
            tracing::warn!(calling_ae = %calling, called_ae = %called, %ip, reason = refusal.reason, "association rejected");
            let ev = Event::new("dicom.associate", Outcome::Denied)
                .detail(serde_json::json!({"reason": refusal.reason, "called_ae": called}));
            audit_event(
                &ctx,
                Ctx {
                    actor: Actor::default(),
                    source: source.clone(),
                },
                ev,
            )
            .await;
            reject(sock, rq_len, refusal).await;
            return;
        }
    };

    let mut options = ServerAssociationOptions::new()
        .accept_any()
        .ae_title(ctx.ae_title.trim().to_owned())
        .max_pdu_length(MAX_PDU)
        .read_timeout(IDLE_TIMEOUT)
        .write_timeout(IDLE_TIMEOUT)
        .with_abstract_syntax(VERIFICATION);
    for (sop, _, _) in SOP_CLASSES {
        options = options.with_abstract_syntax(*sop);
    }
    // The first proposed transfer syntax the parser accepts is taken as-is: no transcoding.
    for (ts, _, _) in TRANSFER_SYNTAXES {
        options = options.with_transfer_syntax(*ts);
    }
    let assoc = match options.establish_async(sock).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(calling_ae = %calling, %ip, error = %e, "association negotiation failed");
            return;
        }
    };
    let accepted = assoc
        .presentation_contexts()
        .iter()
        .filter(|pc| pc.reason == PresentationContextResultReason::Acceptance)
        .count();
    tracing::info!(calling_ae = %calling, %ip, facility_id, presentation_contexts = accepted, "association accepted");
    let audit_ctx = Ctx {
        actor: Actor {
            username: Some(calling.clone()),
            facility_id: Some(facility_id),
            ..Actor::default()
        },
        source,
    };
    audit_event(
        &ctx,
        audit_ctx.clone(),
        Event::success("dicom.associate").object("dicom_node", node_id),
    )
    .await;

    let mut session = Session {
        ctx: &ctx,
        src: Source {
            facility_id,
            channel: Channel::CStore,
            ctx: audit_ctx,
        },
        counts: Counts::default(),
    };
    let end = session.run(assoc).await;
    let c = session.counts;
    tracing::info!(
        calling_ae = %calling, %ip, facility_id,
        stored = c.stored, duplicates = c.duplicates, failed = c.failed, echoes = c.echoes,
        end, "association ended"
    );
}

/// Reads the A-ASSOCIATE-RQ without consuming it; returns it with its length on the wire.
async fn peek_associate_rq(sock: &TcpStream) -> Result<(AssociationRQ, usize), &'static str> {
    let deadline = tokio::time::Instant::now() + ASSOCIATE_TIMEOUT;
    let mut buf = vec![0u8; 4096];
    let mut seen = 0;
    loop {
        let n = match tokio::time::timeout_at(deadline, sock.peek(&mut buf)).await {
            Err(_) => return Err("no A-ASSOCIATE-RQ in time"),
            Ok(Err(_)) => return Err("connection error"),
            Ok(Ok(0)) => return Err("connection closed"),
            Ok(Ok(n)) => n,
        };
        if n >= 6 {
            if buf[0] != 0x01 {
                return Err("first PDU is not an A-ASSOCIATE-RQ");
            }
            let len = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]) as usize;
            let total = len.saturating_add(6);
            if total > MAX_ASSOCIATE_RQ {
                return Err("A-ASSOCIATE-RQ too large");
            }
            if n >= total {
                return match dicom_ul::pdu::read_pdu(&buf[..total], MAX_PDU, true) {
                    Ok(Some(Pdu::AssociationRQ(rq))) => Ok((rq, total)),
                    _ => Err("malformed A-ASSOCIATE-RQ"),
                };
            }
            if buf.len() < total {
                buf.resize(total, 0);
                continue;
            }
        }
        if n == seen {
            // Peek returns at once while data is pending: wait for more to arrive.
            if tokio::time::Instant::now() >= deadline {
                return Err("no A-ASSOCIATE-RQ in time");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen = n;
    }
}

/// Consumes the A-ASSOCIATE-RQ, answers A-ASSOCIATE-RJ and closes the connection.
async fn reject(mut sock: TcpStream, rq_len: usize, refusal: Refusal) {
    let mut rq = vec![0u8; rq_len];
    let mut out = Vec::new();
    let work = async {
        sock.read_exact(&mut rq).await?;
        if dicom_ul::write_pdu(&mut out, &Pdu::AssociationRJ(refusal.rj)).is_ok() {
            sock.write_all(&out).await?;
        }
        sock.shutdown().await?;
        // Give the requestor a moment to read the answer and close its end first.
        let mut sink = [0u8; 512];
        while sock.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), work).await;
}

/// The enabled node and its active facility for this calling AE title and address.
async fn authorise(
    ctx: &ScpContext,
    calling: &str,
    ip: IpAddr,
) -> Result<Option<(i64, i64)>, String> {
    let pool = ctx.pool.clone();
    let calling = calling.to_owned();
    tokio::task::spawn_blocking(move || -> Result<Option<(i64, i64)>, shared::Error> {
        let mut c = pool.get()?;
        Ok(
            shared::membership::dicom_nodes::authorise_peer(&mut c, &calling, ip)?
                .map(|(node, facility)| (node.id, facility.id)),
        )
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}

async fn audit_event(ctx: &ScpContext, actx: Ctx, ev: Event) {
    let pool = ctx.pool.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<i64, shared::Error> {
        let mut c = pool.get()?;
        audit::record_now(&mut c, &actx, ev)
    })
    .await;
    if !matches!(r, Ok(Ok(_))) {
        tracing::error!("could not write a DICOM audit event");
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    stored: u64,
    duplicates: u64,
    failed: u64,
    echoes: u64,
}

/// A C-STORE whose data set is arriving.
struct Pending {
    pc_id: u8,
    cmd: Command,
    /// The Part 10 file being received: its file meta header (made from the command), then
    /// the data set's fragments as they arrive (kept for the parser).
    data: Vec<u8>,
    /// The same bytes streamed into the blob store as they arrive (hashing and writing
    /// overlap with the network); `None` once refused or failed.
    writer: Option<Box<dyn BlobWriter>>,
    /// Set when the data set outgrew the limit: the rest is read and dropped, then the
    /// request is answered with a failure.
    overflow: bool,
    /// Set when the request cannot be served (e.g. wrong SOP class, storage failing):
    /// status to answer.
    refuse: Option<u16>,
}

struct Session<'a> {
    ctx: &'a ScpContext,
    src: Source,
    counts: Counts,
}

type Assoc = AsyncServerAssociation<TcpStream>;

impl Session<'_> {
    /// Serves the association until release, abort or error; returns how it ended.
    async fn run(&mut self, mut assoc: Assoc) -> &'static str {
        match self.serve(&mut assoc).await {
            Ok(end) => end,
            Err(reason) => {
                tracing::warn!(calling_ae = ?self.src.ctx.actor.username, reason, "aborting association");
                let _ = assoc.abort().await;
                "aborted by us"
            }
        }
    }

    async fn serve(&mut self, assoc: &mut Assoc) -> Result<&'static str, &'static str> {
        let max_bytes = self.ctx.ingestor.limits().max_instance_bytes;
        let max_bytes = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        let mut command: Vec<u8> = Vec::new();
        let mut command_pc: Option<u8> = None;
        let mut pending: Option<Pending> = None;
        loop {
            let pdu = match assoc.receive().await {
                Ok(p) => p,
                Err(dicom_ul::association::Error::ConnectionClosed { .. }) => {
                    return Ok("connection closed by peer");
                }
                Err(e) => {
                    tracing::debug!(error = %e, "receive failed");
                    return Err("unreadable or oversized PDU, or timeout");
                }
            };
            let pdvs = match pdu {
                Pdu::PData { data } => data,
                Pdu::ReleaseRQ => {
                    if pending.is_some() {
                        tracing::warn!("release requested with a data set still arriving");
                    }
                    let _ = assoc.send(&Pdu::ReleaseRP).await;
                    return Ok("released");
                }
                Pdu::AbortRQ { .. } => return Ok("aborted by peer"),
                _ => return Err("unexpected PDU"),
            };
            for pdv in pdvs {
                let PDataValue {
                    presentation_context_id: pc_id,
                    value_type,
                    is_last,
                    data,
                } = pdv;
                match value_type {
                    PDataValueType::Command => {
                        if pending.is_some() {
                            return Err("command fragment while a data set was expected");
                        }
                        if command_pc.is_some_and(|p| p != pc_id) {
                            return Err("command fragments on different presentation contexts");
                        }
                        command_pc = Some(pc_id);
                        if command.len() + data.len() > MAX_COMMAND_BYTES {
                            return Err("command set too large");
                        }
                        command.extend_from_slice(&data);
                        if !is_last {
                            continue;
                        }
                        command_pc = None;
                        let cmd = dimse::decode(&command).map_err(|r| {
                            tracing::warn!(reason = r, "malformed command set");
                            "malformed command set"
                        })?;
                        command.clear();
                        let pc = accepted_pc(assoc, pc_id).ok_or("unknown presentation context")?;
                        pending = self.command(assoc, pc_id, &pc, cmd).await?;
                    }
                    PDataValueType::Data => {
                        let Some(p) = pending.as_mut() else {
                            return Err("data set without a command");
                        };
                        if p.pc_id != pc_id {
                            return Err("data set on another presentation context");
                        }
                        // A refused request's data set is read and dropped.
                        if !p.overflow && p.refuse.is_none() {
                            if p.data.len().saturating_add(data.len()) > max_bytes {
                                p.overflow = true;
                                p.data = Vec::new();
                                p.writer = None;
                            } else {
                                p.data.extend_from_slice(&data);
                                if let Some(w) = p.writer.as_mut() {
                                    if let Err(e) = w.write(&data) {
                                        tracing::error!(error = %e, "blob store unavailable");
                                        p.writer = None;
                                        p.data = Vec::new();
                                        p.refuse = Some(dimse::STATUS_OUT_OF_RESOURCES);
                                    }
                                }
                            }
                        }
                        if is_last {
                            if let Some(p) = pending.take() {
                                self.store(assoc, p).await?;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Handles a complete command; returns the pending C-STORE if a data set follows.
    async fn command(
        &mut self,
        assoc: &mut Assoc,
        pc_id: u8,
        pc: &PresentationContextNegotiated,
        cmd: Command,
    ) -> Result<Option<Pending>, &'static str> {
        match cmd.command_field {
            dimse::C_ECHO_RQ => {
                if cmd.has_data_set {
                    return Err("C-ECHO-RQ with a data set");
                }
                self.counts.echoes += 1;
                let rsp = dimse::encode_response(
                    dimse::C_ECHO_RSP,
                    cmd.message_id,
                    dimse::STATUS_SUCCESS,
                    VERIFICATION,
                    None,
                );
                send_command(assoc, pc_id, rsp).await?;
                Ok(None)
            }
            dimse::C_STORE_RQ => {
                if !cmd.has_data_set {
                    return Err("C-STORE-RQ without a data set");
                }
                let refuse = if pc.abstract_syntax != cmd.affected_sop_class
                    || !SOP_CLASSES
                        .iter()
                        .any(|(uid, _, _)| *uid == cmd.affected_sop_class)
                {
                    Some(dimse::STATUS_SOP_CLASS_NOT_SUPPORTED)
                } else if cmd.affected_sop_instance.is_empty() {
                    Some(dimse::STATUS_CANNOT_UNDERSTAND)
                } else {
                    None
                };
                let mut pending = Pending {
                    pc_id,
                    data: Vec::new(),
                    writer: None,
                    overflow: false,
                    refuse,
                    cmd,
                };
                if pending.refuse.is_none() {
                    pending.data = crate::ingest::part10::file_header(
                        &pending.cmd.affected_sop_class,
                        &pending.cmd.affected_sop_instance,
                        &pc.transfer_syntax,
                        EXPECTED_DATA_SET_BYTES,
                    );
                    match self.ctx.ingestor.store().writer() {
                        Ok(mut w) => match w.write(&pending.data) {
                            Ok(()) => pending.writer = Some(w),
                            Err(e) => {
                                tracing::error!(error = %e, "blob store unavailable");
                                pending.refuse = Some(dimse::STATUS_OUT_OF_RESOURCES);
                            }
                        },
                        Err(e) => {
                            tracing::error!(error = %e, "blob store unavailable");
                            pending.refuse = Some(dimse::STATUS_OUT_OF_RESOURCES);
                        }
                    }
                }
                Ok(Some(pending))
            }
            dimse::C_CANCEL_RQ => Ok(None),
            other => {
                tracing::warn!(command_field = other, "unsupported DIMSE command");
                if cmd.has_data_set || other & 0x8000 != 0 {
                    return Err("unsupported DIMSE command");
                }
                let rsp = dimse::encode_response(
                    other | 0x8000,
                    cmd.message_id,
                    dimse::STATUS_UNRECOGNIZED_OPERATION,
                    &cmd.affected_sop_class,
                    None,
                );
                send_command(assoc, pc_id, rsp).await?;
                Ok(None)
            }
        }
    }

    /// Ingests a received instance and answers the C-STORE-RQ.
    async fn store(&mut self, assoc: &mut Assoc, p: Pending) -> Result<(), &'static str> {
        let status = if let Some(s) = p.refuse {
            tracing::warn!(status = s, "C-STORE refused");
            s
        } else if p.overflow {
            let limit = self.ctx.ingestor.limits().max_instance_bytes;
            tracing::warn!(limit, "C-STORE refused: instance larger than the limit");
            let ev = Event::new("instance.store", Outcome::Failure).detail(serde_json::json!({
                "via": Channel::CStore.as_str(),
                "reason": format!("instance larger than the limit ({limit} bytes)"),
            }));
            audit_event(self.ctx, self.src.ctx.clone(), ev).await;
            dimse::STATUS_OUT_OF_RESOURCES
        } else if let Some(writer) = p.writer {
            let file = Bytes::from(p.data);
            match self
                .ctx
                .ingestor
                .ingest_streamed(&self.src, file, writer)
                .await
            {
                Ok(Stored::New { .. }) => {
                    self.counts.stored += 1;
                    dimse::STATUS_SUCCESS
                }
                Ok(Stored::Duplicate { .. }) => {
                    self.counts.duplicates += 1;
                    dimse::STATUS_SUCCESS
                }
                Err(e) => e.dicom_status(),
            }
        } else {
            dimse::STATUS_OUT_OF_RESOURCES
        };
        if status != dimse::STATUS_SUCCESS {
            self.counts.failed += 1;
        }
        let rsp = dimse::encode_response(
            dimse::C_STORE_RSP,
            p.cmd.message_id,
            status,
            &p.cmd.affected_sop_class,
            Some(&p.cmd.affected_sop_instance),
        );
        send_command(assoc, p.pc_id, rsp).await
    }
}

fn accepted_pc(assoc: &Assoc, pc_id: u8) -> Option<PresentationContextNegotiated> {
    assoc
        .presentation_contexts()
        .iter()
        .find(|pc| pc.id == pc_id && pc.reason == PresentationContextResultReason::Acceptance)
        .cloned()
}

async fn send_command(assoc: &mut Assoc, pc_id: u8, data: Vec<u8>) -> Result<(), &'static str> {
    assoc
        .send(&Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc_id,
                value_type: PDataValueType::Command,
                is_last: true,
                data,
            }],
        })
        .await
        .map_err(|_| "could not send a response")
}
