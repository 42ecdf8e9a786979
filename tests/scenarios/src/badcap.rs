//! Bad capabilities and arguments from user space, each answered by its defined error:
//! invalid selectors (nil, empty, out of range), stale capabilities, missing rights, wrong
//! object types, IPC with oneself, invocations with bad arguments. Calls use timeouts never
//! (what the IPC fast path takes), so its checks are tested too.

use pecan_abi::caps::std_slots;
use pecan_abi::object::{factory, task, thread};
use pecan_abi::{CapRights, Error, Fpage, Phase};
use pecan_system::slots::SLOTS;
use pecan_user::object::invoke;
use pecan_user::{AnyCap, CapSel, Factory, Gate, Msg, Task, Thread, Timeouts, ipc};

use crate::env::{Env, code, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("bad-invalid-selector", invalid_selector),
    ("bad-stale-cap", stale_cap),
    ("bad-no-rights", no_rights),
    ("bad-wrong-type", wrong_type),
    ("bad-deadlock", deadlock),
    ("bad-invoke-arguments", invoke_arguments),
];

type Got = Option<(Error, Phase)>;

fn send_err(e: Error) -> Got {
    Some((e, Phase::Send))
}

fn recv_err(e: Error) -> Got {
    Some((e, Phase::Receive))
}

/// Checks a list of `(what, got, want)`.
fn expect(cases: &[(&str, Got, Got)]) -> Result<(), Fail> {
    for (what, got, want) in cases {
        check!(got == want, "{what}: {got:?}, expected {want:?}");
    }
    Ok(())
}

fn invalid_selector(env: &Env<'_>) -> Result<(), Fail> {
    // Nil, empty, just out of range (the root task has 2^16 slots), far out of range.
    for sel in [0, 60_000, 1 << 16, 1 << 40, u64::MAX] {
        let e = Error::InvalidCap;
        let mut cases = alloc::vec![
            ("send", code(&ipc::send(Gate::at(sel), &Msg::new(1), Timeouts::POLL)), send_err(e)),
            ("call", code(&ipc::call(Gate::at(sel), &Msg::new(1), Timeouts::NEVER)), send_err(e)),
            ("invoke", code(&AnyCap::at(sel).identify()), send_err(e)),
            (
                "a thread's task",
                code(&env.factory().create_thread(SLOTS.alloc(), Task::at(sel), env.scratch())),
                send_err(e)
            ),
        ];
        // Nil is a valid "no thread" for a new gate and "nobody" (sleep) for a closed wait.
        if sel != 0 {
            let g = env.factory().create_gate(SLOTS.alloc(), Some(Thread::at(sel)), 0);
            cases.push(("a gate's thread", code(&g), send_err(e)));
            cases.push(("closed wait", code(&ipc::recv(AnyCap::at(sel), Timeouts::POLL)), recv_err(e)));
        }
        expect(&cases).map_err(|f| alloc::format!("selector {sel:#x}: {f}"))?;
    }
    Ok(())
}

