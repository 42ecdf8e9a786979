//! The Rust side of user mode: what `user.S` calls on every exception from EL0, the idle
//! loop, and the first entry to user mode.
//!
//! An exception from EL0 becomes a `pecan_kernel::Event` (system call, timer, device
//! interrupt, user fault), which the platform's handler gives to the core; the handler
//! answers where to go next: a thread's context to resume, or idle. With the `fastpath`
//! feature, system calls skip this: `user.S` sends them to the platform's
//! `pecan_aarch64_svc`, which runs `pecan_kernel::run::syscall` and [`resume`]. The lazy FP/SIMD trap
//! is handled here without the core. Everything runs on the CPU's kernel stack with IRQs
//! masked; idle waits with `wfi` (an interrupt ends it even while masked) and reads the
//! interrupt from the GIC, so the idle loop is a plain loop of the dispatcher.

use aarch64_cpu::registers::{ESR_EL1, FAR_EL1, Readable};
use pecan_kernel::{Event, Resume};
use spin::Once;

use crate::context::Context;
use crate::esr::Esr;
use crate::userfault::{UserSync, classify};

/// The platform's event handler: gives the event to the core and says where to go next.
pub type Handler = fn(Event) -> Resume<Context>;

static HANDLER: Once<Handler> = Once::new();

/// Vector numbers of exceptions from EL0 (`vectors.S`).
mod vector {
    /// Synchronous, from AArch64 EL0.
    pub const SYNC: u64 = 8;
    /// IRQ.
    pub const IRQ: u64 = 9;
    /// SError.
    pub const SERROR: u64 = 11;
}

unsafe extern "C" {
    /// `user.S`: restores `ctx` and `eret`s to EL0.
    fn pecan_aarch64_return_to_user(ctx: *mut Context) -> !;
}

/// Whether the kernel registered its handler (secondary CPUs wait for it).
pub fn started() -> bool {
    HANDLER.get().is_some()
}

/// A secondary CPU joins the kernel once it [`started`]: the same entry as the boot CPU's
/// (the vectors of the SVC route with the `fastpath` feature), starting idle.
pub fn enter_secondary() -> ! {
    enter_with_svc_route(handler(), Resume::Idle)
}

fn handler() -> Handler {
    match HANDLER.get() {
        Some(h) => *h,
        None => panic!("an exception from user mode before the kernel registered its handler"),
    }
}

/// [`enter`] for the kernel: with the `fastpath` feature, system calls take the SVC route
/// (`user.S`'s `user_sync`) to the platform's `pecan_aarch64_svc` instead of `h`.
pub fn enter_with_svc_route(h: Handler, first: Resume<Context>) -> ! {
    #[cfg(feature = "fastpath")]
    {
        unsafe extern "C" {
            static exception_vectors_svc: u8;
        }
        // SAFETY: the table (vectors.S) has the same EL1 vectors as the boot one and is
        // mapped executable; IRQs are masked, so no exception is taken while it changes.
        unsafe {
            crate::cpu::disable_irq();
            core::arch::asm!(
                "msr vbar_el1, {}",
                "isb",
                in(reg) &raw const exception_vectors_svc,
                options(nostack, preserves_flags)
            );
        }
    }
    enter(h, first)
}

/// Enters user mode for the first time: registers `handler` for every later event, goes
/// where `first` says (idling until an interrupt makes a thread runnable if it says
/// idle) and never comes back. Call it on the CPU's kernel stack (the boot stack on the
/// boot CPU): it is reused from its top by every later entry.
pub fn enter(h: Handler, first: Resume<Context>) -> ! {
    HANDLER.call_once(|| h);
    crate::cpu::disable_irq();
    // SAFETY: TPIDRRO_EL0 (user-readable, not per thread) only carries what the loader
    // left there; clearing it keeps that from every thread. Nothing else uses it.
    unsafe { core::arch::asm!("msr tpidrro_el0, xzr", options(nostack, nomem, preserves_flags)) };
    let ctx = resume(first);
    // SAFETY: `resume` returned a context the core chose, with the FP trap and TTBR0 set
    // for it; the rest of this stack is dead from here on.
    unsafe { pecan_aarch64_return_to_user(ctx) }
}

