//! Capabilities passed with object flexpages: mapped (the sender keeps it, rights are
//! narrowed, unmap revokes it) and granted (it moves), used by the receiver across three
//! tasks; a range of slots in one flexpage; what IDENTIFY says of each object type.

use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::object::ObjType;
use pecan_abi::{CapRights, Error, Fpage, Phase};
use pecan_system::slots::SLOTS;
use pecan_system::worker;
use pecan_user::{Msg, Task, ipc};

use crate::env::{Env, T, code, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("cap-map-object-fpage", map_object),
    ("cap-grant-object-fpage", grant_object),
    ("cap-map-slot-range", map_slot_range),
    ("cap-identify", identify),
];

/// Where the receiving worker accepts the capability.
const SLOT: u64 = 100;

/// The capability in `slot` of `task`: `[present, rights, type, alive]`.
fn lookup_cap(task: Task, slot: u64) -> Result<[u64; 4], Fail> {
    let r = pecan_user::object::invoke(
        task.0,
        pecan_abi::object::task::LOOKUP,
        &[Fpage::object(slot, 0, CapRights::ALL).0],
    )
    .map_err(fail("lookup"))?;
    Ok([r.get(0), r.get(1), r.get(2), r.get(3)])
}

/// Passes `fp` (a gate to an echo worker) on to a `RECV_CAP` worker with a map or grant
/// item; the worker calls it; then `after` checks what the worker holds.
fn pass(
    env: &Env<'_>,
    fp: Fpage,
    grant: bool,
    after: impl Fn(&crate::env::Worker) -> Result<(), Fail>,
) -> Result<(), Fail> {
    let c = env.worker(&[worker::RECV_CAP, SLOT], &[], 120);
    let gc = env.gate(c.child.thread, 0xc);
    let r = (|| {
        let m = if grant { Msg::new(1).grant(fp) } else { Msg::new(1).map(fp) };
        ipc::call(gc, &m, T).map_err(fail("send the capability"))?;
        let rep = env.report(&c, Duration::from_secs(2)).map_err(fail("report"))?;
        env.release();
        let got = [rep.word(0), rep.word(1), rep.word(2), rep.word(3)];
        // The echo worker answers 41 + 1 (it replies with its words plus one).
        check!(got == [0, SLOT, 0, 42], "receiver: [status, slot, call status, reply] = {got:?}");
        after(&c)
    })();
    env.kill(&c);
    let _ = gc.any().destroy();
    r
}

fn map_object(env: &Env<'_>) -> Result<(), Fail> {
    let tmp = env.worker(&[worker::ECHO], &[], 120);
    let g = env.gate(tmp.child.thread, 0xe);
    // Mapped with SEND only: the receiver's copy has SEND only; ours is untouched.
    let r = pass(env, Fpage::object(g.sel(), 0, CapRights::SEND), false, |c| {
        let held = lookup_cap(c.child.task, SLOT)?;
        check!(
            held == [1, 1, ObjType::Gate as u64, 1],
            "receiver holds [present, rights, type, alive] = {held:?}"
        );
        let ours = lookup_cap(Task::at(std_slots::TASK), g.sel())?;
        check!(ours[0] == 1 && ours[1] == 7, "ours: {ours:?}");
        // Revoking what was derived from ours empties the receiver's slot.
        Task::at(std_slots::TASK)
            .unmap(Fpage::object(g.sel(), 0, CapRights::ALL), false)
            .map_err(fail("unmap"))?;
        let held = lookup_cap(c.child.task, SLOT)?;
        check!(held[0] == 0, "still held after unmap: {held:?}");
        check!(g.any().identify().is_ok(), "ours went too");
        Ok(())
    });
    env.kill(&tmp);
    let _ = g.any().destroy();
    r
}

