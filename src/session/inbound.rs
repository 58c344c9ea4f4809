//! Inbound messages: PUBLISH from the broker (topic aliases, acknowledgements) and the QoS 2
//! receive state that delivers each message once.

use super::manual_ack::PendingAck;
use super::{AckId, Event, ProtocolViolation, ReceivedMessage, Session};
use crate::codec::{Packet, PubResp, Publish, QoS, ReasonCode};
use alloc::string::{String, ToString};

impl Session {
    pub(super) fn on_publish(
        &mut self,
        p: &Publish<'_>,
        now: u64,
    ) -> Result<(), ProtocolViolation> {
        let mut topic = String::new();
        if let Some(alias) = p.properties.topic_alias {
            if alias == 0 || alias > self.opts.topic_alias_maximum {
                return Err(ProtocolViolation::TopicAlias(alias));
            }
            if p.topic.is_empty() {
                let known = self.conn.in_aliases.get(alias);
                topic = known
                    .ok_or(ProtocolViolation::UnknownTopicAlias(alias))?
                    .to_string();
            } else {
                self.conn.in_aliases.set(alias, p.topic);
            }
        }
        if topic.is_empty() {
            topic = p.topic.to_string();
        }
        let mut ack = None;
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce | QoS::ExactlyOnce if self.opts.manual_acks => {
                if p.qos == QoS::ExactlyOnce && self.inbound_qos2.contains(&p.packet_id) {
                    // PUBREC'd already: a redelivery, acknowledged again only.
                    self.write_packet(&Packet::PubRec(PubResp::new(p.packet_id)), now);
                    return Ok(());
                }
                if self.conn.pending_ack_pids.contains(&p.packet_id) {
                    // Sent again on the same connection while the application still has it.
                    return Ok(());
                }
                // v5 MQTT-3.3.4-9: QoS 1 and 2 count until PUBACK, or PUBREC and PUBCOMP.
                if self.opts.version.is_v5()
                    && self.conn.pending_acks.len() + self.inbound_qos2.len()
                        >= usize::from(self.opts.receive_maximum.max(1))
                {
                    return Err(ProtocolViolation::ReceiveMaximumExceeded);
                }
                let id = AckId(self.next_ack_id);
                self.next_ack_id += 1;
                self.conn.pending_ack_pids.insert(p.packet_id);
                self.conn.pending_acks.push_back(PendingAck {
                    id,
                    packet_id: p.packet_id,
                    qos: p.qos,
                    acked: false,
                });
                ack = Some(id);
            }
            QoS::AtLeastOnce => {
                self.write_packet(&Packet::PubAck(PubResp::new(p.packet_id)), now);
            }
            QoS::ExactlyOnce => {
                if self.inbound_qos2.contains(&p.packet_id) {
                    // A redelivery of a message already delivered: acknowledge again only.
                    self.write_packet(&Packet::PubRec(PubResp::new(p.packet_id)), now);
                    return Ok(());
                }
                if self.inbound_qos2.len() >= usize::from(self.opts.receive_maximum.max(1)) {
                    return Err(ProtocolViolation::ReceiveMaximumExceeded);
                }
                self.inbound_qos2.insert(p.packet_id);
                // Recorded first: PUBREC and the message wait until it is stored.
                self.durable_inbound(p.packet_id, true);
                self.write_packet(&Packet::PubRec(PubResp::new(p.packet_id)), now);
            }
        }
        let mut m = ReceivedMessage::from_publish(p, topic);
        m.ack = ack;
        if let Some(m) = self.take_response(m, now) {
            self.events.push_back(Event::Message(m));
        }
        Ok(())
    }
    /// PUBREL: the broker released an inbound QoS 2 message; PUBCOMP ends its exchange.
    pub(super) fn on_pubrel(&mut self, r: PubResp<'_>, now: u64) {
        let mut comp = PubResp::new(r.packet_id);
        if self.inbound_qos2.remove(&r.packet_id) {
            // Its deletion is stored before PUBCOMP lets the broker reuse the identifier.
            self.durable_inbound(r.packet_id, false);
        } else if self.opts.version.is_v5() {
            comp.reason_code = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
        }
        self.write_packet(&Packet::PubComp(comp), now);
    }

    /// The broker lost the session: no inbound QoS 2 exchange is pending any more.
    pub(super) fn forget_inbound_qos2(&mut self) {
        for pid in core::mem::take(&mut self.inbound_qos2) {
            self.durable_inbound(pid, false);
        }
    }
}
