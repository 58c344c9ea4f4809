//! Outbound messages: publish, the inflight window (QoS 1 and 2), the bounded queue, and what
//! a reconnection does to unacknowledged messages (resend with DUP on a resumed session, the
//! requeue rule on a lost one).

use super::requests::MAX_WAITING_REQUESTS;
use super::{Message, PublishError, PublishId, Session, State};
use crate::codec::check_topic_name;
use crate::codec::{EncodeError, Packet, PubResp, Publish, QoS, ReasonCode};
use alloc::borrow::Cow;
use alloc::vec::Vec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// The acknowledgement an inflight message waits for.
pub(super) enum Stage {
    /// QoS 1, waiting for PUBACK.
    Qos1Sent,
    /// QoS 2, waiting for PUBREC.
    Qos2Sent,
    /// QoS 2, PUBREL sent, waiting for PUBCOMP.
    Qos2Released,
}

/// An outbound QoS 1/2 message sent and not yet completed.
#[derive(Debug)]
pub(super) struct Inflight {
    pub(super) id: PublishId,
    pub(super) msg: Message,
    pub(super) stage: Stage,
    /// Order of first sending: resends keep it.
    pub(super) seq: u64,
    /// Since when `msg`'s Message Expiry Interval counts (`expiry.rs`); `None`: not counted
    /// (a message resumed from the store).
    pub(super) queued_at: Option<u64>,
}

/// A message waiting for the window, the write buffer or a connection.
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) id: PublishId,
    pub(super) msg: Message,
    /// Since when `msg`'s Message Expiry Interval counts (`expiry.rs`).
    pub(super) queued_at: Option<u64>,
}

impl Session {
    /// Publishes a message. Returns its handle; an [`Event::PublishComplete`](super::Event::PublishComplete) with that handle
    /// follows when it is acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP), written (QoS 0), or failed.
    ///
    /// When offline or while the inflight window is full, the message waits in the queue; past
    /// the queue's budget the call fails with [`PublishError::QueueFull`], and a QoS 0 message
    /// that finds the write buffer full fails with [`PublishError::WouldBlock`].
    pub fn publish(&mut self, msg: Message, now: u64) -> Result<PublishId, PublishError> {
        self.publish_cow(Cow::Owned(msg), now)
    }

    /// [`Session::publish`] of a message the caller keeps: the same rules and outcomes, but
    /// the session copies the message only when it has to keep it (QoS 1/2, or a QoS 0
    /// message that waits in the queue). A QoS 0 message sent at once is encoded straight from
    /// `msg`, so a caller publishing many messages can reuse one `Message` (say, one topic
    /// with a new payload each time) without an allocation per message.
    pub fn publish_ref(&mut self, msg: &Message, now: u64) -> Result<PublishId, PublishError> {
        self.publish_cow(Cow::Borrowed(msg), now)
    }

    fn publish_cow(&mut self, msg: Cow<'_, Message>, now: u64) -> Result<PublishId, PublishError> {
        self.observe(now);
        if self.state == State::Closed {
            return Err(PublishError::SessionClosed);
        }
        check_topic_name(&msg.topic).map_err(PublishError::InvalidTopic)?;
        self.check_publishable(&msg)?;
        let connected = self.state == State::Connected;
        if connected && msg.qos == QoS::AtMostOnce && self.queue.is_empty() {
            if self.tx.len() >= self.opts.max_pending_write_bytes {
                return Err(PublishError::WouldBlock);
            }
            let id = self.next_publish_id();
            self.send_qos0(id, &msg, now);
            return Ok(id);
        }
        if connected && self.queue.is_empty() && self.inflight.len() < self.window() {
            let id = self.next_publish_id();
            if msg.qos != QoS::AtMostOnce {
                self.durable_message(id, &msg);
            }
            self.send_new(id, msg.into_owned(), Some(now), now);
            return Ok(id);
        }
        let cost = msg.cost();
        if self.queue.len() >= self.opts.max_queued_messages
            || self.queued_bytes + cost > self.opts.max_queued_bytes
        {
            return Err(PublishError::QueueFull {
                messages: self.queue.len(),
                bytes: self.queued_bytes,
            });
        }
        let id = self.next_publish_id();
        if msg.qos != QoS::AtMostOnce {
            self.durable_message(id, &msg);
        }
        self.queued_bytes += cost;
        self.queue.push_back(Queued {
            id,
            msg: msg.into_owned(),
            queued_at: Some(now),
        });
        Ok(id)
    }

