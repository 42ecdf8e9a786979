//! Deleting objects while threads are blocked on them: partners on either side of an IPC,
//! gates with queued senders, IRQs with a waiting thread, whole tasks and factories. Every
//! blocked thread is released with a defined error; every capability to a deleted object
//! is stale; quotas and frames come back (the invariants after every step prove it).

mod common;
use common::*;
use pecan_abi::object::{any, factory, gate, irq, task, thread};
use pecan_abi::{Error, MemRights, Phase, Sys, Timeout};
use pecan_core::State;
use pecan_core::thread::Filter;

const NEVER: Timeout = Timeout::NEVER;
const GS: u64 = 10;
const GS2: u64 = 11;
const TO: u64 = 20;
/// `a`'s own thread capability, in the client task.
const TSELF: u64 = 21;
/// The client task's own task capability.
const TTASK: u64 = 22;
const IQ: u64 = 30;

/// Server `s`, clients `a` and `b` in task `ct`; `s` in task `st`. Gates 1 and 2 bound to
/// `s` at GS and GS2 in both tasks; `ct` holds `b`'s thread capability at TO.
struct Scene {
    w: World,
    st: u64,
    ct: u64,
    s: Th,
    a: Th,
    b: Th,
    g1: u64,
}

fn scene() -> Scene {
    scene_with(|_, _, _| {})
}

/// The scene, with `setup(world, server task, client task)` run as root before the test
/// threads start.
fn scene_with(setup: impl FnOnce(&mut World, u64, u64)) -> Scene {
    let mut w = World::new();
    let st = w.new_task();
    let ct = w.new_task();
    let s = w.new_thread(st, 100);
    let a = w.new_thread(ct, 100);
    let b = w.new_thread(ct, 100);
    let g1 = w.new_gate(s, 0x1);
    let g2 = w.new_gate(s, 0x2);
    for t in [st, ct] {
        w.give_cap(g1, t, GS);
        w.give_cap(g2, t, GS2);
    }
    w.give_cap(b.slot, ct, TO);
    w.give_cap(a.slot, ct, TSELF);
    w.give_cap(ct, ct, TTASK);
    setup(&mut w, st, ct);
    w.start(s);
    w.start(a);
    w.start(b);
    w.go();
    Scene { w, st, ct, s, a, b, g1 }
}

fn destroy(w: &mut World, slot: u64) {
    assert_eq!(w.cur(), Some(w.root), "root runs");
    w.invoke_ok(w.root, slot, any::DESTROY, &[]);
}

#[test]
fn sender_deleted_while_queued() {
    let Scene { mut w, s, a, b, .. } = scene();
    w.recv(s.h, 0, NEVER);
    w.sys(a.h, Sys::Send, GS, tag(1, 0), &[], Timeout::from_micros(5000), NEVER);
    w.recv(b.h, 0, NEVER);
    let entries = w.k.wheel.entries();
    destroy(&mut w, a.slot);
    assert!(!w.alive(a.h));
    assert!(w.k.threads.get(s.h).unwrap().send_queue.is_empty());
    assert_eq!(w.k.wheel.entries(), entries - 1, "its timeout left the wheel");
    w.tick(10);
    assert_eq!(w.state(s.h), State::Receiving(Filter::Nil));
    assert_eq!(w.invoke(w.root, a.slot, thread::START, &[]), Err(Error::StaleCap));
}

#[test]
fn receiver_deleted_with_senders_queued() {
    let Scene { mut w, s, a, b, .. } = scene();
    w.recv(s.h, 0, NEVER);
    w.send(a.h, GS, tag(1, 0), &[]);
    w.call(b.h, GS2, tag(2, 0), &[]);
    destroy(&mut w, s.slot);
    // Both senders are released in their send phase.
    assert_eq!(w.err(a.h), Some((Error::PartnerDeleted, Phase::Send)));
    assert_eq!(w.err(b.h), Some((Error::PartnerDeleted, Phase::Send)));
    // The gate outlives its receiver but is unbound now.
    assert_eq!(w.cur(), Some(a.h));
    w.send(a.h, GS, tag(1, 0), &[]);
    assert_eq!(w.err(a.h), Some((Error::NotBound, Phase::Send)));
}

#[test]
fn callee_deleted_with_callers_waiting() {
    let Scene { mut w, s, a, b, .. } = scene();
    w.wait(s.h);
    w.call(a.h, GS, tag(1, 0), &[]);
    assert_eq!(w.cur(), Some(s.h));
    // s holds a's reply capability and sleeps; b's call queues.
    w.recv(s.h, 0, NEVER);
    w.call(b.h, GS, tag(2, 0), &[]);
    destroy(&mut w, s.slot);
    assert_eq!(w.err(a.h), Some((Error::PartnerDeleted, Phase::Receive)));
    assert_eq!(w.err(b.h), Some((Error::PartnerDeleted, Phase::Send)));
}

