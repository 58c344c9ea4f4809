//! The durable records: their keys and values (versioned bytes the core encodes and decodes
//! itself), and [`Session::resume`], which rebuilds a session from them.
//!
//! Keys start with a tag byte; every value starts with the record format ([`RECORD_FORMAT`]):
//!
//! | key                         | value (after the format byte)                               |
//! |-----------------------------|-------------------------------------------------------------|
//! | `00`                        | session: next packet id (u16), next publish id (u64), next send order (u64), session expiry (flag, u32), client id (u16 length, UTF-8) |
//! | `01` publish id (u64)       | an accepted QoS 1/2 message: the MQTT 5.0 PUBLISH packet that carries it (the codec's own encoding, so every property survives) |
//! | `02` publish id (u64)       | its stage once sent: 1 PUBLISH sent (QoS 1), 2 PUBLISH sent (QoS 2), 3 PUBREL sent; packet id (u16), send order (u64); absent: queued |
//! | `03` packet id (u16)        | an inbound QoS 2 identifier awaiting PUBREL (empty)          |
//! | `04` topic filter (UTF-8)   | a subscription to renew: options byte, subscription id (flag, u32) |
//!
//! Integers are big-endian. A value of an unknown format, a key of an unknown tag, a
//! truncated or inconsistent record are a [`ResumeError`], never a panic.

// Without the `durable` feature nothing resumes: the reading side goes unused.
#![cfg_attr(not(feature = "durable"), allow(dead_code, unused_imports))]

use super::outbound::{Inflight, Queued, Stage};
use super::{Message, Options, PublishId, ReceivedMessage, Session, SyncPolicy};
use crate::codec::{self, Decoder, Packet, ProtocolVersion, Publish, QoS, SubscriptionOptions};
use crate::vec_map::sort_last_wins;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use thiserror::Error;

/// The format of the records this version writes (the first byte of every value).
pub const RECORD_FORMAT: u8 = 1;

/// Why [`Session::resume`] could not rebuild a session from the store.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// A key this version does not write.
    #[error("unknown record key {key:02x?}")]
    UnknownKey {
        /// The key.
        key: Vec<u8>,
    },
    /// A record written in a format this version does not read.
    #[error("record {key:02x?} has format {format}, this version reads {RECORD_FORMAT}")]
    UnsupportedFormat {
        /// The key.
        key: Vec<u8>,
        /// The format byte found.
        format: u8,
    },
    /// A record that cannot be decoded, or contradicts another one.
    #[error("corrupt record {key:02x?}: {reason}")]
    Corrupt {
        /// The key.
        key: Vec<u8>,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ResumeError {
    /// A stable, machine-readable code: `STORE_UNKNOWN_KEY`, `STORE_UNSUPPORTED_FORMAT` or
    /// `STORE_CORRUPT`.
    pub fn code(&self) -> &'static str {
        match self {
            ResumeError::UnknownKey { .. } => "STORE_UNKNOWN_KEY",
            ResumeError::UnsupportedFormat { .. } => "STORE_UNSUPPORTED_FORMAT",
            ResumeError::Corrupt { .. } => "STORE_CORRUPT",
        }
    }
}

/// A record's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key<'a> {
    Meta,
    Message(u64),
    Stage(u64),
    Inbound(u16),
    Subscription(&'a str),
}

impl<'a> Key<'a> {
    pub(super) fn encode(self) -> Vec<u8> {
        let mut k = Vec::with_capacity(9);
        match self {
            Key::Meta => k.push(0),
            Key::Message(id) => {
                k.push(1);
                k.extend_from_slice(&id.to_be_bytes());
            }
            Key::Stage(id) => {
                k.push(2);
                k.extend_from_slice(&id.to_be_bytes());
            }
            Key::Inbound(pid) => {
                k.push(3);
                k.extend_from_slice(&pid.to_be_bytes());
            }
            Key::Subscription(f) => {
                k.push(4);
                k.extend_from_slice(f.as_bytes());
            }
        }
        k
    }

