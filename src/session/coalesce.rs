//! Write coalescing across acknowledgements ([`Options::write_coalescing`]): a Nagle-like hold
//! of what the session writes in answer to bytes from the broker.
//!
//! With the inflight window full, every PUBACK releases one queued publish (every PUBREC one
//! PUBREL): writing each alone costs a transport write (a WebSocket frame, a syscall) per
//! message, and the broker then reads and acknowledges them one by one too. With the option
//! on, the transmit of a `poll_output` drain that follows [`Session::handle_bytes`] is held
//! back while all of these hold:
//!
//! - fewer than `window / window_divisor` packets (a quarter of the inflight window by
//!   default) arrived since the last [`Output::Transmit`](super::Output::Transmit);
//! - less than [`Options::max_transmit_bytes`] waits (a full batch always goes out);
//! - the session is connected, and more QoS 1/2 messages are in flight than packets arrived
//!   since the last transmit: each arrival makes at most one in-flight message wait on held
//!   bytes (the publish it released, or its PUBREL), so at least one awaits only the broker,
//!   whose answer is another input. Nothing is held when nothing awaits the broker: no
//!   deadlock;
//! - the hold began less than [`WriteCoalescing::max_hold_ms`] ago: the deadline is part of
//!   [`Session::poll_timeout`], so the driver's ordinary timer releases it.
//!
//! Any other input releases what is held: an application call (`publish`, `subscribe`,
//! `ack`, `disconnect`, ...), `handle_connected`, `handle_disconnected*`, `handle_writable`,
//! `handle_stored`, and `handle_timeout` once the hold's deadline passed or when it writes
//! something itself (a PINGREQ). The bytes that bring the CONNACK are not held either: what
//! their drain writes (a resumed session's resends) goes out at once, so that no later
//! acknowledgement finds its message's resend still waiting. A `handle_timeout` before the deadline that writes nothing (a
//! driver checking the clock after each read) keeps the hold. CONNECT (not connected yet),
//! DISCONNECT (the transport's last bytes, or an application call) and PINGREQ (written by
//! `handle_timeout`) are never held.

use super::{Options, Session, State};

/// [`Options::write_coalescing`]: when the session may hold back a transmit that follows
/// bytes from the broker, Nagle-like (the **write coalescing** rule of [the session](super)).
///
/// The transmit of a `poll_output` drain after [`Session::handle_bytes`] is held while fewer
/// than `window / window_divisor` packets arrived since the last transmit, less than
/// [`Options::max_transmit_bytes`] waits, and more QoS 1/2 messages are in flight than packets
/// arrived (at least one awaits only the broker, whose answer is another input: no deadlock).
/// Any other input releases it (an application call, `handle_connected`, `handle_writable`,
/// `handle_stored`, ...), and so does `handle_timeout` once [`WriteCoalescing::max_hold_ms`]
/// passed (the deadline is part of [`Session::poll_timeout`]) or when it writes something
/// itself; an earlier `handle_timeout` that writes nothing keeps the hold. CONNECT,
/// DISCONNECT and PINGREQ are never held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteCoalescing {
    /// The hold ends once `window / window_divisor` packets (at least one) arrived since the
    /// last transmit, `window` being the inflight window in force (`min(max_inflight, broker
    /// receive maximum)`). Default 4: a quarter of the window. 0 counts as 1.
    pub window_divisor: u16,
    /// The longest a transmit is held, in milliseconds from the drain that began the hold.
    /// Default 1.
    pub max_hold_ms: u64,
}

impl Default for WriteCoalescing {
    fn default() -> Self {
        WriteCoalescing {
            window_divisor: 4,
            max_hold_ms: 1,
        }
    }
}

impl Hold {
    /// When the hold in progress ends, once one began.
    pub(super) fn deadline(&self) -> Option<u64> {
        self.deadline
    }
}

/// The session's side of the hold.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Hold {
    /// Packets that arrived since the last transmit.
    arrivals: u32,
    /// The last input was [`Session::handle_bytes`] (or a `handle_timeout` that kept it).
    after_bytes: bool,
    /// When the hold in progress ends, once one began.
    deadline: Option<u64>,
}

