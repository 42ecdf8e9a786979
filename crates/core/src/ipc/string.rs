//! String items (long IPC): the sender's pieces gathered into one logical string, the
//! receiver's next logical buffer (its string buffer registers, scattered into), and the
//! position in both as the copy advances chunk by chunk. Pure bookkeeping: the copy and
//! its state machine are in `longipc.rs`.

use pecan_abi::layout::USER_TOP;
use pecan_abi::utcb::MAX_STRING_BUFFERS;
use pecan_abi::{Error, Item, StringDesc};

/// Bytes copied between two checks for a pending interrupt.
pub const CHUNK: u64 = 4096;

/// One step of a copy: `len` bytes from sender address `src` to receiver address `dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Sender's user address.
    pub src: u64,
    /// Receiver's user address.
    pub dst: u64,
    /// Bytes (at most [`CHUNK`]).
    pub len: u64,
}

/// The logical string being copied: the sender's pieces are items `first..end`, the
/// receiver's buffer is pieces `b_first..b_end` of its decoded buffers; `pos` bytes of
/// `total` are done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// First item of the string.
    pub first: usize,
    /// One past its last item.
    pub end: usize,
    /// First piece of the receiver's buffer.
    pub b_first: usize,
    /// One past its last piece.
    pub b_end: usize,
    /// Bytes copied.
    pub pos: u64,
    /// Bytes in the string.
    pub total: u64,
}

/// The receiver's string buffer registers as they were when the transfer started
/// (BR2 and the descriptors after it), decoded as logical buffers are taken.
#[derive(Clone, Copy, Debug)]
pub struct Buffers {
    /// How many descriptors BR2 announced (at most `MAX_STRING_BUFFERS`).
    pub count: usize,
    /// The raw descriptor words.
    pub raw: [[u64; 2]; MAX_STRING_BUFFERS],
    /// The decoded descriptors `0..next`.
    pub desc: [StringDesc; MAX_STRING_BUFFERS],
    /// Descriptors used so far.
    pub next: usize,
}

impl Default for Buffers {
    fn default() -> Self {
        let nil = StringDesc { addr: 0, len: 0, continued: false };
        Buffers { count: 0, raw: [[0; 2]; MAX_STRING_BUFFERS], desc: [nil; MAX_STRING_BUFFERS], next: 0 }
    }
}

impl Buffers {
    /// Takes the next logical buffer (a descriptor and those that continue it): its pieces
    /// are `desc[first..end]`. None left, or a malformed one: `MessageOverflow`.
    pub fn take(&mut self) -> Result<(usize, usize), Error> {
        let first = self.next;
        while self.next < self.count {
            let [w0, w1] = self.raw[self.next];
            let d = StringDesc::decode(w0, w1).map_err(|_| Error::MessageOverflow)?;
            self.desc[self.next] = d;
            self.next += 1;
            if !d.continued {
                return Ok((first, self.next));
            }
        }
        if self.next > first { Ok((first, self.next)) } else { Err(Error::MessageOverflow) }
    }
}

/// Whether `[addr, addr + len)` lies in user space.
fn in_user(d: &StringDesc) -> bool {
    d.addr.checked_add(d.len).is_some_and(|e| e <= USER_TOP)
}

/// The string pieces of `items[first..end]`.
fn pieces(items: &[Option<Item>], first: usize, end: usize) -> impl Iterator<Item = StringDesc> + '_ {
    items[first..end].iter().filter_map(|i| match i {
        Some(Item::String(d)) => Some(*d),
        _ => None,
    })
}

/// The item index one past the logical string starting at item `k` (the pieces marked
/// continued, then one more string piece if there is one).
pub fn string_end(items: &[Option<Item>], n: usize, k: usize) -> usize {
    let mut e = k;
    while e < n && matches!(items[e], Some(Item::String(d)) if d.continued) {
        e += 1;
    }
    if e < n && matches!(items[e], Some(Item::String(_))) {
        e += 1;
    }
    e
}

/// Starts the logical string `items[first..end]` in the receiver's next buffer: checks
/// it fits (`MessageOverflow`) and that every piece on both sides lies in user space
/// (`BadAddress`).
pub fn start(items: &[Option<Item>], first: usize, end: usize, bufs: &mut Buffers) -> Result<Cursor, Error> {
    let (b_first, b_end) = bufs.take()?;
    let need: u64 = pieces(items, first, end).map(|p| p.len).sum();
    let room: u64 = bufs.desc[b_first..b_end].iter().map(|p| p.len).sum();
    if need > room {
        return Err(Error::MessageOverflow);
    }
    if !pieces(items, first, end).all(|p| in_user(&p)) || !bufs.desc[b_first..b_end].iter().all(in_user) {
        return Err(Error::BadAddress);
    }
    Ok(Cursor { first, end, b_first, b_end, pos: 0, total: need })
}

