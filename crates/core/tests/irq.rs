//! IRQ objects (seed 002, "Asynchronous IPC (IRQ)"): attach, software trigger, hardware
//! lines, delivery to a waiting thread or pending until it waits, masking until the
//! acknowledgement, detach.

mod common;
use common::*;
use pecan_abi::object::{irq, thread};
use pecan_abi::{Error, MsgTag, Phase, Status, Sys, Timeout, proto};
use pecan_core::State;
use pecan_core::thread::Filter;

const NEVER: Timeout = Timeout::NEVER;
/// The software IRQ, in the task.
const IQ: u64 = 30;
/// The hardware IRQ of line 5, in the task.
const HW: u64 = 31;
/// A gate bound to the receiver.
const GR: u64 = 10;

/// Receiver `r` (priority 150) and another thread `o` (100) in one task; a software IRQ
/// attached to `r` with label 0x51; the task holds the IRQ, line 5's IRQ and a gate to r.
struct Scene {
    w: World,
    r: Th,
    o: Th,
    q: u64,
    g: u64,
}

fn scene() -> Scene {
    let mut w = World::new();
    let t = w.new_task();
    let r = w.new_thread(t, 150);
    let o = w.new_thread(t, 100);
    let q = w.new_irq();
    w.invoke_ok(w.root, q, irq::ATTACH, &[r.slot, 0x51]);
    w.give_cap(q, t, IQ);
    w.give_cap(World::IRQ_LINE5, t, HW);
    let g = w.new_gate(r, 0x60);
    w.give_cap(g, t, GR);
    w.give_cap(r.slot, t, 20);
    w.start(r);
    w.start(o);
    w.go();
    Scene { w, r, o, q, g }
}

fn is_irq(ret: &Ret, label: u64) -> bool {
    ret.status == Status::OK && ret.label == label && ret.tag == MsgTag::new(proto::IRQ, 0, 0)
}

#[test]
fn a_trigger_reaches_a_waiting_thread() {
    for closed in [false, true] {
        let Scene { mut w, r, o, .. } = scene();
        if closed {
            w.recv(r.h, IQ, NEVER);
        } else {
            w.wait(r.h);
        }
        assert_eq!(w.cur(), Some(o.h));
        w.invoke_ok(o.h, IQ, irq::TRIGGER, &[]);
        assert_eq!(w.cur(), Some(r.h), "the receiver outranks the trigger");
        let ret = w.ret(r.h);
        assert!(is_irq(&ret, 0x51), "{ret:?}");
    }
}

#[test]
fn a_trigger_while_busy_is_pending_until_the_next_wait() {
    let Scene { mut w, r, o, g, .. } = scene();
    w.recv(r.h, GR, NEVER);
    // A closed wait on a gate does not take the IRQ.
    w.invoke_ok(o.h, IQ, irq::TRIGGER, &[]);
    assert_eq!(w.state(r.h), State::Receiving(Filter::Gate(w.gate_h(g))));
    // Triggering again while pending changes nothing (one delivery).
    w.invoke_ok(o.h, IQ, irq::TRIGGER, &[]);
    w.invoke_ok(o.h, 20, thread::CANCEL, &[]);
    assert_eq!(w.cur(), Some(r.h));
    w.wait(r.h);
    assert!(is_irq(&w.ret(r.h), 0x51), "delivered at once on the open wait");
    assert_eq!(w.cur(), Some(r.h));
    w.sys(r.h, Sys::Wait, 0, tag(0, 0), &[], NEVER, Timeout::ZERO);
    assert_eq!(w.err(r.h), Some((Error::Timeout, Phase::Receive)), "only once");
}

#[test]
fn a_pending_irq_comes_before_queued_messages() {
    let Scene { mut w, r, o, .. } = scene();
    w.recv(r.h, 0, NEVER);
    w.invoke_ok(o.h, IQ, irq::TRIGGER, &[]);
    w.sys(o.h, Sys::Send, GR, tag(3, 0), &[], NEVER, NEVER);
    assert!(w.blocked(o.h));
    // Root wakes r.
    w.invoke_ok(w.root, r.slot, thread::CANCEL, &[]);
    w.wait(r.h);
    assert!(is_irq(&w.ret(r.h), 0x51));
    w.wait(r.h);
    assert_eq!(w.ok(r.h).label, 0x60);
}

#[test]
fn a_closed_wait_on_an_irq_skips_messages() {
    let Scene { mut w, r, o, q, .. } = scene();
    w.recv(r.h, 0, NEVER);
    w.sys(o.h, Sys::Send, GR, tag(3, 0), &[], NEVER, NEVER);
    w.invoke_ok(w.root, r.slot, thread::CANCEL, &[]);
    w.recv(r.h, IQ, Timeout::ZERO);
    assert_eq!(w.err(r.h), Some((Error::Timeout, Phase::Receive)));
    w.recv(r.h, IQ, NEVER);
    assert!(w.blocked(o.h), "the message stays queued");
    assert_eq!(
        w.state(r.h),
        State::Receiving(Filter::Irq(match w.obj(q) {
            pecan_core::obj::ObjRef::Irq(i) => i,
            o => panic!("{o:?}"),
        }))
    );
}

