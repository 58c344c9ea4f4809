//! MQTT 5.0 properties (§2.2.2): one struct for every packet, with the table of which property
//! each packet may carry enforced on both decode and encode.
//!
//! Everything here that names a property is generated from the one table in
//! `src/codec/property_table.rs`: the struct's fields, [`Properties::EMPTY`],
//! [`Properties::is_empty`], the encoder, the decoder (and the identifiers, the allowed-packet
//! rule and the skipper over there).

use super::error::{DecodeError, EncodeError};
use super::property_table::property_table;
use super::seq::Seq;
use super::types::QoS;
use super::wire::{check_topic_name, CheckedCounter, Counter, Reader, Sink};

pub use super::property_table::{id, property_allowed};
use super::property_table::{ALLOWED, ALLOWED_IDS};
pub use super::types::PropertyContext;
use super::wire::{be16, put_word, str_ok, topic_name_ok, var_int_len, var_int_word, MAX_VAR_INT};
use alloc::vec::Vec;

/// The value of an unset field, by wire type.
macro_rules! unset {
    (SubIds) => {
        Seq::empty()
    };
    (Users) => {
        Seq::empty()
    };
    ($k:ident) => {
        None
    };
}

/// Whether a field is unset, by wire type.
macro_rules! is_unset {
    (SubIds, $v:expr) => {
        $v.is_empty()
    };
    (Users, $v:expr) => {
        $v.is_empty()
    };
    ($k:ident, $v:expr) => {
        $v.is_none()
    };
}

/// A word that is zero exactly when a field is unset, by wire type: the pointer of a string or
/// binary value (a `None` is the null pointer; `Some("")` is not), a list's length, an
/// option's tag. ORed together, they test a whole block without a branch per field.
macro_rules! set_word {
    (SubIds, $v:expr) => {
        $v.len()
    };
    (Users, $v:expr) => {
        $v.len()
    };
    (Str, $v:expr) => {
        $v.map_or(0, |s: &str| s.as_ptr() as usize)
    };
    (Topic, $v:expr) => {
        $v.map_or(0, |s: &str| s.as_ptr() as usize)
    };
    (Bin, $v:expr) => {
        $v.map_or(0, |s: &[u8]| s.as_ptr() as usize)
    };
    ($k:ident, $v:expr) => {
        $v.is_some() as usize
    };
}

/// Writes one field (its identifier and value for each value set), checking the sender's rules
/// when `S::CHECK`. `$head` writes the identifier after checking that `ctx` allows it.
macro_rules! encode_field {
    (Flag, $v:expr, $id:expr, $s:ident, $head:ident) => {
        if let Some(v) = $v {
            $head($s, $id)?;
            $s.put_u8(v as u8);
        }
    };
    (MaxQoS, $v:expr, $id:expr, $s:ident, $head:ident) => {
        if let Some(q) = $v {
            $head($s, $id)?;
            if S::CHECK && q == QoS::ExactlyOnce {
                return Err(EncodeError::InvalidPropertyValue {
                    property: $id,
                    value: 2,
                });
            }
            $s.put_u8(q as u8);
        }
    };
    (U16, $v:expr, $id:expr, $s:ident, $head:ident) => {
        if let Some(v) = $v {
            $head($s, $id)?;
            $s.put_u16(v);
        }
    };
    (NzU16, $v:expr, $id:expr, $s:ident, $head:ident) => {
        if let Some(v) = $v {
            $head($s, $id)?;
            nonzero::<S>($id, v.into())?;
            $s.put_u16(v);
        }
    };
    (U32, $v:expr, $id:expr, $s:ident, $head:ident) => {
        if let Some(v) = $v {
            $head($s, $id)?;
            $s.put_u32(v);
        }
    };
    (NzU32, $v:expr, $id:expr, $s:ident, $head:ident) => {
        if let Some(v) = $v {
            $head($s, $id)?;
            nonzero::<S>($id, v)?;
            $s.put_u32(v);
        }
    };
    (Str, $v:expr, $id:expr, $s:ident, $head:ident) => {
        if let Some(v) = $v {
            $head($s, $id)?;
            $s.put_str(v)?;
        }
    };
    (Topic, $v:expr, $id:expr, $s:ident, $head:ident) => {
        if let Some(v) = $v {
            if S::CHECK {
                check_topic_name(v).map_err(EncodeError::InvalidTopicName)?;
            }
            $head($s, $id)?;
            $s.put_str(v)?;
        }
    };
    (Bin, $v:expr, $id:expr, $s:ident, $head:ident) => {
        if let Some(v) = $v {
            $head($s, $id)?;
            $s.put_binary(v)?;
        }
    };
    (SubIds, $v:expr, $id:expr, $s:ident, $head:ident) => {
        $v.try_each(|v| {
            $head($s, $id)?;
            nonzero::<S>($id, v)?;
            $s.put_var_int(v)
        })?;
    };
    (Users, $v:expr, $id:expr, $s:ident, $head:ident) => {
        $v.try_each(|(k, v)| {
            $head($s, $id)?;
            $s.put_str(k)?;
            $s.put_str(v)
        })?;
    };
}