    pub(super) fn next_publish_id(&mut self) -> PublishId {
        let id = PublishId(self.next_publish_id);
        self.next_publish_id += 1;
        id
    }

    pub(super) fn window(&self) -> usize {
        usize::from(
            self.opts
                .max_inflight
                .max(1)
                .min(self.conn.server.receive_maximum),
        )
        .min(usize::from(u16::MAX) - MAX_WAITING_REQUESTS)
    }

    pub(super) fn check_publishable(&self, msg: &Message) -> Result<(), PublishError> {
        if self.state == State::Connected && self.opts.version.is_v5() {
            if msg.qos > self.conn.server.maximum_qos {
                return Err(PublishError::QoSNotSupported(self.conn.server.maximum_qos));
            }
            if msg.retain && !self.conn.server.retain_available {
                return Err(PublishError::RetainNotSupported);
            }
        }
        let users = msg.properties.borrowed_users();
        let p = Publish {
            dup: false,
            qos: msg.qos,
            retain: msg.retain,
            topic: &msg.topic,
            packet_id: 1,
            // 3.1.1 has no properties: they are left out when sending (see `write_publish`).
            properties: if self.opts.version.is_v5() {
                msg.properties.to_wire(&users)
            } else {
                Default::default()
            },
            payload: &msg.payload,
        };
        let size = Packet::Publish(p)
            .encoded_len(self.opts.version)
            .map_err(|e| match e {
                EncodeError::PacketTooLarge { .. } => PublishError::TooLarge(e),
                e => PublishError::Invalid(e),
            })?;
        if size > self.conn.server.max_packet_size as usize {
            return Err(PublishError::TooLarge(EncodeError::PacketTooLarge {
                size,
                max: self.conn.server.max_packet_size,
            }));
        }
        Ok(())
    }

    pub(super) fn send_qos0(&mut self, id: PublishId, msg: &Message, now: u64) {
        let result = self.write_publish(msg, 0, false, true, now);
        self.publish_completed(id, result.map(|()| ReasonCode::SUCCESS));
    }

    /// Sends a QoS 1/2 message for the first time (the window has room).
    pub(super) fn send_new(
        &mut self,
        id: PublishId,
        msg: Message,
        queued_at: Option<u64>,
        now: u64,
    ) {
        if msg.qos == QoS::AtMostOnce {
            self.send_qos0(id, &msg, now);
            return;
        }
        let pid = self.alloc_packet_id();
        let stage = if msg.qos == QoS::AtLeastOnce {
            Stage::Qos1Sent
        } else {
            Stage::Qos2Sent
        };
        let seq = self.next_seq;
        // The stage is recorded first: the PUBLISH waits until it is stored.
        self.durable_stage(id, stage, pid, seq);
        if let Err(e) = self.write_publish(&msg, pid, false, true, now) {
            self.finish(id, true, Err(e));
            return;
        }
        self.next_seq += 1;
        self.inflight.insert(
            pid,
            Inflight {
                id,
                msg,
                stage,
                seq,
                queued_at,
            },
        );
    }

    /// A publish ends with `result`; `stored`: a QoS 1/2 message, whose records go.
    pub(super) fn finish(
        &mut self,
        id: PublishId,
        stored: bool,
        result: Result<ReasonCode, PublishError>,
    ) {
        if stored {
            self.durable_forget(id);
        }
        self.publish_completed(id, result);
    }

