//! The IPC fast path (`src/fastpath.rs`): which system calls it takes, that its results
//! are those of the general path, and that every slow condition sends a call to the
//! general path (the counter of fast-path system calls does not move). The other test
//! files run every IPC case through `Kernel::syscall`, so through the fast path where it
//! applies; `tests/matrix/00-host.toml` runs them all again without it.

mod common;
use common::*;
use pecan_abi::object::{irq, thread};
use pecan_abi::{MsgTag, REG_MRS, Status, Sys, Timeout};
use pecan_core::fastpath;
use pecan_core::obj::Handle;
use pecan_core::thread::{Filter, State};
use pecan_hal::FaultInfo;

const NEVER: Timeout = Timeout::NEVER;
const GATE: u64 = 10;
const GATE2: u64 = 11;
const IRQ: u64 = 12;

/// A server task and a client task (two address spaces), both holding a gate to the server
/// (label 0x42) and another gate bound to the server (label 0x43); the server holds a
/// software IRQ attached to it. Both threads at priority 100; the server waits.
struct Scene {
    w: World,
    s: Th,
    c: Th,
}

fn scene(asids: usize) -> Scene {
    let mut w = World::with(asids, World::config());
    let st = w.new_task();
    let ct = w.new_task();
    let s = w.new_thread(st, 100);
    let c = w.new_thread(ct, 100);
    let g = w.new_gate(s, 0x42);
    let g2 = w.new_gate(s, 0x43);
    w.give_cap(g, ct, GATE);
    w.give_cap(g2, ct, GATE2);
    w.give_cap(g, st, GATE);
    w.give_cap(g2, st, GATE2);
    let q = w.new_irq();
    w.invoke_ok(w.root, q, irq::ATTACH, &[s.slot, 0x51]);
    w.give_cap(q, st, IRQ);
    w.start(s);
    w.start(c);
    w.go();
    assert_eq!(w.cur(), Some(s.h));
    w.wait(s.h);
    assert_eq!(w.cur(), Some(c.h));
    Scene { w, s, c }
}

/// Fast-path system calls so far.
fn hits(w: &World) -> u64 {
    w.k.counters.fastpath
}

/// Runs `f` and checks that it took the fast path `n` times (0 without the feature).
fn expect_fast<R>(w: &mut World, n: u64, f: impl FnOnce(&mut World) -> R) -> R {
    let before = hits(w);
    let r = f(w);
    let n = if fastpath::ON { n } else { 0 };
    assert_eq!(hits(w) - before, n, "fast-path system calls");
    r
}

#[test]
fn call_and_reply_wait_with_0_to_8_words() {
    let Scene { mut w, s, c } = scene(16);
    for n in 0..=REG_MRS {
        let msg: Vec<u64> = (0..n as u64).map(|i| 100 + i).collect();
        expect_fast(&mut w, 1, |w| w.call(c.h, GATE, tag(7, n), &msg));
        assert_eq!(w.cur(), Some(s.h));
        let r = w.ok(s.h);
        assert_eq!((r.label, r.tag, r.words), (0x42, tag(7, n), msg.clone()));
        assert_eq!(w.state(c.h), State::WaitReply { callee: s.h, source: pecan_core::thread::Source::User });
        let back: Vec<u64> = msg.iter().map(|x| x * 2).collect();
        expect_fast(&mut w, 1, |w| w.reply_wait(s.h, tag(8, n), &back));
        assert_eq!(w.cur(), Some(c.h));
        let r = w.ok(c.h);
        assert_eq!((r.label, r.tag, r.words), (0, tag(8, n), back));
        assert_eq!(w.state(s.h), State::Receiving(Filter::Any));
        let sr = w.ret(s.h);
        assert_eq!((sr.status, sr.label, sr.tag), (Status::OK, 0, MsgTag(0)), "the replier's results");
    }
}

#[test]
fn registers_beyond_the_message_are_the_receivers_own() {
    let Scene { mut w, s, c } = scene(16);
    for i in 0..REG_MRS {
        w.k.threads.get_mut(s.h).unwrap().ctx.mr[i] = 0x5000 + i as u64;
    }
    let msg = [1, 2, 3];
    // Without register transfer (REG_MRS = 0) the words go through the UTCB, slowly.
    expect_fast(&mut w, (REG_MRS >= 3) as u64, |w| w.call(c.h, GATE, tag(1, 3), &msg));
    assert_eq!(w.ok(s.h).words, msg);
    let ctx = &w.k.threads.get(s.h).unwrap().ctx;
    for (i, &got) in ctx.mr.iter().enumerate() {
        let want = msg.get(i).copied().unwrap_or(0x5000 + i as u64);
        assert_eq!(got, want, "MR{i}");
    }
}

