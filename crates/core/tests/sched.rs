//! The dispatcher (seed 001 "Dispatching", seed 003 "Direct process-switch"): fixed
//! priorities, round robin with time slices, preemption by a woken thread of higher
//! priority, yield, direct switch with time-slice donation, idle. Every expectation here
//! holds with and without lazy queues and direct switch.

mod common;
use common::*;
use pecan_abi::object::thread;
use pecan_abi::{Error, Timeout};
use pecan_core::State;

const NEVER: Timeout = Timeout::NEVER;
const GS: u64 = 10;

fn ms(n: u64) -> Timeout {
    Timeout::from_micros(n * 1000)
}

/// Threads at the given priorities in one task, started in order.
fn threads(prios: &[u64]) -> (World, Vec<Th>, u64) {
    let mut w = World::new();
    let t = w.new_task();
    let ths: Vec<Th> = prios.iter().map(|&p| w.spawn(t, p)).collect();
    (w, ths, t)
}

#[test]
fn the_highest_priority_runs_first() {
    let (mut w, th, _) = threads(&[50, 100, 150]);
    // Root (200) still runs: starting lower-priority threads does not preempt it.
    assert_eq!(w.cur(), Some(w.root));
    w.go();
    for i in [2, 1, 0] {
        assert_eq!(w.cur(), Some(th[i].h));
        w.recv(th[i].h, 0, NEVER);
    }
    assert_eq!(w.cur(), Some(w.root));
}

#[test]
fn round_robin_with_time_slices() {
    let (mut w, th, _) = threads(&[100, 100, 100]);
    w.go();
    let order: Vec<usize> = (0..6)
        .map(|_| {
            let c = w.cur().unwrap();
            let i = th.iter().position(|t| t.h == c).unwrap();
            // Default slice: 10 ticks. After 9 the same thread runs; the 10th rotates.
            w.tick(9);
            assert_eq!(w.cur(), Some(c));
            w.tick(1);
            i
        })
        .collect();
    assert_eq!(order, vec![0, 1, 2, 0, 1, 2]);
}

#[test]
fn a_time_slice_can_be_set_in_microseconds() {
    let (mut w, th, _) = threads(&[100, 100]);
    // (Setting the priority puts a ready thread at the end of its list; th[1] is there.)
    w.invoke_ok(w.root, th[1].slot, thread::SET_PRIORITY, &[100, 3000]);
    w.go();
    assert_eq!(w.cur(), Some(th[0].h));
    w.tick(10);
    assert_eq!(w.cur(), Some(th[1].h));
    assert_eq!(w.k.sched().slice_left, 3);
    w.tick(2);
    assert_eq!(w.cur(), Some(th[1].h));
    w.tick(1);
    assert_eq!(w.cur(), Some(th[0].h));
}

#[test]
fn a_thread_alone_at_its_priority_keeps_running_after_its_slice() {
    let (mut w, th, _) = threads(&[100, 50]);
    w.go();
    w.tick(25);
    assert_eq!(w.cur(), Some(th[0].h));
}

#[test]
fn preemption_when_a_timeout_wakes_a_higher_priority() {
    let (mut w, th, _) = threads(&[200, 100, 100]);
    w.go();
    let (h, a, b) = (th[0], th[1], th[2]);
    w.recv(h.h, 0, ms(5));
    assert_eq!(w.cur(), Some(a.h));
    w.tick(4);
    assert_eq!(w.cur(), Some(a.h));
    w.tick(1);
    assert_eq!(w.cur(), Some(h.h), "the woken thread preempts at once");
    w.recv(h.h, 0, NEVER);
    assert_eq!(w.cur(), Some(a.h), "the preempted thread resumes first among its priority");
    let _ = b;
}