#[test]
fn a_hardware_line_is_masked_until_acknowledged() {
    let mut sc = scene();
    let w = &mut sc.w;
    let r = sc.r;
    // Attach line 5 to r (root, while everyone sleeps).
    w.recv(r.h, 0, NEVER);
    w.recv(sc.o.h, 0, NEVER);
    assert!(w.masked(5), "a detached line is masked");
    w.invoke_ok(w.root, World::IRQ_LINE5, irq::ATTACH, &[r.slot, 0x55]);
    assert!(!w.masked(5), "attaching unmasks");
    w.invoke_ok(w.root, r.slot, thread::CANCEL, &[]);
    w.wait(r.h);
    w.interrupt(5);
    assert!(is_irq(&w.ret(r.h), 0x55));
    assert!(w.masked(5), "masked until the receiver acknowledges");
    assert_eq!(w.cur(), Some(r.h));
    w.invoke_ok(r.h, HW, irq::ACK, &[]);
    assert!(!w.masked(5));
    // Fired while r is busy: pending, masked; the next wait takes it; ack unmasks.
    w.recv(r.h, 0, Timeout::from_micros(2000));
    w.interrupt(5);
    assert!(w.masked(5));
    assert!(w.blocked(r.h));
    w.tick(2);
    assert_eq!(w.err(r.h), Some((Error::Timeout, Phase::Receive)));
    w.wait(r.h);
    assert!(is_irq(&w.ret(r.h), 0x55));
    w.invoke_ok(r.h, HW, irq::ACK, &[]);
    assert!(!w.masked(5));
    if w.counting() {
        assert_eq!(w.k.counters.irqs, 2);
    }
}

#[test]
fn detach_masks_the_line_drops_the_pending_irq_and_cancels_a_closed_wait() {
    let mut sc = scene();
    let w = &mut sc.w;
    let (r, o, q) = (sc.r, sc.o, sc.q);
    w.recv(r.h, IQ, NEVER);
    w.recv(o.h, 0, NEVER);
    w.invoke_ok(w.root, q, irq::DETACH, &[]);
    assert_eq!(w.cur(), Some(r.h));
    assert_eq!(w.err(r.h), Some((Error::Cancelled, Phase::Receive)));
    // Not attached: a closed wait on it is refused, a trigger stays pending.
    w.recv(r.h, IQ, NEVER);
    assert_eq!(w.err(r.h), Some((Error::NotBound, Phase::Receive)));
    w.invoke_ok(r.h, IQ, irq::TRIGGER, &[]);
    w.wait(r.h);
    assert!(w.blocked(r.h), "an unattached IRQ is delivered to nobody");
    // Attaching delivers the pending one to the waiting thread.
    w.invoke_ok(w.root, q, irq::ATTACH, &[r.slot, 0x52]);
    assert!(is_irq(&w.ret(r.h), 0x52));
    // Hardware: detach masks.
    w.recv(r.h, 0, NEVER);
    w.invoke_ok(w.root, World::IRQ_LINE5, irq::ATTACH, &[r.slot, 0x55]);
    w.interrupt(5);
    let i5 = w.k.hw_irqs[5].unwrap();
    assert!(w.k.irqs.get(i5).unwrap().pending);
    w.invoke_ok(w.root, World::IRQ_LINE5, irq::DETACH, &[]);
    assert!(w.masked(5));
    assert!(!w.k.irqs.get(i5).unwrap().pending, "the pending delivery is dropped");
    // Acknowledging a detached IRQ does not unmask its line.
    w.invoke_ok(w.root, World::IRQ_LINE5, irq::ACK, &[]);
    assert!(w.masked(5));
}

#[test]
fn attach_checks() {
    let Scene { mut w, r, o, q, .. } = scene();
    w.recv(r.h, 0, NEVER);
    w.recv(o.h, 0, NEVER);
    assert_eq!(w.invoke(w.root, q, irq::ATTACH, &[o.slot, 1]), Err(Error::AlreadyBound));
    assert_eq!(w.invoke(w.root, q, irq::ATTACH, &[pecan_abi::caps::ROOT_TASK, 1]), Err(Error::WrongType));
    assert_eq!(w.invoke(w.root, q, irq::ATTACH, &[]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, q, 9, &[]), Err(Error::InvalidArgument));
    // Re-attaching to the same thread is refused too (detach first).
    assert_eq!(w.invoke(w.root, q, irq::ATTACH, &[r.slot, 2]), Err(Error::AlreadyBound));
    w.invoke_ok(w.root, q, irq::DETACH, &[]);
    w.invoke_ok(w.root, q, irq::ATTACH, &[o.slot, 2]);
    // A closed wait on an IRQ attached to someone else.
    w.invoke_ok(w.root, r.slot, thread::CANCEL, &[]);
    w.recv(r.h, IQ, NEVER);
    assert_eq!(w.err(r.h), Some((Error::NotBound, Phase::Receive)));
}

#[test]
fn an_interrupt_on_a_line_without_an_object_is_masked_and_dropped() {
    let Scene { mut w, .. } = scene();
    w.interrupt(9);
    assert!(w.masked(9));
    assert_eq!(w.k.counters.irqs, 0);
    assert!(w.k.irqs.iter().all(|(_, q)| !q.pending), "nothing pending anywhere");
}
