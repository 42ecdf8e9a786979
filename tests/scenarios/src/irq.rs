//! IRQ objects (software-triggered): delivered to a waiting thread, pending until the next
//! wait (open or closed), coalesced while pending, acknowledged; pending across a detach and
//! a new attach; a detach cancels a closed wait on the IRQ.

use pecan_abi::{Error, Phase, proto};
use pecan_system::slots::SLOTS;
use pecan_user::{Irq, Msg, Received, Timeouts, ipc};

use crate::env::{Env, T, code, fail, st, status};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("irq-delivered-when-waiting", delivered_when_waiting),
    ("irq-pending-until-wait", pending_until_wait),
    ("irq-detach-cancels-wait", detach_cancels_wait),
    ("irq-to-other-task", to_other_task),
];

fn new_irq(env: &Env<'_>) -> Result<Irq, Fail> {
    env.factory().create_irq(SLOTS.alloc()).map_err(fail("create_irq"))
}

fn is_irq(m: &Received, label: u64) -> bool {
    m.label() == proto::IRQ && m.gate_label == label && m.is_empty()
}

fn delivered_when_waiting(env: &Env<'_>) -> Result<(), Fail> {
    // This thread waits on the IRQ; a helper (which runs only once it waits) triggers it.
    let irq = new_irq(env)?;
    let r = (|| {
        irq.attach(env.me(), 0x99).map_err(fail("attach"))?;
        let h = env.helper(100, move || {
            let _ = irq.trigger();
        });
        let m = ipc::recv(irq.any(), T);
        let _ = h.thread.any().destroy();
        let m = m.map_err(fail("closed wait on the IRQ"))?;
        check!(is_irq(&m, 0x99), "got label {:#x}, gate label {:#x}", m.label(), m.gate_label);
        irq.ack().map_err(fail("ack"))?;
        // The same through an open wait.
        let h = env.helper(100, move || {
            let _ = irq.trigger();
        });
        let m = ipc::wait(T);
        let _ = h.thread.any().destroy();
        let m = m.map_err(fail("open wait"))?;
        check!(is_irq(&m, 0x99), "open wait got label {:#x}", m.label());
        irq.ack().map_err(fail("ack"))?;
        Ok(())
    })();
    let _ = irq.any().destroy();
    r
}

fn pending_until_wait(env: &Env<'_>) -> Result<(), Fail> {
    let irq = new_irq(env)?;
    let r = (|| {
        irq.attach(env.me(), 0x98).map_err(fail("attach"))?;
        // Triggered twice before anyone waits: one delivery at the next wait, then nothing.
        irq.trigger().map_err(fail("trigger"))?;
        irq.trigger().map_err(fail("trigger again"))?;
        let m = ipc::wait(Timeouts::POLL).map_err(fail("wait for the pending IRQ"))?;
        check!(is_irq(&m, 0x98), "got label {:#x}", m.label());
        let none = ipc::wait(Timeouts::POLL);
        check!(code(&none) == Some((Error::Timeout, Phase::Receive)), "second delivery: {:?}", code(&none));
        irq.ack().map_err(fail("ack"))?;
        // Pending, then taken by a closed wait on the IRQ.
        irq.trigger().map_err(fail("trigger"))?;
        let m = ipc::recv(irq.any(), Timeouts::POLL).map_err(fail("closed wait"))?;
        check!(is_irq(&m, 0x98), "closed wait got label {:#x}", m.label());
        irq.ack().map_err(fail("ack"))?;
        // Triggered while detached: pending in the object, delivered after the next attach.
        irq.detach().map_err(fail("detach"))?;
        irq.trigger().map_err(fail("trigger detached"))?;
        let none = ipc::wait(Timeouts::POLL);
        check!(
            code(&none) == Some((Error::Timeout, Phase::Receive)),
            "delivered while detached: {:?}",
            code(&none)
        );
        irq.attach(env.me(), 0x97).map_err(fail("attach again"))?;
        let m = ipc::wait(Timeouts::POLL).map_err(fail("wait after attach"))?;
        check!(is_irq(&m, 0x97), "after attach: label {:#x}, gate label {:#x}", m.label(), m.gate_label);
        irq.ack().map_err(fail("ack"))?;
        // Attached twice: refused.
        let twice = irq.attach(env.me(), 1);
        check!(code(&twice) == Some((Error::AlreadyBound, Phase::Send)), "second attach: {:?}", code(&twice));
        Ok(())
    })();
    let _ = irq.any().destroy();
    r
}

fn detach_cancels_wait(env: &Env<'_>) -> Result<(), Fail> {
    let irq = new_irq(env)?;
    let back = env.gate(env.me(), 0xbac);
    let h = env.helper(100, move || {
        let r = ipc::recv(irq.any(), Timeouts::NEVER);
        let _ = ipc::send(back, &Msg::new(0).word(status(&r)), Timeouts::NEVER);
    });
    let r = (|| {
        irq.attach(h.thread, 5).map_err(fail("attach to the helper"))?;
        // Not attached to this thread: no closed wait on it here.
        let foreign = ipc::recv(irq.any(), Timeouts::POLL);
        check!(
            code(&foreign) == Some((Error::NotBound, Phase::Receive)),
            "foreign IRQ: {:?}",
            code(&foreign)
        );
        env.wait_state(h.thread, 3)?;
        irq.detach().map_err(fail("detach"))?;
        let b = ipc::recv(back.any(), T).map_err(fail("helper silent"))?;
        check!(
            b.word(0) == st(Error::Cancelled, Phase::Receive),
            "helper's wait ended with {:#x}",
            b.word(0)
        );
        Ok(())
    })();
    let _ = h.thread.any().destroy();
    let _ = irq.any().destroy();
    let _ = back.any().destroy();
    r
}

fn to_other_task(env: &Env<'_>) -> Result<(), Fail> {
    // Attached to a worker's thread in an open wait: it reports the IRQ message.
    let irq = new_irq(env)?;
    let w = env.worker(&[pecan_system::worker::RECV], &[], 120);
    let r = (|| {
        irq.attach(w.child.thread, 0x42).map_err(fail("attach"))?;
        irq.trigger().map_err(fail("trigger"))?;
        let rep = env.report(&w, core::time::Duration::from_secs(2)).map_err(fail("report"))?;
        env.release();
        let got = [rep.word(0), rep.word(1), rep.word(2), rep.word(3)];
        check!(got == [0, proto::IRQ, 0x42, 0], "worker got [status, label, gate label, words] = {got:#x?}");
        irq.ack().map_err(fail("ack"))?;
        Ok(())
    })();
    let _ = irq.any().destroy();
    env.kill(&w);
    r
}