/// Called by `user.S` on every exception from EL0, on the kernel stack, with the thread's
/// registers saved in `ctx`; returns the context to resume.
#[unsafe(no_mangle)]
extern "C" fn pecan_aarch64_user_trap(ctx: *mut Context, vec: u64) -> *mut Context {
    match vec {
        vector::SYNC => {
            let esr = Esr(ESR_EL1.get());
            match classify(esr, FAR_EL1.get()) {
                UserSync::Syscall => event(Event::Syscall, None),
                UserSync::FpAccess => {
                    // SAFETY: `ctx` is the running thread's, just saved; IRQs are masked.
                    // It resumes with FP/SIMD enabled and retries the instruction.
                    unsafe { crate::fpu::take(ctx) };
                    ctx
                }
                UserSync::Fault(f) => event(Event::Fault(f), None),
            }
        }
        vector::IRQ => match crate::machine::irq_event() {
            Some((ev, eoi)) => event(ev, eoi),
            None => ctx, // spurious: the thread just continues
        },
        vector::SERROR => event(Event::Fault(crate::userfault::serror(Esr(ESR_EL1.get()))), None),
        _ => {
            // FIQs are never configured; AArch32 EL0 is never entered (user.S).
            // SAFETY: `ctx` holds the registers user.S just saved.
            let regs = unsafe { &(*ctx).regs };
            crate::trap::fault(regs, vec, Esr(ESR_EL1.get()), None)
        }
    }
}

/// Gives `ev` to the core, ends the interrupt `eoi` (after the core masked its line), and
/// returns the context to resume.
fn event(ev: Event, eoi: Option<u64>) -> *mut Context {
    let r = handler()(ev);
    if let Some(iar) = eoi {
        crate::machine::end_irq(iar);
    }
    resume(r)
}

/// Follows `r` to a context: idles until an interrupt leads to a thread. Sets the FP/SIMD
/// trap for it. Call it with the kernel lock released (idling takes it per interrupt).
/// The platform's `pecan_aarch64_svc` (the SVC route of `user.S`) ends with it.
#[inline]
pub fn resume(mut r: Resume<Context>) -> *mut Context {
    loop {
        match r {
            Resume::User(ctx) => {
                // SAFETY: the core's choice, a live context; IRQs are masked, so nothing
                // else uses this CPU's data now.
                unsafe {
                    let p = crate::percpu::this();
                    crate::fpu::prepare_return(p, ctx);
                    p.current = ctx;
                }
                return ctx;
            }
            Resume::Idle => r = idle(),
        }
    }
}

/// The idle loop: waits for an interrupt and handles it; returns where its handling leads.
/// A thread another CPU handed to this one (`handoff.rs`) is resumed without the kernel:
/// looked for before every wait (polling a while first with `crosscore-poll`) and after
/// a `Wake` SGI, which then is no kernel event.
fn idle() -> Resume<Context> {
    let me = crate::percpu::index();
    // SAFETY: IRQs are masked; nothing else uses this CPU's data now.
    unsafe { crate::percpu::this().current = core::ptr::null_mut() };
    loop {
        if let Some(c) = crate::handoff::poll(me) {
            return Resume::User(c);
        }
        crate::cpu::wait_masked();
        if let Some((ev, eoi)) = crate::machine::irq_event() {
            // The SGI of a ring, unless a kernel `Wake` withdrew it (irq_event served a
            // kick and ended the SGI).
            if matches!(ev, Event::Wake)
                && let Some(c) = crate::handoff::take(me)
            {
                return Resume::User(c);
            }
            let r = handler()(ev);
            if let Some(iar) = eoi {
                crate::machine::end_irq(iar);
            }
            return r;
        }
    }
}
