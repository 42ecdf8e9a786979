//! The x86_64 4-level page-table entry format: pure encode and decode.
//!
//! Bits: P (0), RW (1), US (2), PWT (3), PCD (4), A (5), D (6), PS (7, a 2 MiB or 1 GiB
//! block at levels 1 and 2; PAT at level 0, unused), G (8), address (12..52), NX (63).
//! Device memory is uncached (PCD and PWT). Present entries are always readable, so
//! `Attrs::read` decodes as true. Leaves are written with A set (and D when writable) so
//! the CPU never has to update them.

use pecan_hal::{Attrs, MemType, PhysAddr, PteFormat, PteKind};

/// Present.
pub const P: u64 = 1 << 0;
/// Writable.
pub const RW: u64 = 1 << 1;
/// User accessible.
pub const US: u64 = 1 << 2;
/// Write-through.
pub const PWT: u64 = 1 << 3;
/// Cache disable.
pub const PCD: u64 = 1 << 4;
/// Accessed.
pub const A: u64 = 1 << 5;
/// Dirty.
pub const D: u64 = 1 << 6;
/// Page size: a block, at levels 1 (2 MiB) and 2 (1 GiB).
pub const PS: u64 = 1 << 7;
/// Global: survives CR3 loads.
pub const G: u64 = 1 << 8;
/// No execute (needs EFER.NXE).
pub const NX: u64 = 1 << 63;
/// The physical address bits of a table entry or 4 KiB page.
pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// The address mask of a leaf at `level` (blocks are aligned to their size).
const fn leaf_mask(level: usize) -> u64 {
    ADDR_MASK & !((1u64 << (12 + 9 * level)) - 1)
}

/// The x86_64 entry format.
#[derive(Clone, Copy, Debug, Default)]
pub struct X86Pte;

impl PteFormat for X86Pte {
    fn table(next: PhysAddr, user: bool) -> u64 {
        // Tables grant everything; the leaf restricts.
        (next.0 & ADDR_MASK) | P | RW | if user { US } else { 0 }
    }

    fn leaf(pa: PhysAddr, attrs: Attrs, level: usize) -> u64 {
        let mut e = (pa.0 & leaf_mask(level)) | P | A;
        if attrs.write {
            e |= RW | D;
        }
        if attrs.user {
            e |= US;
        }
        if attrs.global {
            e |= G;
        }
        if !attrs.exec {
            e |= NX;
        }
        if attrs.mem == MemType::Device {
            e |= PCD | PWT;
        }
        if level > 0 {
            e |= PS;
        }
        e
    }

    fn decode(raw: u64, level: usize) -> PteKind {
        if raw & P == 0 {
            return PteKind::Invalid;
        }
        let is_leaf = level == 0 || (level < 3 && raw & PS != 0);
        if !is_leaf {
            return PteKind::Table(PhysAddr(raw & ADDR_MASK));
        }
        let attrs = Attrs {
            read: true,
            write: raw & RW != 0,
            exec: raw & NX == 0,
            user: raw & US != 0,
            global: raw & G != 0,
            mem: if raw & PCD != 0 { MemType::Device } else { MemType::Normal },
        };
        PteKind::Leaf(PhysAddr(raw & leaf_mask(level)), attrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_attrs() -> impl Iterator<Item = Attrs> {
        (0..64u32).map(|b| Attrs {
            read: true,
            write: b & 1 != 0,
            exec: b & 2 != 0,
            user: b & 4 != 0,
            global: b & 8 != 0,
            mem: if b & 16 != 0 { MemType::Device } else { MemType::Normal },
        })
    }

    #[test]
    fn leaf_round_trips() {
        let addrs = [(0, 0x7654_3000u64), (1, 0x1_2340_0000), (2, 0x40_c000_0000)];
        for (level, pa) in addrs {
            for a in all_attrs() {
                let raw = X86Pte::leaf(PhysAddr(pa), a, level);
                assert_eq!(X86Pte::decode(raw, level), PteKind::Leaf(PhysAddr(pa), a), "{a:?} level {level}");
                assert_eq!(raw & PS != 0, level > 0);
                assert_eq!(raw & NX != 0, !a.exec);
                assert_eq!(raw & (PCD | PWT) == PCD | PWT, a.mem == MemType::Device);
            }
        }
    }

    #[test]
    fn read_is_implied() {
        let none = Attrs { read: false, ..Attrs::default() };
        let raw = X86Pte::leaf(PhysAddr(0x5000), none, 0);
        assert_eq!(raw, 0x5000 | P | A | NX);
        let PteKind::Leaf(_, a) = X86Pte::decode(raw, 0) else { panic!() };
        assert!(a.read && !a.write && !a.exec);
    }

    #[test]
    fn tables() {
        for level in 1..4 {
            for user in [false, true] {
                let raw = X86Pte::table(PhysAddr(0x1234_5000), user);
                assert_eq!(raw & US != 0, user);
                assert_eq!(raw & (NX | PS | G), 0);
                assert_eq!(X86Pte::decode(raw, level), PteKind::Table(PhysAddr(0x1234_5000)));
            }
        }
        // At the root, PS is reserved: an entry there is always a table.
        assert_eq!(X86Pte::decode(0x3000 | P | PS, 3), PteKind::Table(PhysAddr(0x3000)));
        // At level 0, bit 7 is PAT, not a block.
        assert!(matches!(X86Pte::decode(0x3000 | P | PS, 0), PteKind::Leaf(PhysAddr(0x3000), _)));
    }

    #[test]
    fn blocks_drop_low_bits_and_invalid() {
        let a = Attrs { read: true, write: true, ..Attrs::default() };
        // A misaligned address is truncated to the block.
        let raw = X86Pte::leaf(PhysAddr(0x20_1000), a, 1);
        assert_eq!(X86Pte::decode(raw, 1), PteKind::Leaf(PhysAddr(0x20_0000), a));
        let raw = X86Pte::leaf(PhysAddr(0x4000_0000 + 0x20_0000), a, 2);
        assert_eq!(X86Pte::decode(raw, 2), PteKind::Leaf(PhysAddr(0x4000_0000), a));
        for level in 0..4 {
            assert_eq!(X86Pte::decode(X86Pte::INVALID, level), PteKind::Invalid);
            // Not present: everything else is ignored.
            assert_eq!(X86Pte::decode(!P, level), PteKind::Invalid);
        }
        assert_eq!(X86Pte::LEVELS, 4);
    }
}
