//! MQTT 5.0 request/response: [`Session::request`] publishes a request with a Response Topic and
//! fresh Correlation Data and answers with the response that carries it back
//! ([`Event::Response`]); [`Session::respond`] is the responder's side.
//!
//! The policy lives here, once, for every driver:
//! - **One response subscription per session**, made lazily by the first request: the topic is
//!   `<base>/<client id>/resp` (a random `anon-…` id before the broker assigned one), where the
//!   base is the broker's Response Information when it was asked for
//!   ([`Options::request_response_information`](super::Options)) and given in CONNACK, and
//!   [`Options::response_topic_prefix`](super::Options::response_topic_prefix) otherwise. It is an ordinary subscription of the session: renewed when the broker lost the
//!   session, kept in durable state. Requests wait for its SUBACK before they are published (so
//!   no response can come before the subscription exists); a refusal fails them.
//! - **Matching** by Correlation Data (16 bytes: a random half, a counter half): a message on
//!   the response topic with unknown (or no) correlation data is dropped; one that matches ends
//!   its request, and is not delivered as an [`Event::Message`].
//! - **Deadlines** the session owns: each request fails with [`ResponseError::Timeout`] at
//!   `now + timeout_ms` ([`Session::poll_timeout`] carries the earliest).
//! - The request's own publish is the session's business: its completion is no
//!   [`Event::PublishComplete`]; a failure (refused by the broker, the queue full) fails the
//!   request with [`ResponseError::Publish`]. When the session closes, every request fails with
//!   [`ResponseError::SessionClosed`] before the final [`Event::Disconnected`].
//! - MQTT 3.1.1 has no properties: [`ResponseError::NotSupportedInV311`].

use super::{Event, Message, PublishError, PublishId, ReceivedMessage, RequestId, Session, State};
use crate::codec::{ReasonCode, SubscriptionOptions};
use crate::topic::{validate_topic_name, TopicError};
use crate::vec_map::VecMap;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use thiserror::Error;

/// Most requests that may wait for their response at once.
pub const MAX_PENDING_RESPONSES: usize = 4096;

/// The default [`Options::response_topic_prefix`](super::Options::response_topic_prefix).
pub const DEFAULT_RESPONSE_TOPIC_PREFIX: &str = "wasmqtt/rr";

/// Identifies one request of [`Session::request`] until its [`Event::Response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResponseId(pub u64);

/// Why a request got no response, or a response could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// No response came within the request's timeout.
    #[error("no response within {0} ms")]
    Timeout(u64),
    /// The session ended (disconnect, a fatal refusal, reconnection disabled) first.
    #[error("session closed before a response came")]
    SessionClosed,
    /// MQTT 3.1.1 has no Response Topic nor Correlation Data.
    #[error("request/response needs MQTT 5.0 (this session speaks 3.1.1)")]
    NotSupportedInV311,
    /// The request (or the response) could not be published, or the broker refused it.
    #[error("publish failed: {0}")]
    Publish(PublishError),
    /// The broker refused the subscription to the response topic (the SUBACK reason code).
    #[error("the broker refused the response topic subscription: {0}")]
    SubscriptionRefused(ReasonCode),
    /// The response topic made of the prefix (or Response Information) and the client id is
    /// not a valid topic name (a wildcard in the client id, say: v5 MQTT-3.3.2-14).
    #[error("invalid response topic \"{topic}\": {error}")]
    InvalidResponseTopic {
        /// The topic.
        topic: String,
        /// Why.
        error: TopicError,
    },
    /// [`Session::respond`] to a message that carries no Response Topic.
    #[error("the message has no response topic")]
    NoResponseTopic,
    /// [`MAX_PENDING_RESPONSES`] requests are waiting already.
    #[error("too many requests waiting for a response")]
    TooMany,
}