impl Session {
    /// An input other than bytes from the broker: whatever is held goes out in its drain.
    pub(super) fn release_hold(&mut self) {
        self.hold.after_bytes = false;
        self.hold.deadline = None;
    }

    /// `handle_bytes` decoded `packets`: the drain that follows may hold its transmit. The
    /// deadline of a hold in progress stays (it counts from the hold's first drain).
    pub(super) fn hold_after_bytes(&mut self, deadline: Option<u64>, packets: u32) {
        self.hold.after_bytes = true;
        self.hold.deadline = deadline;
        self.hold.arrivals = self.hold.arrivals.saturating_add(packets);
    }

    /// The hold's state before an input, to restore after a `handle_timeout` that keeps it.
    pub(super) fn hold_state(&self) -> Hold {
        self.hold
    }

    /// After `handle_timeout(now)`: the hold `before` it stays if its deadline has not passed
    /// and the timeout wrote nothing (`tx_len` is the write buffer's length before it).
    pub(super) fn keep_hold(&mut self, before: Hold, tx_len: usize, now: u64) {
        if before.after_bytes && before.deadline.is_none_or(|d| now < d) && self.tx.len() == tx_len
        {
            self.hold = before;
        }
    }

    /// A transmit went out: counting starts again (the drain's remaining bytes may be held
    /// again, with a new deadline).
    pub(super) fn hold_sent(&mut self) {
        self.hold.arrivals = 0;
        self.hold.deadline = None;
    }

    /// The write buffer was dropped (its connection is gone): nothing is held.
    pub(super) fn hold_reset(&mut self) {
        self.hold = Hold::default();
    }

    /// Whether the drain holds the transmit of `ready` bytes now (and starts the hold's
    /// deadline if it begins here).
    pub(super) fn holds_transmit(&mut self, ready: usize) -> bool {
        let Some(c) = self.may_hold(ready) else {
            return false;
        };
        let now = self.clock.unwrap_or(0);
        let deadline = *self
            .hold
            .deadline
            .get_or_insert(now.saturating_add(c.max_hold_ms));
        now < deadline
    }

    /// The hold's rule without its deadline: `Some` when a transmit of `ready` bytes after
    /// bytes from the broker may be held (until the deadline), `None` when it goes out.
    fn may_hold(&self, ready: usize) -> Option<WriteCoalescing> {
        let c = self.opts.write_coalescing?;
        if !self.hold.after_bytes
            || self.state != State::Connected
            || ready >= self.opts.max_transmit_bytes.max(1)
        {
            return None;
        }
        let quarter = (self.window() / usize::from(c.window_divisor.max(1))).max(1);
        let arrivals = self.hold.arrivals as usize;
        if arrivals >= quarter || self.inflight.len() <= arrivals {
            return None;
        }
        Some(c)
    }

    /// Whether a `poll_output` drain now would hand out a [`Output::Transmit`](super::Output::Transmit):
    /// bytes wait, writing is not blocked, and no write-coalescing hold keeps them (none may
    /// begin, or the one in progress reached its deadline). A driver that defers its drain
    /// after bytes from the broker (to handle a burst of them first) should drain now: a
    /// quarter of the window's acknowledgements came, and the broker would otherwise run out
    /// of publishes while the rest of the burst is read. A hold that has not begun yet counts
    /// as holding (its deadline starts at the drain).
    pub fn transmit_due(&self) -> bool {
        let ready = self.tx_ready();
        if self.write_blocked || ready == 0 {
            return false;
        }
        if self.may_hold(ready).is_none() {
            return true;
        }
        let now = self.clock.unwrap_or(0);
        self.hold.deadline.is_some_and(|d| now >= d)
    }

    /// The hold's deadline, while a transmit is held.
    pub(super) fn hold_deadline(&self) -> Option<u64> {
        if self.hold.after_bytes && !self.tx.is_empty() {
            self.hold.deadline
        } else {
            None
        }
    }
}

impl Options {
    /// Sets write coalescing across acknowledgements (`Some`, on by default with
    /// [`WriteCoalescing::default`]) or turns it off (`None`); see [`Options::write_coalescing`].
    pub fn write_coalescing(mut self, v: Option<WriteCoalescing>) -> Self {
        self.write_coalescing = v;
        self
    }
}