    fn decode(key: &'a [u8]) -> Result<Self, ResumeError> {
        let bad = |reason| ResumeError::Corrupt {
            key: key.to_vec(),
            reason,
        };
        let (&tag, rest) = key.split_first().ok_or_else(|| bad("empty key"))?;
        let u64_of = |b: &[u8]| -> Result<u64, ResumeError> {
            Ok(u64::from_be_bytes(
                b.try_into().map_err(|_| bad("bad key length"))?,
            ))
        };
        Ok(match tag {
            0 if rest.is_empty() => Key::Meta,
            1 => Key::Message(u64_of(rest)?),
            2 => Key::Stage(u64_of(rest)?),
            3 => Key::Inbound(u16::from_be_bytes(
                rest.try_into().map_err(|_| bad("bad key length"))?,
            )),
            4 => Key::Subscription(
                core::str::from_utf8(rest).map_err(|_| bad("topic filter is not UTF-8"))?,
            ),
            _ => return Err(ResumeError::UnknownKey { key: key.to_vec() }),
        })
    }
}

/// Reads a value's fields in order; every shortfall is the typed error.
struct Reader<'a> {
    key: &'a [u8],
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A value of `key`, past its format byte (checked).
    fn new(key: &'a [u8], value: &'a [u8]) -> Result<Self, ResumeError> {
        match value.split_first() {
            Some((&RECORD_FORMAT, rest)) => Ok(Reader { key, buf: rest }),
            Some((&format, _)) => Err(ResumeError::UnsupportedFormat {
                key: key.to_vec(),
                format,
            }),
            None => Err(self_corrupt(key, "empty value")),
        }
    }

    fn bad(&self, reason: &'static str) -> ResumeError {
        self_corrupt(self.key, reason)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ResumeError> {
        if self.buf.len() < n {
            return Err(self.bad("truncated value"));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, ResumeError> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ResumeError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, ResumeError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.bytes(4)?);
        Ok(u32::from_be_bytes(a))
    }

    fn u64(&mut self) -> Result<u64, ResumeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.bytes(8)?);
        Ok(u64::from_be_bytes(a))
    }

    fn opt_u32(&mut self) -> Result<Option<u32>, ResumeError> {
        match self.u8()? {
            0 => {
                self.u32()?;
                Ok(None)
            }
            1 => Ok(Some(self.u32()?)),
            _ => Err(self.bad("bad flag")),
        }
    }

    fn end(&self) -> Result<(), ResumeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.bad("trailing bytes"))
        }
    }
}

fn self_corrupt(key: &[u8], reason: &'static str) -> ResumeError {
    ResumeError::Corrupt {
        key: key.to_vec(),
        reason,
    }
}

fn push_opt_u32(v: &mut Vec<u8>, x: Option<u32>) {
    v.push(u8::from(x.is_some()));
    v.extend_from_slice(&x.unwrap_or(0).to_be_bytes());
}

/// The session record.
pub(super) fn meta_value(s: &Session) -> Vec<u8> {
    let id = s.opts.client_id.as_bytes();
    let mut v = Vec::with_capacity(26 + id.len());
    v.push(RECORD_FORMAT);
    v.extend_from_slice(&s.next_packet_id.to_be_bytes());
    v.extend_from_slice(&s.next_publish_id.to_be_bytes());
    v.extend_from_slice(&s.next_seq.to_be_bytes());
    push_opt_u32(&mut v, s.opts.session_expiry_interval);
    let len = u16::try_from(id.len()).unwrap_or(u16::MAX);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&id[..usize::from(len)]);
    v
}

/// An accepted message: the MQTT 5.0 PUBLISH that carries it. A 3.1.1 session never checked
/// the v5 properties (it does not send them): if they do not encode, they are left out.
pub(super) fn message_value(msg: &Message) -> Vec<u8> {
    let users = msg.properties.borrowed_users();
    let mut p = Publish {
        dup: false,
        qos: msg.qos,
        retain: msg.retain,
        topic: &msg.topic,
        packet_id: 1,
        properties: msg.properties.to_wire(&users),
        payload: &msg.payload,
    };
    let mut v = Vec::with_capacity(msg.cost() + 8);
    v.push(RECORD_FORMAT);
    if Packet::Publish(p)
        .encode(ProtocolVersion::V5, &mut v)
        .is_err()
    {
        v.truncate(1);
        p.properties = Default::default();
        // `publish` checked the rest (topic, size) before accepting the message.
        if let Err(e) = Packet::Publish(p).encode(ProtocolVersion::V5, &mut v) {
            // Not reached; resuming would report the record corrupt.
            log::error!("an accepted message does not encode as a record: {e}");
        }
    }
    v
}

