//! A topic filter with its subscription options, as SUBSCRIBE carries it.

use super::types::{QoS, RetainHandling};

/// Options of one subscription (MQTT 5.0 §3.8.3.1; 3.1.1 has only the QoS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the server may deliver at.
    pub qos: QoS,
    /// v5: do not send this client's own publications back to it.
    pub no_local: bool,
    /// v5: keep the retain flag of forwarded messages as published.
    pub retain_as_published: bool,
    /// v5: when to send retained messages.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with this QoS and everything else at its default.
    pub const fn qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }

    /// The options byte (v5 layout). A 3.1.1 SUBSCRIBE carries the QoS bits alone: the
    /// encoder refuses the v5-only options there with
    /// [`EncodeError::SubscriptionOptionsNotInVersion`](super::EncodeError::SubscriptionOptionsNotInVersion)
    /// (v3.1.1 §3.8.3.1 reserves the other bits).
    pub const fn to_byte(self) -> u8 {
        self.qos as u8
            | (self.no_local as u8) << 2
            | (self.retain_as_published as u8) << 3
            | (self.retain_handling as u8) << 4
    }

    pub(crate) fn from_valid_byte(b: u8) -> Self {
        SubscriptionOptions {
            qos: QoS::from_u8(b & 3).unwrap_or_default(),
            no_local: b & 4 != 0,
            retain_as_published: b & 8 != 0,
            retain_handling: RetainHandling::from_u8((b >> 4) & 3).unwrap_or_default(),
        }
    }
}

/// One entry of a SUBSCRIBE payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subscription<'a> {
    /// The topic filter (may be a shared subscription `$share/group/filter`).
    pub filter: &'a str,
    /// Its options.
    pub options: SubscriptionOptions,
}

impl<'a> Subscription<'a> {
    /// A subscription to `filter` at `qos` with default options.
    pub const fn new(filter: &'a str, qos: QoS) -> Self {
        Subscription {
            filter,
            options: SubscriptionOptions::qos(qos),
        }
    }

    pub(crate) fn from_wire(filter: &'a str, options: u8) -> Self {
        Subscription {
            filter,
            options: SubscriptionOptions::from_valid_byte(options),
        }
    }
}
