//! Subscribe and unsubscribe requests: sending, their acknowledgements, the subscriptions the
//! session remembers, and renewing them when the broker lost the session.

use super::{Event, ProtocolViolation, RequestError, RequestId, Session, State};
use crate::codec::{
    self, EncodeError, Packet, PacketType, ReasonCode, Seq, SubAck, Subscribe, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe,
};
use crate::topic::validate_topic_filter;
use crate::vec_map::VecMap;
use alloc::string::String;
use alloc::vec::Vec;

/// Most subscribe/unsubscribe requests that may be unanswered (sent or waiting) at once.
pub(super) const MAX_WAITING_REQUESTS: usize = 1024;

#[derive(Debug, Clone)]
pub(super) enum Request {
    Subscribe {
        filters: Vec<(String, SubscriptionOptions)>,
        subscription_id: Option<u32>,
    },
    Unsubscribe {
        filters: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub(super) struct PendingRequest {
    /// `None` for the session's own resubscriptions.
    pub(super) id: Option<RequestId>,
    pub(super) request: Request,
    /// The packet identifier it was last sent with: a request sent again after a reconnection
    /// keeps it (v3.1.1 MQTT-2.3.1-3), and no other packet takes it meanwhile.
    pub(super) packet_id: Option<u16>,
}

impl Session {
    /// Subscribes to `filters`, with an optional v5 subscription identifier. An
    /// [`Event::Subscribed`] follows with one reason code per filter. The subscriptions are
    /// remembered and sent again if the broker loses the session.
    pub fn subscribe(
        &mut self,
        filters: Vec<(String, SubscriptionOptions)>,
        subscription_id: Option<u32>,
        now: u64,
    ) -> Result<RequestId, RequestError> {
        self.release_hold();
        if filters.is_empty() {
            return Err(RequestError::Empty);
        }
        for (f, o) in &filters {
            validate_topic_filter(f).map_err(RequestError::InvalidFilter)?;
            if self.opts.version.is_v5()
                && o.no_local
                && matches!(crate::topic::parse_shared(f), Ok(Some(_)))
            {
                return Err(RequestError::Invalid(
                    EncodeError::NoLocalOnSharedSubscription,
                ));
            }
            // No Local, Retain As Published and Retain Handling exist only in MQTT 5.0
            // (v3.1.1 §3.8.3.1 reserves the bits): refused in a 3.1.1 session, not dropped.
            if !self.opts.version.is_v5() && *o != SubscriptionOptions::qos(o.qos) {
                return Err(RequestError::Invalid(
                    EncodeError::SubscriptionOptionsNotInVersion,
                ));
            }
        }
        if subscription_id.is_some_and(|i| i == 0 || i > codec::MAX_VAR_INT) {
            return Err(RequestError::Invalid(EncodeError::InvalidPropertyValue {
                property: codec::properties::id::SUBSCRIPTION_IDENTIFIER,
                value: subscription_id.unwrap_or(0),
            }));
        }
        self.queue_request(
            Request::Subscribe {
                filters,
                subscription_id,
            },
            now,
        )
    }

    /// Unsubscribes from `filters`. An [`Event::Unsubscribed`] follows.
    pub fn unsubscribe(
        &mut self,
        filters: Vec<String>,
        now: u64,
    ) -> Result<RequestId, RequestError> {
        self.release_hold();
        if filters.is_empty() {
            return Err(RequestError::Empty);
        }
        for f in &filters {
            validate_topic_filter(f).map_err(RequestError::InvalidFilter)?;
        }
        self.queue_request(Request::Unsubscribe { filters }, now)
    }

    pub(super) fn queue_request(
        &mut self,
        request: Request,
        now: u64,
    ) -> Result<RequestId, RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::SessionClosed);
        }
        // Unanswered requests are bounded, and the publish window leaves them this many packet
        // identifiers, so identifiers can never run out.
        if self.requests_sent.len() + self.requests_waiting.len() >= MAX_WAITING_REQUESTS {
            return Err(RequestError::QueueFull);
        }
        let id = RequestId(self.next_request_id);
        self.next_request_id += 1;
        let pending = PendingRequest {
            id: Some(id),
            request,
            packet_id: None,
        };
        if self.state == State::Connected {
            self.send_request(pending, now)
                .map_err(RequestError::Invalid)?;
        } else {
            self.requests_waiting.push_back(pending);
        }
        Ok(id)
    }

    pub(super) fn send_request(
        &mut self,
        mut pending: PendingRequest,
        now: u64,
    ) -> Result<(), EncodeError> {
        // A request sent before is sent again with its identifier (v3.1.1 MQTT-2.3.1-3).
        let pid = match pending.packet_id {
            Some(p) if !self.inflight.contains_key(&p) && !self.requests_sent.contains_key(&p) => p,
            _ => self.alloc_packet_id(),
        };
        pending.packet_id = Some(pid);
        let mut buf = Vec::new();
        match &pending.request {
            Request::Subscribe {
                filters,
                subscription_id,
            } => {
                let subs: Vec<Subscription<'_>> = filters
                    .iter()
                    .map(|(f, o)| Subscription {
                        filter: f,
                        options: *o,
                    })
                    .collect();
                let ids = subscription_id.map(|i| [i]);
                let mut s = Subscribe {
                    packet_id: pid,
                    properties: Default::default(),
                    subscriptions: Seq::from_slice(&subs),
                };
                if self.opts.version.is_v5() {
                    if let Some(ids) = &ids {
                        s.properties.subscription_identifiers = Seq::from_slice(ids);
                    }
                }
                Packet::Subscribe(s).encode_limited(
                    self.opts.version,
                    self.conn.server.max_packet_size,
                    &mut buf,
                )?;
            }
            Request::Unsubscribe { filters } => {
                let fs: Vec<&str> = filters.iter().map(String::as_str).collect();
                let u = Unsubscribe {
                    packet_id: pid,
                    properties: Default::default(),
                    filters: Seq::from_slice(&fs),
                };
                Packet::Unsubscribe(u).encode_limited(
                    self.opts.version,
                    self.conn.server.max_packet_size,
                    &mut buf,
                )?;
            }
        }
        self.tx.extend_from_slice(&buf);
        self.conn.last_sent = now;
        self.requests_sent.insert(pid, pending);
        Ok(())
    }

    pub(super) fn resubscribe(&mut self, now: u64) {
        let mut groups: VecMap<Option<u32>, Vec<(String, SubscriptionOptions)>> = VecMap::new();
        for (f, (o, sid)) in &self.subscriptions {
            groups.entry_or_default(*sid).push((f.clone(), *o));
        }
        self.events.push_back(Event::Resubscribing {
            filters: self.subscriptions.len(),
        });
        for (subscription_id, filters) in groups {
            let r = PendingRequest {
                id: None,
                packet_id: None,
                request: Request::Subscribe {
                    filters,
                    subscription_id,
                },
            };
            if let Err(e) = self.send_request(r, now) {
                log::warn!("could not renew subscriptions: {e}");
            }
        }
    }

    pub(super) fn on_suback(&mut self, s: SubAck<'_>, now: u64) -> Result<(), ProtocolViolation> {
        let Some(pending) = self.requests_sent.remove(&s.packet_id) else {
            log::debug!("SUBACK for unknown packet id {}", s.packet_id);
            return Ok(());
        };
        let codes: Vec<ReasonCode> = s.reason_codes.iter().collect();
        // One reason code per topic filter, in order (v5 MQTT-3.8.4-6, v3.1.1 MQTT-3.8.4-5).
        let violation = match &pending.request {
            Request::Subscribe { filters, .. } if codes.len() != filters.len() => {
                Some(ProtocolViolation::ReasonCodeCount {
                    packet: PacketType::SubAck,
                    expected: filters.len(),
                    got: codes.len(),
                })
            }
            Request::Subscribe { .. } => None,
            Request::Unsubscribe { .. } => {
                Some(ProtocolViolation::UnexpectedPacket(PacketType::SubAck))
            }
        };
        if let Some(v) = violation {
            // The request is sent again on the next connection.
            self.requests_sent.insert(s.packet_id, pending);
            return Err(v);
        }
        if let Request::Subscribe {
            filters,
            subscription_id,
        } = &pending.request
        {
            for (i, (f, o)) in filters.iter().enumerate() {
                match codes.get(i) {
                    Some(c) if !c.is_error() => {
                        if self.durable.is_some()
                            && self.subscriptions.get(f) != Some(&(*o, *subscription_id))
                        {
                            self.durable_subscription(f, Some((*o, *subscription_id)));
                        }
                        self.subscriptions.insert(f.clone(), (*o, *subscription_id));
                    }
                    _ => {
                        if self.subscriptions.remove(f).is_some() {
                            self.durable_subscription(f, None);
                        }
                    }
                }
            }
        }
        match pending.id {
            Some(id) if self.is_response_subscription(id) => {
                self.response_subscription_done(codes.first().copied(), now);
            }
            Some(id) => self.events.push_back(Event::Subscribed {
                id,
                reason_codes: codes,
            }),
            None => {}
        }
        Ok(())
    }

    pub(super) fn on_unsuback(&mut self, u: UnsubAck<'_>) -> Result<(), ProtocolViolation> {
        let Some(pending) = self.requests_sent.remove(&u.packet_id) else {
            log::debug!("UNSUBACK for unknown packet id {}", u.packet_id);
            return Ok(());
        };
        // v5: one reason code per topic filter, in order (v5 MQTT-3.11.3-2); 3.1.1 has none.
        let violation = match &pending.request {
            Request::Unsubscribe { filters }
                if self.opts.version.is_v5() && u.reason_codes.len() != filters.len() =>
            {
                Some(ProtocolViolation::ReasonCodeCount {
                    packet: PacketType::UnsubAck,
                    expected: filters.len(),
                    got: u.reason_codes.len(),
                })
            }
            Request::Unsubscribe { .. } => None,
            Request::Subscribe { .. } => {
                Some(ProtocolViolation::UnexpectedPacket(PacketType::UnsubAck))
            }
        };
        if let Some(v) = violation {
            self.requests_sent.insert(u.packet_id, pending);
            return Err(v);
        }
        if let Request::Unsubscribe { filters } = &pending.request {
            for f in filters {
                if self.subscriptions.remove(f).is_some() {
                    self.durable_subscription(f, None);
                }
            }
        }
        if let Some(id) = pending.id {
            self.events.push_back(Event::Unsubscribed {
                id,
                reason_codes: u.reason_codes.iter().collect(),
            });
        }
        Ok(())
    }
    /// Requests that waited go now, those sent but not answered on the lost connection first
    /// (`requeue_sent_requests` put them back at the front). `requests_sent` holds only the
    /// renewed subscriptions just written: sending it again would duplicate them.
    /// One at a time: those still waiting keep their identifiers reserved meanwhile.
    pub(super) fn send_waiting_requests(&mut self, now: u64) {
        while let Some(r) = self.requests_waiting.pop_front() {
            let id = r.id;
            if let Err(e) = self.send_request(r, now) {
                if let Some(id) = id.filter(|i| !self.is_response_subscription(*i)) {
                    self.events.push_back(Event::RequestFailed {
                        id,
                        error: RequestError::Invalid(e),
                    });
                }
            }
        }
    }

    /// The connection was lost: requests sent on it go again on the next one, first.
    pub(super) fn requeue_sent_requests(&mut self) {
        let sent: Vec<PendingRequest> = core::mem::take(&mut self.requests_sent)
            .into_values()
            .collect();
        for r in sent.into_iter().rev() {
            self.requests_waiting.push_front(r);
        }
    }

    /// The session ends: every request still unanswered fails with `SessionClosed`.
    pub(super) fn fail_all_requests(&mut self) {
        let sent: Vec<PendingRequest> = core::mem::take(&mut self.requests_sent)
            .into_values()
            .collect();
        for r in sent
            .into_iter()
            .chain(core::mem::take(&mut self.requests_waiting))
        {
            if let Some(id) = r.id.filter(|i| !self.is_response_subscription(*i)) {
                self.events.push_back(Event::RequestFailed {
                    id,
                    error: RequestError::SessionClosed,
                });
            }
        }
    }
}
