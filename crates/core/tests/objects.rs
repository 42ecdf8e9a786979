//! Objects: factories and quotas (exhaustion of every kind leaks nothing: the invariants
//! after every step prove every factory balances), kernel table and frame exhaustion,
//! creation arguments, and the methods of gates, threads, console and machine.

mod common;
use common::*;
use pecan_abi::caps::{ROOT_CONSOLE, ROOT_FACTORY, ROOT_MACHINE, ROOT_TASK, ROOT_THREAD};
use pecan_abi::layout::USER_TOP;
use pecan_abi::object::{any, console, factory, gate, machine, task, thread};
use pecan_abi::{Error, Fpage, MemRights};
use pecan_core::Config;

/// Root creates a factory with `quota` bytes; returns its slot.
fn sub_factory(w: &mut World, quota: u64) -> u64 {
    let f = w.slot();
    w.invoke_ok(w.root, ROOT_FACTORY, factory::CREATE_FACTORY, &[f, quota]);
    f
}

fn quota(w: &mut World, f: u64) -> (u64, u64) {
    let r = w.invoke_ok(w.root, f, factory::QUOTA, &[]);
    (r[0], r[1])
}

/// Creates objects with `args(slot)` from `f` until the quota runs out; returns how many.
fn exhaust(w: &mut World, f: u64, method: u64, args: impl Fn(&mut World, u64) -> Vec<u64>) -> usize {
    for n in 0..10_000 {
        let s = w.slot();
        let a = args(w, s);
        match w.invoke(w.root, f, method, &a) {
            Ok(_) => {}
            Err(Error::QuotaExceeded) => return n,
            Err(e) => panic!("method {method}: {e:?}"),
        }
    }
    panic!("quota never ran out");
}

#[test]
fn every_kind_of_object_runs_out_of_quota_cleanly() {
    let mut w = World::new();
    let root_before = quota(&mut w, ROOT_FACTORY).0;
    let f = sub_factory(&mut w, 64 << 10);
    assert_eq!(quota(&mut w, f), (64 << 10, 64 << 10));
    let cost = (64 << 10)
        + core::mem::size_of::<pecan_core::obj::factory::Factory>() as u64
        + pecan_core::mdb::NODE_COST;
    assert_eq!(root_before - quota(&mut w, ROOT_FACTORY).0, cost, "quota, factory, root's capability");
    w.invoke_ok(w.root, f, any::DESTROY, &[]);
    // Gates and IRQs are small: a 1 KiB quota runs out before the tables do.
    let f = sub_factory(&mut w, 1 << 10);
    let n_gates = exhaust(&mut w, f, factory::CREATE_GATE, |_, s| vec![s, 0, 0]);
    let n_irqs = exhaust(&mut w, f, factory::CREATE_IRQ, |_, s| vec![s]);
    assert!(n_gates > 0 && n_irqs <= 64);
    // Free it all again by destroying the factory; make a fresh one for the big objects.
    w.invoke_ok(w.root, f, any::DESTROY, &[]);
    let f = sub_factory(&mut w, 48 << 10);
    let n_tasks = exhaust(&mut w, f, factory::CREATE_TASK, |_, s| vec![s, 4]);
    assert!(n_tasks > 3, "{n_tasks}");
    w.invoke_ok(w.root, f, any::DESTROY, &[]);
    let f = sub_factory(&mut w, 128 << 10);
    let utcb = std::cell::Cell::new(0x10_0000u64);
    let n_threads = exhaust(&mut w, f, factory::CREATE_THREAD, |_, s| {
        utcb.set(utcb.get() + 0x1000);
        vec![s, ROOT_TASK, utcb.get()]
    });
    assert!(n_threads > 10);
    w.invoke_ok(w.root, f, any::DESTROY, &[]);
    let f = sub_factory(&mut w, 4096);
    let n_factories = exhaust(&mut w, f, factory::CREATE_FACTORY, |_, s| vec![s, 1000]);
    assert_eq!(n_factories, 3, "1000 bytes plus the factory itself, three times");
    // Asking for more than is left, or an overflowing amount.
    let s = w.slot();
    assert_eq!(w.invoke(w.root, f, factory::CREATE_FACTORY, &[s, u64::MAX]), Err(Error::QuotaExceeded));
    w.invoke_ok(w.root, f, any::DESTROY, &[]);
}

