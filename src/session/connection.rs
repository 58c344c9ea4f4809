//! The connection-scoped state: everything that lives as long as one transport.
//!
//! A fresh [`Connection`] replaces the old one whenever a transport opens
//! ([`Session::handle_connected`](super::Session::handle_connected)), so nothing of a previous
//! connection (a partial packet, a PINGREQ waiting for its answer, the broker's limits, topic
//! aliases, a server keep-alive) can leak into the next. What outlives a connection (inflight
//! messages, the queue, subscriptions, packet identifiers) stays in the session itself.
//!
//! Between connections (reconnecting, closed) nothing here is consulted for timing: the
//! deadlines count only in the states that a new connection starts. The broker's limits of the
//! last connection are still used to refuse, while offline, a message it could never take.

use super::alias::{InboundAliases, OutboundAliases};
use super::manual_ack::PendingAck;
use super::Options;
use crate::codec::{self, QoS};
use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;

/// Limits the broker announced in CONNACK.
#[derive(Debug, Clone, Copy)]
pub(super) struct ServerLimits {
    pub(super) receive_maximum: u16,
    pub(super) max_packet_size: u32,
    pub(super) topic_alias_maximum: u16,
    pub(super) maximum_qos: QoS,
    pub(super) retain_available: bool,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            receive_maximum: u16::MAX,
            max_packet_size: codec::MAX_PACKET_SIZE,
            topic_alias_maximum: 0,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
        }
    }
}

/// State of the current (or last) transport connection.
#[derive(Debug)]
pub(super) struct Connection {
    /// Bytes received that do not yet form a whole packet.
    pub(super) rx: Vec<u8>,
    /// When the session last wrote anything (the keep-alive counts from here).
    pub(super) last_sent: u64,
    /// When the last whole packet arrived (only inbound bytes prove the broker alive).
    pub(super) last_received: u64,
    /// When the PINGREQ still waiting for an answer was sent.
    pub(super) ping_sent: Option<u64>,
    /// Set when a keep-alive timeout was first seen on a late wake-up (see
    /// [`LATE_WAKE_MS`](super::LATE_WAKE_MS)): the time until which the answer to the PINGREQ
    /// may still arrive.
    pub(super) late_wake_grace: Option<u64>,
    /// The driver holds inbound bytes back (it stopped reading the transport because the
    /// application is not taking events): silence is then not the broker's. See
    /// [`Session::handle_read_paused`](super::Session::handle_read_paused).
    pub(super) read_paused: bool,
    /// The keep-alive in force (seconds): ours, or the broker's Server Keep Alive.
    pub(super) keep_alive: u16,
    /// What the broker announced in CONNACK.
    pub(super) server: ServerLimits,
    pub(super) out_aliases: OutboundAliases,
    pub(super) in_aliases: InboundAliases,
    /// Manual acknowledgements: delivered messages waiting for theirs, in arrival order.
    pub(super) pending_acks: VecDeque<PendingAck>,
    /// The packet identifiers of `pending_acks`.
    pub(super) pending_ack_pids: BTreeSet<u16>,
    /// The first acknowledgement id of this connection (earlier ones belong to ended ones).
    pub(super) first_ack_id: u64,
}

impl Connection {
    /// The state of a connection whose transport just opened at `now`.
    pub(super) fn new(opts: &Options, now: u64) -> Self {
        Connection {
            rx: Vec::new(),
            last_sent: now,
            last_received: now,
            ping_sent: None,
            late_wake_grace: None,
            read_paused: false,
            keep_alive: opts.keep_alive,
            server: ServerLimits::default(),
            out_aliases: OutboundAliases::default(),
            in_aliases: InboundAliases::default(),
            pending_acks: VecDeque::new(),
            pending_ack_pids: BTreeSet::new(),
            first_ack_id: u64::MAX,
        }
    }
}
