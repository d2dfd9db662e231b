//! A C-STORE SCU association with a workstation (dicom-ul, async): negotiate one
//! presentation context per (SOP class, stored transfer syntax), then store instances one at
//! a time, each answered by its C-STORE-RSP within the response timeout.
//!
//! Instances go as stored — no transcoding: an instance whose (SOP class, transfer syntax)
//! the workstation did not accept is reported as refused with the reason. Errors are short
//! reasons without patient data (they are shown on the sends page and kept in the database).

use std::time::Duration;

use bytes::Bytes;
use dicom_ul::association::client::{AsyncClientAssociation, ClientAssociationOptions};
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu, PresentationContextResultReason};
use tokio::net::TcpStream;

use super::dimse::{self, StatusClass};

/// Our largest PDU (responses are small; this bounds what a peer may send us).
const MAX_PDU: u32 = 64 * 1024;
/// Largest data fragment put in one P-DATA PDU, whatever the peer allows.
const MAX_FRAGMENT: usize = 256 * 1024;
/// Largest response command set accepted.
const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// Who we are and how long we wait.
#[derive(Debug, Clone)]
pub struct ScuConfig {
    pub calling_ae: String,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
}

/// Where to send.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub called_ae: String,
}

/// The outcome of one C-STORE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Accepted,
    /// Refused for good (the reason is shown to the user).
    Refused(String),
}

/// The association failed or the workstation is (for now) unable: try again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transient(pub String);

fn describe(e: &dicom_ul::association::Error) -> String {
    use dicom_ul::association::Error as E;
    match e {
        E::Connect { .. } | E::ToAddress { .. } => "could not connect to the workstation".into(),
        E::Rejected { association_rj, .. } => format!(
            "association rejected by the workstation ({:?}, {:?})",
            association_rj.result, association_rj.source
        ),
        E::NoAcceptedPresentationContexts { .. } => {
            "the workstation accepted none of the proposed SOP classes and transfer syntaxes".into()
        }
        E::Aborted { .. } => "the workstation aborted the association".into(),
        E::Timeout { .. } => "the workstation did not answer in time".into(),
        E::ConnectionClosed { .. } => "the workstation closed the connection".into(),
        _ => "association with the workstation failed".into(),
    }
}

/// An established association.
pub struct Association {
    assoc: AsyncClientAssociation<TcpStream>,
    response_timeout: Duration,
    message_id: u16,
}

impl Association {
    /// Connects and negotiates one presentation context per (SOP class, transfer syntax)
    /// pair (at most 127 pairs: the caller splits larger sets).
    pub async fn open(
        cfg: &ScuConfig,
        target: &Target,
        pairs: &[(String, String)],
    ) -> Result<Association, Transient> {
        let mut options = ClientAssociationOptions::new()
            .calling_ae_title(cfg.calling_ae.clone())
            .called_ae_title(target.called_ae.clone())
            .max_pdu_length(MAX_PDU)
            .connection_timeout(cfg.connect_timeout)
            .read_timeout(cfg.response_timeout)
            .write_timeout(cfg.response_timeout);
        for (sop, ts) in pairs.iter().take(127) {
            options = options.with_presentation_context(sop.clone(), vec![ts.clone()]);
        }
        let addr = format!("{}:{}", target.host, target.port);
        let budget = cfg.connect_timeout + cfg.response_timeout;
        let mut assoc = match tokio::time::timeout(budget, options.establish_async(addr)).await {
            Err(_) => return Err(Transient("the workstation did not answer in time".into())),
            Ok(Err(e)) => return Err(Transient(describe(&e))),
            Ok(Ok(a)) => a,
        };
        if let Err(e) = assoc.inner_stream().set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        Ok(Association {
            assoc,
            response_timeout: cfg.response_timeout,
            message_id: 0,
        })
    }

    /// The accepted presentation context for this (SOP class, transfer syntax), if any.
    pub fn context_for(&self, sop_class: &str, transfer_syntax: &str) -> Option<u8> {
        self.assoc
            .presentation_contexts()
            .iter()
            .find(|pc| {
                pc.reason == PresentationContextResultReason::Acceptance
                    && pc.abstract_syntax.trim_end_matches('\0') == sop_class
                    && pc.transfer_syntax.trim_end_matches('\0') == transfer_syntax
            })
            .map(|pc| pc.id)
    }

