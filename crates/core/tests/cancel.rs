//! Cancelling IPC: thread CANCEL, SUSPEND and SET_REGS on a thread blocked in each IPC
//! state. The thread returns `Cancelled` in the phase it was in, leaves every wait list,
//! its timeout is dead, and its partners see it gone.

mod common;
use common::*;
use pecan_abi::object::{factory, irq, thread};
use pecan_abi::{Error, Phase, Sys, Timeout};
use pecan_core::State;
use pecan_core::thread::Filter;

const NEVER: Timeout = Timeout::NEVER;
/// Gate bound to the server, in the task's space.
const GS: u64 = 10;
/// Gate bound to the victim.
const GV: u64 = 11;
/// The other thread.
const TO: u64 = 20;
/// A software IRQ attached to the victim.
const IQ: u64 = 30;

/// The blocked states a victim can be put in.
#[derive(Clone, Copy, Debug)]
enum Blocked {
    SendQueued,
    CallQueued,
    WaitReply,
    OpenWait,
    ClosedGate,
    ClosedThread,
    ClosedIrq,
    Sleep,
}

const ALL: [Blocked; 8] = [
    Blocked::SendQueued,
    Blocked::CallQueued,
    Blocked::WaitReply,
    Blocked::OpenWait,
    Blocked::ClosedGate,
    Blocked::ClosedThread,
    Blocked::ClosedIrq,
    Blocked::Sleep,
];

impl Blocked {
    fn phase(self) -> Phase {
        match self {
            Blocked::SendQueued | Blocked::CallQueued => Phase::Send,
            _ => Phase::Receive,
        }
    }
}

/// Server `s`, victim `v` and another thread `o` in one task; `v` blocked in `b` with a
/// 5-tick timeout where the phase has one; every thread blocked, so root runs.
struct Scene {
    w: World,
    s: Th,
    v: Th,
    o: Th,
}

fn scene(b: Blocked) -> Scene {
    let mut w = World::new();
    let t = w.new_task();
    let s = w.new_thread(t, 100);
    let v = w.new_thread(t, 100);
    let o = w.new_thread(t, 100);
    let gs = w.new_gate(s, 0x5);
    let gv = w.new_gate(v, 0x6);
    w.give_cap(gs, t, GS);
    w.give_cap(gv, t, GV);
    w.give_cap(o.slot, t, TO);
    let q = w.new_irq();
    w.invoke_ok(w.root, q, irq::ATTACH, &[v.slot, 0x77]);
    w.give_cap(q, t, IQ);
    w.start(s);
    w.start(v);
    w.start(o);
    w.go();
    let to = Timeout::from_micros(5000);
    // s runs first. For a reply wait it waits for v's call; otherwise it sleeps.
    assert_eq!(w.cur(), Some(s.h));
    if matches!(b, Blocked::WaitReply) {
        w.wait(s.h);
    } else {
        w.recv(s.h, 0, NEVER);
    }
    assert_eq!(w.cur(), Some(v.h));
    match b {
        Blocked::SendQueued => w.sys(v.h, Sys::Send, GS, tag(1, 0), &[], to, NEVER),
        Blocked::CallQueued => w.sys(v.h, Sys::Call, GS, tag(1, 0), &[], to, to),
        Blocked::WaitReply => {
            w.sys(v.h, Sys::Call, GS, tag(1, 0), &[], NEVER, to);
            // s got the call and now sleeps, holding the reply capability.
            assert_eq!(w.cur(), Some(s.h));
            w.recv(s.h, 0, NEVER);
        }
        Blocked::OpenWait => w.sys(v.h, Sys::Wait, 0, tag(0, 0), &[], NEVER, to),
        Blocked::ClosedGate => w.recv(v.h, GV, to),
        Blocked::ClosedThread => w.recv(v.h, TO, to),
        Blocked::ClosedIrq => w.recv(v.h, IQ, to),
        Blocked::Sleep => w.recv(v.h, 0, to),
    }
    assert!(w.blocked(v.h), "{b:?}");
    assert_eq!(w.cur(), Some(o.h));
    w.recv(o.h, 0, NEVER);
    assert_eq!(w.cur(), Some(w.root));
    Scene { w, s, v, o }
}

/// After the cancel: nobody refers to `v` any more, and its timeout is dead.
fn check_released(sc: &Scene, b: Blocked) {
    let (s, v, o) = (sc.s.h, sc.v.h, sc.o.h);
    let k = &sc.w.k;
    assert!(k.threads.get(s).unwrap().send_queue.is_empty(), "{b:?}: not queued at the server");
    let (_, waiting_for_s) = k.waiters(s);
    assert!(waiting_for_s.is_empty(), "{b:?}: not waiting for a reply");
    let (_, waiting_for_o) = k.waiters(o);
    assert!(waiting_for_o.is_empty(), "{b:?}: not closed-waiting");
    assert!(!k.threads.get(v).unwrap().wait_links.is_linked());
}

