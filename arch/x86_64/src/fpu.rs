//! Lazy x87/SSE switching with CR0.TS and a per-CPU owner.
//!
//! The FPU registers belong to one context at a time, `PerCpu::fpu_owner` (identified by
//! its address *and* its `fpu_id`, so a thread deleted and another created in the same
//! TCB slot are never confused). Returning to any other thread sets CR0.TS, so its first
//! x87/SSE instruction raises #NM; [`take`] then loads its state with FXRSTOR and makes it
//! the owner. Returning to the owner clears TS again.
//!
//! The state is saved at the next kernel *entry* while the owner could have changed it
//! ([`save_on_entry`], only when `fpu_live`), not when another thread takes the FPU. So
//! the FPU never holds state that exists nowhere else while the kernel runs, and the core
//! may delete the owner without telling the arch: the owner pointer is only ever compared,
//! never written through after an entry. Threads that do not use the FPU cost nothing on
//! any path (no save, no restore, no CR0 write once TS is set); a thread that does costs
//! one FXSAVE per kernel entry and one FXRSTOR after another FPU user ran. The kernel
//! itself is built soft-float and never touches x87/SSE registers.
//!
//! Several CPUs: the state is in the context after every entry, so a thread that moves
//! to another CPU finds it there; [`take`] gives the context a new `fpu_id`, so the CPU
//! it left (whose owner still points at it) does not mistake its registers for current.

use x86_64::registers::control::{Cr0, Cr0Flags};

use crate::context::Context;
use crate::percpu;

/// Saves the running thread's FPU registers into its context if it could have changed
/// them since the kernel last ran. Called first on every entry from user mode.
pub fn save_on_entry() {
    // SAFETY: this CPU's block, interrupts disabled (see `percpu::this`).
    let p = unsafe { &mut *percpu::this() };
    if !p.fpu_live {
        return;
    }
    p.fpu_live = false;
    // SAFETY: `fpu_live` is only set while the owner is the running thread, whose context
    // is alive (the kernel has not run yet in this entry); TS is clear for it, so FXSAVE
    // does not fault; the area is 16-byte aligned (`FxArea`).
    unsafe {
        let fx = &raw mut (*p.fpu_owner).fx;
        core::arch::asm!("fxsave64 [{}]", in(reg) fx, options(nostack, preserves_flags));
    }
}

/// Sets CR0.TS for a return to `c`, unless `c` owns the FPU (then clears it and marks the
/// state live). Called on every return to user mode.
///
/// # Safety
/// `c` is the context about to run, alive in its TCB.
pub unsafe fn prepare_return(c: *mut Context) {
    // SAFETY: this CPU's block, interrupts disabled.
    let p = unsafe { &mut *percpu::this() };
    // SAFETY: `c` is alive (the caller's promise).
    let id = unsafe { (*c).fpu_id };
    if p.fpu_owner == c && p.fpu_owner_id == id {
        if p.ts_set {
            // SAFETY: clearing TS only lets x87/SSE instructions run; the registers hold
            // `c`'s state.
            unsafe { core::arch::asm!("clts", options(nomem, nostack, preserves_flags)) };
            p.ts_set = false;
        }
        p.fpu_live = true;
    } else {
        if !p.ts_set {
            set_ts();
            p.ts_set = true;
        }
        p.fpu_live = false;
    }
}

/// #NM from user mode: the running thread `c` used the FPU with TS set. Loads its state
/// and makes it the owner; the thread then retries the instruction.
///
/// # Safety
/// `c` is the running thread's context, alive in its TCB.
pub unsafe fn take(c: *mut Context) {
    // SAFETY: this CPU's block, interrupts disabled.
    let p = unsafe { &mut *percpu::this() };
    // SAFETY: clearing TS lets FXRSTOR run; the area is `c`'s own (alive: it is the
    // running thread), 16-byte aligned, and only ever written by FXSAVE or
    // `FxArea::default`, so its reserved MXCSR bits are clear and FXRSTOR cannot fault.
    unsafe {
        core::arch::asm!("clts", options(nomem, nostack, preserves_flags));
        let fx = &raw const (*c).fx;
        core::arch::asm!("fxrstor64 [{}]", in(reg) fx, options(nostack, preserves_flags));
    }
    p.ts_set = false;
    p.fpu_owner = c;
    // A new identity each time a CPU takes the state: a CPU the thread ran on before
    // (and migrated away from) still names it as owner with the old identity, so it
    // reloads the state from the context instead of trusting its stale registers.
    let id = crate::context::fresh_fpu_id();
    // SAFETY: as above.
    unsafe { (*c).fpu_id = id };
    p.fpu_owner_id = id;
}

fn set_ts() {
    // SAFETY: TS only makes the next x87/SSE instruction raise #NM; the kernel uses none.
    unsafe { Cr0::update(|f| f.insert(Cr0Flags::TASK_SWITCHED)) };
}
