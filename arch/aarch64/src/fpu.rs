//! Lazy FP/SIMD switching (`docs/arch-aarch64.md`, "FP/SIMD").
//!
//! Each CPU has an FP *owner* (`PerCpu::fp_owner`): the context whose FP/SIMD state is in
//! the CPU's registers, marked by that context's `fp_cpu` (1 + the CPU index). On every
//! return to user mode, CPACR_EL1.FPEN lets the thread use FP/SIMD if it is the owner and
//! traps its first FP/SIMD instruction otherwise (EC 0x07). That trap saves the owner's
//! registers into its context, loads the trapping thread's and makes it the owner, without
//! involving the core. So a switch between threads of which at most one uses FP/SIMD costs
//! nothing, and the IPC path never saves 32 vector registers.
//!
//! The owner may have been deleted since. The core keeps thread storage allocated for the
//! kernel's life and never moves it (`pecan_core::obj::Table`), so the pointer still
//! names kernel memory; a new thread created in the same slot starts with `fp_cpu` = 0,
//! so it is neither saved into (the registers hold the old thread's state) nor considered
//! live. A dead owner's registers are at worst saved into its dead slot.
//!
//! Several CPUs: a thread that moved to another CPU while its state was live in the old
//! one's registers finds `fp_cpu` naming the old CPU; its first FP/SIMD trap on the new
//! CPU asks the old one to save it ([`release`], through `smp::fp_flush`) and waits.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::context::{Context, FpState};
use crate::percpu;

/// CPACR_EL1.FPEN = 0b00: FP/SIMD instructions trap at EL0 and EL1 (the kernel is
/// soft-float, so a kernel FP instruction is a bug, caught here).
pub(crate) const CPACR_TRAP: u64 = 0;
/// CPACR_EL1.FPEN = 0b11: no trap.
pub(crate) const CPACR_ON: u64 = 0b11 << 20;

unsafe extern "C" {
    fn pecan_aarch64_fp_save(state: *mut FpState);
    fn pecan_aarch64_fp_load(state: *const FpState);
}

static TRAPS: AtomicU64 = AtomicU64::new(0);

/// FP/SIMD traps taken (lazy switches) since boot.
pub fn traps() -> u64 {
    TRAPS.load(Ordering::Relaxed)
}

fn write_cpacr(p: &mut percpu::PerCpu, value: u64) {
    if p.cpacr != value {
        // SAFETY: CPACR_EL1 only controls FP/SIMD trapping; the caller synchronizes it
        // (`isb`, or the `eret` to user mode) before it matters.
        unsafe { core::arch::asm!("msr cpacr_el1, {}", in(reg) value, options(nostack, nomem)) };
        p.cpacr = value;
    }
}

/// The FP/SIMD trap from user mode: makes `ctx`'s FP/SIMD state live in this CPU's
/// registers, saving the previous owner's first. The thread then retries the instruction.
///
/// # Safety
/// `ctx` is the running thread's context (it just trapped); the per-CPU owner, if its
/// `fp_cpu` names this CPU, is a live context (contexts never move, see `Context::fp_cpu`
/// for reused ones). Interrupts are masked.
pub unsafe fn take(ctx: *mut Context) {
    // SAFETY: `ctx` is the running thread's (the contract).
    let mark = unsafe { core::ptr::read_volatile(&raw const (*ctx).fp_cpu) };
    // SAFETY: interrupts are masked; this CPU's data is used by nothing else now.
    let me = unsafe { percpu::this() }.index + 1;
    if mark != 0 && mark != me {
        // The thread moved here from the CPU whose registers still hold its state: that
        // CPU saves it first (before this CPU touches its own FP registers).
        // SAFETY: `ctx` is the running thread's (the contract).
        unsafe { crate::smp::fp_flush(mark as usize - 1, ctx) };
    }
    // SAFETY: as above (taken again: the wait may have served this CPU's own requests).
    let p = unsafe { percpu::this() };
    TRAPS.fetch_add(1, Ordering::Relaxed);
    write_cpacr(p, CPACR_ON);
    // SAFETY: an `isb` only synchronizes the CPACR_EL1 write before the FP accesses.
    unsafe { core::arch::asm!("isb", options(nostack, nomem, preserves_flags)) };
    let owner = p.fp_owner;
    // SAFETY: see the function's contract: `owner` is valid if it is marked with `me`;
    // the state is 16-byte aligned inside `Context`.
    unsafe {
        if owner == ctx && (*ctx).fp_cpu == me {
            return; // already live (a stale trap setting): nothing to move
        }
        if !owner.is_null() && core::ptr::read_volatile(&raw const (*owner).fp_cpu) == me {
            pecan_aarch64_fp_save(&raw mut (*owner).fp);
            (*owner).fp_cpu = 0;
        }
        pecan_aarch64_fp_load(&raw const (*ctx).fp);
        (*ctx).fp_cpu = me;
    }
    p.fp_owner = ctx;
}

/// On a request of another CPU (`smp::fp_flush`, served with interrupts masked): the
/// state live in this CPU's registers is saved into its owner's context, and the next
/// FP/SIMD use here traps. The saved state is visible before the owner's `fp_cpu` reads 0.
pub fn release() {
    // SAFETY: interrupts are masked; nothing else uses this CPU's data now.
    let p = unsafe { percpu::this() };
    let me = p.index + 1;
    let owner = p.fp_owner;
    // SAFETY: the owner is a live context if marked with `me` (see `take`); CPACR is
    // turned on (and synchronized) before the save, as in `take`.
    unsafe {
        if !owner.is_null() && core::ptr::read_volatile(&raw const (*owner).fp_cpu) == me {
            write_cpacr(p, CPACR_ON);
            core::arch::asm!("isb", options(nostack, nomem, preserves_flags));
            pecan_aarch64_fp_save(&raw mut (*owner).fp);
            core::sync::atomic::fence(Ordering::Release);
            core::ptr::write_volatile(&raw mut (*owner).fp_cpu, 0);
        }
    }
    p.fp_owner = core::ptr::null_mut();
    write_cpacr(p, CPACR_TRAP);
}

/// On every return to user mode: lets `ctx` use FP/SIMD if its state is live in this
/// CPU's registers, else traps its first use. The `eret` synchronizes the write.
///
/// # Safety
/// `ctx` is the context about to be resumed; `p` is this CPU's data. Interrupts are
/// masked.
#[inline(always)]
pub unsafe fn prepare_return(p: &mut percpu::PerCpu, ctx: *mut Context) {
    // SAFETY: `ctx` is valid (the caller's contract).
    let live = p.fp_owner == ctx && unsafe { (*ctx).fp_cpu } == p.index + 1;
    write_cpacr(p, if live { CPACR_ON } else { CPACR_TRAP });
}
