//! Timeouts on each phase: zero and relative on the send and receive phases of a call, a
//! wait and a closed wait; never (blocking until the partner comes).

use core::time::Duration;
use pecan_abi::{Error, Phase};
use pecan_system::worker;
use pecan_user::{Msg, Timeouts, ipc};

use crate::env::{Env, code, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[("ipc-timeouts-per-phase", per_phase), ("ipc-timeout-never", never)];

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

fn per_phase(env: &Env<'_>) -> Result<(), Fail> {
    // A receiver that never waits (it sleeps): the send phase times out.
    let sleeper = env.helper(100, || {});
    let gs = env.gate(sleeper.thread, 1);
    // A receiver that takes calls and never answers: the receive phase times out.
    let w = env.worker(&[worker::WAIT], &[], 120);
    let gw = env.gate(w.child.thread, 2);
    let own = env.gate(env.me(), 3);
    let send_timeout = Some((Error::Timeout, Phase::Send));
    let recv_timeout = Some((Error::Timeout, Phase::Receive));
    let cases = [
        ("call, send 0", ipc::call(gs, &Msg::new(1), Timeouts::POLL).map(|_| ()), send_timeout),
        (
            "call, send 2 ms",
            ipc::call(gs, &Msg::new(1), Timeouts::new(ms(2), None)).map(|_| ()),
            send_timeout,
        ),
        ("send, send 2 ms", ipc::send(gs, &Msg::new(1), Timeouts::new(ms(2), None)), send_timeout),
        (
            "call, receive 0",
            ipc::call(gw, &Msg::new(1), Timeouts::new(None, ms(0))).map(|_| ()),
            recv_timeout,
        ),
        (
            "call, receive 3 ms",
            ipc::call(gw, &Msg::new(1), Timeouts::new(None, ms(3))).map(|_| ()),
            recv_timeout,
        ),
        ("wait, 0", ipc::wait(Timeouts::POLL).map(|_| ()), recv_timeout),
        ("wait, 2 ms", ipc::wait(Timeouts::new(None, ms(2))).map(|_| ()), recv_timeout),
        ("closed wait, 0", ipc::recv(own.any(), Timeouts::POLL).map(|_| ()), recv_timeout),
        (
            "closed wait on a thread, 2 ms",
            ipc::recv(sleeper.thread.any(), Timeouts::new(None, ms(2))).map(|_| ()),
            recv_timeout,
        ),
        ("sleep 0", ipc::recv(pecan_user::AnyCap::at(0), Timeouts::POLL).map(|_| ()), recv_timeout),
    ];
    // The worker is still alive after its callers gave up: it answers nothing, but takes
    // the next call (the call's send phase succeeds, then the receive phase times out).
    let alive = ipc::call(gw, &Msg::new(1), Timeouts::new(None, ms(1)));
    let _ = sleeper.thread.any().destroy();
    env.kill(&w);
    for g in [gs, gw, own] {
        let _ = g.any().destroy();
    }
    for (what, r, want) in cases {
        check!(code(&r) == want, "{what}: {:?}, expected {want:?}", code(&r));
    }
    check!(code(&alive) == recv_timeout, "the worker after timeouts: {:?}", code(&alive));
    Ok(())
}

fn never(env: &Env<'_>) -> Result<(), Fail> {
    // A send with timeout never blocks until the receiver (which first sleeps 3 ms) waits;
    // the receiver then answers through a gate this thread waits on without a timeout.
    let back = env.gate(env.me(), 0xbac);
    let h = env.helper(100, move || {
        ipc::sleep(Duration::from_millis(3));
        if let Ok(m) = ipc::wait(Timeouts::NEVER) {
            ipc::sleep(Duration::from_millis(3));
            let _ = ipc::send(back, &Msg::new(0).word(m.word(0)), Timeouts::NEVER);
        }
    });
    let g = env.gate(h.thread, 4);
    let sent = ipc::send(g, &Msg::new(1).word(0x600d), Timeouts::NEVER);
    let got = ipc::recv(back.any(), Timeouts::NEVER);
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    let _ = back.any().destroy();
    sent.map_err(fail("send, never"))?;
    let got = got.map_err(fail("closed wait, never"))?;
    check!(got.word(0) == 0x600d, "receiver got {:#x}", got.word(0));
    Ok(())
}