#[test]
fn closed_wait_partner_deleted() {
    let Scene { mut w, s, a, b, .. } = scene();
    w.recv(s.h, 0, NEVER);
    w.recv(a.h, TO, NEVER);
    assert_eq!(w.state(a.h), State::Receiving(Filter::Thread(b.h)));
    w.recv(b.h, 0, NEVER);
    destroy(&mut w, b.slot);
    assert_eq!(w.err(a.h), Some((Error::PartnerDeleted, Phase::Receive)));
    // A closed wait on the deleted thread's stale capability fails at once.
    assert_eq!(w.cur(), Some(a.h));
    w.recv(a.h, TO, NEVER);
    assert_eq!(w.err(a.h), Some((Error::StaleCap, Phase::Receive)));
}

#[test]
fn caller_deleted_while_callee_holds_the_reply_capability() {
    let Scene { mut w, s, a, b, .. } = scene();
    w.wait(s.h);
    w.call(a.h, GS, tag(1, 0), &[]);
    w.recv(s.h, 0, NEVER);
    w.recv(b.h, 0, NEVER);
    destroy(&mut w, a.slot);
    w.invoke_ok(w.root, s.slot, thread::CANCEL, &[]);
    assert_eq!(w.cur(), Some(s.h));
    w.reply(s.h, tag(2, 0), &[]);
    assert_eq!(w.err(s.h), Some((Error::NoReplyCap, Phase::Send)));
}

#[test]
fn gate_deleted_with_blocked_senders() {
    let Scene { mut w, s, a, b, g1, .. } = scene();
    w.recv(s.h, 0, NEVER);
    w.send(a.h, GS, tag(1, 0), &[]);
    w.call(b.h, GS2, tag(2, 0), &[]);
    destroy(&mut w, g1);
    // The sender through gate 1 is cancelled; the one through gate 2 stays queued.
    assert_eq!(w.err(a.h), Some((Error::Cancelled, Phase::Send)));
    assert!(matches!(w.state(b.h), State::Sending { .. }));
    assert_eq!(w.cur(), Some(a.h));
    w.send(a.h, GS, tag(1, 0), &[]);
    assert_eq!(w.err(a.h), Some((Error::StaleCap, Phase::Send)));
}

#[test]
fn gate_deleted_under_a_closed_wait() {
    let Scene { mut w, s, a, b, g1, .. } = scene();
    w.recv(s.h, GS, NEVER);
    w.recv(a.h, 0, NEVER);
    w.send(b.h, GS2, tag(2, 0), &[]);
    assert!(w.blocked(b.h));
    destroy(&mut w, g1);
    assert_eq!(w.err(s.h), Some((Error::Cancelled, Phase::Receive)));
    assert!(w.blocked(b.h), "the other gate's sender is untouched");
}

#[test]
fn unbinding_a_gate_cancels_its_senders_and_rebinding_works() {
    let Scene { mut w, s, a, b, g1, .. } = scene();
    w.recv(s.h, 0, NEVER);
    w.send(a.h, GS, tag(1, 0), &[]);
    w.recv(b.h, 0, NEVER);
    w.invoke_ok(w.root, g1, gate::UNBIND, &[]);
    assert_eq!(w.err(a.h), Some((Error::Cancelled, Phase::Send)));
    w.send(a.h, GS, tag(1, 0), &[]);
    assert_eq!(w.err(a.h), Some((Error::NotBound, Phase::Send)));
    // Rebind to b with a new label (a is ready, so root runs only after it sleeps).
    w.recv(a.h, 0, NEVER);
    w.invoke_ok(w.root, b.slot, thread::CANCEL, &[]);
    w.recv(b.h, 0, Timeout::ZERO);
    w.wait(b.h);
    w.invoke_ok(w.root, g1, gate::BIND, &[b.slot, 0x99]);
    w.invoke_ok(w.root, a.slot, thread::CANCEL, &[]);
    w.send(a.h, GS, tag(3, 0), &[]);
    let r = w.ok(b.h);
    assert_eq!((r.label, r.tag.label()), (0x99, 3));
}