fn stale_cap(env: &Env<'_>) -> Result<(), Fail> {
    let g = env.gate(env.me(), 1);
    g.any().destroy().map_err(fail("destroy the gate"))?;
    let t = env.helper(100, || {});
    t.thread.any().destroy().map_err(fail("destroy the thread"))?;
    let tk = env.factory().create_task(SLOTS.alloc(), 2).map_err(fail("create_task"))?;
    tk.any().destroy().map_err(fail("destroy the task"))?;
    let e = Error::StaleCap;
    let held = invoke(CapSel(std_slots::TASK), task::LOOKUP, &[Fpage::object(g.sel(), 0, CapRights::ALL).0])
        .map(|r| [r.get(0), r.get(2), r.get(3)]);
    let r = expect(&[
        ("send", code(&ipc::send(g, &Msg::new(1), Timeouts::POLL)), send_err(e)),
        ("call", code(&ipc::call(g, &Msg::new(1), Timeouts::NEVER)), send_err(e)),
        ("closed wait on a gate", code(&ipc::recv(g.any(), Timeouts::POLL)), recv_err(e)),
        ("identify", code(&g.any().identify()), send_err(e)),
        ("destroy again", code(&g.any().destroy()), send_err(e)),
        ("bind", code(&g.bind(env.me(), 1)), send_err(e)),
        ("closed wait on a thread", code(&ipc::recv(t.thread.any(), Timeouts::POLL)), recv_err(e)),
        ("read_regs", code(&t.thread.read_regs()), send_err(e)),
        (
            "a gate bound to it",
            code(&env.factory().create_gate(SLOTS.alloc(), Some(t.thread), 0)),
            send_err(e),
        ),
        (
            "lookup in a task",
            code(&tk.lookup(Fpage::memory(0x1000, 12, pecan_abi::MemRights::R))),
            send_err(e),
        ),
        ("a thread in it", code(&env.factory().create_thread(SLOTS.alloc(), tk, 0x1000)), send_err(e)),
    ]);
    // The slot still holds the (dead) gate until it is emptied.
    let gone = held.map_err(fail("lookup"))?;
    for s in [g.sel(), t.thread.sel(), tk.sel()] {
        env.free_slot(s);
    }
    r?;
    check!(gone == [1, pecan_abi::object::ObjType::Gate as u64, 0], "slot of the deleted gate: {gone:?}");
    Ok(())
}

/// A copy of capability `sel` in a new slot, with `rights` only.
fn narrowed(sel: u64, rights: CapRights) -> Result<u64, Fail> {
    let s = SLOTS.alloc();
    Task::at(std_slots::TASK).map(Fpage::object(sel, 0, rights), s).map_err(fail("copy a capability"))?;
    Ok(s)
}

fn no_rights(env: &Env<'_>) -> Result<(), Fail> {
    // The gate leads to a server that answers anything that gets through (at this thread's
    // priority, so that the IPC fast path is asked too).
    let t = env.helper(200, || pecan_user::server::serve(|_| Some(Msg::new(0))));
    let g = env.gate(t.thread, 1);
    let e = Error::NoRights;
    let r = (|| {
        let control_only = Gate::at(narrowed(g.sel(), CapRights::CONTROL)?);
        let send_only = Gate::at(narrowed(g.sel(), CapRights::SEND)?);
        let factory = Factory::at(narrowed(std_slots::FACTORY, CapRights::SEND)?);
        let th = Thread::at(narrowed(t.thread.sel(), CapRights::SEND)?);
        let tk = Task::at(narrowed(std_slots::TASK, CapRights(CapRights::SEND.0 | CapRights::MAP.0))?);
        env.wait_state(t.thread, 3)?;
        let r = expect(&[
            ("send without SEND", code(&ipc::send(control_only, &Msg::new(1), Timeouts::POLL)), send_err(e)),
            ("call without SEND", code(&ipc::call(control_only, &Msg::new(1), Timeouts::NEVER)), send_err(e)),
            ("destroy without CONTROL", code(&send_only.any().destroy()), send_err(e)),
            ("bind without CONTROL", code(&send_only.bind(env.me(), 1)), send_err(e)),
            ("create without CONTROL", code(&factory.create_gate(SLOTS.alloc(), None, 0)), send_err(e)),
            ("read_regs without CONTROL", code(&th.read_regs()), send_err(e)),
            ("map without CONTROL", code(&tk.map(Fpage::NIL, 0)), send_err(e)),
            (
                "gate bound to a thread without CONTROL",
                code(&env.factory().create_gate(SLOTS.alloc(), Some(th), 0)),
                send_err(e),
            ),
        ]);
        check!(
            control_only.any().identify().ok() == Some((3, 2)),
            "copy: {:?}",
            control_only.any().identify()
        );
        check!(factory.quota().is_ok(), "QUOTA needs SEND only");
        let through = ipc::call(send_only, &Msg::new(1), Timeouts::NEVER);
        check!(through.is_ok(), "a call with SEND: {:?}", code(&through));
        for s in [control_only.sel(), send_only.sel(), factory.sel(), th.sel(), tk.sel()] {
            env.free_slot(s);
        }
        r
    })();
    let _ = t.thread.any().destroy();
    let _ = g.any().destroy();
    r
}

