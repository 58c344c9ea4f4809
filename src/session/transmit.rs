//! What the driver does next: [`Session::poll_output`], the one loop a driver needs, with write
//! backpressure as an input and small packets coalesced into one transmit.
//!
//! - **Backpressure**: a driver whose transport cannot take more bytes now says so with
//!   [`Session::handle_write_blocked`]; `poll_output` then yields no [`Output::Transmit`]
//!   (what the session writes meanwhile stays with it, so its write budget holds: QoS 0
//!   publishes answer [`PublishError::WouldBlock`](super::PublishError::WouldBlock) past
//!   [`Options::max_pending_write_bytes`](super::Options::max_pending_write_bytes)) until
//!   [`Session::handle_writable`]. The one exception: once the session gives the transport up,
//!   its last bytes (a DISCONNECT) come out before [`Output::CloseTransport`] even while
//!   blocked; the driver appends them to its unfinished write, or drops them.
//! - **Coalescing**: packets accumulate in one buffer. A drain of `poll_output` hands it out
//!   as soon as it holds [`Options::max_transmit_bytes`](super::Options::max_transmit_bytes)
//!   (a full batch), and otherwise at its end, when it would answer [`Output::Wait`]: events
//!   come first, so what the application publishes in answer to them goes out in the same
//!   transmit. A driver that wants to coalesce across application calls (many publishes in
//!   one JavaScript task) defers its drain unless [`Session::transmit_ready`] says a full
//!   batch is waiting.
//! - **Write coalescing** ([`Options::write_coalescing`](super::Options::write_coalescing), on
//!   by default): the end-of-drain transmit after bytes from the broker may be held while
//!   acknowledgements keep arriving (see `coalesce.rs` and [`WriteCoalescing`](super::WriteCoalescing)).

use super::{Output, Session};
use alloc::vec::Vec;

/// The default [`Options::max_transmit_bytes`](super::Options::max_transmit_bytes): 64 KiB.
pub const DEFAULT_MAX_TRANSMIT_BYTES: usize = 64 * 1024;

impl Session {
    /// The next thing the driver should do. Drain it until it answers [`Output::Wait`], after
    /// every input (bytes, time, an application call, [`Session::handle_writable`]).
    pub fn poll_output(&mut self) -> Output {
        let writable = !self.write_blocked;
        // With durable state, bytes that depend on a change not yet stored wait (`durable.rs`).
        let ready = self.tx_ready();
        if writable && ready >= self.opts.max_transmit_bytes.max(1) {
            return Output::Transmit(self.take_tx(ready));
        }
        if self.close_transport {
            if ready > 0 {
                // The transport's last bytes, even while blocked (see the module docs).
                return Output::Transmit(self.split_tx(ready));
            }
            // What still waits for the store belonged to this connection: it is not sent.
            self.clear_tx();
            self.close_transport = false;
            self.write_blocked = false;
            return Output::CloseTransport;
        }
        if core::mem::take(&mut self.open_transport) {
            self.write_blocked = false;
            return Output::OpenTransport;
        }
        if self.event_ready() {
            if let Some(e) = self.events.pop_front() {
                if let Some(d) = self.durable.as_deref_mut() {
                    d.events_popped += 1;
                }
                return Output::Event(e);
            }
        }
        if writable && ready > 0 && !self.holds_transmit(ready) {
            return Output::Transmit(self.take_tx(ready));
        }
        Output::Wait(self.poll_timeout())
    }

    /// The transport cannot take more bytes now (a write is still in progress, the socket's
    /// buffer is full): `poll_output` yields no [`Output::Transmit`] until
    /// [`Session::handle_writable`]. A new transport starts writable.
    pub fn handle_write_blocked(&mut self) {
        self.write_blocked = true;
    }

    /// The transport can take bytes again: the next `poll_output` drain hands out what waited,
    /// and QoS 0 messages held back by the write budget move on.
    pub fn handle_writable(&mut self, now: u64) {
        self.observe(now);
        self.write_blocked = false;
        self.fill_window(now);
    }

    /// Whether writing is blocked ([`Session::handle_write_blocked`]).
    pub fn is_write_blocked(&self) -> bool {
        self.write_blocked
    }

    /// Whether a full batch ([`Options::max_transmit_bytes`](super::Options::max_transmit_bytes))
    /// waits to be written and writing is not blocked: a driver that defers its `poll_output`
    /// drain to coalesce application calls should drain now.
    pub fn transmit_ready(&self) -> bool {
        !self.write_blocked && self.tx_ready() >= self.opts.max_transmit_bytes.max(1)
    }

    /// Bytes produced for writing that the driver has not taken yet: an observation (of the
    /// write budget, or of what waits while writing is blocked). The bytes themselves come
    /// out of [`Session::poll_output`].
    pub fn pending_write_bytes(&self) -> usize {
        self.tx.len()
    }

    /// Hands out the first `n` bytes of the write buffer (all of it unless some wait for the
    /// store). It has room again: QoS 0 messages that waited for it move on (nothing else
    /// would wake them), timed by the session's clock.
    fn take_tx(&mut self, n: usize) -> Vec<u8> {
        let bytes = self.split_tx(n);
        let now = self.clock.unwrap_or(0).max(self.conn.last_sent);
        self.fill_window(now);
        bytes
    }
}
