//! IPC between address spaces and within one: send, call, reply and reply-and-wait, labels,
//! long messages, the simplest timeouts, sleep.

use core::time::Duration;
use pecan_abi::{CapRights, Error, Phase};
use pecan_system::worker;
use pecan_user::{Msg, Timeouts, ipc};

use crate::env::{Env, T, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("ipc-call-inter-as", call_inter_as),
    ("ipc-label-delivery", label_delivery),
    ("ipc-long-message", long_message),
    ("ipc-send-timeout-zero", send_timeout_zero),
    ("ipc-sleep", sleep),
    ("ipc-recv-timeout", recv_timeout),
    ("ipc-send-inter-as", send_inter_as),
    ("ipc-send-intra-as", send_intra_as),
    ("ipc-call-intra-as", call_intra_as),
    ("ipc-reply-wait-server", reply_wait_server),
];

/// A worker serving echo in its own task, with a gate bound to it.
fn echo(env: &Env<'_>, label: u64) -> (crate::env::Worker, pecan_user::Gate) {
    let w = env.worker(&[worker::ECHO], &[], 120);
    let g = env.gate(w.child.thread, label);
    (w, g)
}

fn call_inter_as(env: &Env<'_>) -> Result<(), Fail> {
    let (w, g) = echo(env, 0x42);
    let r =
        ipc::call(g, &Msg::new(5).word(10).word(20), Timeouts::NEVER).map_err(|e| alloc::format!("{e:?}"))?;
    env.kill(&w);
    check!(r.label() == 5, "reply label {}", r.label());
    check!(r.len() == 3 && r.word(0) == 11 && r.word(1) == 21, "reply words {:?}", (r.word(0), r.word(1)));
    check!(r.word(2) == 0x42, "server saw gate label {:#x}", r.word(2));
    Ok(())
}

fn label_delivery(env: &Env<'_>) -> Result<(), Fail> {
    let (w, g1) = echo(env, 111);
    let g2 = env.gate(w.child.thread, 222);
    let a = ipc::call(g1, &Msg::new(0), Timeouts::NEVER).map_err(|e| alloc::format!("{e:?}"))?;
    let b = ipc::call(g2, &Msg::new(0), Timeouts::NEVER).map_err(|e| alloc::format!("{e:?}"))?;
    env.kill(&w);
    let _ = g2.any().destroy();
    check!(a.word(0) == 111 && b.word(0) == 222, "labels seen: {} and {}", a.word(0), b.word(0));
    Ok(())
}

fn long_message(env: &Env<'_>) -> Result<(), Fail> {
    let (w, g) = echo(env, 1);
    let words: alloc::vec::Vec<u64> = (0..63).map(|i| i * 1000 + 7).collect();
    let r = ipc::call(g, &Msg::new(9).words(&words), Timeouts::NEVER).map_err(|e| alloc::format!("{e:?}"))?;
    env.kill(&w);
    check!(r.len() == 64, "{} words back", r.len());
    for (i, &x) in words.iter().enumerate() {
        check!(r.word(i) == x + 1, "word {i}: {} != {}", r.word(i), x + 1);
    }
    Ok(())
}

fn send_timeout_zero(env: &Env<'_>) -> Result<(), Fail> {
    // A gate bound to a thread that never waits: a send with timeout 0 fails at once.
    let w = env.worker(&[worker::TOUCH, 0x0000_3000_0000_0000, 0], &[], 90);
    let g = env.gate(w.child.thread, 1);
    let r = ipc::send(g, &Msg::new(1), Timeouts::POLL);
    let r2 = ipc::send(g, &Msg::new(1), Timeouts::new(Some(Duration::from_millis(3)), None));
    env.kill(&w);
    check!(r == Err(pecan_user::IpcError { error: Error::Timeout, phase: Phase::Send }), "timeout 0: {r:?}");
    check!(r2.map_err(|e| e.error) == Err(Error::Timeout), "relative: {r2:?}");
    Ok(())
}

fn sleep(env: &Env<'_>) -> Result<(), Fail> {
    // A sleep (closed wait on nil) ends with its timeout, not with a message that arrives
    // meanwhile; the message stays queued for the next wait.
    let g = env.gate(env.me(), 0x55);
    let h = env.helper(100, move || {
        let _ = ipc::send(g, &Msg::new(3).word(33), Timeouts::NEVER);
    });
    let slept = ipc::recv(pecan_user::AnyCap::at(0), Timeouts::new(None, Some(Duration::from_millis(3))));
    let queued = h.thread.read_regs().map(|r| r[2]);
    let next = ipc::wait(Timeouts::POLL);
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    let e = slept.map(|_| ()).map_err(|e| (e.error, e.phase));
    check!(e == Err((Error::Timeout, Phase::Receive)), "sleep ended with {e:?}");
    check!(queued == Ok(2), "the sender was not queued during the sleep: {queued:?}");
    let next = next.map_err(fail("the message after the sleep"))?;
    check!((next.gate_label, next.word(0)) == (0x55, 33), "then got {:?}", (next.gate_label, next.word(0)));
    Ok(())
}

