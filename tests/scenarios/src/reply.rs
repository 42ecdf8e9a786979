//! The implicit reply capability: single use, invalid once the next wait starts, kept
//! across a nested call, and absent after a plain send.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use pecan_abi::{CapRights, Error, Phase};
use pecan_system::worker;
use pecan_user::{Msg, Timeouts, ipc};

use crate::env::{Env, T, code, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("ipc-reply-cap-single-use", single_use),
    ("ipc-reply-cap-invalid-after-wait", invalid_after_wait),
    ("ipc-reply-cap-nested-call", nested_call),
    ("ipc-reply-wait-queued-caller", reply_wait_queued_caller),
];

const NO_REPLY_CAP: Option<(Error, Phase)> = Some((Error::NoReplyCap, Phase::Send));

fn single_use(env: &Env<'_>) -> Result<(), Fail> {
    let g = env.gate(env.me(), 0x61);
    let w = env.worker(&[worker::CALL, 1], &[(g.sel(), worker::TARGET_SLOT, CapRights::SEND)], 120);
    let call = ipc::recv(g.any(), T);
    let first = ipc::reply(&Msg::new(0).word(1));
    let second = ipc::reply(&Msg::new(0).word(1));
    let rep = env.report(&w, Duration::from_secs(2));
    env.release();
    env.kill(&w);
    // A message sent (not called) gives no reply capability.
    let h = env.helper(100, move || {
        let _ = ipc::send(g, &Msg::new(5), Timeouts::NEVER);
    });
    let sent = ipc::recv(g.any(), T);
    let after_send = ipc::reply(&Msg::new(0));
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    call.map_err(fail("receive the call"))?;
    first.map_err(fail("first reply"))?;
    check!(code(&second) == NO_REPLY_CAP, "second reply: {:?}", code(&second));
    let rep = rep.map_err(fail("report"))?;
    check!((rep.word(0), rep.word(1)) == (1, 0), "caller: {} good calls, error {}", rep.word(0), rep.word(1));
    sent.map_err(fail("receive the send"))?;
    check!(code(&after_send) == NO_REPLY_CAP, "reply to a send: {:?}", code(&after_send));
    Ok(())
}

fn invalid_after_wait(env: &Env<'_>) -> Result<(), Fail> {
    // Two callers; after each call arrives, a wait (open, then a closed wait as sleep)
    // starts before the reply: the reply capability is gone and the caller keeps waiting.
    let g = env.gate(env.me(), 0x62);
    let caps = [(g.sel(), worker::TARGET_SLOT, CapRights::SEND)];
    let (a, b) = (env.worker(&[worker::CALL, 1], &caps, 120), env.worker(&[worker::CALL, 1], &caps, 120));
    let r = (|| {
        ipc::recv(g.any(), T).map_err(fail("first call"))?;
        let poll = ipc::wait(Timeouts::POLL);
        check!(code(&poll) == Some((Error::Timeout, Phase::Receive)), "open wait: {:?}", code(&poll));
        let after_wait = ipc::reply(&Msg::new(0).word(1));
        check!(code(&after_wait) == NO_REPLY_CAP, "reply after a wait: {:?}", code(&after_wait));
        ipc::recv(g.any(), T).map_err(fail("second call"))?;
        env.sleep_ms(1);
        let after_sleep = ipc::reply(&Msg::new(0).word(1));
        check!(code(&after_sleep) == NO_REPLY_CAP, "reply after a sleep: {:?}", code(&after_sleep));
        for w in [&a, &b] {
            let s = w.child.thread.read_regs().map_err(fail("read_regs"))?[2];
            check!(s == 4, "a caller is in state {s}, not waiting for its reply");
        }
        Ok(())
    })();
    env.kill(&a);
    env.kill(&b);
    let _ = g.any().destroy();
    r
}

fn nested_call(env: &Env<'_>) -> Result<(), Fail> {
    // Between receiving a call and replying, this thread calls another server.
    let g = env.gate(env.me(), 0x63);
    let a = env.worker(&[worker::CALL, 1], &[(g.sel(), worker::TARGET_SLOT, CapRights::SEND)], 120);
    let e = env.worker(&[worker::ECHO], &[], 120);
    let ge = env.gate(e.child.thread, 0xe);
    let r = (|| {
        let m = ipc::recv(g.any(), T).map_err(fail("the call"))?;
        let inner = ipc::call(ge, &Msg::new(2).word(10), T).map_err(fail("nested call"))?;
        check!(
            (inner.word(0), inner.word(1)) == (11, 0xe),
            "nested reply {:?}",
            (inner.word(0), inner.word(1))
        );
        ipc::reply(&Msg::new(0).word(m.word(0) + 1)).map_err(fail("reply after the nested call"))?;
        let rep = env.report(&a, Duration::from_secs(2)).map_err(fail("report"))?;
        env.release();
        check!((rep.word(0), rep.word(1)) == (1, 0), "caller: {} good, error {}", rep.word(0), rep.word(1));
        Ok(())
    })();
    env.kill(&a);
    env.kill(&e);
    let _ = g.any().destroy();
    let _ = ge.any().destroy();
    r
}

fn reply_wait_queued_caller(env: &Env<'_>) -> Result<(), Fail> {
    // Two callers queue; after the first call is received, a reply-and-wait must reply and
    // take the second call at once. The callers have this thread's priority and the
    // timeouts are never, so the IPC fast path is asked (and must decline: a caller is
    // queued).
    static GOT: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
    let g = env.gate(env.me(), 0x64);
    let callers: alloc::vec::Vec<_> = (0..2u64)
        .map(|i| {
            GOT[i as usize].store(0, Ordering::SeqCst);
            env.helper(200, move || {
                let r = ipc::call(g, &Msg::new(1).word(10 + i), Timeouts::NEVER);
                GOT[i as usize].store(r.map_or(u64::MAX, |m| m.word(0)), Ordering::SeqCst);
            })
        })
        .collect();
    let r = (|| {
        for c in &callers {
            env.wait_state(c.thread, 2)?;
        }
        let first = ipc::recv(g.any(), T).map_err(fail("first call"))?;
        let dog = env.watchdog(2000);
        let second = ipc::reply_wait(&Msg::new(0).word(first.word(0) + 1), Timeouts::NEVER);
        let _ = dog.thread.any().destroy();
        let second = second.map_err(fail("reply-and-wait with a caller queued"))?;
        check!(second.gate_label == 0x64, "then got gate label {:#x}", second.gate_label);
        let words = [first.word(0), second.word(0)];
        check!(words == [10, 11], "calls received in the order {words:?}");
        ipc::reply(&Msg::new(0).word(second.word(0) + 1)).map_err(fail("second reply"))?;
        env.wait_for(100, || GOT.iter().all(|g| g.load(Ordering::SeqCst) != 0));
        let got = [GOT[0].load(Ordering::SeqCst), GOT[1].load(Ordering::SeqCst)];
        check!(got == [11, 12], "the callers got {got:?}");
        Ok(())
    })();
    for c in callers {
        let _ = c.thread.any().destroy();
    }
    let _ = g.any().destroy();
    r
}