fn grant_object(env: &Env<'_>) -> Result<(), Fail> {
    let tmp = env.worker(&[worker::ECHO], &[], 120);
    let g = env.gate(tmp.child.thread, 0xe);
    let r = pass(env, Fpage::object(g.sel(), 0, CapRights::ALL), true, |c| {
        let held = lookup_cap(c.child.task, SLOT)?;
        check!(held == [1, 7, ObjType::Gate as u64, 1], "receiver holds {held:?}");
        let ours = g.any().identify();
        check!(
            code(&ours) == Some((Error::InvalidCap, Phase::Send)),
            "ours after the grant: {:?}",
            code(&ours)
        );
        Ok(())
    });
    // The gate itself stays (nothing names it once the receiver is gone; it is small).
    env.kill(&tmp);
    env.free_slot(g.sel());
    r
}

fn map_slot_range(env: &Env<'_>) -> Result<(), Fail> {
    // Four gates in four aligned slots go to another task in one object flexpage, with
    // SEND only; one of them is destroyed; then root revokes the range.
    let base = SLOTS.alloc_aligned(2);
    let mut gates = alloc::vec::Vec::new();
    for i in 0..4 {
        gates.push(env.factory().create_gate(base + i, Some(env.me()), i).map_err(fail("create_gate"))?);
    }
    let tk = env.factory().create_task(SLOTS.alloc(), 4).map_err(fail("create_task"))?;
    let r = (|| {
        tk.map(Fpage::object(base, 2, CapRights::SEND), 8).map_err(fail("map 4 slots"))?;
        for i in 0..4 {
            let held = lookup_cap(tk, 8 + i)?;
            check!(held == [1, 1, ObjType::Gate as u64, 1], "slot {}: {held:?}", 8 + i);
        }
        check!(lookup_cap(tk, 12)?[0] == 0, "slot 12 filled too");
        gates[2].any().destroy().map_err(fail("destroy"))?;
        check!(
            lookup_cap(tk, 10)? == [1, 1, ObjType::Gate as u64, 0],
            "slot 10 after its gate was destroyed"
        );
        Task::at(std_slots::TASK)
            .unmap(Fpage::object(base, 2, CapRights::ALL), false)
            .map_err(fail("unmap"))?;
        for i in 0..4 {
            check!(lookup_cap(tk, 8 + i)?[0] == 0, "slot {} still held after unmap", 8 + i);
        }
        Ok(())
    })();
    let _ = tk.any().destroy();
    env.free_slot(tk.sel());
    for g in gates {
        let _ = g.any().destroy();
        env.free_slot(g.sel());
    }
    r
}

fn identify(env: &Env<'_>) -> Result<(), Fail> {
    use pecan_user::AnyCap;
    let irq = env.factory().create_irq(SLOTS.alloc()).map_err(fail("create_irq"))?;
    let g = env.gate(env.me(), 1);
    let cases = [
        ("task", std_slots::TASK, ObjType::Task),
        ("thread", std_slots::THREAD, ObjType::Thread),
        ("factory", std_slots::FACTORY, ObjType::Factory),
        ("console", std_slots::CONSOLE, ObjType::Console),
        ("machine", std_slots::MACHINE, ObjType::Machine),
        ("gate", g.sel(), ObjType::Gate),
        ("IRQ", irq.sel(), ObjType::Irq),
    ];
    // IDENTIFY needs no right: a copy of the gate with none still answers.
    let none = SLOTS.alloc();
    let copied = Task::at(std_slots::TASK).map(Fpage::object(g.sel(), 0, CapRights::NONE), none);
    let r = (|| {
        for (what, sel, ty) in cases {
            let got = AnyCap::at(sel).identify().map_err(fail(what))?;
            check!(got.0 == ty as u64, "{what}: type {}", got.0);
        }
        check!(
            AnyCap::at(g.sel()).identify().ok() == Some((ObjType::Gate as u64, 7)),
            "rights of a new gate"
        );
        copied.map_err(fail("copy without rights"))?;
        let got = AnyCap::at(none).identify();
        check!(got.ok() == Some((ObjType::Gate as u64, 0)), "copy without rights: {:?}", code(&got));
        Ok(())
    })();
    env.free_slot(none);
    let _ = irq.any().destroy();
    let _ = g.any().destroy();
    r
}