    pub(super) fn write_publish(
        &mut self,
        msg: &Message,
        pid: u16,
        dup: bool,
        use_alias: bool,
        now: u64,
    ) -> Result<(), PublishError> {
        let users = msg.properties.borrowed_users();
        let mut p = Publish {
            dup,
            qos: msg.qos,
            retain: msg.retain,
            topic: &msg.topic,
            packet_id: pid,
            properties: if self.opts.version.is_v5() {
                msg.properties.to_wire(&users)
            } else {
                Default::default()
            },
            payload: &msg.payload,
        };
        let mut new_alias = false;
        if use_alias && self.opts.version.is_v5() && self.opts.outbound_topic_aliases {
            if let Some((alias, send_topic)) = self.conn.out_aliases.assign(&msg.topic) {
                p.properties.topic_alias = Some(alias);
                new_alias = send_topic;
                if !send_topic {
                    p.topic = "";
                }
            }
        }
        let mut r = Packet::Publish(p).encode_limited(
            self.opts.version,
            self.conn.server.max_packet_size,
            &mut self.tx,
        );
        if p.properties.topic_alias.is_some()
            && matches!(r, Err(EncodeError::PacketTooLarge { .. }))
        {
            // The alias property pushed it over the broker's limit (`check_publishable` counts
            // none): send it without, and free an alias the broker never learnt.
            if new_alias {
                self.conn.out_aliases.release(&msg.topic);
            }
            p.properties.topic_alias = None;
            p.topic = &msg.topic;
            r = Packet::Publish(p).encode_limited(
                self.opts.version,
                self.conn.server.max_packet_size,
                &mut self.tx,
            );
        }
        self.conn.last_sent = now;
        match r {
            Ok(_) => Ok(()),
            Err(e @ EncodeError::PacketTooLarge { .. }) => Err(PublishError::TooLarge(e)),
            Err(e) => Err(PublishError::Invalid(e)),
        }
    }

    /// Sends an inflight PUBLISH of a resumed session again (DUP, same identifier), unless the
    /// broker's new limits forbid it (v5 MQTT-3.2.2-11, MQTT-3.2.2-14, MQTT-3.2.2-15): then it
    /// fails. Whether it was sent.
    pub(super) fn resend_publish(&mut self, pid: u16, now: u64) -> bool {
        let Some(f) = self.inflight.get(&pid) else {
            return false;
        };
        let msg = f.msg.clone();
        let r = self
            .check_publishable(&msg)
            .and_then(|()| self.write_publish(&msg, pid, true, false, now));
        match r {
            Ok(()) => true,
            Err(e) => {
                let f = self.inflight.remove(&pid).expect("present");
                self.finish(f.id, true, Err(e));
                false
            }
        }
    }

    /// Moves queued messages into the window while it has room: first the PUBLISH of a resumed
    /// session still to be sent again, then new ones.
    pub(super) fn fill_window(&mut self, now: u64) {
        if !self.to_resend.is_empty() {
            // Only what is still inflight (an acknowledgement may have settled one meanwhile).
            let inflight = &self.inflight;
            self.to_resend.retain(|pid| inflight.contains_key(pid));
        }
        while self.state == State::Connected
            && self.inflight.len().saturating_sub(self.to_resend.len()) < self.window()
        {
            let Some(pid) = self.to_resend.pop_front() else {
                break;
            };
            self.resend_publish(pid, now);
        }
        while self.state == State::Connected {
            let Some(front) = self.queue.front() else {
                break;
            };
            if front.msg.qos != QoS::AtMostOnce && self.inflight.len() >= self.window() {
                break;
            }
            if front.msg.qos == QoS::AtMostOnce
                && self.tx.len() >= self.opts.max_pending_write_bytes
            {
                break;
            }
            let Some(mut q) = self.queue.pop_front() else {
                break;
            };
            self.queued_bytes -= q.msg.cost();
            let stored = q.msg.qos != QoS::AtMostOnce;
            if let Err(e) = self
                .count_expiry(&mut q, now)
                .and_then(|()| self.check_publishable(&q.msg))
            {
                self.finish(q.id, stored, Err(e));
                continue;
            }
            self.send_new(q.id, q.msg, q.queued_at, now);
        }
    }

    pub(super) fn complete(&mut self, id: PublishId, code: ReasonCode) {
        let result = if code.is_error() {
            Err(PublishError::Rejected(code))
        } else {
            Ok(code)
        };
        self.finish(id, true, result);
    }
    /// PUBACK: a QoS 1 message is complete.
    pub(super) fn on_puback(&mut self, r: PubResp<'_>, now: u64) {
        match self.inflight.get(&r.packet_id) {
            Some(f) if f.stage == Stage::Qos1Sent => {
                let f = self.inflight.remove(&r.packet_id).expect("present");
                self.complete(f.id, r.reason_code);
                self.fill_window(now);
            }
            _ => log::debug!("PUBACK for unknown packet id {}", r.packet_id),
        }
    }