    /// Stores one data set (without its file meta group) on presentation context `pc_id`.
    pub async fn store(
        &mut self,
        pc_id: u8,
        sop_class: &str,
        sop_instance: &str,
        data_set: Bytes,
    ) -> Result<Stored, Transient> {
        self.message_id = self.message_id.wrapping_add(1).max(1);
        let id = self.message_id;
        let command = dimse::store_request(id, sop_class, sop_instance);
        self.send(Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc_id,
                value_type: PDataValueType::Command,
                is_last: true,
                data: command,
            }],
        })
        .await?;
        // One PDV per PDU, each within the peer's maximum PDU length (its 6-byte item
        // header included).
        let peer_max = usize::try_from(self.assoc.acceptor_max_pdu_length()).unwrap_or(16 * 1024);
        let fragment = peer_max.saturating_sub(6).clamp(1, MAX_FRAGMENT);
        let total = data_set.len();
        let mut start = 0;
        loop {
            let end = (start + fragment).min(total);
            self.send(Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: pc_id,
                    value_type: PDataValueType::Data,
                    is_last: end == total,
                    data: data_set.slice(start..end).to_vec(),
                }],
            })
            .await?;
            if end == total {
                break;
            }
            start = end;
        }
        let rsp = self.response().await?;
        if rsp.command_field != dimse::C_STORE_RSP || rsp.responded_to != id {
            return Err(Transient(
                "the workstation answered something other than this C-STORE".into(),
            ));
        }
        let comment = if rsp.error_comment.is_empty() {
            String::new()
        } else {
            format!(": {}", rsp.error_comment)
        };
        match dimse::classify(rsp.status) {
            StatusClass::Stored => Ok(Stored::Accepted),
            StatusClass::OutOfResources => Err(Transient(format!(
                "the workstation is out of resources (status 0x{:04X}{comment})",
                rsp.status
            ))),
            StatusClass::Refused => Ok(Stored::Refused(format!(
                "refused by the workstation (status 0x{:04X}{comment})",
                rsp.status
            ))),
        }
    }

    async fn send(&mut self, pdu: Pdu) -> Result<(), Transient> {
        match tokio::time::timeout(self.response_timeout, self.assoc.send(&pdu)).await {
            Err(_) => Err(Transient("the workstation did not read in time".into())),
            Ok(Err(e)) => Err(Transient(describe(&e))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads PDUs until a complete command set arrives.
    async fn response(&mut self) -> Result<dimse::StoreResponse, Transient> {
        let mut command: Vec<u8> = Vec::new();
        loop {
            let pdu = match tokio::time::timeout(self.response_timeout, self.assoc.receive()).await
            {
                Err(_) => return Err(Transient("the workstation did not answer in time".into())),
                Ok(Err(e)) => return Err(Transient(describe(&e))),
                Ok(Ok(p)) => p,
            };
            let pdvs = match pdu {
                Pdu::PData { data } => data,
                Pdu::AbortRQ { .. } => {
                    return Err(Transient("the workstation aborted the association".into()))
                }
                _ => return Err(Transient("unexpected PDU from the workstation".into())),
            };
            for pdv in pdvs {
                if pdv.value_type != PDataValueType::Command {
                    return Err(Transient(
                        "the workstation sent data instead of a response".into(),
                    ));
                }
                if command.len() + pdv.data.len() > MAX_COMMAND_BYTES {
                    return Err(Transient("the workstation's response is too large".into()));
                }
                command.extend_from_slice(&pdv.data);
                if pdv.is_last {
                    return dimse::decode_response(&command)
                        .map_err(|r| Transient(format!("unreadable response: {r}")));
                }
            }
        }
    }

    /// Releases the association (bounded by the response timeout; failures only logged).
    pub async fn release(self) {
        let t = self.response_timeout;
        match tokio::time::timeout(t, self.assoc.release()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(reason = %describe(&e), "association release failed"),
            Err(_) => tracing::debug!("association release timed out"),
        }
    }

    /// Aborts the association (after a failure).
    pub async fn abort(self) {
        let t = self.response_timeout;
        let _ = tokio::time::timeout(t, self.assoc.abort()).await;
    }
}
