//! Handing events to the kernel and leaving it: the platform's event handler, the return
//! to user mode (checks, TSS.RSP0, FS base, lazy FPU, then `return.S`), and the idle loop.
//!
//! Every entry from user mode (`syscall.rs`, `trap.rs`) and every interrupt taken in the
//! idle loop ends in [`resume`] with what the handler answered; nothing returns to the
//! entry, and the per-CPU kernel stack starts from its top on the next entry.

use pecan_kernel::{Event, Resume};
use spin::Once;
use x86_64::VirtAddr;
use x86_64::registers::model_specific::FsBase;

use crate::context::{Context, FRAME_END};
use crate::guard::{self, Exit};
use crate::{fpu, gdt, percpu};

core::arch::global_asm!(include_str!("return.S"));

unsafe extern "C" {
    fn pecan_return_sysret(ctx: *mut Context) -> !;
    fn pecan_return_iret(ctx: *mut Context) -> !;
    fn pecan_idle(stack: u64) -> !;
}

/// The platform's event handler: locks the kernel, calls `pecan_kernel::run::handle`.
pub type Handler = fn(Event) -> Resume<Context>;

static HANDLER: Once<Handler> = Once::new();

/// Registers the kernel's event handler and goes where `first` says (the root task's
/// first thread, normally). Never returns.
pub fn start(handler: Handler, first: Resume<Context>) -> ! {
    HANDLER.call_once(|| handler);
    resume(first)
}

/// Whether the kernel registered its handler (secondary CPUs wait for it, then idle in
/// the kernel's sense: [`resume`] with `Resume::Idle`).
pub fn started() -> bool {
    HANDLER.get().is_some()
}

/// Hands `ev` to the kernel and returns where it says to go.
pub fn dispatch(ev: Event) -> Resume<Context> {
    // SAFETY: this CPU's block, interrupts disabled.
    unsafe { (*percpu::this()).idle = false };
    crate::handoff::stop_polling();
    let h = HANDLER.get().expect("an event before the kernel registered its handler");
    h(ev)
}

/// The running thread's context (null before the first thread ran).
pub fn current() -> *mut Context {
    // SAFETY: this CPU's block, interrupts disabled.
    unsafe { (*percpu::this()).current }
}

/// Goes where `r` says: back to user mode in the chosen thread, or into the idle loop.
pub fn resume(mut r: Resume<Context>) -> ! {
    loop {
        let c = match r {
            Resume::Idle => idle(),
            Resume::User(c) => c,
        };
        // SAFETY: the kernel answers with the current thread's context, alive in its TCB
        // and not referenced elsewhere while the kernel does not run; the borrow ends
        // before the kernel runs again.
        let checked = guard::check(unsafe { &mut (*c).regs });
        match checked {
            Ok(exit) => leave(c, exit),
            // The thread cannot run where its frame says: it takes that fault instead,
            // and the kernel decides again.
            Err(fault) => r = dispatch(Event::Fault(fault)),
        }
    }
}

/// [`resume`] for `Resume::User(c)`, inlined into a caller that knows where it goes (the
/// system-call route): the same checks, then the same exit.
///
/// # Safety
/// `c` is the context the kernel chose (its current thread's), alive in its TCB and not
/// referenced elsewhere while the kernel does not run.
#[inline(always)]
pub unsafe fn resume_user(c: *mut Context) -> ! {
    // SAFETY: the caller's promise.
    match guard::check(unsafe { &mut (*c).regs }) {
        Ok(exit) => leave(c, exit),
        Err(fault) => resume(dispatch(Event::Fault(fault))),
    }
}

/// Returns to user mode in `c`, which `guard::check` accepted.
#[inline(always)]
fn leave(c: *mut Context, exit: Exit) -> ! {
    // SAFETY: this CPU's block, interrupts disabled.
    let p = unsafe { &mut *percpu::this() };
    let frame_end = c as u64 + FRAME_END as u64;
    p.current = c;
    if p.frame_end != frame_end {
        p.frame_end = frame_end;
        gdt::set_kernel_stack(frame_end);
    }
    // SAFETY: `c` is alive (see `resume`); reading one word.
    let tls = unsafe { (*c).tls };
    if p.fs_ctx != c || p.fs_base != tls {
        // A non-canonical value would make WRMSR fault: it is sign-extended instead
        // (the core only sets UTCB addresses, which are user addresses).
        FsBase::write(VirtAddr::new_truncate(tls));
        p.fs_ctx = c;
        p.fs_base = tls;
    }
    // SAFETY: `c` is alive (see `resume`).
    unsafe { fpu::prepare_return(c) };
    // SAFETY: the frame passed `guard::check` (user cs/ss, sanitized rflags, rip in user
    // space, canonical rsp); TSS.RSP0 and gs:[frame_end] point at its end, so the next
    // entry saves into it; GS is the per-CPU block, which the exit swaps away.
    unsafe {
        match exit {
            Exit::Sysret => pecan_return_sysret(c),
            Exit::Iret => pecan_return_iret(c),
        }
    }
}

/// Returns to a thread handed to this CPU from its idle loop (`handoff.rs`), without the
/// kernel: the core made it this CPU's running thread and this CPU loaded its space.
///
/// # Safety
/// `c` is the context the core handed over (its running thread's here), alive in its TCB.
pub unsafe fn resume_handed(c: *mut Context) -> ! {
    // SAFETY: this CPU's block, interrupts disabled.
    unsafe { (*percpu::this()).idle = false };
    // SAFETY: the caller's promise.
    unsafe { resume_user(c) }
}

/// Called by `pecan_idle` before each halt (interrupts disabled, on the idle loop's
/// stack): returns only if no thread was handed to this CPU (after polling for one with
/// `crosscore-poll`).
#[unsafe(no_mangle)]
extern "C" fn pecan_x86_idle_look() {
    if let Some(c) = crate::handoff::before_halt() {
        // SAFETY: the doorbell holds only contexts the core handed over (`Hal::handoff`).
        unsafe { resume_handed(c) }
    }
}

/// Waits for an interrupt on the kernel stack with interrupts enabled.
fn idle() -> ! {
    // SAFETY: this CPU's block, interrupts disabled.
    let p = unsafe { &mut *percpu::this() };
    p.idle = true;
    // SAFETY: the kernel stack is free (nothing below this call is ever returned to), and
    // an interrupt taken in the loop comes back through `trap.rs`, which sees `idle`.
    unsafe { pecan_idle(p.kernel_stack) }
}
