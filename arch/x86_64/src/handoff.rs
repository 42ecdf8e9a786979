//! The cross-CPU handoff on x86_64: each CPU's doorbell, rung by the core's `Hal::handoff`
//! and taken by the idle loop, which returns to the handed thread without the kernel lock
//! (`pecan_hal::handoff`, docs/smp.md "Handoff").
//!
//! With the `crosscore-poll` feature an idle CPU first polls its doorbell for a while
//! (`pause`, which under TCG ends the vCPU's turn) before it halts, and a ring needs no
//! IPI while it polls; without it every ring sends the `Wake` IPI.

use pecan_hal::Mmu;
use pecan_hal::handoff::{Doorbells, Space};

use crate::context::Context;
use crate::mmu::X86Mmu;
use crate::percpu;

/// Whether idle CPUs poll their doorbells before halting (cargo feature `crosscore-poll`).
pub const POLL: bool = cfg!(feature = "crosscore-poll");
/// How many times an idle CPU looks at its doorbell before it halts (with `POLL`).
const POLL_SPINS: usize = 256;

/// Each CPU's doorbell (`smp.rs` withdraws on a kernel `Wake` and cancels on a kick).
pub static DOORBELLS: Doorbells = Doorbells::new();

/// `Hal::handoff`: rings CPU `cpu`'s doorbell, and sends it the `Wake` IPI unless it polls;
/// whether an IPI was sent.
pub fn ring(cpu: usize, ctx: *mut Context, space: Option<Space>) -> bool {
    let Some(d) = DOORBELLS.get(cpu) else { return false };
    let ipi = d.ring(ctx as usize, space);
    if ipi {
        crate::smp::send_raw(cpu, pecan_hal::Ipi::Wake);
    }
    ipi
}

fn load(space: Option<Space>) {
    if let Some(s) = space {
        X86Mmu.activate(s.root, s.asid, s.flush);
    }
}

/// This CPU took the kernel lock for an event: the space handed to it is loaded now (the
/// core believes it is), a handed context dropped (the core decides what runs).
pub fn settle() {
    load(DOORBELLS.0[percpu::cpu_id()].settle());
}

/// This CPU's doorbell, from the idle loop: the handed context, its space loaded.
pub fn take() -> Option<*mut Context> {
    let (ctx, space) = DOORBELLS.0[percpu::cpu_id()].take();
    load(space);
    ctx.map(|c| c as *mut Context)
}

/// The idle loop's look before it halts (interrupts disabled): a handed context to return
/// to, after polling for one with `crosscore-poll`. `None`: halt, the doorbell rings by IPI.
pub fn before_halt() -> Option<*mut Context> {
    if let Some(c) = take() {
        return Some(c);
    }
    if POLL {
        let d = &DOORBELLS.0[percpu::cpu_id()];
        d.poll(true);
        for _ in 0..POLL_SPINS {
            // SAFETY: an interrupt window of one instruction (`sti` takes effect after
            // `pause`): a pending tick or IPI is taken here, through `trap.rs`'s idle path,
            // which leaves the loop for good (`resume::dispatch` clears the polling flag).
            unsafe { core::arch::asm!("sti", "pause", "cli", options(nomem, nostack)) };
            if let Some(c) = take() {
                d.poll(false);
                return Some(c);
            }
        }
        d.poll(false);
        // The second look that makes the race with `ring` safe (`Doorbell::poll`).
        return take();
    }
    None
}

/// This CPU leaves the idle loop for the kernel: it no longer polls.
pub fn stop_polling() {
    if POLL {
        DOORBELLS.0[percpu::cpu_id()].poll(false);
    }
}
