//! Timeouts per IPC phase (0, relative, never), sleep, their rounding to ticks, and the
//! wheel's lazy deletion (seed 003, "Timeouts/queues").

mod common;
use common::*;
use pecan_abi::{Error, Phase, Sys, Timeout};
use pecan_core::State;
use pecan_core::thread::Filter;

const NEVER: Timeout = Timeout::NEVER;
const ZERO: Timeout = Timeout::ZERO;
const GS: u64 = 10;

fn ms(n: u64) -> Timeout {
    Timeout::from_micros(n * 1000)
}

/// Server `s` and client `c` in one task (gate at GS), both at priority 100, plus an idle
/// helper `h` so that root never runs while they are ready.
struct Scene {
    w: World,
    s: Th,
    c: Th,
}

fn scene() -> Scene {
    let mut w = World::new();
    let t = w.new_task();
    let s = w.spawn(t, 100);
    let c = w.spawn(t, 100);
    let g = w.new_gate(s, 1);
    w.give_cap(g, t, GS);
    w.go();
    Scene { w, s, c }
}

/// Ticks until `t` is no longer blocked; panics after `limit`.
fn ticks_until_ready(w: &mut World, t: pecan_core::Handle, limit: u64) -> u64 {
    for n in 1..=limit {
        w.tick(1);
        if !w.blocked(t) {
            return n;
        }
    }
    panic!("still blocked after {limit} ticks");
}

#[test]
fn send_phase_timeouts() {
    // 0: fails at once without blocking.
    let Scene { mut w, s, c } = scene();
    w.recv(s.h, 0, NEVER);
    w.sys(c.h, Sys::Send, GS, tag(1, 0), &[], ZERO, NEVER);
    assert_eq!(w.err(c.h), Some((Error::Timeout, Phase::Send)));
    assert_eq!(w.cur(), Some(c.h));
    // Relative: expires after exactly 4 ticks and leaves the queue.
    w.sys(c.h, Sys::Send, GS, tag(1, 0), &[], ms(4), NEVER);
    assert_eq!(ticks_until_ready(&mut w, c.h, 100), 4);
    assert_eq!(w.err(c.h), Some((Error::Timeout, Phase::Send)));
    assert!(w.k.threads.get(s.h).unwrap().send_queue.is_empty());
    // Never: still blocked across more than a whole turn of the wheel.
    w.sys(c.h, Sys::Call, GS, tag(1, 0), &[], NEVER, ms(1));
    w.tick(1100);
    assert!(matches!(w.state(c.h), State::Sending { call: true, .. }));
}

#[test]
fn call_send_phase_timeout_applies_before_delivery() {
    let Scene { mut w, s, c } = scene();
    w.recv(s.h, 0, NEVER);
    w.sys(c.h, Sys::Call, GS, tag(1, 0), &[], ms(3), NEVER);
    assert_eq!(ticks_until_ready(&mut w, c.h, 100), 3);
    assert_eq!(w.err(c.h), Some((Error::Timeout, Phase::Send)));
    w.sys(c.h, Sys::Call, GS, tag(1, 0), &[], ZERO, NEVER);
    assert_eq!(w.err(c.h), Some((Error::Timeout, Phase::Send)));
}

#[test]
fn call_receive_phase_timeout_counts_from_delivery() {
    let Scene { mut w, s, c } = scene();
    w.yield_(s.h);
    // The server is busy; the call queues with a 3-tick receive timeout.
    w.sys(c.h, Sys::Call, GS, tag(1, 0), &[], NEVER, ms(3));
    assert_eq!(w.cur(), Some(s.h));
    w.tick(5);
    assert!(matches!(w.state(c.h), State::Sending { .. }), "the receive timeout has not started");
    w.wait(s.h);
    assert!(matches!(w.state(c.h), State::WaitReply { .. }));
    // s holds the reply and sleeps; 3 ticks after delivery the caller gives up.
    w.recv(s.h, 0, NEVER);
    assert_eq!(ticks_until_ready(&mut w, c.h, 100), 3);
    assert_eq!(w.err(c.h), Some((Error::Timeout, Phase::Receive)));
}

#[test]
fn receive_phase_timeouts_for_every_receiving_operation() {
    for op in [Sys::Wait, Sys::Recv, Sys::ReplyWait] {
        for to in [ZERO, ms(6), NEVER] {
            let Scene { mut w, s, c } = scene();
            if op == Sys::ReplyWait {
                // The reply needs a reply capability.
                w.wait(s.h);
                w.call(c.h, GS, tag(1, 0), &[]);
                assert_eq!(w.cur(), Some(s.h));
            }
            let cap = if op == Sys::Recv { GS } else { 0 };
            w.sys(s.h, op, cap, tag(0, 0), &[], NEVER, to);
            if op == Sys::ReplyWait {
                assert_eq!(w.ok(c.h).tag.label(), 0, "the reply went out first");
            }
            if to == ZERO {
                assert_eq!(w.err(s.h), Some((Error::Timeout, Phase::Receive)), "{op:?} 0");
            } else if to == NEVER {
                w.tick(1500);
                assert!(w.blocked(s.h), "{op:?} never");
            } else {
                assert_eq!(ticks_until_ready(&mut w, s.h, 100), 6, "{op:?}");
                assert_eq!(w.err(s.h), Some((Error::Timeout, Phase::Receive)));
            }
        }
    }
}

