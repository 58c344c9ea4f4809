//! A small completion registry: what a driver keeps for each publish and request it handed to
//! the session (a oneshot sender, a JavaScript Promise's resolve and reject functions, a WIT
//! delivery id), settled from the session's completion events with a typed [`Outcome`].

use super::{Event, PublishError, PublishId, RequestError, RequestId};
use crate::codec::ReasonCode;
use crate::vec_map::VecMap;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// What a completion event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CompletionKey {
    /// A publish ([`super::Session::publish`]).
    Publish(PublishId),
    /// A subscribe or unsubscribe ([`super::Session::subscribe`], [`super::Session::unsubscribe`]).
    Request(RequestId),
}

/// How a publish or a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The publish completed: acknowledged (the reason code), written (QoS 0), or failed.
    Published(Result<ReasonCode, PublishError>),
    /// SUBACK: one reason code per filter (granted QoS, or a failure code at 0x80 and above).
    Subscribed(Vec<ReasonCode>),
    /// UNSUBACK: v5 reason codes (empty in 3.1.1).
    Unsubscribed(Vec<ReasonCode>),
    /// The request failed without an answer (the session closed, ...).
    RequestFailed(RequestError),
}

impl Outcome {
    /// The completion `event` carries, if it is one ([`Event::PublishComplete`],
    /// [`Event::Subscribed`], [`Event::Unsubscribed`], [`Event::RequestFailed`]).
    pub fn of(event: &Event) -> Option<(CompletionKey, Outcome)> {
        Some(match event {
            Event::PublishComplete { id, result } => (
                CompletionKey::Publish(*id),
                Outcome::Published(result.clone()),
            ),
            Event::Subscribed { id, reason_codes } => (
                CompletionKey::Request(*id),
                Outcome::Subscribed(reason_codes.clone()),
            ),
            Event::Unsubscribed { id, reason_codes } => (
                CompletionKey::Request(*id),
                Outcome::Unsubscribed(reason_codes.clone()),
            ),
            Event::RequestFailed { id, error } => (
                CompletionKey::Request(*id),
                Outcome::RequestFailed(error.clone()),
            ),
            _ => return None,
        })
    }

    /// A publish's result; `None` for a request's outcome.
    pub fn into_publish_result(self) -> Option<Result<ReasonCode, PublishError>> {
        match self {
            Outcome::Published(r) => Some(r),
            _ => None,
        }
    }

    /// A request's result: the reason codes of SUBACK or UNSUBACK, or why it failed; `None` for
    /// a publish's outcome.
    pub fn into_request_result(self) -> Option<Result<Vec<ReasonCode>, RequestError>> {
        match self {
            Outcome::Subscribed(c) | Outcome::Unsubscribed(c) => Some(Ok(c)),
            Outcome::RequestFailed(e) => Some(Err(e)),
            Outcome::Published(_) => None,
        }
    }
}

/// What a driver keeps per publish and per request until the session settles it (a oneshot
/// sender, a Promise's resolve and reject functions, a WIT delivery id), settled from the
/// session's completion events with a typed [`Outcome`]:
///
/// ```
/// use wasmqtt::session::{Completions, Event, Outcome, PublishId};
/// use wasmqtt::codec::ReasonCode;
///
/// let mut pending: Completions<&str> = Completions::new();
/// pending.insert_publish(PublishId(1), "resolve #1");
/// let done = Event::PublishComplete { id: PublishId(1), result: Ok(ReasonCode::SUCCESS) };
/// assert_eq!(
///     pending.settle(&done),
///     Some(("resolve #1", Outcome::Published(Ok(ReasonCode::SUCCESS))))
/// );
/// assert!(pending.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Completions<T> {
    publishes: BTreeMap<PublishId, T>,
    requests: VecMap<RequestId, T>,
}

impl<T> Default for Completions<T> {
    fn default() -> Self {
        Completions::new()
    }
}

impl<T> Completions<T> {
    /// An empty registry.
    pub fn new() -> Self {
        Completions {
            publishes: BTreeMap::new(),
            requests: VecMap::new(),
        }
    }

    /// Keeps `value` until publish `id` completes; returns what was kept for `id` before.
    pub fn insert_publish(&mut self, id: PublishId, value: T) -> Option<T> {
        self.publishes.insert(id, value)
    }

    /// Keeps `value` until request `id` completes; returns what was kept for `id` before.
    pub fn insert_request(&mut self, id: RequestId, value: T) -> Option<T> {
        self.requests.insert(id, value)
    }

    /// If `event` completes something kept here: takes it out, with the outcome. `None` for
    /// other events and for completions of ids never inserted.
    pub fn settle(&mut self, event: &Event) -> Option<(T, Outcome)> {
        let key = match event {
            Event::PublishComplete { id, .. } => CompletionKey::Publish(*id),
            Event::Subscribed { id, .. }
            | Event::Unsubscribed { id, .. }
            | Event::RequestFailed { id, .. } => CompletionKey::Request(*id),
            _ => return None,
        };
        let value = self.remove(key)?;
        let (_, outcome) = Outcome::of(event)?;
        Some((value, outcome))
    }

    /// Takes out what was kept for `key`, unsettled.
    pub fn remove(&mut self, key: CompletionKey) -> Option<T> {
        match key {
            CompletionKey::Publish(id) => self.publishes.remove(&id),
            CompletionKey::Request(id) => self.requests.remove(&id),
        }
    }

    /// Fails everything still kept with `SessionClosed`: publishes first, then requests, each
    /// in id order. The session itself fails each of its messages and requests before its
    /// final [`Event::Disconnected`] (so after it this is normally empty); a driver calls this
    /// when it ends without the session (dropped, aborted).
    pub fn fail_all(&mut self) -> Vec<(T, Outcome)> {
        let publishes = core::mem::take(&mut self.publishes);
        let requests = core::mem::take(&mut self.requests);
        publishes
            .into_values()
            .map(|v| (v, Outcome::Published(Err(PublishError::SessionClosed))))
            .chain(
                requests
                    .into_values()
                    .map(|v| (v, Outcome::RequestFailed(RequestError::SessionClosed))),
            )
            .collect()
    }

    /// How many publishes and requests are kept.
    pub fn len(&self) -> (usize, usize) {
        (self.publishes.len(), self.requests.len())
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.publishes.is_empty() && self.requests.is_empty()
    }
}
