//! IPC between threads: call, reply-and-wait, send, open and closed wait, labels, reply
//! capability validity, timeouts, sleep.

mod common;
use common::*;
use pecan_abi::{Error, Phase, Status, Sys, Timeout};

const NEVER: Timeout = Timeout::NEVER;
const ZERO: Timeout = Timeout::ZERO;

/// A client and a server in one new task, the client holding a gate to the server.
struct Pair {
    w: World,
    s: Th,
    c: Th,
    _gate: u64,
}

const GATE_SLOT: u64 = 10;

fn pair() -> Pair {
    let mut w = World::new();
    let t = w.new_task();
    let s = w.new_thread(t, 100);
    let c = w.new_thread(t, 100);
    let g = w.new_gate(s, 0x42);
    w.give_cap(g, t, GATE_SLOT);
    w.start(s);
    w.start(c);
    w.go();
    Pair { w, s, c, _gate: g }
}

#[test]
fn call_and_reply_wait() {
    let Pair { mut w, s, c, .. } = pair();
    // The server was started first: it runs and waits.
    assert_eq!(w.cur(), Some(s.h));
    w.sys(s.h, Sys::Wait, 0, tag(0, 0), &[], NEVER, NEVER);
    assert_eq!(w.cur(), Some(c.h));
    w.sys(c.h, Sys::Call, GATE_SLOT, tag(7, 2), &[11, 22], NEVER, NEVER);
    // Direct switch: the server runs with the message and the gate's label.
    assert_eq!(w.cur(), Some(s.h));
    let r = w.ret(s.h);
    assert_eq!((r.status, r.label, r.tag.label(), r.words.clone()), (Status::OK, 0x42, 7, vec![11, 22]));
    w.sys(s.h, Sys::ReplyWait, 0, tag(8, 1), &[33], NEVER, NEVER);
    assert_eq!(w.cur(), Some(c.h));
    let r = w.ret(c.h);
    assert_eq!((r.status, r.tag.label(), r.words), (Status::OK, 8, vec![33]));
    assert!(w.k.threads.get(s.h).unwrap().state.is_blocked());
}

#[test]
fn long_message_through_utcb() {
    let Pair { mut w, s, c, .. } = pair();
    w.sys(s.h, Sys::Wait, 0, tag(0, 0), &[], NEVER, NEVER);
    let msg: Vec<u64> = (0..64).map(|i| i * 3 + 1).collect();
    w.sys(c.h, Sys::Call, GATE_SLOT, tag(1, 64), &msg, NEVER, NEVER);
    assert_eq!(w.ret(s.h).words, msg);
}

#[test]
fn send_blocks_until_receiver_waits() {
    let Pair { mut w, s, c, .. } = pair();
    // The server is busy (yields instead of waiting): the client's send blocks.
    w.sys(s.h, Sys::Yield, 0, tag(0, 0), &[], NEVER, NEVER);
    assert_eq!(w.cur(), Some(c.h));
    w.sys(c.h, Sys::Send, GATE_SLOT, tag(5, 1), &[9], NEVER, NEVER);
    assert!(w.k.threads.get(c.h).unwrap().state.is_blocked());
    assert_eq!(w.cur(), Some(s.h));
    w.sys(s.h, Sys::Wait, 0, tag(0, 0), &[], NEVER, NEVER);
    // The server got the queued message at once and keeps running; the client is ready.
    assert_eq!(w.cur(), Some(s.h));
    assert_eq!(w.ret(s.h).words, vec![9]);
    assert_eq!(w.ret(c.h).status, Status::OK);
}

#[test]
fn send_timeout_zero_and_relative() {
    let Pair { mut w, s, c, .. } = pair();
    w.sys(s.h, Sys::Yield, 0, tag(0, 0), &[], NEVER, NEVER);
    w.sys(c.h, Sys::Send, GATE_SLOT, tag(5, 0), &[], ZERO, NEVER);
    assert_eq!(w.ret(c.h).err(), Some((Error::Timeout, Phase::Send)));
    // 5 ms: blocks, expires after 5 ticks (1 kHz).
    w.sys(c.h, Sys::Send, GATE_SLOT, tag(5, 0), &[], Timeout::from_micros(5000), NEVER);
    assert!(w.k.threads.get(c.h).unwrap().state.is_blocked());
    w.tick(4);
    assert!(w.k.threads.get(c.h).unwrap().state.is_blocked());
    w.tick(1);
    assert_eq!(w.ret(c.h).err(), Some((Error::Timeout, Phase::Send)));
}

