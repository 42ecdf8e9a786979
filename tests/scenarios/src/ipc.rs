//! IPC between address spaces and within one: call and reply-and-wait, labels, long
//! messages, timeouts, sleep, the reply capability.

use core::time::Duration;
use pecan_abi::{Error, Phase};
use pecan_system::worker;
use pecan_user::{Msg, Timeouts, ipc};

use crate::env::Env;
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("ipc-call-inter-as", call_inter_as),
    ("ipc-label-delivery", label_delivery),
    ("ipc-long-message", long_message),
    ("ipc-send-timeout-zero", send_timeout_zero),
    ("ipc-sleep", sleep),
    ("ipc-recv-timeout", recv_timeout),
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
    env.sleep_ms(5);
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
