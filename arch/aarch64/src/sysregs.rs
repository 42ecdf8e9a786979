//! Values the boot code writes to system registers and page tables, kept in Rust so they
//! are computed from the tested descriptor format and checked on the host.

use pecan_hal::{Attrs, MemType};

use crate::pte::{Aarch64Pte, bits};

/// SCTLR_EL1 bits that are RES1 in ARMv8.0 (EOS, TSCXT, EIS, SPAN, nTLSMD, LSMAOE).
const SCTLR_RES1: u64 = (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);
/// SCTLR_EL1.M: stage-1 translation on.
const SCTLR_M: u64 = 1 << 0;
/// SCTLR_EL1.C: data caches on.
const SCTLR_C: u64 = 1 << 2;
/// SCTLR_EL1.SA: SP alignment checks at EL1.
const SCTLR_SA: u64 = 1 << 3;
/// SCTLR_EL1.SA0: SP alignment checks at EL0.
const SCTLR_SA0: u64 = 1 << 4;
/// SCTLR_EL1.I: instruction caches on.
const SCTLR_I: u64 = 1 << 12;

/// SCTLR_EL1 while the boot code builds its tables: MMU and caches off, little endian.
pub const SCTLR_MMU_OFF: u64 = SCTLR_RES1 | SCTLR_SA | SCTLR_SA0;
/// SCTLR_EL1 from then on: MMU, data and instruction caches on.
pub const SCTLR_MMU_ON: u64 = SCTLR_MMU_OFF | SCTLR_M | SCTLR_C | SCTLR_I;

/// TCR_EL1 without IPS and AS (the boot code fills those from ID_AA64MMFR0_EL1): 48-bit
/// user and kernel halves (T0SZ = T1SZ = 16), 4 KiB granules, table walks inner-shareable
/// and write-back cacheable, the ASID taken from TTBR0_EL1 (TG0 = 0b00 selects 4 KiB for
/// the user half).
pub const TCR_BASE: u64 = 16                // T0SZ
    | (0b01 << 8)                           // IRGN0: write-back, write-allocate
    | (0b01 << 10)                          // ORGN0
    | (0b11 << 12)                          // SH0: inner shareable
    | (16 << 16)                            // T1SZ
    | (0b01 << 24)                          // IRGN1
    | (0b01 << 26)                          // ORGN1
    | (0b11 << 28)                          // SH1
    | (0b10 << 30); // TG1: 4 KiB
/// TCR_EL1.AS: 16-bit ASIDs.
pub const TCR_AS: u64 = 1 << 36;

const KERNEL: Attrs =
    Attrs { read: true, write: false, exec: false, user: false, global: true, mem: MemType::Normal };
/// Boot L3 entry attributes of kernel text: read-only, executable at EL1.
pub const PAGE_TEXT: u64 = Aarch64Pte::leaf_bits(Attrs { exec: true, ..KERNEL }) | 0b11;
/// Boot L3 entry attributes of read-only data.
pub const PAGE_RODATA: u64 = Aarch64Pte::leaf_bits(KERNEL) | 0b11;
/// Boot L3 entry attributes of data, BSS and stacks: read-write, never executable.
pub const PAGE_DATA: u64 = Aarch64Pte::leaf_bits(Attrs { write: true, ..KERNEL }) | 0b11;
/// Boot 2 MiB block attributes of the device-tree window: read-only, never executable.
pub const BLOCK_FDT: u64 = Aarch64Pte::leaf_bits(KERNEL) | 0b01;
/// Boot 1 GiB block attributes of the identity map: read-only, executable, non-global.
pub const BLOCK_IDENTITY: u64 = Aarch64Pte::leaf_bits(Attrs { exec: true, global: false, ..KERNEL }) | 0b01;
/// Boot table descriptor attributes for the kernel half.
pub const TABLE_KERNEL: u64 = bits::UXN_TABLE | bits::AP_TABLE_NO_EL0 | 0b11;

#[cfg(test)]
mod tests {
    use super::*;
    use pecan_hal::{PhysAddr, PteFormat, PteKind};

    #[test]
    fn register_values() {
        assert_eq!(SCTLR_MMU_OFF, 0x30d0_0818);
        assert_eq!(SCTLR_MMU_ON, 0x30d0_181d);
        assert_eq!(TCR_BASE, 0xb510_3510);
    }

    #[test]
    fn boot_descriptors_decode() {
        let leaf = |raw: u64, level| match Aarch64Pte::decode(raw | 0x4000_0000, level) {
            PteKind::Leaf(pa, a) => (pa.0, a),
            other => panic!("{other:?}"),
        };
        assert_eq!(leaf(PAGE_TEXT, 0), (0x4000_0000, Attrs { exec: true, ..KERNEL }));
        assert_eq!(leaf(PAGE_RODATA, 0), (0x4000_0000, KERNEL));
        assert_eq!(leaf(PAGE_DATA, 0), (0x4000_0000, Attrs { write: true, ..KERNEL }));
        assert_eq!(leaf(BLOCK_FDT, 1), (0x4000_0000, KERNEL));
        assert_eq!(leaf(BLOCK_IDENTITY, 2), (0x4000_0000, Attrs { exec: true, global: false, ..KERNEL }));
        assert_eq!(TABLE_KERNEL, Aarch64Pte::table(PhysAddr(0), false));
    }
}