#[test]
fn irq_deleted_under_a_closed_wait_but_not_an_open_one() {
    let Scene { mut w, s, a, b, ct, .. } = scene();
    w.recv(s.h, 0, NEVER);
    w.recv(a.h, 0, NEVER);
    w.recv(b.h, 0, NEVER);
    let q1 = w.new_irq();
    let q2 = w.new_irq();
    w.invoke_ok(w.root, q1, irq::ATTACH, &[a.slot, 1]);
    w.invoke_ok(w.root, q2, irq::ATTACH, &[b.slot, 2]);
    w.give_cap(q1, ct, IQ);
    w.invoke_ok(w.root, a.slot, thread::CANCEL, &[]);
    w.recv(a.h, IQ, NEVER);
    w.invoke_ok(w.root, b.slot, thread::CANCEL, &[]);
    w.wait(b.h);
    destroy(&mut w, q1);
    assert_eq!(w.err(a.h), Some((Error::Cancelled, Phase::Receive)));
    w.recv(a.h, IQ, NEVER);
    assert_eq!(w.err(a.h), Some((Error::StaleCap, Phase::Receive)));
    w.recv(a.h, 0, NEVER);
    destroy(&mut w, q2);
    assert_eq!(w.state(b.h), State::Receiving(Filter::Any), "an open wait goes on");
}

#[test]
fn task_deleted_with_partners_in_another_task() {
    // The server task has a page it mapped on to the client task.
    let Scene { mut w, st, ct, s, a, b, .. } = scene_with(|w, st, ct| {
        w.give_page(ram(0x10_000), st, 0x10_0000, MemRights::RW);
        w.give_task(ct, st, 40);
    });
    let quota = w.k.factories.iter().next().unwrap().1.used;
    w.invoke_ok(s.h, 40, task::MAP, &[pecan_abi::Fpage::memory(0x10_0000, 12, MemRights::R).0, 0x50_0000]);
    let ch = w.task_h(ct);
    assert!(w.translate(ch, 0x50_0000).is_some());
    w.wait(s.h);
    w.call(a.h, GS, tag(1, 0), &[]);
    w.recv(s.h, 0, NEVER);
    w.call(b.h, GS, tag(2, 0), &[]);
    destroy(&mut w, st);
    assert!(!w.alive(s.h));
    assert_eq!(w.err(a.h), Some((Error::PartnerDeleted, Phase::Receive)));
    assert_eq!(w.err(b.h), Some((Error::PartnerDeleted, Phase::Send)));
    assert_eq!(w.k.lookup(w.root_task, st), Err(Error::StaleCap));
    // The page mapped on from the dead task is gone from the client task.
    assert!(w.translate(ch, 0x50_0000).is_none());
    assert!(w.k.factories.iter().next().unwrap().1.used < quota);
}

#[test]
fn a_thread_deletes_itself() {
    let Scene { mut w, a, b, s, .. } = scene();
    w.recv(s.h, 0, NEVER);
    assert_eq!(w.cur(), Some(a.h));
    w.sys(a.h, Sys::Invoke, TSELF, tag(any::DESTROY, 0), &[], NEVER, NEVER);
    assert!(!w.alive(a.h));
    assert_eq!(w.cur(), Some(b.h));
}

#[test]
fn a_thread_deletes_its_own_task() {
    let Scene { mut w, a, s, b, .. } = scene();
    w.recv(s.h, 0, NEVER);
    assert_eq!(w.cur(), Some(a.h));
    w.sys(a.h, Sys::Invoke, TTASK, tag(any::DESTROY, 0), &[], NEVER, NEVER);
    assert!(!w.alive(a.h) && !w.alive(b.h));
    assert_eq!(w.cur(), Some(w.root));
    assert_eq!(w.k.active_task(), Some(w.root_task));
}

#[test]
fn deleting_a_thread_detaches_its_irqs_and_masks_the_line() {
    let Scene { mut w, s, a, b, .. } = scene();
    w.recv(s.h, 0, NEVER);
    w.recv(a.h, 0, NEVER);
    w.recv(b.h, 0, NEVER);
    w.invoke_ok(w.root, World::IRQ_LINE5, irq::ATTACH, &[a.slot, 5]);
    assert!(!w.masked(5));
    w.invoke_ok(w.root, a.slot, thread::CANCEL, &[]);
    w.recv(a.h, 0, NEVER);
    w.interrupt(5);
    assert!(w.masked(5));
    destroy(&mut w, a.slot);
    assert!(w.masked(5));
    let q = w.k.hw_irqs[5].unwrap();
    let irq = w.k.irqs.get(q).unwrap();
    assert!(irq.target.is_none() && !irq.pending);
    // It can be attached to another thread, which then gets the next interrupt.
    w.invoke_ok(w.root, World::IRQ_LINE5, irq::ATTACH, &[b.slot, 55]);
    assert!(!w.masked(5));
    w.invoke_ok(w.root, b.slot, thread::CANCEL, &[]);
    w.wait(b.h);
    w.interrupt(5);
    assert_eq!(w.ok(b.h).label, 55);
}

