//! The cross-CPU handoff on AArch64: each CPU's doorbell, rung by `Hal::handoff` and
//! taken by the idle loop (`user.rs`), settled under the kernel lock (docs/smp.md, "Handoff").
//!
//! The protocol is `pecan_hal::handoff::Doorbell`'s. Here: the `Wake` SGI when the target
//! does not poll (sent raw: a kernel `Wake` withdraws the context first, `smp::send`), a
//! kick cancels (`smp::kick`), and the polling idle loop of the `crosscore-poll` feature
//! waits in `wfe` between looks (a `sev` after every ring ends that wait on hardware;
//! under QEMU TCG `wfe` yields the vCPU).

use pecan_hal::Mmu as _;
use pecan_hal::handoff::{Doorbells, Space};
use pecan_hal::smp::{Ipi, IpiTarget};

use crate::context::Context;

/// Each CPU's doorbell (`smp.rs` withdraws on a kernel `Wake` and cancels on a kick).
pub static DOORBELLS: Doorbells = Doorbells::new();

/// Whether the core may hand threads over (cargo feature `crosscore`): without it the
/// doorbells stay empty and nothing looks at them.
pub const ON: bool = cfg!(feature = "crosscore");

/// Whether the idle loop polls its doorbell before it waits for an interrupt (cargo
/// feature `crosscore-poll`).
pub const POLL: bool = ON && cfg!(feature = "crosscore-poll");

/// Looks at the doorbell (each a `wfe` apart) before the polling idle loop waits for an
/// interrupt.
pub const POLL_SPINS: usize = 256;

/// `Hal::handoff` (the core calls it at the end of the kernel entry, lock held): rings CPU
/// `cpu`'s doorbell with `ctx` and `space`; sends it the `Wake` SGI (without withdrawing
/// what was just rung) unless it polls. Whether an SGI was sent.
pub fn ring(cpu: usize, ctx: *mut Context, space: Option<Space>) -> bool {
    let Some(d) = DOORBELLS.get(cpu) else { return false };
    let irq = d.ring(ctx as usize, space);
    if irq {
        crate::smp::send_raw(IpiTarget::Cpu(cpu), Ipi::Wake);
    } else {
        // SAFETY: `sev` only sets every CPU's event register: a polling CPU in `wfe`
        // looks again (the ring's stores came before it, SeqCst).
        unsafe { core::arch::asm!("sev", options(nomem, nostack, preserves_flags)) };
    }
    irq
}

/// Loads `s` into TTBR0 (the core already counts it loaded on this CPU).
fn activate(s: Space) {
    if let Some(st) = crate::machine::state() {
        let mut mmu = st.mmu;
        mmu.activate(s.root, s.asid, s.flush);
    }
}

/// This CPU took the kernel lock for an event: loads the space a ring left pending (the
/// core believes it loaded) and drops the rung context (the core decides what runs).
#[inline]
pub fn settle() {
    if !ON {
        return;
    }
    if let Some(s) = DOORBELLS.0[crate::percpu::index()].settle() {
        activate(s);
    }
}

/// The idle loop's look at this CPU's doorbell: loads the rung space, if any, and returns
/// the rung context, if any.
pub fn take(me: usize) -> Option<*mut Context> {
    if !ON {
        return None;
    }
    let (ctx, space) = DOORBELLS.0[me].take();
    if let Some(s) = space {
        activate(s);
    }
    ctx.map(|c| c as *mut Context)
}

/// The polling idle loop (`crosscore-poll`) before it waits for an interrupt: says it
/// polls, looks up to [`POLL_SPINS`] times until a context is rung (returned) or an
/// interrupt is pending, then stops polling and looks once more (the doorbell's rule: a
/// ring after that look sends the SGI). Without the feature only that last look.
pub fn poll(me: usize) -> Option<*mut Context> {
    if POLL {
        DOORBELLS.0[me].poll(true);
        for _ in 0..POLL_SPINS {
            if let Some(c) = take(me) {
                DOORBELLS.0[me].poll(false);
                return Some(c);
            }
            if irq_pending() {
                break;
            }
            // SAFETY: `wfe` only waits for an event (a `sev`, an interrupt, or QEMU's
            // scheduling); IRQs stay masked.
            unsafe { core::arch::asm!("wfe", options(nomem, nostack, preserves_flags)) };
        }
        DOORBELLS.0[me].poll(false);
    }
    take(me)
}

/// Whether an IRQ is pending at this CPU (ISR_EL1.I), masked or not.
fn irq_pending() -> bool {
    let isr: u64;
    // SAFETY: a read of a status register.
    unsafe { core::arch::asm!("mrs {}, isr_el1", out(reg) isr, options(nomem, nostack, preserves_flags)) };
    isr & (1 << 7) != 0
}