impl ResponseError {
    /// A stable, machine-readable code: `RESPONSE_TIMEOUT`, `SESSION_CLOSED`,
    /// `NOT_SUPPORTED_IN_V311`, `PUBLISH_FAILED`, `SUBSCRIPTION_REFUSED`,
    /// `INVALID_RESPONSE_TOPIC`, `NO_RESPONSE_TOPIC` or `TOO_MANY_REQUESTS`.
    pub fn code(&self) -> &'static str {
        match self {
            ResponseError::Timeout(_) => "RESPONSE_TIMEOUT",
            ResponseError::SessionClosed => "SESSION_CLOSED",
            ResponseError::NotSupportedInV311 => "NOT_SUPPORTED_IN_V311",
            ResponseError::Publish(_) => "PUBLISH_FAILED",
            ResponseError::SubscriptionRefused(_) => "SUBSCRIPTION_REFUSED",
            ResponseError::InvalidResponseTopic { .. } => "INVALID_RESPONSE_TOPIC",
            ResponseError::NoResponseTopic => "NO_RESPONSE_TOPIC",
            ResponseError::TooMany => "TOO_MANY_REQUESTS",
        }
    }
}

/// Where the response subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Subscription {
    /// Not made yet.
    #[default]
    None,
    /// SUBSCRIBE sent (or waiting to be), SUBACK not yet here.
    Pending(RequestId),
    /// Granted.
    Active,
}

#[derive(Debug)]
struct Pending {
    deadline: u64,
    timeout_ms: u64,
    correlation: Vec<u8>,
}

/// The session's request/response state.
#[derive(Debug, Default)]
pub(super) struct Requests {
    topic: Option<String>,
    subscription: Subscription,
    next_id: u64,
    pending: VecMap<ResponseId, Pending>,
    by_correlation: VecMap<Vec<u8>, ResponseId>,
    /// The request publishes not completed yet: their completions are the session's.
    publishes: VecMap<PublishId, ResponseId>,
    /// Requests waiting for the response subscription's SUBACK.
    held: VecDeque<(ResponseId, Message)>,
}

impl Session {
    /// Publishes `message` as an MQTT 5.0 request and waits, at most `timeout_ms`, for its
    /// response: an [`Event::Response`] with the returned id follows, with the response message
    /// or why none came. The session sets the message's Response Topic (its one response
    /// subscription, `<prefix>/<client id>/resp`) and Correlation Data, replacing any
    /// the message had; QoS, retain and the other properties are the message's.
    ///
    /// Fails at once with [`ResponseError::NotSupportedInV311`] in a 3.1.1 session,
    /// [`ResponseError::SessionClosed`], [`ResponseError::TooMany`], an invalid response topic,
    /// or [`ResponseError::Publish`] when the message cannot be published (invalid topic, queue
    /// full, ...).
    pub fn request(
        &mut self,
        mut message: Message,
        timeout_ms: u64,
        now: u64,
    ) -> Result<ResponseId, ResponseError> {
        self.observe(now);
        if !self.opts.version.is_v5() {
            return Err(ResponseError::NotSupportedInV311);
        }
        if self.state == State::Closed {
            return Err(ResponseError::SessionClosed);
        }
        if self.rr.pending.len() >= MAX_PENDING_RESPONSES {
            return Err(ResponseError::TooMany);
        }
        validate_topic_name(&message.topic)
            .map_err(|e| ResponseError::Publish(PublishError::InvalidTopic(e)))?;
        let topic = self.choose_response_topic()?;
        self.ensure_response_subscription(&topic, now)?;
        let id = ResponseId(self.rr.next_id);
        self.rr.next_id += 1;
        let mut correlation = Vec::with_capacity(16);
        correlation.extend_from_slice(&self.rng.next_u64().to_be_bytes());
        correlation.extend_from_slice(&id.0.to_be_bytes());
        message.properties.response_topic = Some(topic);
        message.properties.correlation_data = Some(correlation.clone());
        if self.rr.subscription == Subscription::Active {
            self.publish_request(id, message, now)?;
        } else {
            self.check_publishable(&message)
                .map_err(ResponseError::Publish)?;
            self.rr.held.push_back((id, message));
        }
        self.rr.by_correlation.insert(correlation.clone(), id);
        self.rr.pending.insert(
            id,
            Pending {
                deadline: now.saturating_add(timeout_ms),
                timeout_ms,
                correlation,
            },
        );
        Ok(id)
    }

