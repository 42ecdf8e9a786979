//! VMSAv8-64 stage-1 descriptors (48-bit VA, 4 KiB granule): pure encode and decode.
//!
//! Level numbering follows `pecan_hal::PteFormat` (3 = root = the Arm ARM's level 0,
//! 0 = pages = the Arm ARM's level 3). Attribute choices:
//! - memory type through `AttrIndx` into [`MAIR_EL1`]: index 0 Normal write-back,
//!   index 1 Device-nGnRE; Normal memory is inner shareable;
//! - AP\[2\] clear = writable, AP\[1\] set = EL0 may access;
//! - every mapping is readable (the format has no write-only or execute-only kernel pages:
//!   `Attrs::read` decodes as true);
//! - user mappings are never executable at EL1 (PXN set), kernel mappings never at EL0
//!   (UXN set); `exec` controls the other bit;
//! - AF is always set (no access-flag faults), nG is set for non-global (user) mappings.

use pecan_hal::{Attrs, MemType, PhysAddr, PteFormat, PteKind};

/// MAIR_EL1 attribute index of Normal memory, inner/outer write-back read/write-allocate.
pub const ATTR_NORMAL: u64 = 0;
/// MAIR_EL1 attribute index of Device-nGnRE memory.
pub const ATTR_DEVICE: u64 = 1;
/// MAIR_EL1 attribute index of Normal non-cacheable memory (unused so far).
pub const ATTR_NORMAL_NC: u64 = 2;
/// The MAIR_EL1 value matching the indices above. Index 0 is 0xff, which is also what
/// Limine leaves in MAIR_EL1, so the kernel can switch to this value under Limine's tables.
pub const MAIR_EL1: u64 = 0xff | (0x04 << 8) | (0x44 << 16);

/// Descriptor bits.
pub mod bits {
    /// Valid.
    pub const VALID: u64 = 1 << 0;
    /// Table (levels 1-3 of the Arm ARM) or page (its level 3); clear: block.
    pub const TABLE_OR_PAGE: u64 = 1 << 1;
    /// Shift of AttrIndx\[2:0\].
    pub const ATTR_SHIFT: u64 = 2;
    /// AttrIndx mask.
    pub const ATTR_MASK: u64 = 0b111 << ATTR_SHIFT;
    /// AP\[1\]: EL0 may access.
    pub const AP_USER: u64 = 1 << 6;
    /// AP\[2\]: read-only.
    pub const AP_RO: u64 = 1 << 7;
    /// SH\[1:0\] = 0b11: inner shareable.
    pub const SH_INNER: u64 = 0b11 << 8;
    /// Access flag.
    pub const AF: u64 = 1 << 10;
    /// Not global: tagged with the ASID.
    pub const NG: u64 = 1 << 11;
    /// Privileged execute-never.
    pub const PXN: u64 = 1 << 53;
    /// Unprivileged execute-never.
    pub const UXN: u64 = 1 << 54;
    /// Table descriptor: PXN for everything below.
    pub const PXN_TABLE: u64 = 1 << 59;
    /// Table descriptor: UXN for everything below.
    pub const UXN_TABLE: u64 = 1 << 60;
    /// Table descriptor: APTable\[0\] = no EL0 access below.
    pub const AP_TABLE_NO_EL0: u64 = 1 << 61;
    /// Output address bits \[47:12\].
    pub const ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;
}

use bits::*;

/// Bytes one entry maps at `level` (0: 4 KiB, 1: 2 MiB, 2: 1 GiB).
pub const fn level_size(level: usize) -> u64 {
    4096 << (9 * level)
}

/// The VMSAv8-64 4 KiB-granule format.
#[derive(Clone, Copy, Debug)]
pub struct Aarch64Pte;

impl Aarch64Pte {
    /// The attribute bits of a leaf (no address, no type bits).
    pub const fn leaf_bits(a: Attrs) -> u64 {
        let mut v = AF;
        v |= match a.mem {
            MemType::Normal => (ATTR_NORMAL << ATTR_SHIFT) | SH_INNER,
            MemType::Device => ATTR_DEVICE << ATTR_SHIFT,
        };
        if !a.write {
            v |= AP_RO;
        }
        if a.user {
            v |= AP_USER | PXN;
            if !a.exec {
                v |= UXN;
            }
        } else {
            v |= UXN;
            if !a.exec {
                v |= PXN;
            }
        }
        if !a.global {
            v |= NG;
        }
        v
    }
}

impl PteFormat for Aarch64Pte {
    fn table(next: PhysAddr, user: bool) -> u64 {
        // Kernel subtrees can never be reached from EL0; user subtrees never executed at EL1.
        let limits = if user { PXN_TABLE } else { UXN_TABLE | AP_TABLE_NO_EL0 };
        (next.0 & ADDR_MASK) | limits | TABLE_OR_PAGE | VALID
    }

    fn leaf(pa: PhysAddr, attrs: Attrs, level: usize) -> u64 {
        let kind = if level == 0 { TABLE_OR_PAGE | VALID } else { VALID };
        (pa.0 & ADDR_MASK & !(level_size(level) - 1)) | Self::leaf_bits(attrs) | kind
    }

