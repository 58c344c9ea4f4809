//! Primitive wire types (MQTT §1.5): integers, variable byte integers, strings, binary data.
//!
//! Reading goes through [`Reader`], which borrows the packet's bytes. Writing goes through the
//! [`Sink`] trait, implemented by a byte counter and by `Vec<u8>`: each packet's encoder is
//! written once and run twice, first to count (and validate), then to write.

use super::error::{DecodeError, EncodeError};
use super::types::PacketType;
use alloc::vec::Vec;

/// The largest value of a variable byte integer (MQTT §1.5.5).
pub const MAX_VAR_INT: u32 = 268_435_455;

/// A cursor over the bytes of one packet (its remaining length).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) packet: PacketType,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], packet: PacketType) -> Self {
        Reader { buf, packet }
    }

    #[inline]
    fn short(&self, field: &'static str) -> DecodeError {
        DecodeError::Truncated {
            packet: self.packet,
            field,
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let (&b, rest) = self.buf.split_first().ok_or_else(|| self.short(field))?;
        self.buf = rest;
        Ok(b)
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(self.short(field));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    /// Takes everything that is left.
    #[inline]
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    pub(crate) fn var_int(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        match read_var_int(self.buf) {
            Ok(Some((v, n))) => {
                self.buf = &self.buf[n..];
                Ok(v)
            }
            Ok(None) => Err(self.short(field)),
            Err(e) => Err(e),
        }
    }

    /// Two-byte length followed by that many bytes.
    #[inline]
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u16(field)? as usize;
        self.take(n, field)
    }

    /// A UTF-8 encoded string: well-formed and free of U+0000 (MQTT §1.5.3 / §1.5.4).
    #[inline]
    pub(crate) fn string(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        let b = self.binary(field)?;
        check_utf8(b)
    }
}

/// Checks an MQTT UTF-8 string: well-formed UTF-8 (which excludes surrogates) without U+0000.
#[inline]
pub(crate) fn check_utf8(b: &[u8]) -> Result<&str, DecodeError> {
    let s = core::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8)?;
    if b.contains(&0) {
        return Err(DecodeError::NullCharacter);
    }
    Ok(s)
}

/// Reads a variable byte integer from the start of `buf`: `Ok(None)` if `buf` ends first,
/// otherwise the value and the number of bytes it took.
#[inline]
pub fn read_var_int(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..4 {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        value |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 {
                return Err(DecodeError::NonMinimalVarInt);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    Err(DecodeError::MalformedVarInt)
}

/// How many bytes a variable byte integer takes.
#[inline]
pub const fn var_int_len(v: u32) -> usize {
    if v < 128 {
        1
    } else if v < 16_384 {
        2
    } else if v < 2_097_152 {
        3
    } else {
        4
    }
}

/// Where encoded bytes go: a counter (first pass, validating) or a buffer (second pass).
pub(crate) trait Sink {
    /// Whether this pass validates (the counting pass does; the writing pass repeats nothing).
    const CHECK: bool;
    fn put_u8(&mut self, v: u8);
    fn put_slice(&mut self, v: &[u8]);

    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.put_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_var_int(&mut self, v: u32) -> Result<(), EncodeError> {
        if Self::CHECK && v > MAX_VAR_INT {
            return Err(EncodeError::VarIntTooLarge(v));
        }
        let mut v = v;
        loop {
            let mut b = (v & 0x7F) as u8;
            v >>= 7;
            if v > 0 {
                b |= 0x80;
            }
            self.put_u8(b);
            if v == 0 {
                return Ok(());
            }
        }
    }
    #[inline]
    fn put_binary(&mut self, v: &[u8]) -> Result<(), EncodeError> {
        if Self::CHECK && v.len() > u16::MAX as usize {
            return Err(EncodeError::BinaryTooLong(v.len()));
        }
        self.put_u16(v.len() as u16);
        self.put_slice(v);
        Ok(())
    }
    #[inline]
    fn put_str(&mut self, v: &str) -> Result<(), EncodeError> {
        if Self::CHECK {
            if v.len() > u16::MAX as usize {
                return Err(EncodeError::StringTooLong(v.len()));
            }
            if v.as_bytes().contains(&0) {
                return Err(EncodeError::NullCharacter);
            }
        }
        self.put_u16(v.len() as u16);
        self.put_slice(v.as_bytes());
        Ok(())
    }
}

/// Counts bytes without writing them.
#[derive(Debug, Default)]
pub(crate) struct Counter(pub usize);

impl Sink for Counter {
    const CHECK: bool = true;
    #[inline]
    fn put_u8(&mut self, _: u8) {
        self.0 += 1;
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        self.0 += v.len();
    }
}

impl Sink for Vec<u8> {
    const CHECK: bool = false;
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
}