/// The bytes one field takes (identifiers included) if a sender may send it, else `None`.
macro_rules! fast_len {
    (Flag, $v:expr, $ctx:ident) => {
        Some(2)
    };
    (MaxQoS, $v:expr, $ctx:ident) => {
        match $v {
            Some(QoS::ExactlyOnce) => None,
            _ => Some(2),
        }
    };
    (U16, $v:expr, $ctx:ident) => {
        Some(3)
    };
    (NzU16, $v:expr, $ctx:ident) => {
        match $v {
            Some(0) => None,
            _ => Some(3),
        }
    };
    (U32, $v:expr, $ctx:ident) => {
        Some(5)
    };
    (NzU32, $v:expr, $ctx:ident) => {
        match $v {
            Some(0) => None,
            _ => Some(5),
        }
    };
    (Str, $v:expr, $ctx:ident) => {
        match $v {
            Some(s) if str_ok(s) => Some(3 + s.len()),
            _ => None,
        }
    };
    (Topic, $v:expr, $ctx:ident) => {
        match $v {
            Some(s) if topic_name_ok(s.as_bytes()) => Some(3 + s.len()),
            _ => None,
        }
    };
    (Bin, $v:expr, $ctx:ident) => {
        match $v {
            Some(b) if b.len() <= usize::from(u16::MAX) => Some(3 + b.len()),
            _ => None,
        }
    };
    (SubIds, $v:expr, $ctx:ident) => {
        sub_ids_len(&$v, $ctx)
    };
    (Users, $v:expr, $ctx:ident) => {
        users_len(&$v)
    };
}

/// Appends one field (checked by `fast_len!`) to a vector.
macro_rules! fast_write {
    (Flag, $v:expr, $id:expr, $out:ident) => {
        if let Some(v) = $v {
            $out.extend_from_slice(&[$id, v as u8]);
        }
    };
    (MaxQoS, $v:expr, $id:expr, $out:ident) => {
        if let Some(q) = $v {
            $out.extend_from_slice(&[$id, q as u8]);
        }
    };
    (U16, $v:expr, $id:expr, $out:ident) => {
        if let Some(v) = $v {
            let [a, b] = u16::to_be_bytes(v);
            $out.extend_from_slice(&[$id, a, b]);
        }
    };
    (NzU16, $v:expr, $id:expr, $out:ident) => {
        fast_write!(U16, $v, $id, $out)
    };
    (U32, $v:expr, $id:expr, $out:ident) => {
        if let Some(v) = $v {
            let [a, b, c, d] = u32::to_be_bytes(v);
            $out.extend_from_slice(&[$id, a, b, c, d]);
        }
    };
    (NzU32, $v:expr, $id:expr, $out:ident) => {
        fast_write!(U32, $v, $id, $out)
    };
    (Str, $v:expr, $id:expr, $out:ident) => {
        if let Some(v) = $v {
            put_tagged($out, $id, v.as_bytes());
        }
    };
    (Topic, $v:expr, $id:expr, $out:ident) => {
        fast_write!(Str, $v, $id, $out)
    };
    (Bin, $v:expr, $id:expr, $out:ident) => {
        if let Some(v) = $v {
            put_tagged($out, $id, v);
        }
    };
    (SubIds, $v:expr, $id:expr, $out:ident) => {
        let mut each = |v: u32| {
            // (Checked to be at most `MAX_VAR_INT`.)
            let (w, n) = var_int_word(v);
            put_word($out, ($id as u64) | w << 8, 1 + n);
        };
        match $v.as_slice() {
            Some(s) => {
                for &v in s {
                    each(v)
                }
            }
            None => $v.iter().for_each(each),
        }
    };
    (Users, $v:expr, $id:expr, $out:ident) => {
        let mut each = |(k, v): (&str, &str)| {
            put_tagged($out, $id, k.as_bytes());
            put_prefixed($out, v.as_bytes());
        };
        match $v.as_slice() {
            Some(s) => {
                for &kv in s {
                    each(kv)
                }
            }
            None => $v.iter().for_each(each),
        }
    };
}