#[test]
fn deleting_a_factory_deletes_everything_charged_to_it() {
    let mut w = World::new();
    let before = w.invoke_ok(w.root, pecan_abi::caps::ROOT_FACTORY, factory::QUOTA, &[]);
    let frames = w.k.frames.len();
    let root_pt = w.k.tasks.get(w.root_task).unwrap().pt_frames;
    let f = w.slot();
    w.invoke_ok(w.root, pecan_abi::caps::ROOT_FACTORY, factory::CREATE_FACTORY, &[f, 1 << 20]);
    let t = w.slot();
    w.invoke_ok(w.root, f, factory::CREATE_TASK, &[t, 4]);
    let th = w.slot();
    w.invoke_ok(w.root, f, factory::CREATE_THREAD, &[th, t, 0x10_0000]);
    let th2 = w.slot();
    // A thread charged to f in root's own task.
    w.invoke_ok(w.root, f, factory::CREATE_THREAD, &[th2, pecan_abi::caps::ROOT_TASK, 0x20_0000]);
    let g = w.slot();
    w.invoke_ok(w.root, f, factory::CREATE_GATE, &[g, th, 7]);
    let q = w.slot();
    w.invoke_ok(w.root, f, factory::CREATE_IRQ, &[q]);
    let f2 = w.slot();
    w.invoke_ok(w.root, f, factory::CREATE_FACTORY, &[f2, 1 << 16]);
    let t2 = w.slot();
    w.invoke_ok(w.root, f2, factory::CREATE_TASK, &[t2, 2]);
    w.give_page(ram(0x2000), t, 0x5000, MemRights::RW);
    assert!(w.translate(w.task_h(t), 0x5000).is_some());
    w.invoke_ok(w.root, th, thread::SET_REGS, &[0x40_0000, 0, 0]);
    w.invoke_ok(w.root, th, thread::START, &[]);
    w.invoke_ok(w.root, f, any::DESTROY, &[]);
    for s in [f, t, th, th2, g, q, f2, t2] {
        assert_eq!(w.invoke(w.root, s, any::DESTROY, &[]), Err(Error::StaleCap), "slot {s}");
        // Root unmaps its stale capability (it keeps the slot otherwise).
        let fp = pecan_abi::Fpage::object(s, 0, pecan_abi::CapRights::ALL);
        w.invoke_ok(w.root, pecan_abi::caps::ROOT_TASK, task::UNMAP, &[fp.0, task::UNMAP_SELF]);
    }
    // What stays: root's window page node for the mapped page (an original of the
    // window) and the page tables root's task grew for the second thread's UTCB.
    let grown = w.k.tasks.get(w.root_task).unwrap().pt_frames - root_pt;
    let after = w.invoke_ok(w.root, pecan_abi::caps::ROOT_FACTORY, factory::QUOTA, &[]);
    assert_eq!(after[0] + pecan_core::mdb::NODE_COST + grown * 4096, before[0]);
    assert_eq!(w.k.frames.len() as u64 + grown, frames as u64);
    assert_eq!(w.k.factories.len(), 1);
}

#[test]
fn the_root_factory_and_root_task_cannot_be_deleted() {
    let mut w = World::new();
    for s in [pecan_abi::caps::ROOT_FACTORY, pecan_abi::caps::ROOT_TASK] {
        assert_eq!(w.invoke(w.root, s, any::DESTROY, &[]), Err(Error::InvalidArgument));
    }
    for s in [pecan_abi::caps::ROOT_CONSOLE, pecan_abi::caps::ROOT_MACHINE] {
        assert_eq!(w.invoke(w.root, s, any::DESTROY, &[]), Err(Error::WrongType));
    }
}

#[test]
fn deleting_a_blocked_thread_with_a_timeout_leaves_the_wheel_clean() {
    let Scene { mut w, s, a, b, .. } = scene();
    w.recv(s.h, 0, Timeout::from_micros(3000));
    w.recv(a.h, 0, Timeout::from_micros(3000));
    w.recv(b.h, 0, NEVER);
    assert_eq!(w.k.wheel.entries(), 2);
    destroy(&mut w, s.slot);
    assert_eq!(w.k.wheel.entries(), 1);
    w.tick(3);
    assert_eq!(w.err(a.h), Some((Error::Timeout, Phase::Receive)));
    assert_eq!(w.k.wheel.entries(), 0);
}

#[test]
fn deleting_the_sender_of_a_pending_message_is_safe_for_the_receiver() {
    // The receiver closed-waits on the sender's thread; the sender dies before sending.
    let Scene { mut w, s, a, b, ct, .. } = scene();
    let _ = ct;
    w.recv(s.h, 0, NEVER);
    w.recv(a.h, TO, Timeout::from_micros(4000));
    w.recv(b.h, 0, NEVER);
    destroy(&mut w, b.slot);
    assert_eq!(w.err(a.h), Some((Error::PartnerDeleted, Phase::Receive)));
    w.recv(a.h, 0, NEVER);
    w.tick(5);
    assert_eq!(w.state(a.h), State::Receiving(Filter::Nil));
}