#[test]
fn inter_space_round_trips_switch_spaces_without_flushing() {
    let Scene { mut w, s, c } = scene(16);
    // Warm up: both address spaces hold ASIDs.
    w.call(c.h, GATE, tag(0, 0), &[]);
    w.reply_wait(s.h, tag(0, 0), &[]);
    let (flushes, switches) = (w.k.counters.tlb_flushes, w.k.counters.as_switches);
    for _ in 0..10 {
        expect_fast(&mut w, 2, |w| {
            w.call(c.h, GATE, tag(0, 0), &[]);
            w.reply_wait(s.h, tag(0, 0), &[]);
        });
    }
    if w.k.asids.tagged() {
        assert_eq!(w.k.counters.tlb_flushes, flushes, "no TLB flush with ASIDs");
    } else {
        assert_eq!(w.k.counters.tlb_flushes - flushes, 20, "built without ASIDs: every switch flushes");
    }
    assert_eq!(w.k.counters.as_switches - switches, 20, "two address-space switches per round trip");
    let t = w.k.threads.get(c.h).unwrap().task;
    assert_eq!(w.k.active_task(), Some(t));
}

#[test]
fn untagged_switches_flush() {
    let Scene { mut w, s, c } = scene(0);
    let flushes = w.k.counters.tlb_flushes;
    expect_fast(&mut w, 2, |w| {
        w.call(c.h, GATE, tag(0, 0), &[]);
        w.reply_wait(s.h, tag(0, 0), &[]);
    });
    assert_eq!(w.k.counters.tlb_flushes - flushes, 2);
}

#[test]
fn null() {
    let Scene { mut w, c, .. } = scene(16);
    w.k.threads.get_mut(c.h).unwrap().ctx.r1 = 77;
    expect_fast(&mut w, 1, |w| w.sys(c.h, Sys::Null, 77, tag(3, 0), &[], NEVER, NEVER));
    let r = w.ret(c.h);
    assert_eq!((r.status, r.label, r.tag), (Status::OK, 0, MsgTag(0)));
    // Reserved bits: the general path's error.
    expect_fast(&mut w, 0, |w| w.sys_raw(c.h, 0x100, 0, 0));
    assert!(w.err(c.h).is_some());
}

#[test]
fn slow_conditions_of_a_call() {
    let Scene { mut w, s, c } = scene(16);
    let ms = Timeout::from_micros(5000);
    // A receive timeout other than never; a send timeout other than never.
    expect_fast(&mut w, 0, |w| w.sys(c.h, Sys::Call, GATE, tag(0, 0), &[], NEVER, ms));
    assert_eq!(w.cur(), Some(s.h), "the general path delivered it");
    w.reply_wait(s.h, tag(0, 0), &[]);
    expect_fast(&mut w, 0, |w| w.sys(c.h, Sys::Call, GATE, tag(0, 0), &[], Timeout::ZERO, NEVER));
    w.reply_wait(s.h, tag(0, 0), &[]);
    // More words than registers; typed items; flags.
    expect_fast(&mut w, 0, |w| w.call(c.h, GATE, tag(0, REG_MRS + 1), &[0; 9]));
    assert_eq!(w.ok(s.h).words.len(), REG_MRS + 1);
    w.reply_wait(s.h, tag(0, 0), &[]);
    let nil_map = pecan_abi::Item::Map { send_base: 0, fpage: pecan_abi::Fpage::NIL }.encode();
    expect_fast(&mut w, 0, |w| w.call(c.h, GATE, tag_items(0, 0, 1), &nil_map));
    assert_eq!(w.cur(), Some(s.h));
    w.reply_wait(s.h, tag(0, 0), &[]);
    expect_fast(&mut w, 0, |w| w.call(c.h, GATE, tag(0, 0).with_flags(1), &[]));
    w.reply_wait(s.h, tag(0, 0), &[]);
    // A bad selector, a selector that is not a gate: the general path's errors.
    expect_fast(&mut w, 0, |w| w.call(c.h, 999, tag(0, 0), &[]));
    assert!(w.err(c.h).is_some());
    expect_fast(&mut w, 0, |w| w.call(c.h, pecan_abi::caps::std_slots::TASK, tag(0, 0), &[]));
    assert!(w.err(c.h).is_some());
    // Resource bits on either side.
    w.k.threads.get_mut(c.h).unwrap().resources = 1;
    expect_fast(&mut w, 0, |w| w.call(c.h, GATE, tag(0, 0), &[]));
    w.k.threads.get_mut(c.h).unwrap().resources = 0;
    w.k.threads.get_mut(s.h).unwrap().resources = 1;
    expect_fast(&mut w, 0, |w| w.reply_wait(s.h, tag(0, 0), &[]));
    w.k.threads.get_mut(s.h).unwrap().resources = 0;
    assert_eq!(w.cur(), Some(c.h));
    assert_eq!(w.ok(c.h).status, Status::OK);
}

