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
    gate: u64,
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
    Pair { w, s, c, gate: g }
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
