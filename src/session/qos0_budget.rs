//! The rule for a queue of received messages that the application drains at its own pace.
//!
//! Most drivers hold the broker back while their application is behind: they stop reading
//! ([`super::Session::handle_read_paused`]) and TCP does the rest. A driver that cannot stop
//! reading keeps the application's messages in a queue of its own instead: the
//! `wasi:messaging` provider, whose blocking calls must go on reading for their own
//! acknowledgements while nobody calls `receive`, and the WASI 0.3 provider, which feeds one
//! stream per subscription from one connection (one slow stream must not stall the others).
//! Such a queue needs no cap for QoS 1 and 2: acknowledged only once the application took them
//! (manual acknowledgements, [`super::Session::ack`]), they are bounded by the Receive Maximum
//! the client announced (v5 MQTT-3.3.4-9). QoS 0 messages come as fast as the broker sends
//! them, so such a queue holds at most [`Qos0Budget::max`] of them and drops the rest, counted:
//! QoS 0 is delivered at most once (v5 §4.3.1, v3.1.1 §4.3.1), and dropping one loses nothing
//! the protocol promised. Every such driver keeps one [`Qos0Budget`] per queue.

use crate::codec::QoS;

/// How many QoS 0 messages a queue of received messages holds, and how many it dropped.
///
/// A driver asks [`Qos0Budget::admit`] before it queues a message and tells
/// [`Qos0Budget::release`] when the application took one:
///
/// ```
/// use wasmqtt::codec::QoS;
/// use wasmqtt::session::Qos0Budget;
///
/// let mut budget = Qos0Budget::new(2);
/// assert!(budget.admit(QoS::AtMostOnce));
/// assert!(budget.admit(QoS::AtMostOnce));
/// assert!(!budget.admit(QoS::AtMostOnce)); // the third waiting QoS 0 message is dropped
/// assert!(budget.admit(QoS::AtLeastOnce)); // QoS 1 and 2 are always kept
/// budget.release(QoS::AtMostOnce); // the application took one
/// assert!(budget.admit(QoS::AtMostOnce));
/// assert_eq!((budget.queued(), budget.dropped()), (2, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qos0Budget {
    max: usize,
    queued: usize,
    dropped: u64,
}

impl Qos0Budget {
    /// The default cap: 1 024 QoS 0 messages waiting (about 100 KiB at 100-byte messages).
    pub const DEFAULT_MAX: usize = 1024;

    /// A budget of `max` waiting QoS 0 messages (0: every QoS 0 message is dropped while the
    /// application is not waiting for it; drivers use [`Qos0Budget::DEFAULT_MAX`]).
    pub const fn new(max: usize) -> Self {
        Qos0Budget {
            max,
            queued: 0,
            dropped: 0,
        }
    }

    /// Whether a message of `qos` may join the queue: QoS 1 and 2 always, QoS 0 while fewer
    /// than [`Qos0Budget::max`] wait. A QoS 0 message refused here is counted in
    /// [`Qos0Budget::dropped`]; one admitted counts as waiting until [`Qos0Budget::release`].
    pub fn admit(&mut self, qos: QoS) -> bool {
        if qos != QoS::AtMostOnce {
            return true;
        }
        if self.queued >= self.max {
            self.dropped = self.dropped.saturating_add(1);
            return false;
        }
        self.queued += 1;
        true
    }

    /// A message of `qos` left the queue (the application took it, or the queue was emptied).
    pub fn release(&mut self, qos: QoS) {
        if qos == QoS::AtMostOnce {
            self.queued = self.queued.saturating_sub(1);
        }
    }

    /// The cap.
    pub const fn max(&self) -> usize {
        self.max
    }

    /// QoS 0 messages admitted and not released yet.
    pub const fn queued(&self) -> usize {
        self.queued
    }

    /// QoS 0 messages refused since the budget was made.
    pub const fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Default for Qos0Budget {
    /// [`Qos0Budget::DEFAULT_MAX`].
    fn default() -> Self {
        Qos0Budget::new(Qos0Budget::DEFAULT_MAX)
    }
}
