//! User faults: a null dereference (an unresolvable page fault at 0, recorded by the pager),
//! an illegal and a privileged instruction (exceptions to the pager, which is also the
//! exception handler), a fault with no usable handler; after each the kernel goes on.

use core::sync::atomic::{AtomicU64, Ordering};
use pecan_abi::MemRights;
use pecan_abi::proto::{self, exception};
use pecan_system::pager::Crash;
use pecan_system::worker;
use pecan_user::{Msg, ipc};

use crate::env::{Env, T, Worker, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("fault-null-dereference", null_deref),
    ("fault-illegal-instruction", illegal),
    ("fault-privileged-instruction", privileged),
    ("fault-without-handler", without_handler),
];

/// Runs worker command `cmd`, returns the crash the pager recorded and the thread's state
/// afterwards (0 inactive: killed by the pager's reply; 4: waiting for a reply that never
/// comes), then checks that a new worker still answers.
fn crash_of(env: &Env<'_>, cmd: u64, state: u64) -> Result<Crash, Fail> {
    let w = env.worker(&[cmd], &[], 120);
    let r = (|| {
        let c = env.crash(&w)?;
        env.wait_state(w.child.thread, state)?;
        Ok(c)
    })();
    env.kill(&w);
    still_running(env)?;
    r
}

/// The kernel still serves IPC between address spaces.
fn still_running(env: &Env<'_>) -> Result<(), Fail> {
    let w: Worker = env.worker(&[worker::ECHO], &[], 120);
    let g = env.gate(w.child.thread, 9);
    let r = ipc::call(g, &Msg::new(1).word(1), T);
    env.kill(&w);
    let _ = g.any().destroy();
    let r = r.map_err(fail("echo after the fault"))?;
    check!(r.word(0) == 2, "echo answered {}", r.word(0));
    Ok(())
}

fn null_deref(env: &Env<'_>) -> Result<(), Fail> {
    let c = crash_of(env, worker::NULL_DEREF, 4)?;
    let got = (c.kind, c.words[0], c.words[2]);
    check!(got == (proto::PAGE_FAULT, 0, MemRights::R.0 as u64), "(kind, address, access) = {got:#x?}");
    Ok(())
}

fn illegal(env: &Env<'_>) -> Result<(), Fail> {
    let c = crash_of(env, worker::ILLEGAL, 0)?;
    let got = (c.kind, c.words[exception::KIND]);
    check!(got == (proto::EXCEPTION, exception::KIND_ILLEGAL), "(protocol, kind) = {got:#x?}");
    check!(c.words[exception::IP] >= pecan_abi::layout::USER_IMAGE_BASE, "ip {:#x}", c.words[exception::IP]);
    Ok(())
}

fn privileged(env: &Env<'_>) -> Result<(), Fail> {
    let c = crash_of(env, worker::PRIVILEGED, 0)?;
    let got = (c.kind, c.words[exception::KIND]);
    check!(got == (proto::EXCEPTION, exception::KIND_PRIVILEGED), "(protocol, kind) = {got:#x?}");
    Ok(())
}

fn without_handler(env: &Env<'_>) -> Result<(), Fail> {
    // A thread of this task whose pager is an empty slot touches unmapped memory: it stops.
    static REACHED: AtomicU64 = AtomicU64::new(0);
    let at = env.scratch();
    let h = env.helper_created(100, move || {
        REACHED.store(1, Ordering::SeqCst);
        // SAFETY: deliberately faulting; nothing is mapped there.
        unsafe { (at as *mut u64).write_volatile(1) };
        REACHED.store(2, Ordering::SeqCst);
    });
    let r = (|| {
        h.thread.configure(60_000, 60_000).map_err(fail("configure"))?;
        h.thread.start().map_err(fail("start"))?;
        // It runs (and stops) once this thread sleeps.
        env.wait_for(1000, || REACHED.load(Ordering::SeqCst) != 0);
        env.sleep_ms(1);
        let state = h.thread.read_regs().map_err(fail("read_regs"))?[2];
        let reached = REACHED.load(Ordering::SeqCst);
        check!(reached == 1 && state == 0, "the thread got to step {reached} and is in state {state}");
        Ok(())
    })();
    let _ = h.thread.any().destroy();
    r.and_then(|_| still_running(env))
}
