//! Manual acknowledgement of inbound QoS 1/2 messages ([`Options::manual_acks`]).
//!
//! Each QoS 1/2 message is delivered with an [`AckId`] ([`ReceivedMessage::ack`]); its PUBACK
//! (QoS 1) or PUBREC (QoS 2) goes out only when the application calls [`Session::ack`], and in
//! the order the PUBLISH packets arrived (v5 MQTT-4.6.0-2, MQTT-4.6.0-3; v3.1.1 MQTT-4.6.0-2,
//! MQTT-4.6.0-3): an acknowledgement given early is held back until every earlier message of
//! the connection is acknowledged too.
//!
//! **Bounds.** In MQTT 5.0 the broker may not send more QoS 1/2 messages than the Receive
//! Maximum the client announced ([`Options::receive_maximum`]) until it has their PUBACK,
//! PUBREC (QoS 2 counting until PUBCOMP: v5 MQTT-3.3.4-9): a slow application makes the broker
//! wait, and a broker that sends more breaks the protocol (DISCONNECT 0x93). MQTT 3.1.1 has no
//! such limit: the session holds every message the broker sends, and only the broker's own
//! inflight limit (mosquitto's `max_inflight_messages`, 20 by default) bounds them.
//!
//! **Connection loss.** An acknowledgement belongs to the connection its PUBLISH came on: the
//! messages not acknowledged when it ends are sent again by the broker (a resumed session) and
//! delivered again, as new messages, with new ids (a QoS 2 message not yet PUBREC'd was never
//! received as far as the broker knows, so its redelivery is not a duplicate). Their old ids
//! answer [`AckError::ConnectionLost`].
//!
//! [`Options::manual_acks`]: super::Options::manual_acks
//! [`Options::receive_maximum`]: super::Options::receive_maximum
//! [`ReceivedMessage::ack`]: super::ReceivedMessage::ack

use super::Session;
use crate::codec::{Packet, PubResp, QoS};
use thiserror::Error;

/// Identifies one received QoS 1/2 message for [`Session::ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AckId(pub u64);

/// Why [`Session::ack`] refused an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AckError {
    /// No message was delivered with this id.
    #[error("unknown acknowledgement id")]
    Unknown,
    /// The message was acknowledged already.
    #[error("message already acknowledged")]
    AlreadyAcked,
    /// The connection the message came on ended before it was acknowledged: the broker sends
    /// it again, and it is delivered again with a new id.
    #[error(
        "the connection ended before the acknowledgement: the message will be delivered again"
    )]
    ConnectionLost,
}

impl AckError {
    /// A stable, machine-readable code: `ACK_UNKNOWN`, `ACK_ALREADY_ACKED` or
    /// `ACK_CONNECTION_LOST`.
    pub fn code(&self) -> &'static str {
        match self {
            AckError::Unknown => "ACK_UNKNOWN",
            AckError::AlreadyAcked => "ACK_ALREADY_ACKED",
            AckError::ConnectionLost => "ACK_CONNECTION_LOST",
        }
    }
}

/// A delivered message waiting for its acknowledgement (or for earlier ones).
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingAck {
    pub(super) id: AckId,
    pub(super) packet_id: u16,
    pub(super) qos: QoS,
    pub(super) acked: bool,
}

impl Session {
    /// Acknowledges a received QoS 1/2 message ([`ReceivedMessage::ack`](super::ReceivedMessage::ack),
    /// with [`Options::manual_acks`](super::Options::manual_acks)): its PUBACK or PUBREC goes
    /// out once every message that arrived before it on this connection is acknowledged.
    pub fn ack(&mut self, id: AckId, now: u64) -> Result<(), AckError> {
        self.observe(now);
        if id.0 == 0 || id.0 >= self.next_ack_id {
            return Err(AckError::Unknown);
        }
        if id.0 < self.conn.first_ack_id || self.state != super::State::Connected {
            return Err(AckError::ConnectionLost);
        }
        let pending = &mut self.conn.pending_acks;
        match pending.binary_search_by_key(&id, |a| a.id) {
            Ok(i) if !pending[i].acked => pending[i].acked = true,
            _ => return Err(AckError::AlreadyAcked),
        }
        while self.conn.pending_acks.front().is_some_and(|a| a.acked) {
            let Some(a) = self.conn.pending_acks.pop_front() else {
                break;
            };
            self.conn.pending_ack_pids.remove(&a.packet_id);
            if a.qos == QoS::ExactlyOnce {
                self.inbound_qos2.insert(a.packet_id);
                self.durable_inbound(a.packet_id, true);
                self.write_packet(&Packet::PubRec(PubResp::new(a.packet_id)), now);
            } else {
                self.write_packet(&Packet::PubAck(PubResp::new(a.packet_id)), now);
            }
        }
        Ok(())
    }

    /// Received messages delivered and not yet acknowledged, or waiting for earlier ones.
    pub fn pending_acks(&self) -> usize {
        self.conn.pending_acks.len()
    }

    /// The connection ended: its pending acknowledgements are void.
    pub(super) fn drop_pending_acks(&mut self) {
        self.conn.pending_acks.clear();
        self.conn.pending_ack_pids.clear();
        self.conn.first_ack_id = self.next_ack_id;
    }
}
