//! Threads: deletion while a partner is blocked on either side (`PartnerDeleted`),
//! cancellation, suspension and deletion of the object waited on (`Cancelled`), FP/SIMD
//! state kept across switches between two workers.

use core::time::Duration;
use pecan_abi::{Error, Phase};
use pecan_system::rootthread::RootThread;
use pecan_system::worker;
use pecan_user::{AnyCap, Gate, Msg, Timeouts, ipc};

use crate::env::{Env, T, code, fail, st, status};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("thread-deleted-callee", deleted_callee),
    ("thread-deleted-receiver", deleted_receiver),
    ("thread-cancel", cancel),
    ("thread-fpu-two-workers", fpu_two_workers),
];

/// What a helper does before it reports the status through `back`.
#[derive(Clone, Copy)]
enum Op {
    Call(Gate),
    Send(Gate),
    Recv(AnyCap),
}

/// A helper that performs `op` (timeouts never) and sends its status through `back`.
fn blocked(env: &Env<'_>, op: Op, back: Gate) -> RootThread {
    env.helper(100, move || {
        let s = match op {
            Op::Call(g) => status(&ipc::call(g, &Msg::new(1), Timeouts::NEVER)),
            Op::Send(g) => status(&ipc::send(g, &Msg::new(1), Timeouts::NEVER)),
            Op::Recv(c) => status(&ipc::recv(c, Timeouts::NEVER)),
        };
        let _ = ipc::send(back, &Msg::new(0).word(s), Timeouts::NEVER);
    })
}

/// The status `h` reported through `back`.
fn outcome(back: Gate) -> Result<u64, Fail> {
    ipc::recv(back.any(), T).map(|m| m.word(0)).map_err(fail("the blocked thread never returned"))
}

fn deleted_callee(env: &Env<'_>) -> Result<(), Fail> {
    // A caller waits for the reply of a server that took its call; the server is deleted.
    let back = env.gate(env.me(), 0xbac);
    let w = env.worker(&[worker::WAIT], &[], 120);
    let g = env.gate(w.child.thread, 1);
    let h = blocked(env, Op::Call(g), back);
    let r = (|| {
        env.wait_state(h.thread, 4)?;
        env.kill(&w);
        let s = outcome(back)?;
        check!(s == st(Error::PartnerDeleted, Phase::Receive), "caller got {s:#x}");
        Ok(())
    })();
    env.kill(&w);
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    let _ = back.any().destroy();
    r
}

fn deleted_receiver(env: &Env<'_>) -> Result<(), Fail> {
    // A sender queued on a thread that never waits, and a thread in a closed wait on that
    // thread: both learn that it was deleted.
    let back = env.gate(env.me(), 0xbac);
    let back2 = env.gate(env.me(), 0xbad);
    let target = env.helper(100, || {});
    let g = env.gate(target.thread, 1);
    let sender = blocked(env, Op::Send(g), back);
    let waiter = blocked(env, Op::Recv(target.thread.any()), back2);
    let r = (|| {
        env.wait_state(sender.thread, 2)?;
        env.wait_state(waiter.thread, 3)?;
        target.thread.any().destroy().map_err(fail("destroy"))?;
        let s = outcome(back)?;
        check!(s == st(Error::PartnerDeleted, Phase::Send), "sender got {s:#x}");
        let s = outcome(back2)?;
        check!(s == st(Error::PartnerDeleted, Phase::Receive), "closed waiter got {s:#x}");
        // The gate outlives its thread, bound to nobody.
        let c = code(&ipc::send(g, &Msg::new(1), Timeouts::POLL));
        check!(c == Some((Error::NotBound, Phase::Send)), "send through the orphaned gate: {c:?}");
        Ok(())
    })();
    for t in [target, sender, waiter] {
        let _ = t.thread.any().destroy();
    }
    for x in [g, back, back2] {
        let _ = x.any().destroy();
    }
    r
}

/// Cancellation: CANCEL of a closed wait, SUSPEND (and START) of a sender, deletion and
/// unbinding of the gate a sender is queued on.
fn cancel(env: &Env<'_>) -> Result<(), Fail> {
    let back = env.gate(env.me(), 0xbac);
    let idle = env.helper(100, || {});
    let g_idle = env.gate(idle.thread, 1);
    let g_other = env.gate(idle.thread, 2);
    let a = blocked(env, Op::Recv(idle.thread.any()), back);
    let b = blocked(env, Op::Send(g_idle), back);
    let c = blocked(env, Op::Send(g_idle), back);
    let d = blocked(env, Op::Send(g_other), back);
    let r = (|| {
        env.wait_state(a.thread, 3)?;
        a.thread.cancel().map_err(fail("cancel"))?;
        let s = outcome(back)?;
        check!(s == st(Error::Cancelled, Phase::Receive), "cancelled wait: {s:#x}");
        env.wait_state(b.thread, 2)?;
        b.thread.suspend().map_err(fail("suspend"))?;
        let state = b.thread.read_regs().map_err(fail("read_regs"))?[2];
        check!(state == 0, "suspended thread in state {state}");
        b.thread.start().map_err(fail("start"))?;
        let s = outcome(back)?;
        check!(s == st(Error::Cancelled, Phase::Send), "suspended send: {s:#x}");
        env.wait_state(c.thread, 2)?;
        g_idle.any().destroy().map_err(fail("destroy the gate"))?;
        let s = outcome(back)?;
        check!(s == st(Error::Cancelled, Phase::Send), "send to a deleted gate: {s:#x}");
        env.wait_state(d.thread, 2)?;
        g_other.unbind().map_err(fail("unbind"))?;
        let s = outcome(back)?;
        check!(s == st(Error::Cancelled, Phase::Send), "send to an unbound gate: {s:#x}");
        Ok(())
    })();
    for t in [idle, a, b, c, d] {
        let _ = t.thread.any().destroy();
    }
    for x in [g_idle, g_other, back] {
        let _ = x.any().destroy();
    }
    r
}

fn fpu_two_workers(env: &Env<'_>) -> Result<(), Fail> {
    // Two workers of one priority keep different values in their FP/SIMD registers while
    // they yield to each other.
    let a = env.worker(&[worker::FPU, 0x1111_2222_3333_4444, 300], &[], 110);
    let b = env.worker(&[worker::FPU, 0x5555_6666_7777_8888, 300], &[], 110);
    let ra = env.report(&a, Duration::from_secs(5));
    env.release();
    let rb = env.report(&b, Duration::from_secs(5));
    env.release();
    env.kill(&a);
    env.kill(&b);
    let (ra, rb) = (ra.map_err(fail("A's report"))?, rb.map_err(fail("B's report"))?);
    check!(ra.word(0) == 1 && rb.word(0) == 1, "registers intact: A {}, B {}", ra.word(0), rb.word(0));
    Ok(())
}