    /// PUBREC: a QoS 2 message is released with PUBREL (or failed, on an error code).
    pub(super) fn on_pubrec(&mut self, r: PubResp<'_>, now: u64) {
        match self.inflight.get_mut(&r.packet_id) {
            Some(f) if f.stage != Stage::Qos1Sent => {
                if r.reason_code.is_error() {
                    let f = self.inflight.remove(&r.packet_id).expect("present");
                    self.complete(f.id, r.reason_code);
                    self.fill_window(now);
                } else {
                    f.stage = Stage::Qos2Released;
                    let (id, seq) = (f.id, f.seq);
                    // Recorded first: the PUBREL waits until it is stored.
                    self.durable_stage(id, Stage::Qos2Released, r.packet_id, seq);
                    self.write_packet(&Packet::PubRel(PubResp::new(r.packet_id)), now);
                }
            }
            _ => {
                let mut rel = PubResp::new(r.packet_id);
                if self.opts.version.is_v5() {
                    rel.reason_code = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
                }
                self.write_packet(&Packet::PubRel(rel), now);
            }
        }
    }

    /// PUBCOMP: a QoS 2 message is complete.
    pub(super) fn on_pubcomp(&mut self, r: PubResp<'_>, now: u64) {
        match self.inflight.get(&r.packet_id) {
            Some(f) if f.stage == Stage::Qos2Released => {
                let f = self.inflight.remove(&r.packet_id).expect("present");
                self.complete(f.id, r.reason_code);
                self.fill_window(now);
            }
            _ => log::debug!("PUBCOMP for unknown packet id {}", r.packet_id),
        }
    }

    /// Inflight packet identifiers in the order their messages were first sent.
    fn inflight_order(&self) -> Vec<u16> {
        let order: Vec<(u64, u16)> = self.inflight.iter().map(|(k, f)| (f.seq, *k)).collect();
        let order = crate::vec_map::sorted_by_key(order, |(seq, _)| *seq);
        order.into_iter().map(|(_, pid)| pid).collect()
    }

    /// A resumed session (CONNACK session present): resend in original order, PUBLISH with DUP
    /// or PUBREL (MQTT-4.4.0-1). PUBLISH beyond the new window waits for room (v5
    /// MQTT-3.3.4-7; a PUBREC'd message counts until its PUBCOMP): `fill_window` sends it,
    /// before any new message.
    pub(super) fn resume_inflight(&mut self, now: u64) {
        self.to_resend.clear();
        let mut unacked = self
            .inflight
            .values()
            .filter(|f| f.stage == Stage::Qos2Released)
            .count();
        for pid in self.inflight_order() {
            let Some(f) = self.inflight.get(&pid) else {
                continue;
            };
            if f.stage == Stage::Qos2Released {
                self.write_packet(&Packet::PubRel(PubResp::new(pid)), now);
            } else if unacked < self.window() {
                if self.resend_publish(pid, now) {
                    unacked += 1;
                }
            } else {
                self.to_resend.push_back(pid);
            }
        }
    }

    /// A lost session (no session present): the requeue rule. Messages never acknowledged go
    /// back to the front of the queue in order, to be sent as new ones; a QoS 2 message already
    /// PUBREC'd completes as delivered (the broker took ownership of it).
    pub(super) fn requeue_inflight(&mut self) {
        self.to_resend.clear();
        for pid in self.inflight_order().into_iter().rev() {
            let f = self.inflight.remove(&pid).expect("present");
            if f.stage == Stage::Qos2Released {
                self.finish(f.id, true, Ok(ReasonCode::SUCCESS));
            } else {
                self.durable_unsent(f.id);
                self.queued_bytes += f.msg.cost();
                self.queue.push_front(Queued {
                    id: f.id,
                    msg: f.msg,
                    queued_at: f.queued_at,
                });
            }
        }
    }

    /// The session ends: every message still inflight or queued fails with `SessionClosed`.
    pub(super) fn fail_all_messages(&mut self) {
        self.to_resend.clear();
        let inflight: Vec<Inflight> = core::mem::take(&mut self.inflight).into_values().collect();
        for f in crate::vec_map::sorted_by_key(inflight, |f| f.seq) {
            self.finish(f.id, true, Err(PublishError::SessionClosed));
        }
        for q in core::mem::take(&mut self.queue) {
            self.finish(
                q.id,
                q.msg.qos != QoS::AtMostOnce,
                Err(PublishError::SessionClosed),
            );
        }
        self.queued_bytes = 0;
    }
}
