//! Primitive wire types (MQTT §1.5): integers, variable byte integers, strings, binary data.
//!
//! Reading goes through [`Reader`], which borrows the packet's bytes. Writing goes through the
//! [`Sink`] trait, implemented by a byte counter and by `Vec<u8>`: each packet's encoder is
//! written once and run twice, first to count (and validate), then to write.

use super::error::{DecodeError, EncodeError};
use super::types::PacketType;
use crate::topic::{validate_topic_filter, validate_topic_name, TopicError, MAX_TOPIC_LEN};
use alloc::vec::Vec;

/// The largest value of a variable byte integer (MQTT §1.5.5).
pub const MAX_VAR_INT: u32 = 268_435_455;

/// The largest packet MQTT can express: 1 type byte, 4 length bytes, 268 435 455 bytes of body.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + MAX_VAR_INT;

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

    /// A topic name: [`Reader::string`], and whether it holds a byte that may make it an invalid
    /// topic name (`+` or `#`; U+0000 is refused here, as `string` does), found in the same
    /// scan. `false` means the name is valid if it is not empty.
    #[inline]
    pub(crate) fn topic(&mut self, field: &'static str) -> Result<(&'a str, bool), DecodeError> {
        let b = self.binary(field)?;
        let s = utf8(b).ok_or(DecodeError::InvalidUtf8)?;
        let suspect = has_nul_or_wildcard(b);
        if suspect && has_nul(b) {
            return Err(DecodeError::NullCharacter);
        }
        Ok((s, suspect))
    }
}

impl<'a> Reader<'a> {
    /// A topic filter: [`Reader::string`] and then [`check_topic_filter`], the common filter
    /// (plain and valid, which excludes U+0000) accepted in one scan after the UTF-8 check.
    ///
    /// This reader reads the tail of `base`, and `text` is `base` when it is well-formed UTF-8
    /// (a list of ASCII filters shorter than 128 bytes is): a filter is then sliced from it,
    /// checked as UTF-8 once for the whole list instead of once each.
    #[inline]
    pub(crate) fn topic_filter(
        &mut self,
        base: &'a [u8],
        text: Option<&'a str>,
    ) -> Result<&'a str, DecodeError> {
        const F: &str = "topic filter";
        let b = self.binary(F)?;
        let end = base.len() - self.buf.len();
        let s = match text.and_then(|t| t.get(end - b.len()..end)) {
            Some(s) => s,
            None => utf8(b).ok_or(DecodeError::InvalidUtf8)?,
        };
        if plain_valid_filter(b) {
            return Ok(s);
        }
        if has_nul(b) {
            return Err(DecodeError::NullCharacter);
        }
        validate_topic_filter(s).map_err(DecodeError::InvalidTopicFilter)?;
        Ok(s)
    }
}

/// `b` as text, if it is well-formed UTF-8: [`core::str::from_utf8`]'s answer, found faster
/// for ASCII, which nearly every topic, identifier and property string is. (`from_utf8` walks
/// a short or unaligned string byte by byte; `is_ascii` a word at a time.)
#[inline]
#[allow(unsafe_code)]
pub(crate) fn utf8(b: &[u8]) -> Option<&str> {
    if is_ascii(b) {
        // SAFETY: bytes below 0x80 are each a whole UTF-8 character, so `b` is well-formed
        // UTF-8. (The crate's only `unsafe`; `utf8_agrees_with_from_utf8` tests the claim.)
        debug_assert!(core::str::from_utf8(b).is_ok());
        Some(unsafe { core::str::from_utf8_unchecked(b) })
    } else {
        core::str::from_utf8(b).ok()
    }
}

/// Whether every byte of `b` is below 0x80: the bytes ORed together a word at a time, without
/// an early exit (strings here are short; `<[u8]>::is_ascii` costs more on them).
#[inline(always)]
fn is_ascii(b: &[u8]) -> bool {
    let n = b.len();
    if n < 8 {
        return b.iter().fold(0, |acc, &c| acc | c) < 0x80;
    }
    let (words, _) = b.as_chunks::<8>();
    let mut acc = word(&b[n - 8..]);
    for w in words {
        acc |= u64::from_le_bytes(*w);
    }
    acc & HI == 0
}

