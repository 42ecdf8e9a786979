//! Destruction: a thread or a task destroying itself, a factory destroying everything it
//! made (blocked senders released, quota returned), a pager deleted while a faulting thread
//! waits for it.

use core::sync::atomic::{AtomicU64, Ordering};
use pecan_abi::caps::std_slots;
use pecan_abi::{Error, Phase};
use pecan_system::slots::SLOTS;
use pecan_system::worker;
use pecan_user::{AnyCap, Gate, Msg, Task, Timeouts, ipc};

use crate::env::{Env, T, code, fail, st, status};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("thread-destroys-itself", thread_destroys_itself),
    ("thread-destroys-its-task", task_destroys_itself),
    ("factory-destroy-cascades", factory_destroy_cascades),
    ("fault-pager-deleted", pager_deleted),
];

const STALE: Option<(Error, Phase)> = Some((Error::StaleCap, Phase::Send));

fn stale(c: AnyCap) -> bool {
    code(&c.identify()) == STALE
}

fn thread_destroys_itself(env: &Env<'_>) -> Result<(), Fail> {
    let w = env.worker(&[worker::DESTROY_SELF, 0], &[], 120);
    let gone = env.wait_for(2000, || stale(w.child.thread.any()));
    let task_alive = w.child.task.any().identify().is_ok();
    env.kill(&w);
    check!(gone, "the thread is still there");
    check!(task_alive, "its task went too");
    Ok(())
}

fn task_destroys_itself(env: &Env<'_>) -> Result<(), Fail> {
    let w = env.worker(&[worker::DESTROY_SELF, 1], &[], 120);
    let gone = env.wait_for(2000, || stale(w.child.task.any()) && stale(w.child.thread.any()));
    // Its parent cleans up the rest: its factory and its pager gate.
    let killed = pecan_system::spawn::destroy(&w.child);
    env.kill(&w);
    check!(gone, "the task or its thread is still there");
    check!(killed.is_ok(), "cleaning up after it: {:?}", code(&killed));
    check!(
        stale(w.child.factory.any()) && stale(w.child.pager_gate.any()),
        "its factory or pager gate remain"
    );
    Ok(())
}

fn factory_destroy_cascades(env: &Env<'_>) -> Result<(), Fail> {
    // What this task needs for itself comes first (root threads' stacks, the page tables
    // under a UTCB address): it is charged to the root factory and stays.
    static GATE: AtomicU64 = AtomicU64::new(0);
    let back = env.gate(env.me(), 0xbac);
    let idle = env.helper(100, || {});
    let sender = env.helper_created(100, move || {
        let g = Gate::at(GATE.load(Ordering::SeqCst));
        let s = status(&ipc::send(g, &Msg::new(1), Timeouts::NEVER));
        let _ = ipc::send(back, &Msg::new(0).word(s), Timeouts::NEVER);
    });
    let utcb = env.scratch();
    let pre = env.factory().create_thread(SLOTS.alloc(), Task::at(std_slots::TASK), utcb);
    if let Ok(t) = pre {
        let _ = t.any().destroy();
        env.free_slot(t.sel());
    }
    let root = env.factory();
    let (before, _) = root.quota().map_err(fail("root quota"))?;
    let fs = SLOTS.alloc();
    let f = root.create_factory(fs, 64 * 1024).map_err(fail("create_factory"))?;
    let mut made = alloc::vec::Vec::new();
    let r = (|| {
        let mut slot = || {
            let s = SLOTS.alloc();
            made.push(s);
            s
        };
        // A task with a thread, a gate bound to a root thread, an IRQ attached to this
        // thread, a thread in this task, a sub-factory and a gate of its own.
        let tk = f.create_task(slot(), 4).map_err(fail("task"))?;
        let th = f.create_thread(slot(), tk, 0x10000).map_err(fail("thread"))?;
        let g = f.create_gate(slot(), Some(idle.thread), 7).map_err(fail("gate"))?;
        let irq = f.create_irq(slot()).map_err(fail("irq"))?;
        irq.attach(env.me(), 1).map_err(fail("attach"))?;
        let mine = f.create_thread(slot(), Task::at(std_slots::TASK), utcb).map_err(fail("thread here"))?;
        let f2 = f.create_factory(slot(), 4096).map_err(fail("sub-factory"))?;
        let g2 = f2.create_gate(slot(), None, 0).map_err(fail("gate of the sub-factory"))?;
        // A sender queued on the gate.
        GATE.store(g.sel(), Ordering::SeqCst);
        sender.thread.start().map_err(fail("start the sender"))?;
        env.wait_state(sender.thread, 2)?;
        f.any().destroy().map_err(fail("destroy the factory"))?;
        let released = ipc::recv(back.any(), T).map(|m| m.word(0));
        check!(released == Ok(st(Error::Cancelled, Phase::Send)), "the queued sender got {released:x?}");
        let objects = [tk.any(), th.any(), g.any(), irq.any(), mine.any(), f2.any(), g2.any(), f.any()];
        for (i, o) in objects.iter().enumerate() {
            check!(stale(*o), "object {i} survived its factory: {:?}", o.identify());
        }
        // The IRQ went with it: nothing pending here.
        let none = ipc::wait(Timeouts::POLL);
        check!(code(&none) == Some((Error::Timeout, Phase::Receive)), "a wait after: {:?}", code(&none));
        Ok(())
    })();
    let _ = f.any().destroy();
    for s in made.into_iter().chain([fs]) {
        env.free_slot(s);
    }
    let (after, _) = root.quota().map_err(fail("root quota"))?;
    let _ = idle.thread.any().destroy();
    let _ = sender.thread.any().destroy();
    let _ = back.any().destroy();
    r?;
    check!(after == before, "root quota {before} before, {after} after");
    Ok(())
}

fn pager_deleted(env: &Env<'_>) -> Result<(), Fail> {
    // Faulting threads of this task whose pager is a helper that takes the fault message and
    // never answers, or a gate nobody waits on; the helper or the gate is deleted.
    let silent = env.helper(100, || {
        let _ = ipc::wait(Timeouts::NEVER);
    });
    let pg = env.gate(silent.thread, 0xfa);
    let orphan = env.gate(env.me(), 0xfb);
    let at = env.scratch();
    let faulting = |pager: u64| -> Result<pecan_system::rootthread::RootThread, Fail> {
        let t = env.helper_created(100, move || {
            // SAFETY: deliberately faulting; nothing is mapped there.
            unsafe { (at as *mut u64).write_volatile(1) };
        });
        t.thread.configure(pager, pager).map_err(fail("configure"))?;
        t.thread.start().map_err(fail("start"))?;
        Ok(t)
    };
    let a = faulting(pg.sel());
    let b = faulting(orphan.sel());
    let r = (|| {
        let (a, b) = (a.as_ref().map_err(|e| e.clone())?, b.as_ref().map_err(|e| e.clone())?);
        // A waits for the silent pager's reply, B to be received.
        env.wait_state(a.thread, 4)?;
        env.wait_state(b.thread, 2)?;
        silent.thread.any().destroy().map_err(fail("destroy the pager"))?;
        orphan.any().destroy().map_err(fail("destroy the gate"))?;
        env.wait_state(a.thread, 0).map_err(|e| alloc::format!("A: {e}"))?;
        env.wait_state(b.thread, 0).map_err(|e| alloc::format!("B: {e}"))?;
        Ok(())
    })();
    for t in [a, b].into_iter().flatten() {
        let _ = t.thread.any().destroy();
    }
    let _ = silent.thread.any().destroy();
    let _ = pg.any().destroy();
    r
}