#[test]
fn sleep_is_receive_from_nil() {
    let Pair { mut w, s, .. } = pair();
    w.sys(s.h, Sys::Recv, 0, tag(0, 0), &[], NEVER, Timeout::from_micros(3000));
    assert!(w.k.threads.get(s.h).unwrap().state.is_blocked());
    w.tick(2);
    assert!(w.k.threads.get(s.h).unwrap().state.is_blocked());
    w.tick(1);
    assert_eq!(w.ret(s.h).err(), Some((Error::Timeout, Phase::Receive)));
}

#[test]
fn reply_capability_is_single_use_and_dies_with_next_wait() {
    let Pair { mut w, s, c, .. } = pair();
    w.sys(s.h, Sys::Wait, 0, tag(0, 0), &[], NEVER, NEVER);
    w.sys(c.h, Sys::Call, GATE_SLOT, tag(1, 0), &[], NEVER, NEVER);
    assert_eq!(w.cur(), Some(s.h));
    w.sys(s.h, Sys::Reply, 0, tag(2, 0), &[], NEVER, NEVER);
    assert_eq!(w.ret(s.h).status, Status::OK);
    // Reply does not block: the server keeps running (same priority); a second reply fails.
    assert_eq!(w.cur(), Some(s.h));
    w.sys(s.h, Sys::Reply, 0, tag(2, 0), &[], NEVER, NEVER);
    assert_eq!(w.ret(s.h).err(), Some((Error::NoReplyCap, Phase::Send)));
}

#[test]
fn deleting_the_server_releases_the_caller() {
    let Pair { mut w, s, c, .. } = pair();
    w.sys(s.h, Sys::Wait, 0, tag(0, 0), &[], NEVER, NEVER);
    w.sys(c.h, Sys::Call, GATE_SLOT, tag(1, 0), &[], NEVER, NEVER);
    // The server blocks elsewhere without replying; root runs and deletes it.
    w.sys(s.h, Sys::Recv, 0, tag(0, 0), &[], NEVER, NEVER);
    assert_eq!(w.cur(), Some(w.root));
    w.invoke_ok(w.root, s.slot, pecan_abi::object::any::DESTROY, &[]);
    assert_eq!(w.cur(), Some(c.h));
    assert_eq!(w.ret(c.h).err(), Some((Error::PartnerDeleted, Phase::Receive)));
    // Root's capability to the deleted thread is stale.
    w.sys(c.h, Sys::Recv, 0, tag(0, 0), &[], NEVER, NEVER);
    assert_eq!(w.cur(), Some(w.root));
    assert_eq!(w.invoke(w.root, s.slot, pecan_abi::object::thread::START, &[]), Err(Error::StaleCap));
}

// ---- a server with two gates and two clients in another task ---------------------------

/// Server `s` in its own task with gates 1 and 2 (labels 0x11, 0x22); clients `a` and `b`
/// in another task. Both tasks hold both gates at slots 10 and 11; the server's task holds
/// the clients' thread capabilities at 20 and 21.
struct Net {
    w: World,
    s: Th,
    a: Th,
    b: Th,
    /// A controller (see `World::ctl`).
    c: Th,
}

const G1: u64 = 10;
const G2: u64 = 11;
/// A gate bound to client `b` (label 0x33).
const G3: u64 = 12;
const TA: u64 = 20;
const TB: u64 = 21;
/// The server's own thread capability.
const TS: u64 = 22;

fn net() -> Net {
    let mut w = World::new();
    let st = w.new_task();
    let ct = w.new_task();
    let s = w.new_thread(st, 100);
    let a = w.new_thread(ct, 100);
    let b = w.new_thread(ct, 100);
    let g1 = w.new_gate(s, 0x11);
    let g2 = w.new_gate(s, 0x22);
    let g3 = w.new_gate(b, 0x33);
    for t in [st, ct] {
        w.give_cap(g1, t, G1);
        w.give_cap(g2, t, G2);
        w.give_cap(g3, t, G3);
    }
    w.give_cap(a.slot, st, TA);
    w.give_cap(b.slot, st, TB);
    w.give_cap(s.slot, st, TS);
    let c = w.ctl();
    w.start(s);
    w.start(a);
    w.start(b);
    w.go();
    Net { w, s, a, b, c }
}