#[test]
fn mappings_and_page_tables_are_charged_to_the_receiving_task() {
    let mut w = World::new();
    let f = sub_factory(&mut w, 8 << 10);
    let t = w.slot();
    w.invoke_ok(w.root, f, factory::CREATE_TASK, &[t, 0]);
    let left = quota(&mut w, f).0;
    // The task's page tables need three frames for the first page: more than is left.
    assert!(left < 3 * 4096);
    let fp = Fpage::memory(World::window(ram(0)), 12, MemRights::RW).0;
    assert_eq!(w.invoke(w.root, t, task::MAP, &[fp, 0x1000]), Err(Error::QuotaExceeded));
    assert_eq!(quota(&mut w, f).0, left, "nothing stays charged");
    w.invoke_ok(w.root, f, any::DESTROY, &[]);
    // With room for the tables but only a few mapping nodes.
    let f = sub_factory(&mut w, 20 << 10);
    let t = w.slot();
    w.invoke_ok(w.root, f, factory::CREATE_TASK, &[t, 0]);
    let mut mapped = 0;
    for i in 0..1000u64 {
        let fp = Fpage::memory(World::window(ram(i * 0x1000)), 12, MemRights::RW).0;
        match w.invoke(w.root, t, task::MAP, &[fp, 0x10_0000 + i * 0x1000]) {
            Ok(_) => mapped += 1,
            Err(Error::QuotaExceeded) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(mapped > 10, "{mapped}");
    // A flexpage that only partly fits maps what fits, and says the quota ran out.
    let fp = Fpage::memory(World::window(ram(0x100_0000)), 16, MemRights::RW).0;
    assert_eq!(w.invoke(w.root, t, task::MAP, &[fp, 0x200_0000]), Err(Error::QuotaExceeded));
    w.invoke_ok(w.root, f, any::DESTROY, &[]);
}

#[test]
fn capabilities_in_a_task_are_charged_to_it() {
    let mut w = World::new();
    let f = sub_factory(&mut w, 6 << 10);
    let t = w.slot();
    w.invoke_ok(w.root, f, factory::CREATE_TASK, &[t, 6]);
    let mut n = 0;
    for slot in 1..64u64 {
        let fp = Fpage::object(ROOT_CONSOLE, 0, pecan_abi::CapRights::ALL).0;
        match w.invoke(w.root, t, task::MAP, &[fp, slot]) {
            Ok(_) => n += 1,
            Err(Error::QuotaExceeded) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(n > 0 && n < 63, "{n}");
}

#[test]
fn kernel_tables_run_out_with_out_of_memory() {
    let config = Config {
        max_threads: 3,
        max_tasks: 3,
        max_gates: 2,
        max_irqs: 4,
        max_factories: 2,
        max_nodes: 64,
        ..Config::default()
    };
    let mut w = World::with(0, config);
    let t = w.new_task_order(0);
    let mut errors = Vec::new();
    let mut create = |w: &mut World, method: u64, args: &dyn Fn(u64) -> Vec<u64>| {
        for _ in 0..100 {
            let s = w.slot();
            match w.invoke(w.root, ROOT_FACTORY, method, &args(s)) {
                Ok(_) => {}
                Err(e) => {
                    errors.push(e);
                    return;
                }
            }
        }
        panic!("method {method} never ran out");
    };
    create(&mut w, factory::CREATE_GATE, &|s| vec![s, 0, 0]);
    create(&mut w, factory::CREATE_IRQ, &|s| vec![s]);
    create(&mut w, factory::CREATE_FACTORY, &|s| vec![s, 4096]);
    create(&mut w, factory::CREATE_TASK, &|s| vec![s, 0]);
    let utcb = std::cell::Cell::new(0x10_0000u64);
    create(&mut w, factory::CREATE_THREAD, &|s| {
        utcb.set(utcb.get() + 0x1000);
        vec![s, ROOT_TASK, utcb.get()]
    });
    // Mapping nodes: 64 in all.
    for i in 0..100u64 {
        let fp = Fpage::memory(World::window(ram(i * 0x1000)), 12, MemRights::RW).0;
        if let Err(e) = w.invoke(w.root, t, task::MAP, &[fp, 0x10_0000 + i * 0x1000]) {
            errors.push(e);
            break;
        }
    }
    assert_eq!(errors, vec![Error::OutOfMemory; 6]);
    assert_eq!(Error::OutOfMemory.fault(), pecan_abi::Fault::Kernel);
}

#[test]
fn kernel_frames_run_out_with_out_of_memory() {
    let mut w = World::with_frames(0, World::config(), 24 << 12);
    let mut made = 0;
    let err = loop {
        let s = w.slot();
        let utcb = 0x10_0000 + made * 0x1000;
        match w.invoke(w.root, ROOT_FACTORY, factory::CREATE_THREAD, &[s, ROOT_TASK, utcb]) {
            Ok(_) => made += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err, Error::OutOfMemory);
    assert!(made > 0);
    let s = w.slot();
    assert_eq!(w.invoke(w.root, ROOT_FACTORY, factory::CREATE_TASK, &[s, 0]), Err(Error::OutOfMemory));
}

#[test]
fn creation_arguments_are_checked() {
    let mut w = World::new();
    let f = ROOT_FACTORY;
    let s = w.slot();
    // Destination slot: occupied, nil, out of range.
    assert_eq!(w.invoke(w.root, f, factory::CREATE_IRQ, &[ROOT_TASK]), Err(Error::SlotOccupied));
    assert_eq!(w.invoke(w.root, f, factory::CREATE_IRQ, &[0]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, f, factory::CREATE_IRQ, &[1 << 16]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, f, factory::CREATE_IRQ, &[]), Err(Error::InvalidArgument));
    // Task: capability-space order.
    assert_eq!(w.invoke(w.root, f, factory::CREATE_TASK, &[s, 17]), Err(Error::InvalidArgument));
    // Thread: UTCB address misaligned, page 0, kernel half, occupied, task argument.
    for utcb in [0x10_0800, 0, USER_TOP, 0xffff_ffff_ffff_f000] {
        let r = w.invoke(w.root, f, factory::CREATE_THREAD, &[s, ROOT_TASK, utcb]);
        assert_eq!(r, Err(Error::InvalidArgument), "{utcb:#x}");
    }
    let root_utcb = pecan_abi::layout::ROOT_UTCB;
    assert_eq!(
        w.invoke(w.root, f, factory::CREATE_THREAD, &[s, ROOT_TASK, root_utcb]),
        Err(Error::SlotOccupied)
    );
    let win = World::window(ram(0));
    assert_eq!(w.invoke(w.root, f, factory::CREATE_THREAD, &[s, ROOT_TASK, win]), Err(Error::SlotOccupied));
    assert_eq!(
        w.invoke(w.root, f, factory::CREATE_THREAD, &[s, ROOT_CONSOLE, 0x1000]),
        Err(Error::WrongType)
    );
    assert_eq!(w.invoke(w.root, f, factory::CREATE_THREAD, &[s, 999, 0x1000]), Err(Error::InvalidCap));
    assert_eq!(w.invoke(w.root, f, factory::CREATE_THREAD, &[s, ROOT_TASK]), Err(Error::InvalidArgument));
    // Gate: the receiver must be a thread.
    assert_eq!(w.invoke(w.root, f, factory::CREATE_GATE, &[s, ROOT_TASK, 0]), Err(Error::WrongType));
    // Unknown method.
    assert_eq!(w.invoke(w.root, f, 99, &[s]), Err(Error::InvalidArgument));
    // Nothing was made.
    assert!(w.k.tasks.get(w.root_task).unwrap().caps.is_free(s));
}

#[test]
fn gate_bind_and_unbind() {
    let mut w = World::new();
    let t = w.new_task();
    let a = w.new_thread(t, 100);
    let b = w.new_thread(t, 100);
    let g = w.slot();
    w.invoke_ok(w.root, ROOT_FACTORY, factory::CREATE_GATE, &[g, 0, 3]);
    w.give_cap(g, t, 10);
    w.invoke_ok(w.root, g, gate::BIND, &[a.slot]);
    assert_eq!(w.k.gates.get(w.gate_h(g)).unwrap().label, 3, "the label stays without one");
    w.invoke_ok(w.root, g, gate::BIND, &[a.slot, 4]);
    assert_eq!(w.invoke(w.root, g, gate::BIND, &[b.slot, 5]), Err(Error::AlreadyBound));
    assert_eq!(w.invoke(w.root, g, gate::BIND, &[ROOT_TASK]), Err(Error::WrongType));
    assert_eq!(w.invoke(w.root, g, gate::BIND, &[]), Err(Error::InvalidArgument));
    w.invoke_ok(w.root, g, gate::UNBIND, &[]);
    w.invoke_ok(w.root, g, gate::UNBIND, &[]);
    w.invoke_ok(w.root, g, gate::BIND, &[b.slot, 5]);
    assert_eq!(w.k.gates.get(w.gate_h(g)).unwrap().receiver.get(), Some(b.h));
    assert_eq!(w.invoke(w.root, g, 9, &[]), Err(Error::InvalidArgument));
}

#[test]
fn thread_methods() {
    let mut w = World::new();
    let t = w.new_task();
    let a = w.new_thread(t, 100);
    w.invoke_ok(w.root, a.slot, thread::CONFIGURE, &[10, 11]);
    let th = w.k.threads.get(a.h).unwrap();
    assert_eq!((th.pager, th.exc_handler), (10, 11));
    w.invoke_ok(w.root, a.slot, thread::SET_AFFINITY, &[0]);
    assert_eq!(w.invoke(w.root, a.slot, thread::SET_AFFINITY, &[1]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, a.slot, thread::SET_REGS, &[1]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, a.slot, thread::CONFIGURE, &[]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, a.slot, thread::SET_PRIORITY, &[]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, a.slot, 77, &[]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, ROOT_THREAD, thread::READ_REGS, &[]).unwrap()[2], 1);
}

#[test]
fn console_and_machine() {
    let mut w = World::new();
    let msg = b"hello, pecan";
    let mut words = vec![msg.len() as u64];
    for c in msg.chunks(8) {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        words.push(u64::from_le_bytes(b));
    }
    w.invoke_ok(w.root, ROOT_CONSOLE, console::WRITE, &words);
    assert_eq!(w.k.hal.console.out, msg);
    // A length longer than the words carry.
    assert_eq!(w.invoke(w.root, ROOT_CONSOLE, console::WRITE, &[9, 0]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, ROOT_CONSOLE, 2, &[]), Err(Error::InvalidArgument));
    let c = w.invoke_ok(w.root, ROOT_MACHINE, machine::COUNTERS, &[]);
    assert_eq!(c.len(), machine::COUNTER_WORDS);
    assert!(c[0] > 0, "system calls were counted");
    w.invoke_ok(w.root, ROOT_MACHINE, machine::RESET_COUNTERS, &[]);
    let c = w.invoke_ok(w.root, ROOT_MACHINE, machine::COUNTERS, &[]);
    assert_eq!(c[0], 1, "only the COUNTERS call itself");
    w.invoke_ok(w.root, ROOT_MACHINE, machine::EXIT, &[3]);
    assert_eq!(w.k.exit_request, Some(3));
    assert_eq!(w.invoke(w.root, ROOT_MACHINE, 42, &[]), Err(Error::InvalidArgument));
    // Without CONTROL, no exit.
    let t = w.new_task();
    w.give_cap_rights(ROOT_MACHINE, t, 5, pecan_abi::CapRights::SEND);
    let p = w.puppet(t);
    w.act(p, |w, h| assert_eq!(w.invoke(h, 5, machine::EXIT, &[0]), Err(Error::NoRights)));
}
