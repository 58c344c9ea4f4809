//! Message expiry counted while a message waits in the session (v5): a queued message sends
//! what is left of its Message Expiry Interval, and one whose interval ran out before it could
//! be sent completes with [`PublishError::Expired`] instead of being sent.
//!
//! The broker subtracts the time a message waited with it before forwarding it (v5
//! MQTT-3.3.2-6); the session does the same for the time it waited in the client's queue
//! (offline, or behind a full inflight window), in whole seconds as the property counts them.
//! A message keeps the interval it was last sent with, counted from then: sent again with DUP
//! on a resumed session it carries the same value, requeued (the broker lost the session) it
//! counts on from its first sending. MQTT 3.1.1 has no expiry: nothing is counted there.

use super::outbound::Queued;
use super::{PublishError, Session};

impl Session {
    /// Brings a queued message's Message Expiry Interval up to `now`, or says it expired.
    pub(super) fn count_expiry(&self, q: &mut Queued, now: u64) -> Result<(), PublishError> {
        if !self.opts.version.is_v5() {
            return Ok(());
        }
        let (Some(interval), Some(at)) = (q.msg.properties.message_expiry_interval, q.queued_at)
        else {
            return Ok(());
        };
        let waited_ms = now.saturating_sub(at);
        let waited_s = waited_ms / 1000;
        if waited_ms >= u64::from(interval) * 1000 {
            return Err(PublishError::Expired {
                interval,
                waited_ms,
            });
        }
        // `waited_s < interval`, so this is at least 1.
        let left = interval - waited_s as u32;
        q.msg.properties.message_expiry_interval = Some(left);
        // The new value holds from the last whole second counted.
        q.queued_at = Some(at + waited_s * 1000);
        Ok(())
    }
}