#[test]
fn open_wait_reports_the_label_of_each_gate() {
    let Net { mut w, s, a, b, .. } = net();
    // The server does something else; both clients send, one through each gate.
    w.yield_(s.h);
    w.send(a.h, G1, tag(1, 1), &[100]);
    w.send(b.h, G2, tag(2, 1), &[200]);
    assert!(w.blocked(a.h) && w.blocked(b.h));
    assert_eq!(w.cur(), Some(s.h));
    w.wait(s.h);
    let r = w.ok(s.h);
    assert_eq!((r.label, r.tag.label(), r.words), (0x11, 1, vec![100]));
    w.wait(s.h);
    let r = w.ok(s.h);
    assert_eq!((r.label, r.tag.label(), r.words), (0x22, 2, vec![200]));
    // Both senders completed.
    assert_eq!(w.ok(a.h).tag.words(), 0);
    w.ok(b.h);
}

#[test]
fn closed_wait_on_a_gate_takes_only_that_gate() {
    let Net { mut w, s, a, b, .. } = net();
    w.yield_(s.h);
    w.send(a.h, G1, tag(1, 1), &[1]);
    w.send(b.h, G2, tag(2, 1), &[2]);
    w.recv(s.h, G2, Timeout::NEVER);
    let r = w.ok(s.h);
    assert_eq!((r.label, r.words.clone()), (0x22, vec![2]));
    assert!(w.blocked(a.h), "the message through gate 1 stays queued");
    assert!(!w.blocked(b.h));
    // Nothing else on gate 2: the server blocks, and a message through gate 1 does not
    // wake it.
    w.recv(s.h, G2, Timeout::NEVER);
    assert!(w.blocked(s.h));
    assert!(w.blocked(a.h));
    // b sends through gate 2: delivered.
    assert_eq!(w.cur(), Some(b.h));
    w.send(b.h, G2, tag(3, 1), &[3]);
    assert_eq!(w.ok(s.h).words, vec![3]);
    // The open wait then takes the queued gate-1 message.
    if w.cur() == Some(b.h) {
        w.yield_(b.h);
    }
    assert_eq!(w.cur(), Some(s.h));
    w.wait(s.h);
    let r = w.ok(s.h);
    assert_eq!((r.label, r.words), (0x11, vec![1]));
}

#[test]
fn closed_wait_on_a_thread_takes_only_that_thread() {
    let Net { mut w, s, a, b, .. } = net();
    w.yield_(s.h);
    w.send(a.h, G1, tag(1, 1), &[1]);
    w.send(b.h, G1, tag(2, 1), &[2]);
    // a queued first, but the server waits for b.
    w.recv(s.h, TB, Timeout::NEVER);
    assert_eq!(w.ok(s.h).words, vec![2]);
    assert!(w.blocked(a.h));
    // Waiting for b again blocks; a's message does not satisfy it.
    w.recv(s.h, TB, Timeout::NEVER);
    assert!(w.blocked(s.h));
    assert_eq!(w.cur(), Some(b.h));
    w.send(b.h, G2, tag(3, 1), &[3]);
    let r = w.ok(s.h);
    assert_eq!((r.label, r.words), (0x22, vec![3]), "any gate, from that thread");
}

#[test]
fn a_message_waits_while_the_receiver_closed_waits_elsewhere() {
    let Net { mut w, s, a, b, .. } = net();
    w.recv(s.h, TB, Timeout::NEVER);
    assert_eq!(w.cur(), Some(a.h));
    w.send(a.h, G1, tag(1, 0), &[]);
    assert!(w.blocked(a.h) && w.blocked(s.h));
    w.send(b.h, G1, tag(2, 0), &[]);
    assert_eq!(w.ret(s.h).tag.label(), 2);
}

#[test]
fn call_across_address_spaces_switches_and_returns() {
    let Net { mut w, s, a, .. } = net();
    w.wait(s.h);
    let switches = w.k.counters.as_switches;
    w.call(a.h, G1, tag(5, 3), &[1, 2, 3]);
    assert_eq!(w.cur(), Some(s.h));
    assert!(w.k.counters.as_switches > switches || !w.counting(), "the server's address space is loaded");
    assert_eq!(w.k.active_task(), Some(w.k.threads.get(s.h).unwrap().task));
    let r = w.ok(s.h);
    assert_eq!((r.label, r.tag.label(), r.words), (0x11, 5, vec![1, 2, 3]));
    w.reply_wait(s.h, tag(6, 2), &[7, 8]);
    assert_eq!(w.cur(), Some(a.h));
    let r = w.ok(a.h);
    assert_eq!((r.label, r.tag.label(), r.words), (0, 6, vec![7, 8]), "a reply carries no gate label");
}