/// The address at offset `pos` of the pieces and the bytes left in that piece (skipping
/// empty pieces).
fn locate(it: impl Iterator<Item = StringDesc>, mut pos: u64) -> Option<(u64, u64)> {
    for p in it {
        if pos < p.len {
            return Some((p.addr + pos, p.len - pos));
        }
        pos -= p.len;
    }
    None
}

impl Cursor {
    /// Whether every byte is copied.
    pub fn done(&self) -> bool {
        self.pos >= self.total
    }

    /// The next step from `pos`, at most `limit` bytes, or `None` when done.
    pub fn seg(&self, items: &[Option<Item>], bufs: &Buffers, limit: u64) -> Option<Seg> {
        if self.done() {
            return None;
        }
        let (src, s_left) = locate(pieces(items, self.first, self.end), self.pos)?;
        let (dst, d_left) = locate(bufs.desc[self.b_first..self.b_end].iter().copied(), self.pos)?;
        let len = s_left.min(d_left).min(limit).min(self.total - self.pos);
        Some(Seg { src, dst, len })
    }

    /// Where the string lands (the first piece of the receiver's buffer).
    pub fn landed(&self, bufs: &Buffers) -> u64 {
        bufs.desc.get(self.b_first).map_or(0, |d| d.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(addr: u64, len: u64, continued: bool) -> Option<Item> {
        Some(Item::String(StringDesc { addr, len, continued }))
    }

    fn bufs(list: &[(u64, u64, bool)]) -> Buffers {
        let mut b = Buffers { count: list.len(), ..Default::default() };
        for (i, &(addr, len, continued)) in list.iter().enumerate() {
            b.raw[i] = StringDesc { addr, len, continued }.encode();
        }
        b
    }

    #[test]
    fn gather_and_scatter_in_chunks() {
        let items = [s(0x1000, 10, true), s(0x5000, 0, true), s(0x9000, 8000, false)];
        assert_eq!(string_end(&items, 3, 0), 3);
        let mut b = bufs(&[(0x10_0000, 6, true), (0x20_0000, 9000, false)]);
        let mut c = start(&items, 0, 3, &mut b).unwrap();
        assert_eq!(c.total, 8010);
        let mut segs = alloc::vec::Vec::new();
        while let Some(g) = c.seg(&items, &b, CHUNK) {
            segs.push(g);
            c.pos += g.len;
        }
        assert_eq!(segs[0], Seg { src: 0x1000, dst: 0x10_0000, len: 6 });
        assert_eq!(segs[1], Seg { src: 0x1006, dst: 0x20_0000, len: 4 });
        assert_eq!(segs[2], Seg { src: 0x9000, dst: 0x20_0004, len: CHUNK });
        assert_eq!(segs.iter().map(|g| g.len).sum::<u64>(), 8010);
        assert_eq!(c.landed(&b), 0x10_0000);
    }

    #[test]
    fn errors() {
        let items = [s(0x1000, 100, false), s(USER_TOP - 4, 8, false)];
        assert_eq!(start(&items, 0, 1, &mut bufs(&[(0x2000, 99, false)])), Err(Error::MessageOverflow));
        assert_eq!(start(&items, 0, 1, &mut bufs(&[])), Err(Error::MessageOverflow));
        let mut bad = bufs(&[(0x2000, 100, false)]);
        bad.raw[0][0] |= 0x20;
        assert_eq!(start(&items, 0, 1, &mut bad), Err(Error::MessageOverflow));
        assert_eq!(start(&items, 1, 2, &mut bufs(&[(0x2000, 100, false)])), Err(Error::BadAddress));
        assert_eq!(start(&items, 0, 1, &mut bufs(&[(USER_TOP, 100, false)])), Err(Error::BadAddress));
        // Buffers are used in order; an empty string still takes one.
        let mut b = bufs(&[(0x2000, 0, false), (0x3000, 100, false)]);
        let empty = [s(0, 0, false)];
        assert_eq!(start(&empty, 0, 1, &mut b).map(|c| c.total), Ok(0));
        assert_eq!(b.next, 1);
    }
}
