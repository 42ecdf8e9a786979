//! Open and closed waits: open wait across several gates (FIFO, labels), closed wait on one
//! gate and on one thread while others queue.

use core::sync::atomic::{AtomicU64, Ordering};
use pecan_abi::{Error, Phase};
use pecan_user::{Gate, Msg, Received, Timeouts, ipc};

use crate::env::{Env, T, code, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("ipc-open-wait-several-gates", open_wait_several_gates),
    ("ipc-closed-wait-gate", closed_wait_gate),
    ("ipc-closed-wait-thread", closed_wait_thread),
    ("ipc-call-to-closed-waiter", call_to_closed_waiter),
];

/// A helper that sends `[word]` with `label` through `g` once.
fn sender(env: &Env<'_>, g: Gate, label: u64, word: u64) -> pecan_system::rootthread::RootThread {
    env.helper(100, move || {
        let _ = ipc::send(g, &Msg::new(label).word(word), Timeouts::NEVER);
    })
}

fn what(m: &Received) -> (u64, u64, u64) {
    (m.gate_label, m.label(), m.word(0))
}

fn open_wait_several_gates(env: &Env<'_>) -> Result<(), Fail> {
    let gates = [env.gate(env.me(), 0x10), env.gate(env.me(), 0x20), env.gate(env.me(), 0x30)];
    let senders: alloc::vec::Vec<_> =
        gates.iter().enumerate().map(|(i, &g)| sender(env, g, i as u64 + 1, 100 * (i as u64 + 1))).collect();
    // Once all three are queued, open waits take them in the order they came.
    let mut queued = Ok(());
    for s in &senders {
        queued = queued.and(env.wait_state(s.thread, 2));
    }
    let got: alloc::vec::Vec<_> = (0..3).map(|_| ipc::wait(Timeouts::POLL)).collect();
    let empty = ipc::wait(Timeouts::POLL);
    for s in &senders {
        let _ = s.thread.any().destroy();
    }
    for g in gates {
        let _ = g.any().destroy();
    }
    queued?;
    for (i, r) in got.into_iter().enumerate() {
        let m = r.map_err(fail("open wait"))?;
        let k = i as u64 + 1;
        check!(what(&m) == (0x10 * k, k, 100 * k), "message {i}: (gate label, label, word) = {:?}", what(&m));
    }
    check!(code(&empty) == Some((Error::Timeout, Phase::Receive)), "fourth wait: {:?}", code(&empty));
    Ok(())
}

fn closed_wait_gate(env: &Env<'_>) -> Result<(), Fail> {
    let (ga, gb) = (env.gate(env.me(), 0xa), env.gate(env.me(), 0xb));
    let a = sender(env, ga, 1, 11);
    let b = sender(env, gb, 2, 22);
    let queued = env.wait_state(a.thread, 2).and(env.wait_state(b.thread, 2));
    // B's message first although A queued first; then A's; then nothing on A.
    let first = ipc::recv(gb.any(), Timeouts::POLL);
    let second = ipc::recv(ga.any(), Timeouts::POLL);
    let third = ipc::recv(ga.any(), Timeouts::POLL);
    // A gate bound to someone else cannot be waited on.
    let other = env.gate(a.thread, 0xc);
    let not_mine = ipc::recv(other.any(), Timeouts::POLL);
    for t in [a, b] {
        let _ = t.thread.any().destroy();
    }
    for g in [ga, gb, other] {
        let _ = g.any().destroy();
    }
    queued?;
    let first = first.map_err(fail("closed wait on B"))?;
    let second = second.map_err(fail("closed wait on A"))?;
    check!(what(&first) == (0xb, 2, 22), "from B: {:?}", what(&first));
    check!(what(&second) == (0xa, 1, 11), "from A: {:?}", what(&second));
    check!(code(&third) == Some((Error::Timeout, Phase::Receive)), "A again: {:?}", code(&third));
    check!(code(&not_mine) == Some((Error::NotBound, Phase::Receive)), "foreign gate: {:?}", code(&not_mine));
    Ok(())
}

