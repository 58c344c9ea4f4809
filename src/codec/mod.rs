//! The MQTT 3.1.1 and 5.0 packet codec: one tree, parameterised by [`ProtocolVersion`].
//!
//! Decoding ([`Decoder::decode`]) is streaming and zero-copy: it answers "need more bytes" or a
//! [`Packet`] that borrows its strings, payload and lists from the input, together with the
//! number of bytes it used. Encoding ([`Packet::encode`]) checks every rule the specification
//! sets for the sender before writing anything.
//!
//! ```
//! use wasmqtt::codec::{Decoder, Packet, ProtocolVersion, Publish, Properties, QoS};
//!
//! let publish = Packet::Publish(Publish {
//!     dup: false,
//!     qos: QoS::AtLeastOnce,
//!     retain: false,
//!     topic: "meter/1/watts",
//!     packet_id: 7,
//!     properties: Properties::EMPTY,
//!     payload: b"1234",
//! });
//! let mut wire = Vec::new();
//! publish.encode(ProtocolVersion::V5, &mut wire).unwrap();
//!
//! let decoder = Decoder::new(ProtocolVersion::V5);
//! assert_eq!(decoder.decode(&wire[..3]).unwrap(), None); // a partial packet
//! let (packet, used) = decoder.decode(&wire).unwrap().unwrap();
//! assert_eq!((packet, used), (publish, wire.len()));
//! ```

mod decode;
mod encode;
mod encode_fast;
mod error;
mod packet;
pub mod properties;
mod property_table;
mod seq;
mod subscription;
mod types;
mod wire;

pub use decode::{decode, Decoded, Decoder, FixedHeader, MAX_PACKET_SIZE};
pub use encode::Checked;
pub use error::{DecodeError, EncodeError};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PubResp, Publish, SubAck, Subscribe, UnsubAck,
    Unsubscribe, Will,
};
pub use properties::{Properties, PropertyContext};
pub use seq::{Seq, SeqIter, WireItem};
pub use subscription::{Subscription, SubscriptionOptions};
pub use types::{NamedCode, PacketType, ProtocolVersion, QoS, ReasonCode, RetainHandling};
pub(crate) use wire::check_topic_name;
pub use wire::{read_var_int, var_int_len, MAX_VAR_INT};