    /// Answers a request received as `request`: publishes `payload` to its Response Topic with
    /// its Correlation Data, at the request's QoS. The returned publish completes as any other
    /// ([`Event::PublishComplete`]). Fails with [`ResponseError::NoResponseTopic`] when the
    /// request carries none, [`ResponseError::NotSupportedInV311`] in a 3.1.1 session, and
    /// [`ResponseError::Publish`] as [`Session::publish`] would.
    pub fn respond(
        &mut self,
        request: &ReceivedMessage,
        payload: impl Into<Vec<u8>>,
        now: u64,
    ) -> Result<PublishId, ResponseError> {
        let m = Message::new(String::new(), payload).qos(request.message.qos);
        self.respond_with(request, m, now)
    }

    /// Like [`Session::respond`], with a whole response message: its topic becomes the
    /// request's Response Topic and its Correlation Data the request's (v5 §4.10, which has no
    /// numbered statement: the responder sends the Correlation Data back unchanged); QoS, retain,
    /// payload and the other properties are `response`'s. Fails as [`Session::respond`] does.
    pub fn respond_with(
        &mut self,
        request: &ReceivedMessage,
        mut response: Message,
        now: u64,
    ) -> Result<PublishId, ResponseError> {
        if !self.opts.version.is_v5() {
            return Err(ResponseError::NotSupportedInV311);
        }
        let props = &request.message.properties;
        response.topic = props
            .response_topic
            .clone()
            .ok_or(ResponseError::NoResponseTopic)?;
        response.properties.correlation_data = props.correlation_data.clone();
        self.publish(response, now).map_err(ResponseError::Publish)
    }

    /// The response topic requests carry, once it is known.
    pub fn response_topic(&self) -> Option<&str> {
        self.rr.topic.as_deref()
    }

    /// Requests waiting for their response.
    pub fn pending_responses(&self) -> usize {
        self.rr.pending.len()
    }

    /// The response topic, chosen at the first request and kept for the session's life.
    fn choose_response_topic(&mut self) -> Result<String, ResponseError> {
        if let Some(t) = &self.rr.topic {
            return Ok(t.clone());
        }
        let info = self
            .info
            .as_ref()
            .and_then(|i| i.response_information.as_deref())
            .filter(|i| !i.is_empty() && self.opts.request_response_information == Some(true));
        let base = info.unwrap_or(&self.opts.response_topic_prefix);
        // No client id yet (the broker assigns one at CONNACK): a random one, so that two such
        // clients never share a response topic.
        let client = match self.opts.client_id.as_str() {
            "" => alloc::format!("anon-{:016x}", self.rng.next_u64()),
            id => String::from(id),
        };
        let topic = alloc::format!("{}/{client}/resp", base.trim_end_matches('/'));
        validate_topic_name(&topic).map_err(|error| ResponseError::InvalidResponseTopic {
            topic: topic.clone(),
            error,
        })?;
        self.rr.topic = Some(topic.clone());
        Ok(topic)
    }