fn closed_wait_thread(env: &Env<'_>) -> Result<(), Fail> {
    let g = env.gate(env.me(), 0x77);
    let a = sender(env, g, 1, 11);
    let b = sender(env, g, 2, 22);
    let queued = env.wait_state(a.thread, 2).and(env.wait_state(b.thread, 2));
    // From B (queued second) only; then B has nothing more; then A's by open wait.
    let from_b = ipc::recv(b.thread.any(), Timeouts::POLL);
    let b_again = ipc::recv(b.thread.any(), Timeouts::POLL);
    let rest = ipc::wait(Timeouts::POLL);
    // A closed wait on a thread that has not sent yet blocks until it does.
    let c = sender(env, g, 3, 33);
    let from_c = ipc::recv(c.thread.any(), T);
    for t in [a, b, c] {
        let _ = t.thread.any().destroy();
    }
    let _ = g.any().destroy();
    queued?;
    let from_b = from_b.map_err(fail("closed wait on B"))?;
    check!(what(&from_b) == (0x77, 2, 22), "from B: {:?}", what(&from_b));
    check!(code(&b_again) == Some((Error::Timeout, Phase::Receive)), "B again: {:?}", code(&b_again));
    let rest = rest.map_err(fail("open wait"))?;
    check!(what(&rest) == (0x77, 1, 11), "then A: {:?}", what(&rest));
    let from_c = from_c.map_err(fail("closed wait on C"))?;
    check!(what(&from_c) == (0x77, 3, 33), "from C: {:?}", what(&from_c));
    Ok(())
}

fn call_to_closed_waiter(env: &Env<'_>) -> Result<(), Fail> {
    // A server in a closed wait on gate B; this thread calls it through gate A: the call
    // waits until the server's open wait, after a second client's call through B. The
    // server has this thread's priority and the timeouts are never, so the IPC fast path
    // is asked (and must decline: the server does not wait for gate A).
    static GATES: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
    static OTHER: AtomicU64 = AtomicU64::new(0);
    let server = env.helper_created(200, || {
        let b = pecan_user::AnyCap::at(GATES[1].load(Ordering::SeqCst));
        if let Ok(m) = ipc::recv(b, Timeouts::NEVER) {
            let _ = ipc::reply(&Msg::new(0).word(m.gate_label));
        }
        if let Ok(m) = ipc::wait(Timeouts::NEVER) {
            let _ = ipc::reply(&Msg::new(0).word(m.gate_label + 1000));
        }
    });
    let (ga, gb) = (env.gate(server.thread, 0xa), env.gate(server.thread, 0xb));
    GATES[0].store(ga.sel(), Ordering::SeqCst);
    GATES[1].store(gb.sel(), Ordering::SeqCst);
    OTHER.store(0, Ordering::SeqCst);
    let client = env.helper_created(90, move || {
        let r = ipc::call(Gate::at(GATES[1].load(Ordering::SeqCst)), &Msg::new(1), Timeouts::NEVER);
        OTHER.store(r.map_or(u64::MAX, |m| m.word(0)), Ordering::SeqCst);
    });
    let r = (|| {
        server.thread.start().map_err(fail("start the server"))?;
        env.wait_state(server.thread, 3)?;
        client.thread.start().map_err(fail("start the client"))?;
        let dog = env.watchdog(2000);
        let mine = ipc::call(ga, &Msg::new(1), Timeouts::NEVER);
        let _ = dog.thread.any().destroy();
        let mine = mine.map_err(fail("call through A"))?;
        check!(mine.word(0) == 0xa + 1000, "the server took this call as {:#x}", mine.word(0));
        env.wait_for(100, || OTHER.load(Ordering::SeqCst) != 0);
        let other = OTHER.load(Ordering::SeqCst);
        check!(other == 0xb, "the server took the other call as {other:#x}");
        Ok(())
    })();
    for t in [server, client] {
        let _ = t.thread.any().destroy();
    }
    let _ = ga.any().destroy();
    let _ = gb.any().destroy();
    r
}