#[test]
fn preemption_when_a_message_wakes_a_higher_priority() {
    let (mut w, th, t) = threads(&[150, 100, 100]);
    let g = w.new_gate(th[0], 7);
    w.give_cap(g, t, GS);
    w.go();
    let (h, a, b) = (th[0], th[1], th[2]);
    w.wait(h.h);
    assert_eq!(w.cur(), Some(a.h));
    w.send(a.h, GS, tag(1, 0), &[]);
    assert_eq!(w.cur(), Some(h.h));
    w.recv(h.h, 0, NEVER);
    assert_eq!(w.cur(), Some(a.h), "the sender was preempted, not rotated");
    let _ = b;
}

#[test]
fn preemption_when_an_interrupt_wakes_a_higher_priority() {
    let (mut w, th, _) = threads(&[150, 100]);
    w.invoke_ok(w.root, World::IRQ_LINE5, pecan_abi::object::irq::ATTACH, &[th[0].slot, 1]);
    w.go();
    w.wait(th[0].h);
    assert_eq!(w.cur(), Some(th[1].h));
    w.interrupt(5);
    assert_eq!(w.cur(), Some(th[0].h));
}

#[test]
fn yield_goes_to_the_end_of_the_priority() {
    let (mut w, th, _) = threads(&[100, 100, 50]);
    w.go();
    w.yield_(th[0].h);
    assert_eq!(w.cur(), Some(th[1].h));
    w.yield_(th[1].h);
    assert_eq!(w.cur(), Some(th[0].h));
    // Alone at its priority (the lower one does not count), a yield changes nothing.
    w.yield_(th[0].h);
    w.recv(th[1].h, 0, NEVER);
    assert_eq!(w.cur(), Some(th[0].h));
    w.yield_(th[0].h);
    assert_eq!(w.cur(), Some(th[0].h));
    assert_eq!(w.ok(th[0].h).tag.words(), 0);
}

#[test]
fn a_woken_thread_goes_to_the_tail() {
    let (mut w, th, _) = threads(&[100, 100, 100]);
    w.go();
    let (a, b, c) = (th[0], th[1], th[2]);
    w.yield_(a.h);
    w.yield_(b.h);
    w.recv(c.h, 0, ms(2));
    // Order now: a (running), b. c wakes at tick 2 and goes behind b.
    assert_eq!(w.cur(), Some(a.h));
    w.tick(2);
    assert_eq!(w.cur(), Some(a.h), "same priority does not preempt");
    w.yield_(a.h);
    assert_eq!(w.cur(), Some(b.h));
    w.yield_(b.h);
    assert_eq!(w.cur(), Some(c.h));
}

#[test]
fn direct_switch_donates_the_time_slice_both_ways() {
    let (mut w, th, t) = threads(&[100, 100, 100]);
    let (s, a, b) = (th[0], th[1], th[2]);
    let g = w.new_gate(s, 7);
    w.give_cap(g, t, GS);
    w.go();
    w.wait(s.h);
    assert_eq!(w.cur(), Some(a.h));
    w.tick(4);
    assert_eq!(w.k.sched().slice_left, 6);
    // The call switches straight to the server, ahead of b, on a's remaining slice.
    w.call(a.h, GS, tag(1, 0), &[]);
    assert_eq!(w.cur(), Some(s.h));
    assert_eq!(w.k.sched().slice_left, 6);
    w.tick(2);
    assert_eq!(w.cur(), Some(s.h));
    // The reply hands the rest back.
    w.reply_wait(s.h, tag(2, 0), &[]);
    assert_eq!(w.cur(), Some(a.h));
    assert_eq!(w.k.sched().slice_left, 4);
    w.tick(3);
    assert_eq!(w.cur(), Some(a.h));
    w.tick(1);
    assert_eq!(w.cur(), Some(b.h), "the donated slice ran out: round robin goes on");
    if w.counting() {
        if cfg!(feature = "direct-switch") {
            assert!(w.k.counters.direct_switches >= 2);
        }
        assert!(w.k.counters.handoffs >= 2);
    }
}

