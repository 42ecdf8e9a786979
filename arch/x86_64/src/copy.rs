//! Long IPC on x86_64 (`pecan_hal::Hal::copy_virt` and friends): a copy between two
//! virtual addresses of the loaded address space whose page faults return
//! [`CopyFault`] instead of stopping the kernel (an exception-table entry of one range),
//! the pending-interrupt check between chunks, and where the window lives.

use pecan_hal::CopyFault;

/// The long-IPC window: PML4 slot 400 (`0xffff_c800_0000_0000`), in the kernel half but
/// left empty in the kernel's own table, so each user root owns its entry; the core makes
/// it a supervisor-only table entry (U/S = 0), which no user access gets through.
pub const WINDOW_BASE: u64 = 0xffff_c800_0000_0000;

const _: () = assert!((WINDOW_BASE >> 39) & 0x1ff == 400);

// pecan_x86_copy(dst: rdi, src: rsi, len: rdx) -> (rax: fault address, rdx: status)
//
// Register protocol (SysV: a 16-byte struct comes back in rax:rdx): rdi = destination,
// rsi = source, rdx = byte count; rcx is clobbered, rdi/rsi advance. Copies len / 8
// quadwords with `rep movsq`, then the rest with `rep movsb` (DF cleared first). On
// success rdx = 0. A page fault at any instruction in [pecan_x86_copy_start,
// pecan_x86_copy_end) is not a kernel fault: `trap.rs` (`copy_fixup`) resumes at
// pecan_x86_copy_fault with rax = CR2 (the faulting address) and rdx = the page fault's
// error code with bit 63 set (never 0), and the landing pad returns to the caller.
core::arch::global_asm!(
    ".text",
    ".global pecan_x86_copy",
    ".global pecan_x86_copy_start",
    ".global pecan_x86_copy_end",
    ".global pecan_x86_copy_fault",
    "pecan_x86_copy:",
    "pecan_x86_copy_start:",
    "    cld",
    "    mov rcx, rdx",
    "    shr rcx, 3",
    "    rep movsq",
    "    mov rcx, rdx",
    "    and rcx, 7",
    "    rep movsb",
    "    xor edx, edx",
    "pecan_x86_copy_end:",
    "    ret",
    "pecan_x86_copy_fault:",
    "    ret",
);

/// What `pecan_x86_copy` returns in rax:rdx.
#[repr(C)]
struct CopyRet {
    addr: u64,
    status: u64,
}

unsafe extern "C" {
    fn pecan_x86_copy(dst: u64, src: u64, len: u64) -> CopyRet;
    static pecan_x86_copy_start: u8;
    static pecan_x86_copy_end: u8;
    static pecan_x86_copy_fault: u8;
}

/// Copies `len` bytes from `src` to `dst` in the loaded address space.
///
/// # Safety
/// Every address in both ranges is a user address below the user top, a window address
/// the core mapped, or a direct-map address of a frame the kernel owns: whatever it
/// reaches is either mapped memory the copy may touch, or faults.
pub unsafe fn copy(dst: u64, src: u64, len: u64) -> Result<(), CopyFault> {
    // SAFETY: the caller's contract; a fault comes back as a status (`copy_fixup`).
    let r = unsafe { pecan_x86_copy(dst, src, len) };
    if r.status == 0 { Ok(()) } else { Err(CopyFault { addr: r.addr, write: r.status & 2 != 0 }) }
}

/// The page-fault fix-up: if kernel code faulted inside the copy (`rip`), where to resume
/// it (the landing pad). The trap handler then sets rax = CR2, rdx = error | 1 << 63.
pub fn copy_fixup(rip: u64) -> Option<u64> {
    let (start, end, pad) = (
        &raw const pecan_x86_copy_start as u64,
        &raw const pecan_x86_copy_end as u64,
        &raw const pecan_x86_copy_fault as u64,
    );
    (start..end).contains(&rip).then_some(pad)
}

/// Whether an interrupt waits in the local APIC: the IRR words of the vectors the kernel
/// uses (0x20..0x80: the timer and the IOAPIC lines).
pub fn preempt_pending() -> bool {
    (1..4).any(|i| crate::lapic::irr(i) != 0)
}