#[test]
fn a_call_to_a_receiver_not_waiting_for_it_goes_slow() {
    let Scene { mut w, s, c } = scene(16);
    // The server waits on its other gate only: the call queues.
    w.call(c.h, GATE, tag(0, 0), &[]);
    w.reply(s.h, tag(0, 0), &[]);
    assert_eq!(w.cur(), Some(s.h));
    w.recv(s.h, GATE2, NEVER);
    expect_fast(&mut w, 0, |w| w.call(c.h, GATE, tag(0, 0), &[]));
    assert!(matches!(w.state(c.h), State::Sending { .. }));
    // A closed wait on the very gate the call comes through is fast.
    let Scene { mut w, s, c } = scene(16);
    w.call(c.h, GATE, tag(0, 0), &[]);
    w.reply(s.h, tag(0, 0), &[]);
    w.recv(s.h, GATE, NEVER);
    expect_fast(&mut w, 1, |w| w.call(c.h, GATE, tag(0, 0), &[]));
    assert_eq!(w.ok(s.h).label, 0x42);
}

#[test]
fn a_receiver_outranked_by_a_ready_thread_goes_slow() {
    let mut w = World::with(16, World::config());
    let st = w.new_task();
    let ct = w.new_task();
    let s = w.new_thread(st, 100);
    let c = w.new_thread(ct, 100);
    let t = w.new_thread(ct, 100);
    let g = w.new_gate(s, 0x42);
    w.give_cap(g, ct, GATE);
    w.give_cap(s.slot, ct, 20);
    w.start(s);
    w.start(c);
    w.start(t);
    w.go();
    w.wait(s.h);
    assert_eq!(w.cur(), Some(c.h));
    // The server drops below the client and the ready thread t.
    w.invoke_ok(c.h, 20, thread::SET_PRIORITY, &[50]);
    assert_eq!(w.cur(), Some(c.h));
    expect_fast(&mut w, 0, |w| w.call(c.h, GATE, tag(0, 0), &[]));
    assert_eq!(w.cur(), Some(t.h), "the ready thread of higher priority runs");
    assert_eq!(w.state(s.h), State::Ready, "the server got the call");
}

#[test]
fn slow_conditions_of_a_reply_wait() {
    // No reply capability.
    let Scene { mut w, s, c } = scene(16);
    w.call(c.h, GATE, tag(0, 0), &[]);
    w.reply(s.h, tag(0, 0), &[]);
    assert_eq!(w.cur(), Some(s.h));
    expect_fast(&mut w, 0, |w| w.reply_wait(s.h, tag(0, 0), &[]));
    assert!(w.err(s.h).is_some());

    // A pending IRQ: the wait takes it at once.
    let Scene { mut w, s, c } = scene(16);
    w.call(c.h, GATE, tag(0, 0), &[]);
    w.invoke_ok(s.h, IRQ, irq::TRIGGER, &[]);
    expect_fast(&mut w, 0, |w| w.reply_wait(s.h, tag(0, 0), &[]));
    assert_eq!(w.cur(), Some(s.h));
    assert_eq!(w.ok(s.h).label, 0x51);

    // A receive timeout.
    let Scene { mut w, s, c } = scene(16);
    w.call(c.h, GATE, tag(0, 0), &[]);
    expect_fast(&mut w, 0, |w| {
        w.sys(s.h, Sys::ReplyWait, 0, tag(0, 0), &[], NEVER, Timeout::from_micros(900))
    });
    assert_eq!(w.cur(), Some(c.h));
}

