//! Keep-alive as deadlines: PINGREQ when nothing was sent, or nothing received, for the
//! keep-alive period, and the connection declared dead when nothing arrives within the ping
//! timeout after it.
//!
//! The bound: a broker that goes silent after its last packet at `R` is declared dead by `R +
//! keep-alive + ping timeout` at the latest, `R + 1.5 × keep-alive` with the default ping timeout
//! (half the keep-alive). Only inbound packets count as a sign of life: a client that keeps
//! writing (QoS 0 publishes) still pings a silent broker, a keep-alive after it last heard from
//! it. The late wake-up grace below never applies to a driver whose timers fire on time.
//!
//! A driver that stops reading the transport because the application is not taking events
//! (its event queue is full) says so with [`Session::handle_read_paused`]: the broker's
//! answers are then waiting unread, so its silence proves nothing. While reading is paused the
//! session never declares the broker dead; it keeps sending PINGREQ a keep-alive after it last
//! sent anything (so the broker, which sees us alive, keeps the connection: v5 MQTT-3.1.2-20,
//! v3.1.1 MQTT-3.1.2-23), and when reading resumes ([`Session::handle_read_resumed`]) an
//! unanswered PINGREQ gets a whole ping timeout again, counted from then.

use super::{DisconnectReason, Session};
use crate::codec::Packet;

/// A keep-alive deadline handled this much later than it fell (ms) means the driver itself was
/// not running (a frozen or throttled browser tab, a suspended process), not that the broker is
/// silent: the timeout then waits [`LATE_WAKE_GRACE_MS`] more, once per PINGREQ, so that packets
/// queued behind the wake-up are read first. A driver whose timers fire on time never sees it.
pub const LATE_WAKE_MS: u64 = 2_000;
/// See [`LATE_WAKE_MS`].
pub const LATE_WAKE_GRACE_MS: u64 = 1_000;

/// The default ping timeout for a keep-alive of `keep_alive` seconds: half of it, so that a
/// silent broker is noticed within 1.5 × the keep-alive of its last packet.
pub fn default_ping_timeout_ms(keep_alive: u16) -> u64 {
    u64::from(keep_alive) * 1000 / 2
}

impl Session {
    /// When the next PINGREQ is due: a keep-alive after the last packet sent (v5 MQTT-3.1.2-20,
    /// v3.1.1 MQTT-3.1.2-23) or received, whichever came first.
    pub(super) fn ping_due(&self) -> u64 {
        self.conn
            .last_sent
            .min(self.conn.last_received)
            .saturating_add(u64::from(self.conn.keep_alive) * 1000)
    }

    /// When the connection is declared dead after a PINGREQ sent at `sent`.
    pub(super) fn ping_deadline(&self, sent: u64) -> u64 {
        self.conn
            .late_wake_grace
            .unwrap_or_else(|| sent.saturating_add(self.ping_timeout()))
    }

    /// How long to wait for an answer to a PINGREQ: [`Options::ping_timeout_ms`], by default
    /// half the keep-alive in force.
    ///
    /// [`Options::ping_timeout_ms`]: super::Options::ping_timeout_ms
    pub(super) fn ping_timeout(&self) -> u64 {
        self.opts
            .ping_timeout_ms
            .unwrap_or_else(|| default_ping_timeout_ms(self.conn.keep_alive))
    }
    /// The driver stopped reading the transport (the application is not taking events, so
    /// inbound bytes wait unread): until [`Session::handle_read_resumed`], the silence of the
    /// broker is not held against it. PINGREQ is still sent a keep-alive after the last packet
    /// sent, so the broker keeps the connection.
    pub fn handle_read_paused(&mut self, now: u64) {
        self.observe(now);
        self.conn.read_paused = true;
    }

    /// The driver reads the transport again: a PINGREQ still unanswered waits a whole ping
    /// timeout from `now` (its answer may be among the bytes held back).
    pub fn handle_read_resumed(&mut self, now: u64) {
        self.observe(now);
        if core::mem::take(&mut self.conn.read_paused) && self.conn.ping_sent.is_some() {
            self.conn.ping_sent = Some(now);
            self.conn.late_wake_grace = None;
        }
    }

    /// Whether the driver said it paused reading ([`Session::handle_read_paused`]).
    pub fn is_read_paused(&self) -> bool {
        self.conn.read_paused
    }

    /// The next keep-alive deadline of a connected session, if any.
    pub(super) fn keep_alive_deadline(&self) -> Option<u64> {
        if self.conn.read_paused {
            // Only our own obligation to send counts: the next PINGREQ.
            return (self.conn.keep_alive > 0).then(|| {
                self.conn
                    .last_sent
                    .saturating_add(u64::from(self.conn.keep_alive) * 1000)
            });
        }
        match self.conn.ping_sent {
            Some(sent) => Some(self.ping_deadline(sent)),
            None if self.conn.keep_alive > 0 => Some(self.ping_due()),
            None => None,
        }
    }

    /// Time passed on a connected session: send PINGREQ, or give up on a silent broker.
    pub(super) fn keep_alive_timeout(&mut self, now: u64) {
        if self.conn.read_paused {
            let due = self
                .conn
                .last_sent
                .saturating_add(u64::from(self.conn.keep_alive) * 1000);
            if self.conn.keep_alive > 0 && now >= due {
                self.write_packet(&Packet::PingReq, now);
                // The timeout of the first unanswered PINGREQ restarts when reading resumes.
                self.conn.ping_sent.get_or_insert(now);
            }
            return;
        }
        if let Some(sent) = self.conn.ping_sent {
            let deadline = self.ping_deadline(sent);
            if now >= deadline {
                if self.conn.late_wake_grace.is_none() && now - deadline > LATE_WAKE_MS {
                    // The driver woke up long after the deadline (a frozen or throttled
                    // browser tab, a suspended process): the broker's answer may be
                    // waiting unread behind this wake-up. Give it a moment, once.
                    self.conn.late_wake_grace = Some(now.saturating_add(LATE_WAKE_GRACE_MS));
                } else {
                    self.close_transport = true;
                    self.connection_lost(DisconnectReason::KeepAliveTimeout, now);
                }
            }
        } else if self.conn.keep_alive > 0 && now >= self.ping_due() {
            self.write_packet(&Packet::PingReq, now);
            self.conn.ping_sent = Some(now);
            self.conn.late_wake_grace = None;
        }
    }
}
