//! The log's frames: `[len u32 LE][crc32 u32 LE][payload]`, the payload a batch of ops.

use crate::StoreOp;

/// Bytes before a frame's payload.
pub(crate) const FRAME_HEADER: usize = 8;
const PUT: u8 = 1;
const DELETE: u8 = 2;

/// Appends the frame of one batch to `out`; `Err(payload length)` if it exceeds `u32::MAX`.
pub(crate) fn encode<'a>(
    ops: impl IntoIterator<Item = OpRef<'a>>,
    out: &mut Vec<u8>,
) -> Result<(), usize> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    for op in ops {
        match op {
            OpRef::Put(key, value) => {
                out.push(PUT);
                put_bytes(out, key);
                put_bytes(out, value);
            }
            OpRef::Delete(key) => {
                out.push(DELETE);
                put_bytes(out, key);
            }
        }
    }
    let payload = &out[start + FRAME_HEADER..];
    let Ok(len) = u32::try_from(payload.len()) else {
        let n = payload.len();
        out.truncate(start);
        return Err(n);
    };
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Keys and values come from the session: far below 4 GiB (the frame check catches it).
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// One operation, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OpRef<'a> {
    Put(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
}

impl<'a> From<&'a StoreOp> for OpRef<'a> {
    fn from(op: &'a StoreOp) -> Self {
        match op {
            StoreOp::Put { key, value } => OpRef::Put(key, value),
            StoreOp::Delete { key } => OpRef::Delete(key),
        }
    }
}

/// The first frame of `buf`: its operations and its total length, or `None` when it is short,
/// its checksum does not match or its payload does not decode (the log ends there).
pub(crate) fn decode(buf: &[u8]) -> Option<(Vec<OpRef<'_>>, usize)> {
    let header = buf.get(..FRAME_HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let payload = buf.get(FRAME_HEADER..FRAME_HEADER.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let mut ops = Vec::new();
    let mut rest = payload;
    while let Some((&tag, r)) = rest.split_first() {
        rest = r;
        let key = take_bytes(&mut rest)?;
        ops.push(match tag {
            PUT => OpRef::Put(key, take_bytes(&mut rest)?),
            DELETE => OpRef::Delete(key),
            _ => return None,
        });
    }
    Some((ops, FRAME_HEADER + len))
}

fn take_bytes<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let b = rest.get(4..4usize.checked_add(len)?)?;
    *rest = &rest[4 + len..];
    Some(b)
}
