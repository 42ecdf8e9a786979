//! Flexpages: size-aligned power-of-two regions of memory or of capability slots, with rights.
//!
//! Layout of a flexpage word: bits 63..12 the base (a byte address for memory, a slot
//! number shifted left by 12 for objects), bits 11..6 the order (log2 of the size in bytes
//! for memory, 12..=47; log2 of the number of slots for objects, 0..=24), bits 5..4 the
//! kind (0 nil, 1 memory, 2 object), bit 3 reserved (0), bits 2..0 the rights.

use crate::error::Error;

/// Rights on memory: read, write, execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MemRights(pub u8);

impl MemRights {
    /// Execute.
    pub const X: MemRights = MemRights(1);
    /// Write.
    pub const W: MemRights = MemRights(2);
    /// Read.
    pub const R: MemRights = MemRights(4);
    /// Read and write.
    pub const RW: MemRights = MemRights(6);
    /// Read and execute.
    pub const RX: MemRights = MemRights(5);
    /// All rights.
    pub const RWX: MemRights = MemRights(7);
    /// No rights.
    pub const NONE: MemRights = MemRights(0);

    /// Whether all of `other` is in `self`.
    pub const fn contains(self, other: MemRights) -> bool {
        self.0 & other.0 == other.0
    }

    /// The rights in both.
    pub const fn and(self, other: MemRights) -> MemRights {
        MemRights(self.0 & other.0)
    }
}

/// Rights on a capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct CapRights(pub u8);

impl CapRights {
    /// Use the object: send through a gate, call non-modifying methods.
    pub const SEND: CapRights = CapRights(1);
    /// Change the object: bind, configure, map into a task, create from a factory, destroy.
    pub const CONTROL: CapRights = CapRights(2);
    /// Pass the capability on to another task with a map or grant item.
    pub const MAP: CapRights = CapRights(4);
    /// All rights.
    pub const ALL: CapRights = CapRights(7);
    /// No rights.
    pub const NONE: CapRights = CapRights(0);

    /// Whether all of `other` is in `self`.
    pub const fn contains(self, other: CapRights) -> bool {
        self.0 & other.0 == other.0
    }

    /// The rights in both.
    pub const fn and(self, other: CapRights) -> CapRights {
        CapRights(self.0 & other.0)
    }
}

/// What a flexpage describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpageKind {
    /// Nothing (a nil receive window accepts nothing).
    Nil,
    /// A region of virtual memory.
    Memory,
    /// A range of capability slots.
    Object,
}

/// The smallest memory flexpage order (one 4 KiB page).
pub const MEM_ORDER_MIN: u8 = 12;
/// The largest memory flexpage order (the whole user half: 2^47 bytes).
pub const MEM_ORDER_MAX: u8 = 47;
/// The largest object flexpage order.
pub const OBJ_ORDER_MAX: u8 = 24;

/// A flexpage (raw word; decode with [`Fpage::decode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Fpage(pub u64);

/// A decoded, validated flexpage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpageDesc {
    /// What it describes.
    pub kind: FpageKind,
    /// First byte address (memory) or first slot (object).
    pub base: u64,
    /// log2 of the size in bytes (memory) or slots (object).
    pub order: u8,
    /// Rights bits (interpret as `MemRights` or `CapRights` by kind).
    pub rights: u8,
}

impl FpageDesc {
    /// Size in bytes (memory) or slots (object).
    pub const fn size(&self) -> u64 {
        1u64 << self.order
    }
}

impl Fpage {
    /// The nil flexpage.
    pub const NIL: Fpage = Fpage(0);

    /// A memory flexpage (no validation: see `decode`).
    pub const fn memory(base: u64, order: u8, rights: MemRights) -> Fpage {
        Fpage((base & !0xfff) | (order as u64 & 0x3f) << 6 | 1 << 4 | (rights.0 as u64 & 7))
    }

    /// An object flexpage of `2^order` capability slots starting at `slot`.
    pub const fn object(slot: u64, order: u8, rights: CapRights) -> Fpage {
        Fpage(slot << 12 | (order as u64 & 0x3f) << 6 | 2 << 4 | (rights.0 as u64 & 7))
    }

    /// Decodes and validates: the base must be aligned to the size, the order in range,
    /// the reserved bit clear, and a memory flexpage inside the user half
    /// (`limit` = first address past it).
    pub const fn decode(self, user_limit: u64) -> Result<FpageDesc, Error> {
        let raw = self.0;
        let order = ((raw >> 6) & 0x3f) as u8;
        let rights = (raw & 7) as u8;
        if raw & 0b1000 != 0 {
            return Err(Error::BadFlexpage);
        }
        match (raw >> 4) & 3 {
            0 => Ok(FpageDesc { kind: FpageKind::Nil, base: 0, order: 0, rights: 0 }),
            1 => {
                let base = raw & !0xfff;
                if order < MEM_ORDER_MIN || order > MEM_ORDER_MAX {
                    return Err(Error::BadFlexpage);
                }
                let size = 1u64 << order;
                if base & (size - 1) != 0 || base >= user_limit || user_limit - base < size {
                    return Err(Error::BadFlexpage);
                }
                Ok(FpageDesc { kind: FpageKind::Memory, base, order, rights })
            }
            2 => {
                let base = raw >> 12;
                if order > OBJ_ORDER_MAX || base & ((1u64 << order) - 1) != 0 {
                    return Err(Error::BadFlexpage);
                }
                Ok(FpageDesc { kind: FpageKind::Object, base, order, rights })
            }
            _ => Err(Error::BadFlexpage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const LIM: u64 = 1 << 47;

    #[test]
    fn memory() {
        let f = Fpage::memory(0x20_0000, 21, MemRights::RW).decode(LIM).unwrap();
        assert_eq!((f.kind, f.base, f.order, f.rights), (FpageKind::Memory, 0x20_0000, 21, 6));
        assert_eq!(f.size(), 0x20_0000);
        // Misaligned base, bad orders, outside the user half, reserved bit, kind 3.
        assert_eq!(Fpage::memory(0x1000, 13, MemRights::R).decode(LIM), Err(Error::BadFlexpage));
        assert_eq!(Fpage::memory(0, 11, MemRights::R).decode(LIM), Err(Error::BadFlexpage));
        assert_eq!(Fpage::memory(0, 48, MemRights::R).decode(LIM), Err(Error::BadFlexpage));
        assert_eq!(Fpage::memory(LIM, 12, MemRights::R).decode(LIM), Err(Error::BadFlexpage));
        assert_eq!(Fpage(Fpage::memory(0, 12, MemRights::R).0 | 8).decode(LIM), Err(Error::BadFlexpage));
        assert_eq!(Fpage(0x30).decode(LIM), Err(Error::BadFlexpage));
        assert_eq!(Fpage::memory(0, 47, MemRights::R).decode(LIM).unwrap().size(), LIM);
    }

    #[test]
    fn object() {
        let f = Fpage::object(64, 4, CapRights::ALL).decode(LIM).unwrap();
        assert_eq!((f.kind, f.base, f.order, f.rights), (FpageKind::Object, 64, 4, 7));
        assert_eq!(Fpage::object(3, 1, CapRights::ALL).decode(LIM), Err(Error::BadFlexpage));
        assert_eq!(Fpage::object(0, 25, CapRights::ALL).decode(LIM), Err(Error::BadFlexpage));
        assert_eq!(Fpage::NIL.decode(LIM).unwrap().kind, FpageKind::Nil);
    }
}
