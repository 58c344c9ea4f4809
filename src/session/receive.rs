//! Bytes in: reassembly and decoding of what the broker sends, and dispatch of each packet to
//! the concern it belongs to.

use super::{ProtocolViolation, Session, State};
use crate::codec::Packet;
use alloc::vec::Vec;

/// Whether a CONNACK's first four bytes are the whole of a 3.1.1 refusal (`20 02 00 rc`, return
/// code 1 to 5): a v5 CONNACK always has a Property Length, and its reason codes 1 to 5 do not
/// exist.
fn is_v311_refusal(head: [u8; 4]) -> bool {
    head[..3] == [0x20, 0x02, 0x00] && (1..=5).contains(&head[3])
}

impl Session {
    /// Bytes arrived from the broker.
    pub fn handle_bytes(&mut self, bytes: &[u8], now: u64) {
        let hold = self.hold_state().deadline();
        self.observe(now);
        if !matches!(self.state, State::AwaitingConnAck | State::Connected) {
            return;
        }
        if self.state == State::AwaitingConnAck && self.opts.version.is_v5() {
            // A broker that speaks only 3.1.1 answers CONNECT v5 with a 3.1.1 CONNACK.
            let mut head = [0u8; 4];
            let mut n = 0;
            for (slot, b) in head.iter_mut().zip(self.conn.rx.iter().chain(bytes)) {
                *slot = *b;
                n += 1;
            }
            if n == 4 && is_v311_refusal(head) {
                self.on_v311_connack(head[3], now);
                return;
            }
        }
        // What the drain after a CONNACK writes (a resumed session's resends, the queue's first
        // publishes) is never held: a PUBACK arriving later must not find its message's resend
        // still waiting to go out.
        let connecting = self.state == State::AwaitingConnAck;
        let mut rx = core::mem::take(&mut self.conn.rx);
        let mut start = 0;
        let data: &[u8] = if rx.is_empty() {
            bytes
        } else {
            rx.extend_from_slice(bytes);
            &rx
        };
        let mut failure = None;
        let mut packets = 0u32;
        loop {
            // Decoded where it lies: matching on a returned value would copy the packet (632 B).
            let mut decoded = Ok(None);
            self.decoder.decode_into(&data[start..], &mut decoded);
            match decoded {
                // By reference: moving the packet out of the decoder's slot would copy it.
                Ok(Some((ref packet, used))) => {
                    start += used;
                    packets = packets.saturating_add(1);
                    self.conn.ping_sent = None;
                    self.conn.last_received = now;
                    if let Err(v) = self.handle_packet(packet, now) {
                        failure = Some(v);
                        break;
                    }
                    if !matches!(self.state, State::AwaitingConnAck | State::Connected) {
                        // The packet ended the connection (refusal, server DISCONNECT).
                        start = data.len();
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(ProtocolViolation::Malformed(e));
                    break;
                }
            }
        }
        if let Some(v) = failure {
            rx.clear();
            self.conn.rx = rx;
            self.protocol_error(v, now);
            return;
        }
        let rest = &data[start..];
        let mut kept = Vec::new();
        if !rest.is_empty() {
            if rx.is_empty() {
                kept.extend_from_slice(rest);
            } else {
                rx.drain(..start);
                kept = rx;
            }
        } else {
            rx.clear();
            kept = rx;
        }
        if matches!(self.state, State::AwaitingConnAck | State::Connected) {
            self.conn.rx = kept;
        }
        if connecting {
            self.release_hold();
        } else {
            self.hold_after_bytes(hold, packets);
        }
    }

    /// One packet from the broker, to the concern it belongs to.
    fn handle_packet(&mut self, packet: &Packet<'_>, now: u64) -> Result<(), ProtocolViolation> {
        if self.state == State::AwaitingConnAck {
            return match *packet {
                Packet::ConnAck(c) => self.on_connack(c, now),
                Packet::Auth(a) => self.on_auth(a),
                Packet::Disconnect(d) => {
                    self.on_server_disconnect(d, now);
                    Ok(())
                }
                p => Err(ProtocolViolation::UnexpectedPacket(p.packet_type())),
            };
        }
        // By reference: a PUBLISH is not copied on its way in (a `Packet` is a few hundred
        // bytes; the other packets are copied out of it, they are rare).
        match packet {
            Packet::Publish(p) => self.on_publish(p, now)?,
            Packet::PubAck(r) => self.on_puback(*r, now),
            Packet::PubRec(r) => self.on_pubrec(*r, now),
            Packet::PubComp(r) => self.on_pubcomp(*r, now),
            Packet::PubRel(r) => self.on_pubrel(*r, now),
            Packet::SubAck(s) => self.on_suback(*s, now)?,
            Packet::UnsubAck(u) => self.on_unsuback(*u)?,
            Packet::PingResp => {}
            Packet::Disconnect(d) => self.on_server_disconnect(*d, now),
            Packet::Auth(a) => self.on_auth(*a)?,
            p @ (Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq) => return Err(ProtocolViolation::UnexpectedPacket(p.packet_type())),
        }
        Ok(())
    }
}