    /// Subscribes to the response topic unless that is done or under way.
    fn ensure_response_subscription(&mut self, topic: &str, now: u64) -> Result<(), ResponseError> {
        if self.rr.subscription != Subscription::None {
            return Ok(());
        }
        if self.subscriptions.contains_key(topic) {
            // Resumed from durable state, or subscribed by the application itself.
            self.rr.subscription = Subscription::Active;
            return Ok(());
        }
        let options = SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::qos(crate::codec::QoS::AtLeastOnce)
        };
        let id = self
            .subscribe(alloc::vec![(String::from(topic), options)], None, now)
            .map_err(|e| match e {
                super::RequestError::SessionClosed => ResponseError::SessionClosed,
                _ => ResponseError::TooMany,
            })?;
        self.rr.subscription = Subscription::Pending(id);
        Ok(())
    }

    /// Publishes request `id`'s message; its completion (at once for QoS 0) is the session's.
    fn publish_request(
        &mut self,
        id: ResponseId,
        message: Message,
        now: u64,
    ) -> Result<(), ResponseError> {
        // The id `publish` allocates next: known before a QoS 0 completion is pushed.
        let pid = PublishId(self.next_publish_id);
        self.rr.publishes.insert(pid, id);
        match self.publish(message, now) {
            Ok(p) => {
                debug_assert_eq!(p, pid);
                Ok(())
            }
            Err(e) => {
                self.rr.publishes.remove(&pid);
                Err(ResponseError::Publish(e))
            }
        }
    }

    /// Whether `id` is the response subscription's request (its outcome is the session's).
    pub(super) fn is_response_subscription(&self, id: RequestId) -> bool {
        self.rr.subscription == Subscription::Pending(id)
    }

    /// The response subscription's SUBACK (or its failure, `None`): the held requests go out,
    /// or fail.
    pub(super) fn response_subscription_done(&mut self, code: Option<ReasonCode>, now: u64) {
        let refused = match code {
            Some(c) if !c.is_error() => None,
            Some(c) => Some(ResponseError::SubscriptionRefused(c)),
            None => Some(ResponseError::SessionClosed),
        };
        self.rr.subscription = match refused {
            None => Subscription::Active,
            Some(_) => Subscription::None,
        };
        for (id, message) in core::mem::take(&mut self.rr.held) {
            if !self.rr.pending.contains_key(&id) {
                continue; // timed out meanwhile
            }
            let error = match &refused {
                Some(e) => e.clone(),
                None => match self.publish_request(id, message, now) {
                    Ok(()) => continue,
                    Err(e) => e,
                },
            };
            self.fail_response(id, error);
        }
    }

    /// A publish completed: the session's own (a request's) ends here, a failure failing its
    /// request; any other is the application's event.
    pub(super) fn publish_completed(
        &mut self,
        id: PublishId,
        result: Result<ReasonCode, PublishError>,
    ) {
        let Some(rid) = self.rr.publishes.remove(&id) else {
            self.events.push_back(Event::PublishComplete { id, result });
            return;
        };
        match result {
            Err(PublishError::SessionClosed) => {
                self.fail_response(rid, ResponseError::SessionClosed)
            }
            Err(e) => self.fail_response(rid, ResponseError::Publish(e)),
            Ok(c) if c.is_error() => {
                self.fail_response(rid, ResponseError::Publish(PublishError::Rejected(c)))
            }
            Ok(_) => {}
        }
    }

    /// An inbound message: a response ends its request (`None`: consumed); a message on the
    /// response topic that answers no request is dropped; any other is the application's.
    pub(super) fn take_response(
        &mut self,
        m: ReceivedMessage,
        now: u64,
    ) -> Option<ReceivedMessage> {
        if self.rr.topic.as_deref() != Some(m.message.topic.as_str()) {
            return Some(m);
        }
        // The session consumes it: with manual acknowledgements it acknowledges it itself.
        if let Some(ack) = m.ack {
            let _ = self.ack(ack, now);
        }
        let id = m
            .message
            .properties
            .correlation_data
            .as_ref()
            .and_then(|c| self.rr.by_correlation.remove(c));
        let Some(id) = id else {
            log::debug!("a message on the response topic answers no request: dropped");
            return None;
        };
        self.rr.pending.remove(&id);
        let mut m = m;
        m.ack = None;
        self.events.push_back(Event::Response { id, result: Ok(m) });
        None
    }

    fn fail_response(&mut self, id: ResponseId, error: ResponseError) {
        if let Some(p) = self.rr.pending.remove(&id) {
            self.rr.by_correlation.remove(&p.correlation);
            self.events.push_back(Event::Response {
                id,
                result: Err(error),
            });
        }
    }

    /// The earliest request deadline.
    pub(super) fn response_deadline(&self) -> Option<u64> {
        self.rr.pending.values().map(|p| p.deadline).min()
    }

    /// Fails the requests whose deadline passed, in id order.
    pub(super) fn response_timeouts(&mut self, now: u64) {
        let due: Vec<(ResponseId, u64)> = self
            .rr
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, p)| (*id, p.timeout_ms))
            .collect();
        for (id, ms) in due {
            self.fail_response(id, ResponseError::Timeout(ms));
        }
    }

    /// The session ends: every request still waiting fails with `SessionClosed`.
    pub(super) fn fail_all_responses(&mut self) {
        self.rr.held.clear();
        if matches!(self.rr.subscription, Subscription::Pending(_)) {
            self.rr.subscription = Subscription::None;
        }
        let ids: Vec<ResponseId> = self.rr.pending.keys().copied().collect();
        for id in ids {
            self.fail_response(id, ResponseError::SessionClosed);
        }
    }
}
