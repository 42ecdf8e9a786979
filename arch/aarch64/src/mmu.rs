//! Address-space switches and TLB maintenance (`pecan_hal::Mmu`), and the kernel's own
//! TLB operations.
//!
//! User address spaces live in TTBR0_EL1, tagged with an ASID in its bits 63:48 (16-bit
//! ASIDs when ID_AA64MMFR0_EL1 offers them and TCR_EL1.AS is set, else 8-bit). The kernel
//! lives in TTBR1_EL1 with global mappings, so a switch never touches it. Every TLB
//! operation is broadcast to the inner-shareable domain and ordered: `dsb ishst` makes
//! the table update visible to walkers first, `dsb ish` waits for the invalidation, `isb`
//! makes the following instructions use the new translation.

use aarch64_cpu::registers::{ID_AA64MMFR0_EL1, Readable, TCR_EL1, TTBR0_EL1, TTBR1_EL1, Writeable};
use pecan_hal::{Asid, PhysAddr, VirtAddr};

use crate::pte::bits::ADDR_MASK;

/// A root table with nothing in it: TTBR0_EL1 when no user address space is active.
#[repr(C, align(4096))]
struct EmptyTable([u64; 512]);
static EMPTY_ROOT: EmptyTable = EmptyTable([0; 512]);

/// The ASID field of a TTBR or TLBI operand.
const fn asid_field(asid: Asid) -> u64 {
    (asid.0 as u64) << 48
}

/// The TLBI operand for `va` (its page number, bits 55:12 shifted down).
const fn va_field(va: VirtAddr) -> u64 {
    (va.0 >> 12) & ((1 << 44) - 1)
}

macro_rules! tlbi {
    ($op:literal, $arg:expr) => {
        // SAFETY: TLB invalidation has no memory-safety effect; the barriers order it.
        unsafe {
            core::arch::asm!(
                "dsb ishst",
                concat!("tlbi ", $op, ", {0}"),
                "dsb ish",
                "isb",
                in(reg) $arg,
                options(nostack, preserves_flags)
            )
        }
    };
}

/// Drops the translation of kernel page `va` for every ASID, on every CPU.
pub fn flush_kernel_page(va: VirtAddr) {
    tlbi!("vaae1is", va_field(va));
}

/// Drops the translation of kernel page `va` for every ASID, on this CPU only (the
/// self-tests' counterpart of a shootdown).
pub fn flush_kernel_page_local(va: VirtAddr) {
    // SAFETY: as for `tlbi!`.
    unsafe {
        core::arch::asm!(
            "dsb ishst", "tlbi vaae1, {0}", "dsb nsh", "isb",
            in(reg) va_field(va), options(nostack, preserves_flags)
        )
    };
}

/// Drops every translation on this CPU (boot-time table changes).
pub fn flush_all_local() {
    // SAFETY: as for `tlbi!`.
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi vmalle1", "dsb nsh", "isb", options(nostack, preserves_flags))
    };
}

/// Makes table updates visible to the walker before the next access through them.
pub fn sync_tables() {
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
}

/// The physical address of the kernel's root table (TTBR1_EL1).
pub fn kernel_root() -> PhysAddr {
    PhysAddr(TTBR1_EL1.get() & ADDR_MASK)
}

/// The empty user root's physical address, given the image's load address.
fn empty_root_pa() -> u64 {
    crate::boot::image_pa_of(&EMPTY_ROOT as *const EmptyTable as u64)
}

/// The MMU of this CPU.
#[derive(Clone, Copy, Debug)]
pub struct Mmu {
    asid_bits: u8,
}

impl Mmu {
    /// Reads the ASID size: 16 bits if the CPU has them and TCR_EL1.AS selects them.
    pub fn detect() -> Mmu {
        let wide =
            ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::ASIDBits) == 0b0010 && TCR_EL1.read(TCR_EL1::AS) == 1;
        Mmu { asid_bits: if wide { 16 } else { 8 } }
    }

    /// Width of an ASID in bits.
    pub fn asid_bits(&self) -> u8 {
        self.asid_bits
    }
}

impl pecan_hal::Mmu for Mmu {
    fn asid_count(&self) -> usize {
        1 << self.asid_bits
    }

    fn init_user_root(&mut self, _root: PhysAddr) {
        // Nothing: the kernel half is TTBR1's, a user root holds user mappings only.
    }

    fn deactivate(&mut self) {
        TTBR0_EL1.set(empty_root_pa());
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    }

    fn activate(&mut self, root: PhysAddr, asid: Asid, flush: bool) {
        TTBR0_EL1.set((root.0 & ADDR_MASK) | asid_field(asid));
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        // The flush after the switch: a walk of the old tables that speculation starts
        // between a flush and the TTBR0 write would leave their entries under this ASID.
        if flush {
            tlbi!("aside1is", asid_field(asid));
        }
    }

    fn flush_page(&mut self, asid: Asid, va: VirtAddr) {
        tlbi!("vae1is", asid_field(asid) | va_field(va));
    }

    fn flush_asid(&mut self, asid: Asid) {
        tlbi!("aside1is", asid_field(asid));
    }

    fn flush_kernel_page(&mut self, va: VirtAddr) {
        flush_kernel_page(va);
    }

    fn flush_all(&mut self) {
        // SAFETY: as for `tlbi!`.
        unsafe {
            core::arch::asm!(
                "dsb ishst",
                "tlbi vmalle1is",
                "dsb ish",
                "isb",
                options(nostack, preserves_flags)
            )
        };
    }
}
