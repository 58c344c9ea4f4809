//! Inbound messages: PUBLISH from the broker (topic aliases, acknowledgements) and the QoS 2
//! receive state that delivers each message once.

use super::{Event, ProtocolViolation, ReceivedMessage, Session};
use crate::codec::{Packet, PubResp, Publish, QoS, ReasonCode};
use alloc::string::{String, ToString};

impl Session {
    pub(super) fn on_publish(&mut self, p: Publish<'_>, now: u64) -> Result<(), ProtocolViolation> {
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
        match p.qos {
            QoS::AtMostOnce => {}
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
                self.write_packet(&Packet::PubRec(PubResp::new(p.packet_id)), now);
            }
        }
        self.events
            .push_back(Event::Message(ReceivedMessage::from_publish(&p, &topic)));
        Ok(())
    }
    /// PUBREL: the broker released an inbound QoS 2 message; PUBCOMP ends its exchange.
    pub(super) fn on_pubrel(&mut self, r: PubResp<'_>, now: u64) {
        let mut comp = PubResp::new(r.packet_id);
        if !self.inbound_qos2.remove(&r.packet_id) && self.opts.version.is_v5() {
            comp.reason_code = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
        }
        self.write_packet(&Packet::PubComp(comp), now);
    }

    /// The broker lost the session: no inbound QoS 2 exchange is pending any more.
    pub(super) fn forget_inbound_qos2(&mut self) {
        self.inbound_qos2.clear();
    }
}
