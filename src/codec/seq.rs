//! [`Seq`]: a list that is either a slice the application gave or bytes straight off the wire.
//!
//! Decoding never allocates: a list in a received packet (user properties, subscription
//! identifiers, topic filters, reason codes) stays a view of the validated bytes and is parsed
//! again, infallibly, as it is iterated. To encode, an application passes a plain slice.

use super::property_table::skip_value;
use super::subscription::Subscription;
use super::types::ReasonCode;
use super::wire::{read_var_int, utf8};
use core::fmt;
use core::marker::PhantomData;

/// An item that can be read back from already-validated wire bytes.
pub trait WireItem<'a>: Copy + 'a {
    #[doc(hidden)]
    fn read_valid(buf: &mut &'a [u8]) -> Self;
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (a, b) = buf.split_at(n);
    *buf = b;
    a
}

fn string<'a>(buf: &mut &'a [u8]) -> &'a str {
    let n = u16::from_be_bytes([buf[0], buf[1]]) as usize;
    *buf = &buf[2..];
    // Validated when the packet was decoded.
    utf8(take(buf, n)).unwrap_or_default()
}

impl<'a> WireItem<'a> for &'a str {
    fn read_valid(buf: &mut &'a [u8]) -> Self {
        string(buf)
    }
}

impl<'a> WireItem<'a> for (&'a str, &'a str) {
    fn read_valid(buf: &mut &'a [u8]) -> Self {
        let k = string(buf);
        (k, string(buf))
    }
}

impl<'a> WireItem<'a> for u32 {
    fn read_valid(buf: &mut &'a [u8]) -> Self {
        match read_var_int(buf) {
            Ok(Some((v, n))) => {
                *buf = &buf[n..];
                v
            }
            _ => 0,
        }
    }
}

impl<'a> WireItem<'a> for ReasonCode {
    fn read_valid(buf: &mut &'a [u8]) -> Self {
        ReasonCode(take(buf, 1)[0])
    }
}

impl<'a> WireItem<'a> for Subscription<'a> {
    fn read_valid(buf: &mut &'a [u8]) -> Self {
        let filter = string(buf);
        let options = take(buf, 1)[0];
        Subscription::from_wire(filter, options)
    }
}

/// A read-only list borrowed either from the application or from a received packet.
pub struct Seq<'a, T> {
    /// The number of items, whatever the representation (for a slice, its length): kept at
    /// one place so that the length, and an emptiness test, is one load.
    len: usize,
    repr: Repr<'a, T>,
}

enum Repr<'a, T> {
    Slice(&'a [T]),
    /// `len` items back to back in `bytes`.
    Packed {
        bytes: &'a [u8],
    },
    /// `len` properties with identifier `id` among the others of a property block.
    Property {
        bytes: &'a [u8],
        id: u8,
    },
}

impl<T> Clone for Repr<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Repr<'_, T> {}
impl<T> Clone for Seq<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Seq<'_, T> {}

impl<'a, T> Seq<'a, T> {
    /// An empty list.
    pub const fn empty() -> Self {
        Seq {
            len: 0,
            repr: Repr::Slice(&[]),
        }
    }

    /// A list of the application's items.
    pub const fn from_slice(items: &'a [T]) -> Self {
        Seq {
            len: items.len(),
            repr: Repr::Slice(items),
        }
    }

    pub(crate) fn packed(bytes: &'a [u8], count: usize) -> Self {
        Seq {
            len: count,
            repr: Repr::Packed { bytes },
        }
    }

    pub(crate) fn property(bytes: &'a [u8], count: usize, id: u8) -> Self {
        Seq {
            len: count,
            repr: Repr::Property { bytes, id },
        }
    }

    /// Number of items.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The application's slice, when the list is one (not bytes off the wire).
    #[inline]
    pub(crate) fn as_slice(&self) -> Option<&'a [T]> {
        match self.repr {
            Repr::Slice(s) => Some(s),
            _ => None,
        }
    }
}

impl<'a, T: WireItem<'a>> Seq<'a, T> {
    /// Calls `f` on each item in order, stopping at the first error. A slice is walked
    /// directly, without the iterator's per-item dispatch.
    #[inline(always)]
    pub(crate) fn try_each<E>(&self, mut f: impl FnMut(T) -> Result<(), E>) -> Result<(), E> {
        match self.repr {
            Repr::Slice(s) => s.iter().try_for_each(|&x| f(x)),
            _ => self.iter().try_for_each(f),
        }
    }

    /// Iterates over the items.
    #[inline]
    pub fn iter(&self) -> SeqIter<'a, T> {
        SeqIter {
            repr: self.repr,
            left: self.len,
            _t: PhantomData,
        }
    }
}

impl<'a, T> Default for Seq<'a, T> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<'a, T> From<&'a [T]> for Seq<'a, T> {
    fn from(s: &'a [T]) -> Self {
        Seq::from_slice(s)
    }
}

impl<'a, T, const N: usize> From<&'a [T; N]> for Seq<'a, T> {
    fn from(s: &'a [T; N]) -> Self {
        Seq::from_slice(s)
    }
}

impl<'a, T: WireItem<'a> + PartialEq> PartialEq for Seq<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<'a, T: WireItem<'a> + Eq> Eq for Seq<'a, T> {}

impl<'a, T: WireItem<'a> + fmt::Debug> fmt::Debug for Seq<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, T: WireItem<'a>> IntoIterator for Seq<'a, T> {
    type Item = T;
    type IntoIter = SeqIter<'a, T>;
    fn into_iter(self) -> SeqIter<'a, T> {
        self.iter()
    }
}

impl<'a, T: WireItem<'a>> IntoIterator for &Seq<'a, T> {
    type Item = T;
    type IntoIter = SeqIter<'a, T>;
    fn into_iter(self) -> SeqIter<'a, T> {
        self.iter()
    }
}

/// Iterator over a [`Seq`].
pub struct SeqIter<'a, T> {
    repr: Repr<'a, T>,
    left: usize,
    _t: PhantomData<T>,
}

impl<'a, T: WireItem<'a>> Iterator for SeqIter<'a, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match &mut self.repr {
            Repr::Slice(s) => {
                let (first, rest) = s.split_first()?;
                *s = rest;
                Some(*first)
            }
            Repr::Packed { bytes, .. } => Some(T::read_valid(bytes)),
            Repr::Property { bytes, id, .. } => loop {
                let (pid, n) = read_var_int(bytes).ok()??;
                *bytes = &bytes[n..];
                if pid == u32::from(*id) {
                    return Some(T::read_valid(bytes));
                }
                skip_value(pid as u8, bytes);
            },
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a, T: WireItem<'a>> ExactSizeIterator for SeqIter<'a, T> {}