/// Reads one value into its field (a list only counts it), checking the receiver's rules.
macro_rules! decode_field {
    (Flag, $f:expr, $n:ident, $b:ident, $bad:ident) => {
        $f = Some(match $b.u8(F)? {
            0 => false,
            1 => true,
            v => return Err($bad(v.into())),
        })
    };
    (MaxQoS, $f:expr, $n:ident, $b:ident, $bad:ident) => {
        $f = Some(match $b.u8(F)? {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            v => return Err($bad(v.into())),
        })
    };
    (U16, $f:expr, $n:ident, $b:ident, $bad:ident) => {
        $f = Some($b.u16(F)?)
    };
    (NzU16, $f:expr, $n:ident, $b:ident, $bad:ident) => {
        $f = Some(match $b.u16(F)? {
            0 => return Err($bad(0)),
            v => v,
        })
    };
    (U32, $f:expr, $n:ident, $b:ident, $bad:ident) => {
        $f = Some($b.u32(F)?)
    };
    (NzU32, $f:expr, $n:ident, $b:ident, $bad:ident) => {
        $f = Some(match $b.u32(F)? {
            0 => return Err($bad(0)),
            v => v,
        })
    };
    (Str, $f:expr, $n:ident, $b:ident, $bad:ident) => {
        $f = Some($b.string(F)?)
    };
    (Topic, $f:expr, $n:ident, $b:ident, $bad:ident) => {{
        let t = $b.string(F)?;
        check_topic_name(t).map_err(DecodeError::InvalidTopicName)?;
        $f = Some(t);
    }};
    (Bin, $f:expr, $n:ident, $b:ident, $bad:ident) => {
        $f = Some($b.binary(F)?)
    };
    (SubIds, $f:expr, $n:ident, $b:ident, $bad:ident) => {{
        if $b.var_int(F)? == 0 {
            return Err($bad(0));
        }
        $n += 1;
    }};
    (Users, $f:expr, $n:ident, $b:ident, $bad:ident) => {{
        $b.string(F)?;
        $b.string(F)?;
        $n += 1;
    }};
}

/// Whether a property may appear more than once in `ctx` (MQTT 5.0 §2.2.2.2, §3.3.2.3.8,
/// §3.8.2.1.2).
macro_rules! repeatable {
    (SubIds, $ctx:ident) => {
        $ctx == PropertyContext::Publish
    };
    (Users, $ctx:ident) => {
        true
    };
    ($k:ident, $ctx:ident) => {
        false
    };
}

/// After the block is read: a list becomes a view of the block's bytes.
macro_rules! finish_field {
    (SubIds, $f:expr, $n:ident, $id:expr, $block:ident) => {
        if $n > 0 {
            $f = Seq::property($block, $n, $id);
        }
    };
    (Users, $f:expr, $n:ident, $id:expr, $block:ident) => {
        if $n > 0 {
            $f = Seq::property($block, $n, $id);
        }
    };
    ($k:ident, $f:expr, $n:ident, $id:expr, $block:ident) => {};
}