fn recv_timeout(env: &Env<'_>) -> Result<(), Fail> {
    let g = env.gate(env.me(), 5);
    let r = ipc::recv(g.any(), Timeouts::new(None, Some(Duration::from_millis(2))));
    let _ = g.any().destroy();
    check!(
        r.map(|_| ()).map_err(|e| (e.error, e.phase)) == Err((Error::Timeout, Phase::Receive)),
        "got {r:?}"
    );
    Ok(())
}

fn send_inter_as(env: &Env<'_>) -> Result<(), Fail> {
    // A plain send returns once delivered; the worker reports what it received.
    let w = env.worker(&[worker::RECV], &[], 120);
    let g = env.gate(w.child.thread, 0x51);
    let r = ipc::send(g, &Msg::new(7).word(99).word(100), Timeouts::NEVER);
    let rep = env.report(&w, Duration::from_secs(2));
    env.release();
    env.kill(&w);
    let _ = g.any().destroy();
    r.map_err(fail("send"))?;
    let rep = rep.map_err(fail("report"))?;
    let got = [rep.word(0), rep.word(1), rep.word(2), rep.word(3), rep.word(4)];
    check!(got == [0, 7, 0x51, 2, 99], "worker received [status, label, gate label, words, w0] = {got:?}");
    Ok(())
}

fn send_intra_as(env: &Env<'_>) -> Result<(), Fail> {
    // A thread of this task waits; it sends what it got back through a second gate.
    let back = env.gate(env.me(), 0xbac);
    let h = env.helper(100, move || {
        if let Ok(m) = ipc::wait(Timeouts::NEVER) {
            let _ = ipc::send(back, &Msg::new(m.label()).word(m.gate_label).word(m.word(0)), Timeouts::NEVER);
        }
    });
    let g = env.gate(h.thread, 0x52);
    let r = ipc::send(g, &Msg::new(8).word(123), Timeouts::NEVER);
    let b = ipc::recv(back.any(), T);
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    let _ = back.any().destroy();
    r.map_err(fail("send"))?;
    let b = b.map_err(fail("back"))?;
    check!(b.gate_label == 0xbac, "back gate label {:#x}", b.gate_label);
    check!(
        (b.label(), b.word(0), b.word(1)) == (8, 0x52, 123),
        "helper got {:?}",
        (b.label(), b.word(0), b.word(1))
    );
    Ok(())
}

fn call_intra_as(env: &Env<'_>) -> Result<(), Fail> {
    let h = env.helper(100, || {
        pecan_user::server::serve(|req| {
            Some(Msg::new(req.label()).word(req.word(0) * 2).word(req.gate_label))
        })
    });
    let g = env.gate(h.thread, 0x53);
    let mut res = alloc::vec::Vec::new();
    for i in 0..5 {
        res.push(ipc::call(g, &Msg::new(100 + i).word(i), T));
    }
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    for (i, r) in res.into_iter().enumerate() {
        let r = r.map_err(fail("call"))?;
        let got = (r.label(), r.gate_label, r.word(0), r.word(1));
        check!(
            got == (100 + i as u64, 0, 2 * i as u64, 0x53),
            "call {i}: (label, gate label, w0, w1) = {got:?}"
        );
    }
    Ok(())
}

fn reply_wait_server(env: &Env<'_>) -> Result<(), Fail> {
    // This thread serves a worker's five calls with wait + reply-and-wait + reply.
    let g = env.gate(env.me(), 0x54);
    let w = env.worker(&[worker::CALL, 5], &[(g.sel(), worker::TARGET_SLOT, CapRights::SEND)], 120);
    let serve = || -> Result<(), Fail> {
        let mut m = ipc::recv(g.any(), T).map_err(fail("first receive"))?;
        for k in 0..5 {
            check!(
                m.gate_label == 0x54 && m.word(0) == k,
                "call {k}: label {:#x} word {}",
                m.gate_label,
                m.word(0)
            );
            let reply = Msg::new(0).word(k + 1);
            if k < 4 {
                m = ipc::reply_wait(&reply, T).map_err(fail("reply-and-wait"))?;
            } else {
                ipc::reply(&reply).map_err(fail("reply"))?;
            }
        }
        Ok(())
    };
    let r = serve();
    let rep = env.report(&w, Duration::from_secs(2));
    env.release();
    env.kill(&w);
    let _ = g.any().destroy();
    r?;
    let rep = rep.map_err(fail("report"))?;
    check!(
        (rep.word(0), rep.word(1)) == (5, 0),
        "worker: {} good calls, last error {}",
        rep.word(0),
        rep.word(1)
    );
    Ok(())
}