/// Checks an MQTT UTF-8 string: well-formed UTF-8 (which excludes surrogates) without U+0000.
#[inline]
pub(crate) fn check_utf8(b: &[u8]) -> Result<&str, DecodeError> {
    let s = utf8(b).ok_or(DecodeError::InvalidUtf8)?;
    // Short strings (the usual ones) are scanned faster word by word than by `memchr`.
    let nul = if b.len() < 64 {
        has_nul(b)
    } else {
        b.contains(&0)
    };
    if nul {
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

/// Where encoded bytes go: a counter (sizing) or a buffer (writing).
///
/// [`Packet::encode`](super::Packet::encode) runs each packet's layout twice: first against
/// [`Counter`], which only adds up sizes, then against the output `Vec<u8>`, which checks every
/// sender rule as it writes (and is truncated back on error). [`CheckedCounter`] sizes and
/// checks without writing, for [`Packet::encoded_len`](super::Packet::encoded_len).
pub(crate) trait Sink {
    /// Whether this pass checks the rules the specification sets for senders.
    const CHECK: bool;
    /// Whether bytes are really written (a counter can skip a span it already measured).
    const WRITES: bool;
    fn put_u8(&mut self, v: u8);
    fn put_slice(&mut self, v: &[u8]);
    /// Accounts for `n` bytes without producing them: only counters are asked to.
    fn skip(&mut self, n: usize);
    /// Hands the length of a property block, measured in the sizing pass, to the writing pass.
    #[inline]
    fn measured_props(&mut self, _len: usize) {}
    /// The length of the next property block, if the sizing pass measured it.
    #[inline]
    fn known_props(&mut self) -> Option<usize> {
        None
    }

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
    /// A string already checked (a validated topic name or filter).
    #[inline]
    fn put_checked_str(&mut self, v: &str) {
        self.put_u16(v.len() as u16);
        self.put_slice(v.as_bytes());
    }
    #[inline]
    fn put_str(&mut self, v: &str) -> Result<(), EncodeError> {
        if Self::CHECK {
            if v.len() > u16::MAX as usize {
                return Err(EncodeError::StringTooLong(v.len()));
            }
            if has_nul(v.as_bytes()) {
                return Err(EncodeError::NullCharacter);
            }
        }
        self.put_u16(v.len() as u16);
        self.put_slice(v.as_bytes());
        Ok(())
    }
}

/// The sizing pass of [`Packet::encode`](super::Packet::encode): a [`Counter`] that also
/// records the length of each property block for the writing pass ([`Writer`]).
#[derive(Debug, Default)]
pub(crate) struct Sizer {
    pub(crate) n: usize,
    props: PropsLens,
}

/// Lengths of the (at most two: CONNECT and its will) property blocks of a packet.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PropsLens {
    lens: [usize; 2],
    count: usize,
}

impl Sizer {
    /// The result of a sizing pass worked out without one: `n` bytes of body, and one
    /// property block, empty, when `empty_props`.
    #[inline]
    pub(crate) fn known(n: usize, empty_props: bool) -> Self {
        Sizer {
            n,
            props: PropsLens {
                lens: [0; 2],
                count: empty_props as usize,
            },
        }
    }
}

impl Sink for Sizer {
    const CHECK: bool = false;
    const WRITES: bool = false;
    #[inline]
    fn put_u8(&mut self, _: u8) {
        self.n += 1;
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        self.n += v.len();
    }
    #[inline]
    fn skip(&mut self, n: usize) {
        self.n += n;
    }
    #[inline]
    fn measured_props(&mut self, len: usize) {
        let p = &mut self.props;
        if let Some(slot) = p.lens.get_mut(p.count) {
            *slot = len;
        }
        p.count += 1;
    }
}

/// The writing pass of [`Packet::encode`](super::Packet::encode): checks every rule as it
/// appends to the output, using the property-block lengths the [`Sizer`] measured.
pub(crate) struct Writer<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    props: PropsLens,
    next: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>, sizer: &Sizer) -> Self {
        Writer {
            out,
            props: sizer.props,
            next: 0,
        }
    }
}

