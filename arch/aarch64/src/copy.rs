//! Long IPC on AArch64 (`pecan_hal::Hal::copy_virt` and friends): a copy between two
//! virtual addresses of the loaded address space whose data aborts return
//! [`CopyFault`] instead of stopping the kernel (an exception-table entry of one range),
//! the pending-interrupt check between chunks, and where the window lives.

use pecan_hal::CopyFault;

/// The long-IPC window: the top level-0 entry of TTBR0's 48-bit range (T0SZ = 16), above
/// the 47-bit user space, so each user root owns it; the core makes it a table entry with
/// APTable "no EL0" (and UXNTable), which no EL0 access gets through.
pub const WINDOW_BASE: u64 = 0x0000_ff80_0000_0000;

const _: () = assert!((WINDOW_BASE >> 39) & 0x1ff == 511 && WINDOW_BASE < 1 << 48);

// pecan_aarch64_copy(dst: x0, src: x1, len: x2) -> (x0: fault address, x1: status)
//
// Register protocol (AAPCS64: a 16-byte struct comes back in x0:x1): x0 = destination,
// x1 = source, x2 = byte count; x3..x10 are scratch, x30 is not touched. Makes the
// caller's table writes visible to the walker first (dsb ishst; isb), then copies 64
// bytes per loop with ldp/stp pairs, then 16, then single bytes. On success x1 = 0. A data
// abort at any instruction in [pecan_aarch64_copy_start, pecan_aarch64_copy_end) is not a
// kernel fault: `trap.rs` (`copy_fixup`) resumes at pecan_aarch64_copy_fault with
// x0 = FAR_EL1 (the faulting address) and x1 = ESR_EL1 (never 0), and the landing pad
// returns to the caller.
core::arch::global_asm!(
    ".text",
    ".global pecan_aarch64_copy",
    ".global pecan_aarch64_copy_start",
    ".global pecan_aarch64_copy_end",
    ".global pecan_aarch64_copy_fault",
    "pecan_aarch64_copy:",
    "    dsb     ishst",
    "    isb",
    "pecan_aarch64_copy_start:",
    "    cmp     x2, #64",
    "    b.lo    2f",
    "1:  ldp     x3, x4, [x1]",
    "    ldp     x5, x6, [x1, #16]",
    "    ldp     x7, x8, [x1, #32]",
    "    ldp     x9, x10, [x1, #48]",
    "    stp     x3, x4, [x0]",
    "    stp     x5, x6, [x0, #16]",
    "    stp     x7, x8, [x0, #32]",
    "    stp     x9, x10, [x0, #48]",
    "    add     x1, x1, #64",
    "    add     x0, x0, #64",
    "    sub     x2, x2, #64",
    "    cmp     x2, #64",
    "    b.hs    1b",
    "2:  cmp     x2, #16",
    "    b.lo    4f",
    "3:  ldp     x3, x4, [x1], #16",
    "    stp     x3, x4, [x0], #16",
    "    sub     x2, x2, #16",
    "    cmp     x2, #16",
    "    b.hs    3b",
    "4:  cbz     x2, 6f",
    "5:  ldrb    w3, [x1], #1",
    "    strb    w3, [x0], #1",
    "    subs    x2, x2, #1",
    "    b.ne    5b",
    "6:  mov     x1, #0",
    "pecan_aarch64_copy_end:",
    "    ret",
    "pecan_aarch64_copy_fault:",
    "    ret",
);

/// What `pecan_aarch64_copy` returns in x0:x1.
#[repr(C)]
struct CopyRet {
    addr: u64,
    status: u64,
}

unsafe extern "C" {
    fn pecan_aarch64_copy(dst: u64, src: u64, len: u64) -> CopyRet;
    static pecan_aarch64_copy_start: u8;
    static pecan_aarch64_copy_end: u8;
    static pecan_aarch64_copy_fault: u8;
}

/// Copies `len` bytes from `src` to `dst` in the loaded address space.
///
/// # Safety
/// Every address in both ranges is a user address below the user top, a window address
/// the core mapped, or a direct-map address of a frame the kernel owns: whatever it
/// reaches is either mapped memory the copy may touch, or faults.
pub unsafe fn copy(dst: u64, src: u64, len: u64) -> Result<(), CopyFault> {
    // SAFETY: the caller's contract; a fault comes back as a status (`copy_fixup`).
    let r = unsafe { pecan_aarch64_copy(dst, src, len) };
    if r.status == 0 {
        Ok(())
    } else {
        Err(CopyFault { addr: r.addr, write: crate::esr::Esr(r.status).is_write() })
    }
}

/// The data-abort fix-up: if kernel code faulted inside the copy (`elr`), where to resume
/// it (the landing pad). The trap handler then sets x0 = FAR, x1 = ESR.
pub fn copy_fixup(elr: u64) -> Option<u64> {
    let (start, end, pad) = (
        &raw const pecan_aarch64_copy_start as u64,
        &raw const pecan_aarch64_copy_end as u64,
        &raw const pecan_aarch64_copy_fault as u64,
    );
    (start..end).contains(&elr).then_some(pad)
}

/// Whether an IRQ is pending at this CPU (ISR_EL1.I, whatever PSTATE's mask says).
pub fn preempt_pending() -> bool {
    let isr: u64;
    // SAFETY: reads a status register; no side effects.
    unsafe { core::arch::asm!("mrs {}, isr_el1", out(reg) isr, options(nomem, nostack, preserves_flags)) };
    isr & 1 << 7 != 0
}