pub(super) fn stage_value(stage: Stage, pid: u16, seq: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(12);
    v.push(RECORD_FORMAT);
    v.push(match stage {
        Stage::Qos1Sent => 1,
        Stage::Qos2Sent => 2,
        Stage::Qos2Released => 3,
    });
    v.extend_from_slice(&pid.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v
}

pub(super) fn inbound_value() -> Vec<u8> {
    alloc::vec![RECORD_FORMAT]
}

pub(super) fn subscription_value(o: SubscriptionOptions, sid: Option<u32>) -> Vec<u8> {
    let mut v = alloc::vec![RECORD_FORMAT, o.to_byte()];
    push_opt_u32(&mut v, sid);
    v
}

fn decode_message(key: &[u8], value: &[u8]) -> Result<Message, ResumeError> {
    let mut r = Reader::new(key, value)?;
    let bytes = r.bytes(r.buf.len())?;
    let decoder = Decoder::new(ProtocolVersion::V5).with_max_packet_size(codec::MAX_PACKET_SIZE);
    match decoder.decode(bytes) {
        Ok(Some((Packet::Publish(p), used))) if used == bytes.len() && p.qos != QoS::AtMostOnce => {
            Ok(ReceivedMessage::from_publish(&p, p.topic.to_string()).message)
        }
        _ => Err(self_corrupt(key, "not an encoded QoS 1/2 message")),
    }
}

fn decode_stage(key: &[u8], value: &[u8]) -> Result<(Stage, u16, u64), ResumeError> {
    let mut r = Reader::new(key, value)?;
    let stage = match r.u8()? {
        1 => Stage::Qos1Sent,
        2 => Stage::Qos2Sent,
        3 => Stage::Qos2Released,
        _ => return Err(r.bad("unknown stage")),
    };
    let pid = r.u16()?;
    let seq = r.u64()?;
    r.end()?;
    if pid == 0 {
        return Err(r.bad("packet identifier 0"));
    }
    Ok((stage, pid, seq))
}

struct Meta {
    next_packet_id: u16,
    next_publish_id: u64,
    next_seq: u64,
    session_expiry: Option<u32>,
    client_id: String,
}

fn decode_meta(key: &[u8], value: &[u8]) -> Result<Meta, ResumeError> {
    let mut r = Reader::new(key, value)?;
    let next_packet_id = r.u16()?;
    let next_publish_id = r.u64()?;
    let next_seq = r.u64()?;
    let session_expiry = r.opt_u32()?;
    let len = r.u16()?;
    let id = r.bytes(usize::from(len))?;
    r.end()?;
    let client_id = core::str::from_utf8(id)
        .map_err(|_| r.bad("client identifier is not UTF-8"))?
        .to_string();
    Ok(Meta {
        next_packet_id: next_packet_id.max(1),
        next_publish_id,
        next_seq,
        session_expiry,
        client_id,
    })
}

#[cfg(feature = "durable")]
impl Session {
    /// Rebuilds a session from the records of its store (every key and value the driver
    /// stored from [`Session::take_store_ops`], in any order), after a crash or a restart.
    ///
    /// Durable state is on whatever `opts` says ([`SyncPolicy::EveryMessage`] when
    /// [`Options::durable`] is `None`). With no records this is [`Session::new`]. Otherwise the
    /// session continues the stored one: its client identifier (a broker-assigned one too) and
    /// session expiry (unless `opts` sets one), its subscriptions, the inbound QoS 2
    /// identifiers awaiting PUBREL (deduplication survives the restart), and every accepted
    /// message not completed, in order. Once started it connects with Clean Start (Clean
    /// Session) 0 and, like a reconnection, retries with the back-off whatever
    /// [`Options::first_connect`] says; a CONNACK with Session Present 1 gets the PUBLISH (DUP)
    /// and PUBREL still due in their order, one with Session Present 0 the requeue rule and
    /// the subscriptions again. The time a message spent while the process was down is not
    /// counted against its Message Expiry Interval (the core has no wall clock).
    pub fn resume<K, V>(
        mut opts: Options,
        records: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Session, ResumeError>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        if opts.durable.is_none() {
            opts.durable = Some(SyncPolicy::EveryMessage);
        }
        let mut meta = None;
        let mut meta_bytes = None;
        // Sorted vectors rather than maps (a store's keys come in any order): sorted once below.
        let mut messages: Vec<(u64, Option<Message>)> = Vec::new();
        let mut stages: Vec<(u64, StoredStage)> = Vec::new();
        let mut inbound = Vec::new();
        let mut subscriptions = Vec::new();
        let mut any = false;
        for (k, v) in records {
            let (k, v) = (k.as_ref(), v.as_ref());
            any = true;
            match Key::decode(k)? {
                Key::Meta => {
                    meta = Some(decode_meta(k, v)?);
                    meta_bytes = Some(v.to_vec());
                }
                Key::Message(id) => {
                    messages.push((id, Some(decode_message(k, v)?)));
                }
                Key::Stage(id) => {
                    let (stage, pid, seq) = decode_stage(k, v)?;
                    stages.push((id, (stage, pid, seq, k.to_vec())));
                }
                Key::Inbound(pid) => {
                    Reader::new(k, v)?.end()?;
                    if pid == 0 {
                        return Err(self_corrupt(k, "packet identifier 0"));
                    }
                    inbound.push(pid);
                }
                Key::Subscription(filter) => {
                    let mut r = Reader::new(k, v)?;
                    let byte = r.u8()?;
                    let sid = r.opt_u32()?;
                    r.end()?;
                    crate::topic::validate_topic_filter(filter)
                        .map_err(|_| r.bad("invalid topic filter"))?;
                    if byte & 3 == 3 || byte & 0xC0 != 0 || (byte >> 4) & 3 == 3 {
                        return Err(r.bad("invalid subscription options"));
                    }
                    subscriptions.push((filter.to_string(), byte, sid));
                }
            }
        }
        if !any {
            return Ok(Session::new(opts));
        }
        if let Some(m) = &meta {
            opts.client_id = m.client_id.clone();
            if opts.session_expiry_interval.is_none() {
                opts.session_expiry_interval = m.session_expiry;
            }
        }
        opts.clean_start = false;
        let mut s = Session::new(opts);
        s.connected_before = true;
        if let (Some(d), Some(bytes)) = (s.durable.as_deref_mut(), meta_bytes) {
            d.set_meta(bytes);
        }
        let mut next_publish_id = meta.as_ref().map_or(1, |m| m.next_publish_id);
        let mut next_seq = meta.as_ref().map_or(0, |m| m.next_seq);
        if let Some(m) = &meta {
            s.next_packet_id = m.next_packet_id;
        }
        let mut messages = sort_last_wins(messages);
        let stages = sort_last_wins(stages);
        for (id, (stage, pid, seq, key)) in &stages {
            let taken = messages
                .binary_search_by_key(id, |(m, _)| *m)
                .ok()
                .and_then(|i| messages[i].1.take());
            let Some(msg) = taken else {
                return Err(self_corrupt(key, "stage of a message not stored"));
            };
            let fits = match stage {
                Stage::Qos1Sent => msg.qos == QoS::AtLeastOnce,
                Stage::Qos2Sent | Stage::Qos2Released => msg.qos == QoS::ExactlyOnce,
            };
            if !fits {
                return Err(self_corrupt(key, "stage does not fit the message's QoS"));
            }
            if s.inflight.contains_key(pid) {
                return Err(self_corrupt(key, "packet identifier used twice"));
            }
            next_publish_id = next_publish_id.max(id.saturating_add(1));
            next_seq = next_seq.max(seq.saturating_add(1));
            s.inflight.insert(
                *pid,
                Inflight {
                    id: PublishId(*id),
                    msg,
                    stage: *stage,
                    seq: *seq,
                    queued_at: None,
                },
            );
        }
        for (id, msg) in messages {
            // Taken by its stage above: inflight, not queued.
            let Some(msg) = msg else { continue };
            next_publish_id = next_publish_id.max(id.saturating_add(1));
            s.queued_bytes += msg.cost();
            s.queue.push_back(Queued {
                id: PublishId(id),
                msg,
                queued_at: None,
            });
        }
        s.next_publish_id = next_publish_id.max(1);
        s.next_seq = next_seq;
        s.inbound_qos2.extend(inbound);
        for (filter, byte, sid) in subscriptions {
            s.subscriptions
                .insert(filter, (SubscriptionOptions::from_valid_byte(byte), sid));
        }
        Ok(s)
    }
}

/// A stage record: the stage, its packet identifier, its sequence number, its key.
type StoredStage = (Stage, u16, u64, Vec<u8>);