impl Sink for Writer<'_> {
    const CHECK: bool = true;
    const WRITES: bool = true;
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.out.push(v);
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        self.out.extend_from_slice(v);
    }
    #[inline]
    fn skip(&mut self, n: usize) {
        self.out.resize(self.out.len() + n, 0);
    }
    #[inline]
    fn known_props(&mut self) -> Option<usize> {
        let i = self.next;
        self.next += 1;
        if i < self.props.count {
            self.props.lens.get(i).copied()
        } else {
            None
        }
    }
}

/// Adds up sizes without writing anything; with `CHECK` it also checks every sender rule.
#[derive(Debug, Default)]
pub(crate) struct Count<const CHECK: bool>(pub usize);

/// Only sizes (the first pass of an encode).
pub(crate) type Counter = Count<false>;

/// Sizes and checks every sender rule, writing nothing.
pub(crate) type CheckedCounter = Count<true>;

impl<const C: bool> Sink for Count<C> {
    const CHECK: bool = C;
    const WRITES: bool = false;
    #[inline]
    fn put_u8(&mut self, _: u8) {
        self.0 += 1;
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        self.0 += v.len();
    }
    #[inline]
    fn skip(&mut self, n: usize) {
        self.0 += n;
    }
}

impl Sink for Vec<u8> {
    const CHECK: bool = true;
    const WRITES: bool = true;
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
    #[inline]
    fn skip(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
}

/// Appends the low `n` bytes (at most 8) of the little-endian word `w`. With room for eight
/// bytes (the usual case: the space for the packet is reserved and more of it follows), one
/// fixed-size store and the length set back, where `n` exact writes would each check the
/// capacity; else the `n` bytes alone.
#[inline(always)]
pub(crate) fn put_word(out: &mut Vec<u8>, w: u64, n: usize) {
    let b = w.to_le_bytes();
    let at = out.len();
    if out.capacity() - at >= 8 {
        out.extend_from_slice(&b);
        out.truncate(at + n);
    } else {
        out.extend_from_slice(&b[..n]);
    }
}

/// A variable byte integer (at most [`MAX_VAR_INT`], checked before) as the low bytes of a
/// little-endian word, and how many bytes it takes (1 to 4).
#[inline(always)]
pub(crate) fn var_int_word(v: u32) -> (u64, usize) {
    if v < 0x80 {
        (v as u64, 1)
    } else {
        var_int_word_long(u64::from(v))
    }
}

fn var_int_word_long(mut v: u64) -> (u64, usize) {
    let mut w = 0;
    let mut n = 0;
    loop {
        let b = v & 0x7F;
        v >>= 7;
        w |= (b | u64::from(v > 0) << 7) << (8 * n);
        n += 1;
        if v == 0 {
            return (w, n);
        }
    }
}

/// A length that fits two bytes (checked before), big-endian, as the low half of a
/// little-endian word.
#[inline(always)]
pub(crate) fn be16(n: usize) -> u16 {
    (n as u16).swap_bytes()
}

// ---------------------------------------------------------------------------------------------
// Byte scans, eight bytes at a time
// ---------------------------------------------------------------------------------------------

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Whether the word holds a zero byte. (The classic test: it may flag the wrong byte, but only
/// when some byte really is zero, so the answer for the word is exact.)
#[inline(always)]
const fn zero_byte(w: u64) -> bool {
    w.wrapping_sub(LO) & !w & HI != 0
}

/// The high bit of each byte that may be U+0000, `+` or `#` (see [`nul_or_wildcard`]): the
/// lowest one set is exact, higher ones may be false.
#[inline(always)]
const fn nul_or_wildcard_mask(w: u64) -> u64 {
    let m = w & (LO * 0xF7);
    let x = m ^ (LO * 0x23);
    (m.wrapping_sub(LO) & !m | x.wrapping_sub(LO) & !x) & HI
}

/// Whether the word holds U+0000, `+` (0x2B) or `#` (0x23). `+` and `#` differ only in bit 3,
/// so one test finds both; the NUL test also fires on 0x08, which only sends a valid string
/// down the slow, exact path.
#[inline(always)]
const fn nul_or_wildcard(w: u64) -> bool {
    let m = w & (LO * 0xF7);
    zero_byte(m) || zero_byte(m ^ (LO * 0x23))
}

/// Whether `b` holds U+0000.
#[inline]
pub(crate) fn has_nul(b: &[u8]) -> bool {
    scan(b, zero_byte, |c| c == 0)
}

/// Whether `b` holds U+0000, `+` or `#`: the bytes a topic name may not hold.
#[inline]
pub(crate) fn has_nul_or_wildcard(b: &[u8]) -> bool {
    scan(b, nul_or_wildcard, |c| (c == 0) | ((c & 0xF7) == 0x23))
}

#[inline(always)]
fn scan(b: &[u8], found: impl Fn(u64) -> bool, byte: impl Fn(u8) -> bool + Copy) -> bool {
    let n = b.len();
    if n < 8 {
        return b.iter().any(|&c| byte(c));
    }
    if n < 16 {
        // Two words, overlapping.
        return found(word(&b[..8])) || found(word(&b[n - 8..]));
    }
    // Sixteen bytes at a time: a fixed-size block without early exit, which the compiler
    // turns into a few vector instructions where the target has them. The tail is the last
    // sixteen bytes again (a second look at some is harmless).
    let (chunks, _) = b.as_chunks::<16>();
    for c in chunks {
        if block16(c, byte) {
            return true;
        }
    }
    b.last_chunk::<16>().is_some_and(|c| block16(c, byte))
}

/// Whether a byte of `c` is one `byte` looks for.
#[inline(always)]
fn block16(c: &[u8; 16], byte: impl Fn(u8) -> bool) -> bool {
    let mut hits = 0u8;
    for &x in c {
        hits |= byte(x) as u8;
    }
    hits != 0
}

/// The same verdict as [`validate_topic_name`], without its cost on the common path.
#[inline]
pub(crate) fn check_topic_name(name: &str) -> Result<(), TopicError> {
    if topic_name_ok(name.as_bytes()) {
        return Ok(());
    }
    validate_topic_name(name)
}

/// A string a sender may send: at most 65 535 bytes, no U+0000 (v5 MQTT-1.5.4-1/-2, v3.1.1
/// MQTT-1.5.3-1/-2; a `&str` is well-formed UTF-8 already).
#[inline(always)]
pub(crate) fn str_ok(s: &str) -> bool {
    s.len() <= usize::from(u16::MAX) && !has_nul(s.as_bytes())
}

/// Whether `b` is a valid topic name: 1 to 65 535 bytes without U+0000, `+` or `#` (`false`
/// says nothing about why).
#[inline(always)]
pub(crate) fn topic_name_ok(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= MAX_TOPIC_LEN && !has_nul_or_wildcard(b)
}

/// The same verdict as [`validate_topic_filter`], without its cost on the common path: a
/// filter that is not a shared subscription, whose wildcards each fill their level and whose
/// `#` is last, is accepted in one scan; anything else gets the full check.
#[inline]
pub(crate) fn check_topic_filter(filter: &str) -> Result<(), TopicError> {
    if plain_valid_filter(filter.as_bytes()) {
        return Ok(());
    }
    validate_topic_filter(filter)
}

/// Whether `b` is a valid topic filter that is not a shared subscription (nor starts with
/// `$share`): `false` also for some valid filters, which then need the full check.
#[inline(always)]
pub(crate) fn plain_valid_filter(b: &[u8]) -> bool {
    let n = b.len();
    if n == 0 || n > MAX_TOPIC_LEN || (b[0] == b'$' && b.starts_with(b"$share")) {
        return false;
    }
    if n < 8 {
        return (0..n).all(|i| plain_filter_byte(b, i));
    }
    // Sixteen bytes at a time tested at once for a special byte (U+0000, `+`, `#`), then
    // eight; the tail as the last eight bytes with those already seen masked off. In a block
    // holding one, every special byte is flagged in its word's mask; each flag is checked
    // where it stands (a false flag only costs that check).
    let special = |c: u8| (c == 0) | ((c & 0xF7) == 0x23);
    let (blocks, _) = b.as_chunks::<16>();
    let mut at = 0;
    for c in blocks {
        if block16(c, special) {
            let (lo, hi) = c.split_at(8);
            if !flagged_ok(b, at, nul_or_wildcard_mask(word(lo)))
                || !flagged_ok(b, at + 8, nul_or_wildcard_mask(word(hi)))
            {
                return false;
            }
        }
        at += 16;
    }
    if n - at >= 8 {
        if !flagged_ok(b, at, nul_or_wildcard_mask(word(&b[at..at + 8]))) {
            return false;
        }
        at += 8;
    }
    let seen = n - at;
    if seen == 0 {
        return true;
    }
    let mask = nul_or_wildcard_mask(word(&b[n - 8..])) & (!0u64 << (8 * (8 - seen)));
    flagged_ok(b, n - 8, mask)
}

/// Whether each byte of `b` flagged in `mask` (a word's high bits, for the eight bytes from
/// `at`; a false flag only costs an exact check) is allowed where it stands.
#[inline(always)]
fn flagged_ok(b: &[u8], at: usize, mut mask: u64) -> bool {
    while mask != 0 {
        if !plain_filter_byte(b, at + (mask.trailing_zeros() / 8) as usize) {
            return false;
        }
        mask &= mask - 1;
    }
    true
}

/// The eight bytes of `c` (exactly eight) as a little-endian word.
#[inline(always)]
fn word(c: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    u64::from_le_bytes(a)
}

/// Whether byte `i` of filter `b` is allowed where it stands: U+0000 never, a wildcard only
/// filling its level (and `#` only as the last level).
#[inline(always)]
fn plain_filter_byte(b: &[u8], i: usize) -> bool {
    let n = b.len();
    let level_start = i == 0 || b[i - 1] == b'/';
    match b[i] {
        0 => false,
        b'+' => level_start && (i + 1 == n || b[i + 1] == b'/'),
        b'#' => level_start && i + 1 == n,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::utf8;

    /// `utf8` answers exactly as `from_utf8` does: every sequence of up to three bytes (each
    /// byte from a set covering ASCII, continuation bytes, every lead byte class and the
    /// invalid ones), then longer strings mixing ASCII and multi-byte characters at every
    /// alignment.
    #[test]
    fn utf8_agrees_with_from_utf8() {
        let bytes = [
            0x00, 0x01, 0x2B, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
            0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF,
        ];
        let mut checked = 0;
        for &a in &bytes {
            for &b in &bytes {
                for &c in &bytes {
                    for s in [&[a][..], &[a, b], &[a, b, c]] {
                        assert_eq!(utf8(s), core::str::from_utf8(s).ok(), "{s:02x?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000);
        let text = "sensors/ü/€/𝄞/temperature-0123456789abcdef".as_bytes();
        for start in 0..text.len() {
            for end in start..=text.len() {
                let s = &text[start..end];
                assert_eq!(utf8(s), core::str::from_utf8(s).ok(), "{start}..{end}");
            }
        }
        assert_eq!(
            utf8(b"plain/ascii/topic/name"),
            Some("plain/ascii/topic/name")
        );
    }
}