macro_rules! generate {
    ($( $(#[$doc:meta])* $id:literal $name:ident $field:ident : $ty:ty = $kind:ident
        [$($ctx:ident),* $(,)?]; )*) => {
/// The properties of one packet (or of a will). Every field is optional; a packet may carry only
/// the ones MQTT 5.0 allows for it, which both the decoder and the encoder enforce.
///
/// In MQTT 3.1.1 packets carry no properties: decoding yields the empty default, and encoding a
/// non-empty one is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Properties<'a> {
    $( $(#[$doc])* pub $field: $ty, )*
}

impl<'a> Properties<'a> {
    /// No properties.
    pub const EMPTY: Properties<'static> = Properties {
        $( $field: unset!($kind), )*
    };

    /// Whether no property is set.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        // The same as `*self == Properties::EMPTY`: one word per field that is zero when the
        // field is unset, ORed together without a branch.
        ($( set_word!($kind, self.$field) | )* 0) == 0
    }

    /// The length of the block (without its length prefix) when every property set is
    /// allowed in `ctx` and valid for a sender to send; `None` otherwise, the general encoder
    /// ([`Properties::encode`]) then says what is wrong.
    ///
    /// Inlined where `ctx` is a constant: the properties `ctx` does not allow are then tested
    /// all at once (any set is refused), and only the allowed ones one by one.
    #[inline(always)]
    pub(crate) fn checked_len(&self, ctx: PropertyContext) -> Option<usize> {
        let allowed = ALLOWED_IDS[ctx as usize];
        let stray = $( (if allowed & (1u64 << $id) == 0 { set_word!($kind, self.$field) } else { 0 }) | )* 0;
        if stray != 0 {
            return None;
        }
        let mut n = 0usize;
        $(
            if allowed & (1u64 << $id) != 0 && !is_unset!($kind, self.$field) {
                n += fast_len!($kind, self.$field, ctx)?;
            }
        )*
        Some(n)
    }

    /// Appends the properties (without their length prefix), checked by
    /// [`Properties::checked_len`] for the same `ctx` first (which leaves only the ones `ctx`
    /// allows to look at).
    #[inline(always)]
    pub(crate) fn write_checked(&self, ctx: PropertyContext, out: &mut Vec<u8>) {
        let allowed = ALLOWED_IDS[ctx as usize];
        $( if allowed & (1u64 << $id) != 0 { fast_write!($kind, self.$field, $id, out); } )*
    }

    /// Writes the property length and the properties (MQTT 5.0 only).
    pub(crate) fn encode<S: Sink>(
        &self,
        ctx: PropertyContext,
        s: &mut S,
    ) -> Result<(), EncodeError> {
        if let Some(len) = s.known_props() {
            // Writing pass: the sizing pass measured this block.
            s.put_var_int(len as u32)?;
            return if len == 0 { Ok(()) } else { self.write(ctx, s) };
        }
        if self.is_empty() {
            // No property: a zero length (nothing to check either).
            s.measured_props(0);
            s.put_u8(0);
            return Ok(());
        }
        // The length prefix comes first: measure the block without checking it (a writing
        // sink checks while it writes), or, for a checking counter, check it while measuring
        // and account for it without a second walk.
        let len = if S::CHECK && !S::WRITES {
            let mut c = CheckedCounter::default();
            self.write(ctx, &mut c)?;
            c.0
        } else {
            let mut c = Counter::default();
            self.write(ctx, &mut c)?;
            c.0
        };
        s.measured_props(len);
        s.put_var_int(len as u32)?;
        if S::WRITES {
            self.write(ctx, s)
        } else {
            s.skip(len);
            Ok(())
        }
    }

    /// Fails when any property is set: for MQTT 3.1.1, which has none.
    pub(crate) fn require_empty(&self, ctx: PropertyContext) -> Result<(), EncodeError> {
        if self.is_empty() {
            return Ok(());
        }
        let mut c = FirstId(None);
        let _ = self.write(ctx, &mut c);
        Err(EncodeError::PropertyNotAllowed {
            property: c.0.unwrap_or(0),
            context: ctx,
        })
    }

    /// Writes the properties without their length prefix (checking them when `S::CHECK`).
    pub(crate) fn write<S: Sink>(&self, ctx: PropertyContext, s: &mut S) -> Result<(), EncodeError> {
        let head = |s: &mut S, id: u8| -> Result<(), EncodeError> {
            if S::CHECK && ALLOWED[usize::from(id)] & ctx.bit() == 0 {
                return Err(EncodeError::PropertyNotAllowed {
                    property: id,
                    context: ctx,
                });
            }
            s.put_u8(id);
            Ok(())
        };
        fn nonzero<S: Sink>(id: u8, v: u32) -> Result<(), EncodeError> {
            if S::CHECK && v == 0 {
                return Err(EncodeError::InvalidPropertyValue {
                    property: id,
                    value: 0,
                });
            }
            Ok(())
        }
        if S::CHECK && ctx == PropertyContext::Subscribe && self.subscription_identifiers.len() > 1
        {
            return Err(EncodeError::DuplicateProperty(id::SUBSCRIPTION_IDENTIFIER));
        }
        $( encode_field!($kind, self.$field, $id, s, head); )*
        Ok(())
    }

    /// Reads a property block (length prefix included) and checks it against the rules for `ctx`.
    ///
    /// Decodes into `self`, which must be empty: decoding straight into the packet being
    /// built saves moving this large struct around.
    #[inline]
    pub(crate) fn decode_into(
        &mut self,
        r: &mut Reader<'a>,
        ctx: PropertyContext,
    ) -> Result<(), DecodeError> {
        const F: &str = "property value";
        let len = r.var_int("property length")? as usize;
        if len == 0 {
            return Ok(());
        }
        let block = r.take(len, "properties")?;
        let mut b = Reader::new(block, r.packet);
        let p = self;
        let mut seen: u64 = 0;
        // How many of each list property were read (only the lists' counters are used).
        $( #[allow(unused_mut, unused_variables)] let mut $field = 0usize; )*
        while !b.is_empty() {
            let pid = b.var_int("property identifier")?;
            let id8 = u8::try_from(pid).map_err(|_| DecodeError::UnknownProperty(pid))?;
            match property_allowed(id8, ctx) {
                None => return Err(DecodeError::UnknownProperty(pid)),
                Some(false) => {
                    return Err(DecodeError::PropertyNotAllowed {
                        property: id8,
                        context: ctx,
                    })
                }
                Some(true) => {}
            }
            let bad = |value: u32| DecodeError::InvalidPropertyValue {
                property: id8,
                value,
            };
            match id8 {
                $( $id => {
                    if !repeatable!($kind, ctx) {
                        let bit = 1u64 << $id;
                        if seen & bit != 0 {
                            return Err(DecodeError::DuplicateProperty($id));
                        }
                        seen |= bit;
                    }
                    decode_field!($kind, p.$field, $field, b, bad);
                } )*
                _ => return Err(DecodeError::UnknownProperty(pid)),
            }
        }
        $( finish_field!($kind, p.$field, $field, $id, block); )*
        Ok(())
    }
}
    };
}
property_table!(generate);

/// [`fast_len!`] of the subscription identifiers: one at most in SUBSCRIBE (v5 §3.8.2.1.2),
/// each 1 to 268 435 455.
#[inline(always)]
fn sub_ids_len(ids: &Seq<'_, u32>, ctx: PropertyContext) -> Option<usize> {
    if ctx == PropertyContext::Subscribe && ids.len() > 1 {
        return None;
    }
    let one = |v: u32| (v != 0 && v <= MAX_VAR_INT).then(|| 1 + var_int_len(v));
    let mut n = 0;
    match ids.as_slice() {
        Some(s) => {
            for &v in s {
                n += one(v)?;
            }
        }
        None => {
            for v in ids.iter() {
                n += one(v)?;
            }
        }
    }
    Some(n)
}

/// [`fast_len!`] of the user properties: every name and value a string a sender may send.
#[inline(always)]
fn users_len(users: &Seq<'_, (&str, &str)>) -> Option<usize> {
    let one = |(k, v): (&str, &str)| (str_ok(k) && str_ok(v)).then_some(5 + k.len() + v.len());
    let mut n = 0;
    match users.as_slice() {
        Some(s) => {
            for &(k, v) in s {
                if !(str_ok(k) && str_ok(v)) {
                    return None;
                }
                n += 5 + k.len() + v.len();
            }
        }
        None => {
            for kv in users.iter() {
                n += one(kv)?;
            }
        }
    }
    Some(n)
}

/// Appends a two-byte length and the bytes (checked to fit already).
#[inline(always)]
fn put_prefixed(out: &mut Vec<u8>, b: &[u8]) {
    put_word(out, u64::from(be16(b.len())), 2);
    out.extend_from_slice(b);
}

/// Appends a property identifier, a two-byte length and the bytes (checked to fit already).
#[inline(always)]
fn put_tagged(out: &mut Vec<u8>, id: u8, b: &[u8]) {
    put_word(out, u64::from(id) | u64::from(be16(b.len())) << 8, 3);
    out.extend_from_slice(b);
}

/// Records the first property identifier written.
struct FirstId(Option<u8>);

impl Sink for FirstId {
    const CHECK: bool = false;
    const WRITES: bool = true;
    fn skip(&mut self, _: usize) {}
    fn put_u8(&mut self, v: u8) {
        if self.0.is_none() {
            self.0 = Some(v);
        }
    }
    fn put_slice(&mut self, v: &[u8]) {
        if self.0.is_none() {
            self.0 = v.first().copied();
        }
    }
}
