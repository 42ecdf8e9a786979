//! Address-space switches and TLB maintenance (`pecan_hal::Mmu`): CR3 loads tagged with a
//! PCID when the CPU has them (QEMU's TCG does not: then every switch flushes the
//! non-global entries), `invlpg` and `invpcid`.

use core::sync::atomic::{AtomicBool, Ordering};

use pecan_hal::{Asid, Mmu, PhysAddr, PhysMem, VirtAddr};

use crate::paging::PhysmapMem;
use x86_64::instructions::tlb::{self, InvPcidCommand, Pcid};
use x86_64::registers::control::{Cr3, Cr4, Cr4Flags};
use x86_64::structures::paging::PhysFrame;

use crate::layout::KERNEL_PML4_FIRST;

pub(crate) static PCID: AtomicBool = AtomicBool::new(false);
static INVPCID: AtomicBool = AtomicBool::new(false);

/// Records whether PCIDs are on (`cpu::enable_pcid`) and INVPCID is there.
pub fn init(pcid: bool, invpcid: bool) {
    PCID.store(pcid, Ordering::Relaxed);
    INVPCID.store(pcid && invpcid, Ordering::Relaxed);
}

/// The MMU of this CPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct X86Mmu;

fn frame(root: PhysAddr) -> PhysFrame {
    PhysFrame::from_start_address(x86_64::PhysAddr::new(root.0)).expect("page-aligned root table")
}

fn pcid(asid: Asid) -> Pcid {
    Pcid::new(asid.0 & 0xfff).expect("12-bit PCID")
}

/// Drops every translation, global ones included (toggling CR4.PGE).
pub fn flush_everything() {
    // SAFETY: turning PGE off and on again flushes the whole TLB and changes nothing else.
    unsafe {
        Cr4::update(|f| f.remove(Cr4Flags::PAGE_GLOBAL));
        Cr4::update(|f| f.insert(Cr4Flags::PAGE_GLOBAL));
    }
}

impl Mmu for X86Mmu {
    fn asid_count(&self) -> usize {
        if PCID.load(Ordering::Relaxed) { 4096 } else { 0 }
    }

    fn init_user_root(&mut self, root: PhysAddr) {
        let mut mem = PhysmapMem;
        let kernel = crate::paging::kernel_root();
        for i in KERNEL_PML4_FIRST..512 {
            let off = i as u64 * 8;
            let e = mem.read_u64(kernel.add(off));
            mem.write_u64(root.add(off), e);
        }
    }

    fn deactivate(&mut self) {
        // The kernel root maps the kernel half only; PCID 0 is never given to a task.
        let root = crate::paging::kernel_root();
        // SAFETY: the kernel root maps everything the kernel runs on.
        unsafe {
            if PCID.load(Ordering::Relaxed) {
                Cr3::write_pcid_no_flush(frame(root), pcid(Asid(0)));
            } else {
                Cr3::write(frame(root), x86_64::registers::control::Cr3Flags::empty());
            }
        }
    }

    /// One CR3 load, inlined into the IPC fast path: the root table's frame, and with PCIDs
    /// the PCID in bits 0..11 and bit 63 set to keep its translations unless `flush`.
    /// Without PCIDs the load drops every non-global translation.
    #[inline]
    fn activate(&mut self, root: PhysAddr, asid: Asid, flush: bool) {
        debug_assert!(root.0 & 0xfff == 0 && root.0 < 1 << 52, "page-aligned root table");
        let mut cr3 = root.0 & 0x000f_ffff_ffff_f000;
        if PCID.load(Ordering::Relaxed) {
            cr3 |= (asid.0 & 0xfff) as u64 | (!flush as u64) << 63;
        }
        // SAFETY: `root` is a user root prepared by `init_user_root`, so it maps the
        // kernel half exactly like the kernel root: the running code stays mapped; with
        // PCIDs on (CR4.PCIDE) the low 12 bits and bit 63 are the PCID and no-flush bit.
        unsafe { core::arch::asm!("mov cr3, {}", in(reg) cr3, options(nostack, preserves_flags)) };
    }

    fn flush_page(&mut self, asid: Asid, va: VirtAddr) {
        let current = !PCID.load(Ordering::Relaxed) || Cr3::read_pcid().1.value() == asid.0;
        if current {
            tlb::flush(x86_64::VirtAddr::new_truncate(va.0));
        } else if INVPCID.load(Ordering::Relaxed) {
            // SAFETY: INVPCID is supported and only drops translations.
            unsafe {
                tlb::flush_pcid(InvPcidCommand::Address(x86_64::VirtAddr::new_truncate(va.0), pcid(asid)))
            };
        } else {
            flush_everything();
        }
    }

    fn flush_asid(&mut self, asid: Asid) {
        if !PCID.load(Ordering::Relaxed) {
            tlb::flush_all();
        } else if INVPCID.load(Ordering::Relaxed) {
            // SAFETY: INVPCID is supported and only drops translations.
            unsafe { tlb::flush_pcid(InvPcidCommand::Single(pcid(asid))) };
        } else {
            flush_everything();
        }
    }

    fn flush_kernel_page(&mut self, va: VirtAddr) {
        // `invlpg` drops the page's translation, global or not, for the current PCID and
        // the global one for every PCID.
        tlb::flush(x86_64::VirtAddr::new_truncate(va.0));
    }

    fn flush_all(&mut self) {
        if INVPCID.load(Ordering::Relaxed) {
            // SAFETY: INVPCID is supported and only drops translations.
            unsafe { tlb::flush_pcid(InvPcidCommand::AllExceptGlobal) };
        } else if PCID.load(Ordering::Relaxed) {
            flush_everything();
        } else {
            tlb::flush_all();
        }
    }
}