#[test]
fn message_sizes_registers_and_utcb() {
    for n in [0usize, 1, 7, 8, 9, 63, 64] {
        let Net { mut w, s, a, .. } = net();
        w.wait(s.h);
        let msg: Vec<u64> = (0..n as u64).map(|i| 0xabc0 + i).collect();
        w.call(a.h, G1, tag(1, n), &msg);
        let r = w.ok(s.h);
        assert_eq!(r.tag.words(), n);
        assert_eq!(r.words, msg, "{n} words");
        let back: Vec<u64> = msg.iter().map(|x| !x).collect();
        w.reply_wait(s.h, tag(2, n), &back);
        assert_eq!(w.ok(a.h).words, back);
    }
}

#[test]
fn kernel_only_flags_are_dropped_from_a_sent_tag() {
    let Net { mut w, s, a, .. } = net();
    w.wait(s.h);
    let t = tag(9, 1).with_flags(pecan_abi::tag::FLAG_CROSS_CPU);
    w.call(a.h, G1, t, &[5]);
    assert_eq!(w.ok(s.h).tag, tag(9, 1));
}

#[test]
fn send_to_a_waiting_receiver_completes_both() {
    let Net { mut w, s, a, .. } = net();
    w.wait(s.h);
    w.send(a.h, G1, tag(1, 1), &[42]);
    // Send is not a call: no handoff; both are ready, the sender keeps running.
    assert_eq!(w.cur(), Some(a.h));
    w.ok(a.h);
    assert_eq!(w.state(s.h), pecan_core::State::Ready);
    assert_eq!(w.ret(s.h).words, vec![42]);
}

#[test]
fn a_queued_caller_is_received_and_then_waits_for_the_reply() {
    let Net { mut w, s, a, .. } = net();
    w.yield_(s.h);
    w.call(a.h, G1, tag(1, 1), &[1]);
    assert!(matches!(w.state(a.h), pecan_core::State::Sending { call: true, .. }));
    // b runs now; let it sleep.
    let b = w.cur().unwrap();
    w.recv(b, 0, Timeout::NEVER);
    assert_eq!(w.cur(), Some(s.h));
    w.wait(s.h);
    assert!(matches!(w.state(a.h), pecan_core::State::WaitReply { .. }));
    w.reply(s.h, tag(2, 1), &[2]);
    assert_eq!(w.ok(a.h).words, vec![2]);
}

// ---- the reply capability ---------------------------------------------------------------

#[test]
fn reply_capability_survives_a_nested_call() {
    // s receives a's call, then calls b's server thread (b waits on its own gate), gets
    // b's reply, and still replies to a.
    let Net { mut w, s, a, b, .. } = net();
    w.wait(s.h);
    assert_eq!(w.cur(), Some(a.h));
    // b waits on its gate; a calls s.
    w.yield_(a.h);
    assert_eq!(w.cur(), Some(b.h));
    w.wait(b.h);
    w.call(a.h, G1, tag(1, 0), &[]);
    assert_eq!(w.cur(), Some(s.h));
    w.call(s.h, G3, tag(2, 0), &[]);
    assert_eq!(w.cur(), Some(b.h));
    assert_eq!(w.ok(b.h).label, 0x33);
    w.reply_wait(b.h, tag(3, 0), &[]);
    assert_eq!(w.cur(), Some(s.h));
    assert_eq!(w.ok(s.h).tag.label(), 3);
    // The nested call did not consume s's reply capability for a.
    w.reply(s.h, tag(4, 0), &[]);
    w.ok(s.h);
    assert_eq!(w.ok(a.h).tag.label(), 4);
}

#[test]
fn reply_capability_dies_when_the_next_wait_starts() {
    for next in [Sys::Wait, Sys::Recv] {
        let Net { mut w, s, a, .. } = net();
        w.wait(s.h);
        w.call(a.h, G1, tag(1, 0), &[]);
        // A receive with timeout 0 starts (and ends) a wait: the reply capability is gone.
        w.sys(s.h, next, 0, tag(0, 0), &[], NEVER, ZERO);
        assert_eq!(w.err(s.h), Some((Error::Timeout, Phase::Receive)));
        w.reply(s.h, tag(2, 0), &[]);
        assert_eq!(w.err(s.h), Some((Error::NoReplyCap, Phase::Send)), "after {next:?}");
        assert!(w.blocked(a.h), "the caller still waits");
    }
}

