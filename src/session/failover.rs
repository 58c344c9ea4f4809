//! Failover across a list of brokers ([`Options::brokers`](super::Options::brokers)): which
//! broker the next attempt targets, and what a failed attempt does.
//!
//! The session decides and the driver follows: on [`Output::OpenTransport`](super::Output)
//! the driver opens [`Session::broker`] (its own single address when the list is empty).
//!
//! - Every failed attempt (the transport does not open, a handshake failure, the connect
//!   timeout, a refusal that is retried, a connection lost after CONNACK) moves on to the next
//!   broker of the list, wrapping around.
//! - Within a round through the list the next broker is asked for at once, at the same `now`
//!   (a [`Event::Disconnected`] with `reconnect_at: Some(now)`). After a whole round without an
//!   accepted CONNACK the reconnect back-off applies, one step per round, so one broker (or
//!   none) behaves as before. A connection lost after CONNACK is the first failure of a new
//!   round.
//! - Before the first accepted CONNACK, [`FirstConnect::GiveUp`] gives up after a whole round
//!   (every broker failed once), with the last failure's reason; reconnection turned off
//!   ([`ReconnectPolicy::enabled`](super::ReconnectPolicy::enabled) `false`) also lets the
//!   first connection try every broker once, and closes at once after a connection was
//!   accepted.
//! - A refusal that retrying cannot fix closes the session whichever broker gave it (see
//!   `connect.rs`); falling back to MQTT 3.1.1 connects again to the same broker.

use super::{backoff, DisconnectReason, Event, FirstConnect, Session, State};
use crate::broker::Broker;

/// The most brokers [`Options::validate`](super::Options::validate) accepts in
/// [`Options::brokers`](super::Options::brokers): a round through the list tries them all
/// without a delay in between, so the list bounds the burst of connection attempts a client
/// makes before its back-off applies.
pub const MAX_BROKERS: usize = 64;

impl Session {
    /// The broker the current attempt (or the next one, while waiting to reconnect) targets:
    /// the one to open on [`Output::OpenTransport`](super::Output::OpenTransport). `None` when
    /// [`Options::brokers`](super::Options::brokers) is empty: the driver then uses its own
    /// single address.
    ///
    /// ```
    /// use wasmqtt::broker::Broker;
    /// use wasmqtt::session::{Options, Output, Session};
    ///
    /// let a = Broker::parse("mqtt://a.example").unwrap();
    /// let b = Broker::parse("mqtts://b.example").unwrap();
    /// let mut session = Session::new(Options::new("meter-1").brokers([a.clone(), b.clone()]));
    /// session.connect(0);
    /// assert_eq!(session.poll_output(), Output::OpenTransport);
    /// assert_eq!(session.broker(), Some(&a));
    /// // A does not answer: B is asked for at once.
    /// session.handle_disconnected_with(0, "connection refused");
    /// assert_eq!(session.poll_output(), Output::OpenTransport);
    /// assert_eq!((session.broker(), session.broker_index()), (Some(&b), Some(1)));
    /// ```
    pub fn broker(&self) -> Option<&Broker> {
        self.opts.brokers.get(self.broker_index)
    }

    /// The position of [`Session::broker`] in [`Options::brokers`](super::Options::brokers);
    /// `None` when the list is empty.
    pub fn broker_index(&self) -> Option<usize> {
        (self.broker_index < self.opts.brokers.len()).then_some(self.broker_index)
    }

    /// The user name and password of the CONNECT sent to the current broker: the broker
    /// URL's when it has any ([`Broker::username`] or [`Broker::password`]), both replacing
    /// the options' ones; otherwise [`Options::username`](super::Options::username) and
    /// [`Options::password`](super::Options::password).
    pub(super) fn credentials(&self) -> (Option<&str>, Option<&[u8]>) {
        match self.broker() {
            Some(b) if b.username.is_some() || b.password.is_some() => (
                b.username.as_deref(),
                b.password.as_deref().map(str::as_bytes),
            ),
            _ => (self.opts.username.as_deref(), self.opts.password.as_deref()),
        }
    }

    /// A new start: the first broker of the list, a new round.
    pub(super) fn restart_failover(&mut self) {
        self.broker_index = 0;
        self.round_failures = 0;
    }

    /// A CONNACK accepted the connection: the next failure starts a new round.
    pub(super) fn failover_connected(&mut self) {
        self.round_failures = 0;
    }

    /// The attempt or connection in progress failed with `reason` (not for good): try the
    /// next broker at once while the round lasts, otherwise back off, give up (first
    /// connection, [`FirstConnect::GiveUp`]) or close (reconnection off). See the module docs.
    pub(super) fn connection_failed(&mut self, reason: DisconnectReason, now: u64) {
        if self.connected_before && !self.opts.reconnect.enabled {
            self.close_for_good(reason);
            return;
        }
        let brokers = self.opts.brokers.len().max(1);
        self.broker_index = (self.broker_index + 1) % brokers;
        self.round_failures = self.round_failures.saturating_add(1);
        if self.round_failures < brokers {
            self.fail_over(reason, now);
            return;
        }
        self.round_failures = 0;
        if !self.connected_before && self.opts.first_connect == FirstConnect::GiveUp {
            self.close_for_good(reason);
            return;
        }
        self.schedule_reconnect(reason, now);
    }

    /// The next broker of the round, asked for at once.
    fn fail_over(&mut self, reason: DisconnectReason, now: u64) {
        log::info!("{reason}: trying the next broker ({:?})", self.broker());
        self.retrying = true;
        self.requeue_sent_requests();
        self.events.push_back(Event::Disconnected {
            reason,
            reconnect_at: Some(now),
        });
        self.begin_attempt();
    }

    /// Schedules the next attempt after the back-off of round `self.attempt` (or closes for
    /// good when reconnecting is off), whatever the first-connect policy says.
    pub(super) fn schedule_reconnect(&mut self, reason: DisconnectReason, now: u64) {
        if !self.opts.reconnect.enabled {
            self.close_for_good(reason);
            return;
        }
        let at = now.saturating_add(backoff::delay(
            &self.opts.reconnect,
            self.attempt,
            &mut self.rng,
        ));
        self.attempt = self.attempt.saturating_add(1);
        self.state = State::Reconnecting(at);
        self.retrying = true;
        self.requeue_sent_requests();
        self.events.push_back(Event::Disconnected {
            reason,
            reconnect_at: Some(at),
        });
    }
}