    fn decode(raw: u64, level: usize) -> PteKind {
        if raw & VALID == 0 {
            return PteKind::Invalid;
        }
        let table_or_page = raw & TABLE_OR_PAGE != 0;
        match (level, table_or_page) {
            (1..=3, true) => return PteKind::Table(PhysAddr(raw & ADDR_MASK)),
            // Level 0 (the Arm ARM's 3) has no blocks; the root (its 0) has no blocks either.
            (0, false) | (3, false) => return PteKind::Invalid,
            (4.., _) => return PteKind::Invalid,
            _ => {}
        }
        let user = raw & AP_USER != 0;
        let exec = if user { raw & UXN == 0 } else { raw & PXN == 0 };
        let mem =
            if (raw & ATTR_MASK) >> ATTR_SHIFT == ATTR_DEVICE { MemType::Device } else { MemType::Normal };
        let attrs = Attrs { read: true, write: raw & AP_RO == 0, exec, user, global: raw & NG == 0, mem };
        PteKind::Leaf(PhysAddr(raw & ADDR_MASK & !(level_size(level) - 1)), attrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_attrs() -> impl Iterator<Item = Attrs> {
        (0..32u32).flat_map(|b| {
            [MemType::Normal, MemType::Device].into_iter().map(move |mem| Attrs {
                read: true,
                write: b & 1 != 0,
                exec: b & 2 != 0,
                user: b & 4 != 0,
                global: b & 8 != 0,
                mem,
            })
        })
    }

    #[test]
    fn pages_round_trip() {
        let pa = PhysAddr(0x0000_8765_4321_f000);
        for a in all_attrs() {
            let raw = Aarch64Pte::leaf(pa, a, 0);
            assert_eq!(raw & 0b11, 0b11, "page descriptor");
            assert_eq!(Aarch64Pte::decode(raw, 0), PteKind::Leaf(pa, a), "{a:?} {raw:#x}");
        }
    }

    #[test]
    fn blocks_round_trip() {
        for (level, pa) in [(1, PhysAddr(0x4020_0000)), (2, PhysAddr(0x80_4000_0000))] {
            for a in all_attrs() {
                let raw = Aarch64Pte::leaf(pa, a, level);
                assert_eq!(raw & 0b11, 0b01, "block descriptor");
                assert_eq!(Aarch64Pte::decode(raw, level), PteKind::Leaf(pa, a));
            }
        }
        // Low address bits are not part of a block's output address.
        let a = Attrs { read: true, write: true, ..Attrs::default() };
        let raw = Aarch64Pte::leaf(PhysAddr(0x4020_0000), a, 1);
        assert_eq!(Aarch64Pte::decode(raw | 0x1f_f000, 1), PteKind::Leaf(PhysAddr(0x4020_0000), a));
    }

    #[test]
    fn exact_bits() {
        // Kernel RW data, global, normal: AF, inner shareable, UXN and PXN.
        let kdata =
            Attrs { read: true, write: true, exec: false, user: false, global: true, mem: MemType::Normal };
        assert_eq!(Aarch64Pte::leaf(PhysAddr(0x4000_1000), kdata, 0), 0x0060_0000_4000_1703);
        // Kernel text: read-only, executable at EL1 only.
        let ktext = Attrs { write: false, exec: true, ..kdata };
        assert_eq!(Aarch64Pte::leaf(PhysAddr(0x4000_1000), ktext, 0), 0x0040_0000_4000_1783);
        // User code: EL0 read-only executable, never at EL1, non-global.
        let ucode =
            Attrs { read: true, write: false, exec: true, user: true, global: false, mem: MemType::Normal };
        assert_eq!(Aarch64Pte::leaf(PhysAddr(0x1000), ucode, 0), 0x0020_0000_0000_1fc3);
        // Device block: AttrIndx 1, no shareability bits.
        let dev = Attrs { mem: MemType::Device, ..kdata };
        assert_eq!(Aarch64Pte::leaf(PhysAddr(0x0800_0000), dev, 1), 0x0060_0000_0800_0405);
    }

    #[test]
    fn tables() {
        let t = PhysAddr(0x4123_4000);
        for level in 1..=3 {
            for user in [false, true] {
                let raw = Aarch64Pte::table(t, user);
                assert_eq!(raw & 0b11, 0b11);
                assert_eq!(Aarch64Pte::decode(raw, level), PteKind::Table(t));
                assert_eq!(raw & PXN_TABLE != 0, user);
                assert_eq!(raw & AP_TABLE_NO_EL0 != 0, !user);
            }
        }
    }

    #[test]
    fn invalid() {
        for level in 0..4 {
            assert_eq!(Aarch64Pte::decode(0, level), PteKind::Invalid);
            assert_eq!(Aarch64Pte::decode(0xffff_ffff_ffff_fffe, level), PteKind::Invalid);
        }
        // A block descriptor is invalid at the root and at the page level.
        let a = Attrs { read: true, ..Attrs::default() };
        assert_eq!(Aarch64Pte::decode(Aarch64Pte::leaf(PhysAddr(0), a, 1), 3), PteKind::Invalid);
        assert_eq!(Aarch64Pte::decode(Aarch64Pte::leaf(PhysAddr(0), a, 1), 0), PteKind::Invalid);
    }

    #[test]
    fn mair() {
        assert_eq!(MAIR_EL1 & 0xff, 0xff);
        assert_eq!((MAIR_EL1 >> (8 * ATTR_DEVICE)) & 0xff, 0x04);
        assert_eq!((MAIR_EL1 >> (8 * ATTR_NORMAL_NC)) & 0xff, 0x44);
    }
}
