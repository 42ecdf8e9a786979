//! Messages: a builder for what is sent and a reader for what arrived.
//!
//! A message is a label, untyped words and typed items (map, grant, string). The first
//! `REG_MRS` message words travel in registers, the rest in the UTCB; the builder and reader
//! hide which is which.

use pecan_abi::{Fpage, Item, MAX_REG_MRS, MR_COUNT, MsgTag, REG_MRS, StringDesc};

use crate::arch::Regs;
use crate::utcb;

/// A message to send.
#[derive(Clone, Debug)]
pub struct Msg {
    label: u64,
    words: [u64; MR_COUNT],
    n_words: usize,
    items: [[u64; 2]; MR_COUNT / 2],
    n_items: usize,
}

impl Msg {
    /// An empty message with `label`.
    pub const fn new(label: u64) -> Self {
        Msg { label, words: [0; MR_COUNT], n_words: 0, items: [[0; 2]; MR_COUNT / 2], n_items: 0 }
    }

    /// Appends an untyped word (ignored when the message is full; see `fits`).
    pub fn word(mut self, w: u64) -> Self {
        self.push(w);
        self
    }

    /// Appends untyped words.
    pub fn words(mut self, ws: &[u64]) -> Self {
        for &w in ws {
            self.push(w);
        }
        self
    }

    /// Appends an untyped word in place.
    pub fn push(&mut self, w: u64) {
        if self.n_words + 2 * self.n_items < MR_COUNT {
            self.words[self.n_words] = w;
            self.n_words += 1;
        }
    }

    /// Appends bytes, packed little-endian into words (the length is not recorded).
    pub fn bytes(mut self, b: &[u8]) -> Self {
        for chunk in b.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.push(u64::from_le_bytes(w));
        }
        self
    }

    /// Appends a typed item.
    pub fn item(mut self, it: Item) -> Self {
        if self.n_words + 2 * (self.n_items + 1) <= MR_COUNT {
            self.items[self.n_items] = it.encode();
            self.n_items += 1;
        }
        self
    }

    /// Appends a map item.
    pub fn map(self, fpage: Fpage) -> Self {
        self.item(Item::map(fpage))
    }

    /// Appends a grant item.
    pub fn grant(self, fpage: Fpage) -> Self {
        self.item(Item::grant(fpage))
    }

    /// Appends a string item (one piece; `continued` makes it part of a compound string
    /// with the next one).
    pub fn string(self, addr: u64, len: u64, continued: bool) -> Self {
        self.item(Item::String(StringDesc { addr, len, continued }))
    }

    /// The label.
    pub fn label(&self) -> u64 {
        self.label
    }

    /// Untyped words.
    pub fn untyped(&self) -> &[u64] {
        &self.words[..self.n_words]
    }

    /// The tag.
    pub fn tag(&self) -> MsgTag {
        MsgTag::new(self.label, self.n_words, self.n_items)
    }

    /// Message word `i` (untyped words, then the items' words).
    pub fn get(&self, i: usize) -> u64 {
        if i < self.n_words {
            self.words[i]
        } else {
            let k = i - self.n_words;
            self.items.get(k / 2).map_or(0, |it| it[k % 2])
        }
    }

    /// Loads the message: registers into `r`, the rest into the UTCB.
    pub fn load(&self, r: &mut Regs) {
        r.r2 = self.tag().0;
        let total = self.n_words + 2 * self.n_items;
        for i in 0..total {
            if i < REG_MRS {
                r.mr[i] = self.get(i);
            } else {
                utcb::set_mr(i, self.get(i));
            }
        }
    }
}

/// A message that arrived. Its first [`MAX_REG_MRS`] words are kept here, taken when it
/// arrived (from registers, or from the UTCB when `REG_MRS` is 0), so they stay valid
/// across later IPC with either ABI setting; later words are read from the UTCB's message
/// registers and are valid only until the thread's next IPC.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    /// The label of the gate (or IRQ) it came through; 0 for a reply.
    pub gate_label: u64,
    /// Its tag.
    pub tag: MsgTag,
    first: [u64; MAX_REG_MRS],
}

impl Received {
    /// The message described by the registers after a successful receive.
    pub fn from_regs(r: &Regs) -> Self {
        let tag = MsgTag(r.r2);
        let mut first = [0; MAX_REG_MRS];
        first[..REG_MRS].copy_from_slice(&r.mr);
        // Without `reg-transfer` (REG_MRS = 0) the first words are in the UTCB, where the
        // thread's next IPC overwrites them: copy them now. (A loop of nothing otherwise.)
        for (i, w) in first.iter_mut().enumerate().take(tag.total_words().min(MAX_REG_MRS)).skip(REG_MRS) {
            *w = utcb::mr(i);
        }
        Received { gate_label: r.r1, tag, first }
    }

    /// The message label (protocol).
    pub fn label(&self) -> u64 {
        self.tag.label()
    }

    /// Number of untyped words.
    pub fn len(&self) -> usize {
        self.tag.words()
    }

    /// Whether it has no untyped words.
    pub fn is_empty(&self) -> bool {
        self.tag.words() == 0
    }

    /// Message word `i` (0 past the end).
    pub fn word(&self, i: usize) -> u64 {
        if i >= self.tag.total_words() {
            0
        } else if i < MAX_REG_MRS {
            self.first[i]
        } else {
            utcb::mr(i)
        }
    }

    /// Typed item `k` as it arrived (what was mapped where, where a string landed).
    pub fn item(&self, k: usize) -> Option<Item> {
        if k >= self.tag.items() {
            return None;
        }
        let base = self.tag.words() + 2 * k;
        Item::decode(self.word(base), self.word(base + 1)).ok()
    }

    /// Copies the untyped words into bytes (as packed by `Msg::bytes`).
    pub fn bytes_into(&self, first_word: usize, out: &mut [u8]) {
        for (i, chunk) in out.chunks_mut(8).enumerate() {
            let w = self.word(first_word + i).to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pecan_abi::MemRights;

    #[test]
    fn layout_words_then_items() {
        let f = Fpage::memory(0x1000, 12, MemRights::RW);
        let m = Msg::new(9).word(1).word(2).map(f).word(3);
        assert_eq!(m.tag(), MsgTag::new(9, 3, 1));
        assert_eq!((m.get(0), m.get(1), m.get(2)), (1, 2, 3));
        assert_eq!([m.get(3), m.get(4)], Item::map(f).encode());
    }

    #[test]
    fn full_message_stops_growing() {
        let mut m = Msg::new(0);
        for i in 0..100 {
            m.push(i);
        }
        assert_eq!(m.tag().words(), MR_COUNT);
        let m = m.map(Fpage::NIL);
        assert_eq!(m.tag().items(), 0, "no room for an item");
        assert!(m.tag().check().is_ok());
    }

    #[test]
    fn bytes_pack_little_endian() {
        let m = Msg::new(0).bytes(b"abcdefghij");
        assert_eq!(m.untyped(), &[u64::from_le_bytes(*b"abcdefgh"), u64::from_le_bytes(*b"ij\0\0\0\0\0\0")]);
    }
}