#[test]
fn sleep_zero_relative_and_forever() {
    let Scene { mut w, s, c } = scene();
    w.recv(s.h, 0, ZERO);
    assert_eq!(w.err(s.h), Some((Error::Timeout, Phase::Receive)));
    assert_eq!(w.cur(), Some(s.h), "sleep 0 does not give up the CPU");
    w.recv(s.h, 0, ms(2));
    assert_eq!(w.state(s.h), State::Receiving(Filter::Nil));
    w.recv(c.h, 0, NEVER);
    assert_eq!(ticks_until_ready(&mut w, s.h, 10), 2);
    assert_eq!(w.cur(), Some(s.h));
    w.recv(s.h, 0, NEVER);
    w.tick(2000);
    assert_eq!(w.state(s.h), State::Receiving(Filter::Nil));
    assert_eq!(w.cur(), Some(w.root));
}

#[test]
fn relative_timeouts_round_up_to_whole_ticks() {
    // 1 kHz ticks: a timeout never expires early, and at least one tick passes.
    for (us, ticks) in [(1, 1), (999, 1), (1000, 1), (1001, 2), (1500, 2), (2000, 2), (1_047_552, 1048)] {
        let Scene { mut w, s, c } = scene();
        w.recv(s.h, 0, Timeout::from_micros(us));
        w.recv(c.h, 0, NEVER);
        let want = match Timeout::from_micros(us).kind() {
            Some(pecan_abi::timeout::TimeoutKind::Relative(r)) => r.div_ceil(1000).max(1),
            k => panic!("{k:?}"),
        };
        assert_eq!(want, ticks, "{us} µs encodes as {want} ticks");
        assert_eq!(ticks_until_ready(&mut w, s.h, 2000), ticks, "{us} µs");
    }
}

#[test]
fn a_partner_in_time_kills_the_timeout() {
    let Scene { mut w, s, c } = scene();
    w.yield_(s.h);
    w.sys(c.h, Sys::Send, GS, tag(1, 1), &[5], ms(5), NEVER);
    w.tick(2);
    w.wait(s.h);
    assert_eq!(w.ok(s.h).words, vec![5]);
    w.ok(c.h);
    // Both block again forever; the old timeout (tick 5) must not touch c.
    w.recv(s.h, 0, NEVER);
    w.recv(c.h, 0, NEVER);
    let stale = w.k.wheel.entries();
    assert_eq!(stale, 1, "the early wake left a stale entry (lazy deletion)");
    w.tick(10);
    assert_eq!(w.state(c.h), State::Receiving(Filter::Nil));
    assert_eq!(w.k.wheel.entries(), 0, "the stale entry was dropped when its list was met");
}

#[test]
fn rearming_moves_the_entry() {
    // A thread that wakes early and blocks again with a new timeout has one entry.
    let Scene { mut w, s, c } = scene();
    w.yield_(s.h);
    w.sys(c.h, Sys::Send, GS, tag(1, 0), &[], ms(50), NEVER);
    w.wait(s.h);
    w.recv(s.h, 0, NEVER);
    assert_eq!(w.cur(), Some(c.h));
    w.recv(c.h, 0, ms(3));
    assert_eq!(w.k.wheel.entries(), 1);
    assert_eq!(ticks_until_ready(&mut w, c.h, 100), 3);
    assert_eq!(w.err(c.h), Some((Error::Timeout, Phase::Receive)));
}

#[test]
fn reserved_timeout_encodings_are_rejected_in_their_phase() {
    let bad = Timeout::from_raw(0x8001);
    let Scene { mut w, s, c } = scene();
    w.sys(s.h, Sys::Send, GS, tag(1, 0), &[], bad, NEVER);
    assert_eq!(w.err(s.h), Some((Error::InvalidArgument, Phase::Send)));
    w.sys(s.h, Sys::Call, GS, tag(1, 0), &[], NEVER, bad);
    assert_eq!(w.err(s.h), Some((Error::InvalidArgument, Phase::Send)), "checked before sending");
    for op in [Sys::Wait, Sys::Recv] {
        w.sys(s.h, op, 0, tag(0, 0), &[], NEVER, bad);
        assert_eq!(w.err(s.h), Some((Error::InvalidArgument, Phase::Receive)), "{op:?}");
    }
    w.sys(s.h, Sys::Reply, 0, tag(0, 0), &[], bad, NEVER);
    assert_eq!(w.err(s.h), Some((Error::InvalidArgument, Phase::Send)));
    w.sys(s.h, Sys::ReplyWait, 0, tag(0, 0), &[], NEVER, bad);
    assert_eq!(w.err(s.h), Some((Error::InvalidArgument, Phase::Send)));
    assert_eq!(w.cur(), Some(s.h), "nothing blocked");
    let _ = c;
}