#[test]
fn a_reply_to_a_fault_goes_slow() {
    let Scene { mut w, s, c } = scene(16);
    // The client's pager is the server's gate: its page fault is a kernel-made call.
    w.k.threads.get_mut(c.h).unwrap().pager = GATE;
    w.fault(c.h, FaultInfo::Page { addr: 0x1234_5000, access: 4 });
    assert_eq!(w.cur(), Some(s.h));
    expect_fast(&mut w, 0, |w| w.reply_wait(s.h, tag(0, 0), &[]));
    assert_eq!(w.state(c.h), State::Ready, "the fault reply resumed the client");
}

/// The page both tasks of [`two_spaces`] map, each to its own frame.
const V: u64 = 0x1000_0000;

/// A server task and a client task with `asids` ASIDs in all, each mapping its own frame
/// at `V` (0x5000 and 0x6000), the client holding a gate to the server, the server
/// waiting: the world, server, client and the two tasks' handles.
fn two_spaces(asids: usize) -> (World, Th, Th, Handle, Handle) {
    let mut w = World::with(asids, World::config());
    let st = w.new_task();
    let ct = w.new_task();
    w.give_page(ram(0x5000), st, V, pecan_abi::MemRights::RW);
    w.give_page(ram(0x6000), ct, V, pecan_abi::MemRights::RW);
    let s = w.new_thread(st, 100);
    let c = w.new_thread(ct, 100);
    let g = w.new_gate(s, 0x42);
    w.give_cap(g, ct, GATE);
    w.start(s);
    w.start(c);
    w.go();
    w.wait(s.h);
    let (s_task, c_task) = (w.task_h(st), w.task_h(ct));
    (w, s, c, s_task, c_task)
}

/// Untagged hardware (no ASIDs: x86_64 under QEMU's TCG, which has no PCID): the TCB
/// caches the root with ASID 0, and the fast path switches from that cache without
/// `Kernel::activate`, flushing on every switch (counted) exactly as `activate` would;
/// each task still sees only its own page through the simulated TLB.
#[test]
fn untagged_switches_flush_every_time() {
    let (mut w, s, c, s_task, c_task) = two_spaces(0);
    assert!(!w.k.asids.tagged());
    for round in 0..4 {
        let (flushes, switches) = (w.k.counters.tlb_flushes, w.k.counters.as_switches);
        expect_fast(&mut w, 1, |w| w.call(c.h, GATE, tag(0, 0), &[]));
        assert_eq!(w.k.active_task(), Some(s_task));
        assert_eq!(w.access(s_task, V, true), Ok(pecan_hal::PhysAddr(ram(0x5000))));
        expect_fast(&mut w, 1, |w| w.reply_wait(s.h, tag(0, 0), &[]));
        assert_eq!(w.k.active_task(), Some(c_task));
        assert_eq!(w.access(c_task, V, true), Ok(pecan_hal::PhysAddr(ram(0x6000))));
        assert_eq!(w.k.counters.as_switches - switches, 2, "round {round}");
        assert_eq!(w.k.counters.tlb_flushes - flushes, 2, "round {round}: every untagged switch flushes");
        // Both threads' spaces are cached (ASID 0, current generation) by the fast path's
        // first switch: the next switches need no task lookup.
        for h in [s.h, c.h].into_iter().filter(|_| fastpath::ON) {
            let space = w.k.threads.get(h).expect("thread").space;
            assert_eq!((space.asid, space.generation), (0, w.k.asids.generation()), "round {round}");
        }
    }
}

/// The fast path's address-space switch uses the TCB's cached root and ASID only while
/// the ASID generation is current: with one ASID in all, every switch between the two
/// tasks recycles it (a rollover, a full flush), and each task still sees its own page.
#[test]
fn asid_rollover_refreshes_the_cached_space() {
    let (mut w, s, c, s_task, c_task) = two_spaces(2);
    for _ in 0..4 {
        let rollovers = w.k.asids.generation();
        expect_fast(&mut w, 1, |w| w.call(c.h, GATE, tag(0, 0), &[]));
        assert_eq!(w.k.active_task(), Some(s_task));
        if w.k.asids.tagged() {
            assert!(w.k.asids.generation() > rollovers, "the switch took the only ASID");
        }
        assert_eq!(w.access(s_task, V, true), Ok(pecan_hal::PhysAddr(ram(0x5000))));
        expect_fast(&mut w, 1, |w| w.reply_wait(s.h, tag(0, 0), &[]));
        assert_eq!(w.k.active_task(), Some(c_task));
        assert_eq!(w.access(c_task, V, true), Ok(pecan_hal::PhysAddr(ram(0x6000))));
    }
}
