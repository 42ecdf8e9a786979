//! Typed items: map and grant items (flexpages) and string items (long IPC), two words each.
//!
//! Word 0 of an item holds its type in bits 3..0: 1 map, 2 grant, 3 string.
//! - Map/grant: word 0 bits 63..12 are the send base (a hint that selects where inside a
//!   larger receive window the flexpage lands, as in L4); word 1 is the flexpage.
//! - String: word 0 bit 4 is "continued" (the next item is the next piece of the same
//!   compound string), bits 63..16 the length in bytes; word 1 the start address.

use crate::error::Error;
use crate::fpage::Fpage;

const TYPE_MAP: u64 = 1;
const TYPE_GRANT: u64 = 2;
const TYPE_STRING: u64 = 3;
const STRING_CONTINUED: u64 = 1 << 4;
/// The largest length a string item or string buffer can describe (4 MiB).
pub const STRING_MAX: u64 = 4 << 20;

/// A decoded typed item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// Map a flexpage: the sender keeps its mapping.
    Map {
        /// Where inside a larger receive window the flexpage lands.
        send_base: u64,
        /// The flexpage in the sender's space.
        fpage: Fpage,
    },
    /// Grant a flexpage: the sender's mapping moves to the receiver.
    Grant {
        /// Where inside a larger receive window the flexpage lands.
        send_base: u64,
        /// The flexpage in the sender's space.
        fpage: Fpage,
    },
    /// A string (or a piece of a compound string) to copy.
    String(StringDesc),
}

/// A string item or string receive buffer: address, length, and whether the next
/// descriptor continues the same compound string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StringDesc {
    /// User address of the first byte.
    pub addr: u64,
    /// Length in bytes.
    pub len: u64,
    /// The next descriptor is the next piece of the same string.
    pub continued: bool,
}

impl StringDesc {
    /// Encodes as the two item words.
    pub const fn encode(self) -> [u64; 2] {
        let c = if self.continued { STRING_CONTINUED } else { 0 };
        [TYPE_STRING | c | self.len << 16, self.addr]
    }

    /// Decodes a string descriptor (also used for string receive buffers).
    pub const fn decode(w0: u64, w1: u64) -> Result<StringDesc, Error> {
        if w0 & 0xf != TYPE_STRING || w0 & 0xffe0 != 0 {
            return Err(Error::MalformedMessage);
        }
        let len = w0 >> 16;
        if len > STRING_MAX {
            return Err(Error::MalformedMessage);
        }
        Ok(StringDesc { addr: w1, len, continued: w0 & STRING_CONTINUED != 0 })
    }
}

impl Item {
    /// A map item.
    pub const fn map(fpage: Fpage) -> Item {
        Item::Map { send_base: 0, fpage }
    }

    /// A grant item.
    pub const fn grant(fpage: Fpage) -> Item {
        Item::Grant { send_base: 0, fpage }
    }

    /// Encodes as two message words.
    pub const fn encode(self) -> [u64; 2] {
        match self {
            Item::Map { send_base, fpage } => [send_base & !0xfff | TYPE_MAP, fpage.0],
            Item::Grant { send_base, fpage } => [send_base & !0xfff | TYPE_GRANT, fpage.0],
            Item::String(s) => s.encode(),
        }
    }

    /// Decodes two message words.
    pub const fn decode(w0: u64, w1: u64) -> Result<Item, Error> {
        match w0 & 0xf {
            TYPE_MAP | TYPE_GRANT if w0 & 0xff0 != 0 => Err(Error::MalformedMessage),
            TYPE_MAP => Ok(Item::Map { send_base: w0 & !0xfff, fpage: Fpage(w1) }),
            TYPE_GRANT => Ok(Item::Grant { send_base: w0 & !0xfff, fpage: Fpage(w1) }),
            TYPE_STRING => match StringDesc::decode(w0, w1) {
                Ok(s) => Ok(Item::String(s)),
                Err(e) => Err(e),
            },
            _ => Err(Error::MalformedMessage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fpage::MemRights;

    #[test]
    fn round_trip() {
        let f = Fpage::memory(0x4000, 12, MemRights::RW);
        for it in [
            Item::map(f),
            Item::grant(f),
            Item::Map { send_base: 0x7000, fpage: f },
            Item::String(StringDesc { addr: 0x1234, len: 99, continued: true }),
            Item::String(StringDesc { addr: 0, len: STRING_MAX, continued: false }),
        ] {
            let [a, b] = it.encode();
            assert_eq!(Item::decode(a, b), Ok(it));
        }
    }

    #[test]
    fn rejects() {
        assert_eq!(Item::decode(0, 0), Err(Error::MalformedMessage));
        assert_eq!(Item::decode(0xf, 0), Err(Error::MalformedMessage));
        assert_eq!(Item::decode(TYPE_MAP | 0x10, 0), Err(Error::MalformedMessage));
        assert_eq!(Item::decode(TYPE_STRING | (STRING_MAX + 1) << 16, 0), Err(Error::MalformedMessage));
        assert_eq!(Item::decode(TYPE_STRING | 0x20, 0), Err(Error::MalformedMessage));
    }
}