#[test]
fn a_call_does_not_switch_past_a_higher_priority() {
    let (mut w, th, t) = threads(&[50, 150, 100]);
    let (s, a, b) = (th[0], th[1], th[2]);
    let g = w.new_gate(s, 7);
    w.give_cap(g, t, GS);
    w.go();
    // a (150) runs first; s must wait before a calls: let a sleep briefly.
    w.recv(a.h, 0, ms(1));
    w.recv(b.h, 0, ms(1));
    w.wait(s.h);
    w.tick(1);
    assert_eq!(w.cur(), Some(a.h));
    w.call(a.h, GS, tag(1, 0), &[]);
    assert_eq!(w.cur(), Some(b.h), "b (100) outranks the server (50)");
    w.recv(b.h, 0, NEVER);
    assert_eq!(w.cur(), Some(s.h));
    // The reply wakes a (150), which preempts the server at once.
    w.reply(s.h, tag(2, 0), &[]);
    assert_eq!(w.cur(), Some(a.h));
    assert_eq!(w.state(s.h), State::Ready);
}

#[test]
fn a_call_to_a_higher_priority_server_runs_it() {
    let (mut w, th, t) = threads(&[150, 100, 100]);
    let (s, a, _b) = (th[0], th[1], th[2]);
    let g = w.new_gate(s, 7);
    w.give_cap(g, t, GS);
    w.go();
    w.wait(s.h);
    w.call(a.h, GS, tag(1, 0), &[]);
    assert_eq!(w.cur(), Some(s.h));
    w.reply_wait(s.h, tag(2, 0), &[]);
    assert_eq!(w.cur(), Some(a.h));
}

#[test]
fn changing_priorities_reschedules() {
    let (mut w, th, t) = threads(&[100, 100]);
    let (a, b) = (th[0], th[1]);
    w.give_cap(b.slot, t, 20);
    w.give_cap(a.slot, t, 21);
    w.go();
    assert_eq!(w.cur(), Some(a.h));
    // Raising a ready thread above the running one preempts it.
    w.invoke_ok(a.h, 20, thread::SET_PRIORITY, &[120]);
    assert_eq!(w.cur(), Some(b.h));
    // Lowering oneself below a ready thread gives up the CPU.
    w.invoke_ok(b.h, 20, thread::SET_PRIORITY, &[90]);
    assert_eq!(w.cur(), Some(a.h));
    // Out of range.
    assert_eq!(w.invoke(a.h, 21, thread::SET_PRIORITY, &[256]), Err(Error::InvalidArgument));
    // A blocked thread's new priority applies when it wakes.
    w.recv(a.h, 0, ms(1));
    assert_eq!(w.cur(), Some(b.h));
    w.invoke_ok(b.h, 21, thread::SET_PRIORITY, &[80]);
    w.tick(1);
    assert_eq!(w.cur(), Some(b.h), "a woke at 80, below b at 90");
    assert_eq!(w.state(a.h), State::Ready);
}

#[test]
fn idle_when_everything_blocks() {
    let (mut w, th, _) = threads(&[100]);
    w.go();
    w.recv(th[0].h, 0, NEVER);
    assert_eq!(w.cur(), Some(w.root));
    w.recv(w.root, 0, ms(3));
    assert_eq!(w.cur(), None, "nothing to run: the dispatcher idles");
    w.tick(2);
    assert_eq!(w.cur(), None);
    w.tick(1);
    assert_eq!(w.cur(), Some(w.root));
}

#[test]
fn read_regs_reports_state_and_priority() {
    let (mut w, th, _) = threads(&[100]);
    let r = w.invoke_ok(w.root, th[0].slot, thread::READ_REGS, &[]);
    assert_eq!((r[0], r[1], r[2], r[3]), (0x40_0000, 0x7000_0000, 1, 100));
    w.go();
    w.recv(th[0].h, 0, NEVER);
    let r = w.invoke_ok(w.root, th[0].slot, thread::READ_REGS, &[]);
    assert_eq!(r[2], 3, "receiving");
}