fn wrong_type(env: &Env<'_>) -> Result<(), Fail> {
    let irq = env.factory().create_irq(SLOTS.alloc()).map_err(fail("create_irq"))?;
    let g = env.gate(env.me(), 1);
    let e = Error::WrongType;
    let console = std_slots::CONSOLE;
    let r = expect(&[
        (
            "send through a task",
            code(&ipc::send(Gate::at(std_slots::TASK), &Msg::new(1), Timeouts::POLL)),
            send_err(e),
        ),
        ("call the console", code(&ipc::call(Gate::at(console), &Msg::new(1), Timeouts::NEVER)), send_err(e)),
        (
            "closed wait on a factory",
            code(&ipc::recv(AnyCap::at(std_slots::FACTORY), Timeouts::POLL)),
            recv_err(e),
        ),
        (
            "thread in the console",
            code(&env.factory().create_thread(SLOTS.alloc(), Task::at(console), env.scratch())),
            send_err(e),
        ),
        (
            "gate bound to a task",
            code(&env.factory().create_gate(SLOTS.alloc(), Some(Thread::at(std_slots::TASK)), 0)),
            send_err(e),
        ),
        ("IRQ attached to a factory", code(&irq.attach(Thread::at(std_slots::FACTORY), 0)), send_err(e)),
        ("gate bound to the console", code(&g.bind(Thread::at(console), 0)), send_err(e)),
        ("destroy the console", code(&AnyCap::at(console).destroy()), send_err(e)),
    ]);
    let _ = irq.any().destroy();
    let _ = g.any().destroy();
    r
}

fn deadlock(env: &Env<'_>) -> Result<(), Fail> {
    let g = env.gate(env.me(), 1);
    let e = Error::Deadlock;
    let r = expect(&[
        ("closed wait on oneself", code(&ipc::recv(env.me().any(), Timeouts::NEVER)), recv_err(e)),
        ("send to oneself", code(&ipc::send(g, &Msg::new(1), Timeouts::NEVER)), send_err(e)),
        ("call oneself", code(&ipc::call(g, &Msg::new(1), Timeouts::NEVER)), send_err(e)),
        ("reply without a caller", code(&ipc::reply(&Msg::new(1))), send_err(Error::NoReplyCap)),
    ]);
    let _ = g.any().destroy();
    r
}

fn invoke_arguments(env: &Env<'_>) -> Result<(), Fail> {
    let t = env.helper(100, || {});
    let e = Error::InvalidArgument;
    let f = CapSel(std_slots::FACTORY);
    let tsel = t.thread.0;
    let r = expect(&[
        ("unknown task method", code(&invoke(CapSel(std_slots::TASK), 0x77, &[Fpage::NIL.0])), send_err(e)),
        ("unknown thread method", code(&invoke(tsel, 0x77, &[])), send_err(e)),
        ("create a gate without arguments", code(&invoke(f, factory::CREATE_GATE, &[])), send_err(e)),
        (
            "create into a slot out of range",
            code(&invoke(f, factory::CREATE_GATE, &[1 << 20, 0, 0])),
            send_err(e),
        ),
        (
            "create into a used slot",
            code(&invoke(f, factory::CREATE_GATE, &[std_slots::TASK, 0, 0])),
            send_err(Error::SlotOccupied),
        ),
        ("task with 2^17 slots", code(&invoke(f, factory::CREATE_TASK, &[SLOTS.alloc(), 17])), send_err(e)),
        ("priority 256", code(&invoke(tsel, thread::SET_PRIORITY, &[256])), send_err(e)),
        ("set_regs without arguments", code(&invoke(tsel, thread::SET_REGS, &[])), send_err(e)),
        ("CPU 4096", code(&invoke(tsel, thread::SET_AFFINITY, &[4096])), send_err(e)),
        ("map without arguments", code(&invoke(CapSel(std_slots::TASK), task::MAP, &[])), send_err(e)),
    ]);
    let _ = t.thread.any().destroy();
    r
}