#[test]
fn cancel_in_every_blocked_state() {
    for b in ALL {
        let mut sc = scene(b);
        let w = &mut sc.w;
        w.invoke_ok(w.root, sc.v.slot, thread::CANCEL, &[]);
        // v is ready again, outranks root and runs.
        assert_eq!(w.cur(), Some(sc.v.h), "{b:?}");
        assert_eq!(w.err(sc.v.h), Some((Error::Cancelled, b.phase())), "{b:?}");
        check_released(&sc, b);
        let w = &mut sc.w;
        // Its old timeout is dead: it sleeps forever now and stays asleep.
        w.recv(sc.v.h, 0, NEVER);
        w.tick(10);
        assert_eq!(w.state(sc.v.h), State::Receiving(Filter::Nil), "{b:?}");
    }
}

#[test]
fn suspend_in_every_blocked_state_then_start() {
    for b in ALL {
        let mut sc = scene(b);
        let w = &mut sc.w;
        w.invoke_ok(w.root, sc.v.slot, thread::SUSPEND, &[]);
        assert_eq!(w.state(sc.v.h), State::Inactive, "{b:?}");
        assert_eq!(w.cur(), Some(w.root));
        check_released(&sc, b);
        let w = &mut sc.w;
        // The timeout must not wake a suspended thread.
        w.tick(10);
        assert_eq!(w.state(sc.v.h), State::Inactive, "{b:?}");
        assert_eq!(w.invoke(w.root, sc.v.slot, thread::READ_REGS, &[]).unwrap()[2], 0);
        w.invoke_ok(w.root, sc.v.slot, thread::START, &[]);
        assert_eq!(w.cur(), Some(sc.v.h));
        assert_eq!(w.err(sc.v.h), Some((Error::Cancelled, b.phase())), "{b:?}");
    }
}

#[test]
fn set_regs_in_every_blocked_state() {
    for b in ALL {
        let mut sc = scene(b);
        let w = &mut sc.w;
        w.invoke_ok(w.root, sc.v.slot, thread::SET_REGS, &[0x1234_5000, 0x9999_0000, 7]);
        assert_eq!(w.cur(), Some(sc.v.h), "{b:?}");
        let ctx = &w.k.threads.get(sc.v.h).unwrap().ctx;
        assert_eq!((ctx.ip, ctx.sp, ctx.arg), (0x1234_5000, 0x9999_0000, 7));
        assert_eq!(w.err(sc.v.h), Some((Error::Cancelled, b.phase())), "{b:?}");
        check_released(&sc, b);
    }
}

#[test]
fn cancel_of_a_running_or_inactive_thread_changes_nothing() {
    let mut w = World::new();
    let t = w.new_task();
    let a = w.new_thread(t, 100);
    // Inactive: nothing to cancel.
    w.invoke_ok(w.root, a.slot, thread::CANCEL, &[]);
    assert_eq!(w.state(a.h), State::Inactive);
    // Ready (not started yet by anyone else): the same.
    w.start(a);
    w.invoke_ok(w.root, a.slot, thread::CANCEL, &[]);
    assert_eq!(w.state(a.h), State::Ready);
    // Root cancels itself: still running, the call succeeds.
    w.invoke_ok(w.root, pecan_abi::caps::ROOT_THREAD, thread::CANCEL, &[]);
    assert_eq!(w.cur(), Some(w.root));
    // START of a ready thread is harmless too.
    w.start(a);
    assert_eq!(w.state(a.h), State::Ready);
    let _ = factory::QUOTA;
}

#[test]
fn the_reply_capability_dies_with_a_cancelled_caller() {
    let mut sc = scene(Blocked::WaitReply);
    let w = &mut sc.w;
    w.invoke_ok(w.root, sc.v.slot, thread::CANCEL, &[]);
    // v runs; let it sleep so the server can try to reply.
    w.recv(sc.v.h, 0, NEVER);
    w.invoke_ok(w.root, sc.s.slot, thread::CANCEL, &[]);
    assert_eq!(w.cur(), Some(sc.s.h));
    w.reply(sc.s.h, tag(2, 0), &[]);
    assert_eq!(w.err(sc.s.h), Some((Error::NoReplyCap, Phase::Send)));
}

#[test]
fn suspending_oneself_stops_until_started() {
    let mut w = World::new();
    let t = w.new_task();
    let a = w.spawn(t, 100);
    let b = w.spawn(t, 100);
    w.give_cap(a.slot, t, 20);
    w.go();
    assert_eq!(w.cur(), Some(a.h));
    w.invoke_ok(a.h, 20, thread::SUSPEND, &[]);
    assert_eq!(w.state(a.h), State::Inactive);
    assert_eq!(w.cur(), Some(b.h));
    // b starts a again.
    w.invoke_ok(b.h, 20, thread::START, &[]);
    assert_eq!(w.state(a.h), State::Ready);
}