#[test]
fn reply_capability_dies_when_the_caller_gives_up() {
    // Receive timeout: the caller leaves after 2 ticks; the late reply fails.
    let Net { mut w, s, a, .. } = net();
    w.wait(s.h);
    w.sys(a.h, Sys::Call, G1, tag(1, 0), &[], NEVER, Timeout::from_micros(2000));
    assert_eq!(w.cur(), Some(s.h));
    w.tick(2);
    assert_eq!(w.err(a.h), Some((Error::Timeout, Phase::Receive)));
    w.reply(s.h, tag(2, 0), &[]);
    assert_eq!(w.err(s.h), Some((Error::NoReplyCap, Phase::Send)));
}

#[test]
fn reply_capability_does_not_reach_a_later_call_of_the_same_caller() {
    let Net { mut w, s, a, b, c } = net();
    w.wait(s.h);
    w.call(a.h, G1, tag(1, 0), &[]);
    // The caller's call is cancelled; it calls again and queues.
    w.as_ctl(c, |w, ch| w.invoke_ok(ch, a.slot, pecan_abi::object::thread::CANCEL, &[]));
    assert_eq!(w.err(a.h), Some((Error::Cancelled, Phase::Receive)));
    // s still runs (it was preempted by the controller and resumes first).
    assert_eq!(w.cur(), Some(s.h));
    w.yield_(s.h);
    // b runs (it was ready before a woke); it goes to sleep.
    assert_eq!(w.cur(), Some(b.h));
    w.recv(b.h, 0, NEVER);
    w.call(a.h, G1, tag(5, 0), &[]);
    assert!(w.blocked(a.h));
    // The old reply capability names the first call: the reply fails, the new call is
    // still queued.
    while w.cur() != Some(s.h) {
        let t = w.cur().unwrap();
        w.recv(t, 0, NEVER);
    }
    w.reply(s.h, tag(2, 0), &[]);
    assert_eq!(w.err(s.h), Some((Error::NoReplyCap, Phase::Send)));
    assert!(matches!(w.state(a.h), pecan_core::State::Sending { .. }));
}

#[test]
fn reply_wait_without_a_reply_capability_fails_without_waiting() {
    let Net { mut w, s, .. } = net();
    w.reply_wait(s.h, tag(1, 0), &[]);
    assert_eq!(w.err(s.h), Some((Error::NoReplyCap, Phase::Send)));
    assert_eq!(w.cur(), Some(s.h));
}

#[test]
fn reply_wait_takes_a_queued_message_and_keeps_running() {
    // Seed 003: "if A sends to B, B replies, and C is waiting to send to B: B runs again
    // with C's message".
    let Net { mut w, s, a, b, .. } = net();
    w.wait(s.h);
    w.call(a.h, G1, tag(1, 0), &[]);
    assert_eq!(w.cur(), Some(s.h));
    w.yield_(s.h);
    assert_eq!(w.cur(), Some(b.h));
    w.send(b.h, G2, tag(2, 1), &[22]);
    assert_eq!(w.cur(), Some(s.h));
    w.reply_wait(s.h, tag(3, 0), &[]);
    assert_eq!(w.cur(), Some(s.h));
    let r = w.ok(s.h);
    assert_eq!((r.label, r.words), (0x22, vec![22]));
    assert_eq!(w.ok(a.h).tag.label(), 3);
    assert_eq!(w.state(a.h), pecan_core::State::Ready);
}

#[test]
fn call_with_receive_timeout_zero_delivers_then_times_out() {
    let Net { mut w, s, a, .. } = net();
    w.wait(s.h);
    w.sys(a.h, Sys::Call, G1, tag(1, 1), &[9], NEVER, ZERO);
    assert_eq!(w.err(a.h), Some((Error::Timeout, Phase::Receive)));
    assert_eq!(w.ret(s.h).words, vec![9]);
    // The server got the message but no reply capability.
    while w.cur() != Some(s.h) {
        let t = w.cur().unwrap();
        w.recv(t, 0, NEVER);
    }
    w.reply(s.h, tag(2, 0), &[]);
    assert_eq!(w.err(s.h), Some((Error::NoReplyCap, Phase::Send)));
}

#[test]
fn sending_to_oneself_is_a_deadlock() {
    let Net { mut w, s, .. } = net();
    w.call(s.h, G1, tag(1, 0), &[]);
    assert_eq!(w.err(s.h), Some((Error::Deadlock, Phase::Send)));
    w.recv(s.h, 0, ZERO);
    // Closed wait on one's own thread.
    w.recv(s.h, TS, NEVER);
    assert_eq!(w.err(s.h), Some((Error::Deadlock, Phase::Receive)));
}
