//! Keep-alive as deadlines: PINGREQ when nothing was sent for the keep-alive period, and the
//! connection declared dead when nothing arrives within the ping timeout after it.

use super::{DisconnectReason, Session};
use crate::codec::Packet;

/// A keep-alive deadline handled this much later than it fell (ms) means the driver itself was
/// not running (a frozen or throttled browser tab, a suspended process), not that the broker is
/// silent: the timeout then waits [`LATE_WAKE_GRACE_MS`] more, once per PINGREQ, so that packets
/// queued behind the wake-up are read first. A driver whose timers fire on time never sees it.
pub const LATE_WAKE_MS: u64 = 2_000;
/// See [`LATE_WAKE_MS`].
pub const LATE_WAKE_GRACE_MS: u64 = 1_000;

impl Session {
    /// When the next PINGREQ is due.
    pub(super) fn ping_due(&self) -> u64 {
        self.conn
            .last_sent
            .saturating_add(u64::from(self.conn.keep_alive) * 1000)
    }

    /// When the connection is declared dead after a PINGREQ sent at `sent`.
    pub(super) fn ping_deadline(&self, sent: u64) -> u64 {
        self.conn
            .late_wake_grace
            .unwrap_or_else(|| sent.saturating_add(self.ping_timeout()))
    }

    /// How long to wait for an answer to a PINGREQ.
    pub(super) fn ping_timeout(&self) -> u64 {
        self.opts
            .ping_timeout_ms
            .unwrap_or_else(|| (u64::from(self.conn.keep_alive) * 1000).clamp(1000, 30_000))
    }
    /// The next keep-alive deadline of a connected session, if any.
    pub(super) fn keep_alive_deadline(&self) -> Option<u64> {
        match self.conn.ping_sent {
            Some(sent) => Some(self.ping_deadline(sent)),
            None if self.conn.keep_alive > 0 => Some(self.ping_due()),
            None => None,
        }
    }

    /// Time passed on a connected session: send PINGREQ, or give up on a silent broker.
    pub(super) fn keep_alive_timeout(&mut self, now: u64) {
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
