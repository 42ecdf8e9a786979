//! Long IPC as a preemptible, restartable transfer (seed 001, "Long IPC (uniprocessor)",
//! "temporary mapping"): partners locked while it runs, an interrupt between two chunks
//! lets the CPU go and the copy resumes with its window mapped again, page faults on
//! either side resolved by that side's pager while the transfer waits, transfer timeouts,
//! cancellation and deletion of either partner in the middle, and the window's TLB
//! handling. Run with every mechanism (`long-ipc-copy`, `long-ipc-physmap`).

mod common;
use common::*;
use pecan_abi::object::{any, factory, task, thread};
use pecan_abi::proto::page_fault;
use pecan_abi::utcb::{BR_STRING_COUNT, BR_STRINGS, TCR_XFER_TIMEOUTS, offset, xfer_timeouts};
use pecan_abi::{Error, Fpage, Item, MemRights, MsgTag, Phase, Status, StringDesc, Sys, Timeout, proto};
use pecan_core::State;
use pecan_core::ipc::copy::{MECHANISM, Mechanism};
use pecan_hal::{PhysAddr, PhysMem};

const NEVER: Timeout = Timeout::NEVER;
const GATE: u64 = 10;
/// The pager gates, in the sender's and the receiver's task.
const PAGER: u64 = 11;
/// Sender memory: 4 pages at SRC (physical `ram(0x10_0000)`), nothing after them.
const SRC: u64 = 0x100_0000;
/// Receiver memory: 4 pages at DST (physical `ram(0x20_0000)`), nothing after them.
const DST: u64 = 0x200_0000;
/// Frames the pagers hand out: `ram(0x40_0000)` for the sender, `ram(0x50_0000)` for the
/// receiver.
const PS_FRAME: u64 = 0x40_0000;
const PR_FRAME: u64 = 0x50_0000;

/// Sender `s` and receiver `r` (100) in their own tasks, each with a pager (`ps`, `pr`,
/// 150, in root's task) waiting for faults.
struct Scene {
    w: World,
    s: Th,
    r: Th,
    ps: Th,
    pr: Th,
    /// The controller (254, root's task): acts for root while the test threads run.
    c: Th,
}

fn scene() -> Scene {
    // Tagged address spaces: a translation nobody flushes would survive a switch.
    let mut w = World::with(16, World::config());
    let ts = w.new_task();
    let tr = w.new_task();
    let s = w.new_thread(ts, 100);
    let r = w.new_thread(tr, 100);
    let ps = w.new_thread(pecan_abi::caps::ROOT_TASK, 150);
    let pr = w.new_thread(pecan_abi::caps::ROOT_TASK, 150);
    let g = w.new_gate(r, 0x5);
    w.give_cap(g, ts, GATE);
    let gps = w.new_gate(ps, 0xa1);
    let gpr = w.new_gate(pr, 0xa2);
    w.give_cap(gps, ts, PAGER);
    w.give_cap(gpr, tr, PAGER);
    w.invoke_ok(w.root, s.slot, thread::CONFIGURE, &[PAGER, 0]);
    w.invoke_ok(w.root, r.slot, thread::CONFIGURE, &[PAGER, 0]);
    w.give_mem(ram(0x10_0000), 14, ts, SRC, MemRights::RW);
    w.give_mem(ram(0x20_0000), 14, tr, DST, MemRights::RW);
    let data: Vec<u8> = (0..0x8000u32).map(|i| (i * 7 + 3) as u8).collect();
    w.k.hal.mem.write_bytes(PhysAddr(ram(0x10_0000)), &data[..0x4000]);
    w.k.hal.mem.write_bytes(PhysAddr(ram(PS_FRAME)), &data[0x4000..]);
    let c = w.ctl();
    w.start(ps);
    w.start(pr);
    w.start(r);
    w.start(s);
    w.go();
    w.wait(ps.h);
    w.wait(pr.h);
    Scene { w, s, r, ps, pr, c }
}

/// `s` stopped in the middle of its copy (preempted): its transfer is there, not done.
fn mid_copy(w: &World, s: Th) -> bool {
    let x = w.k.threads.get(s.h).unwrap().xfer.as_ref();
    w.state(s.h) == State::Ready && x.is_some_and(|x| x.total() > 0 && x.pos() < x.total())
}

fn src_byte(off: u64) -> u8 {
    ((off as u32) * 7 + 3) as u8
}

fn expected(src_off: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| src_byte(src_off + i)).collect()
}

fn sd(addr: u64, len: u64) -> StringDesc {
    StringDesc { addr, len, continued: false }
}

/// `r` waits with one string buffer.
fn buffer(w: &mut World, r: Th, b: StringDesc) {
    w.k.utcb_write(r.h, offset::BR + BR_STRING_COUNT, 1);
    let [a, c] = b.encode();
    w.k.utcb_write(r.h, offset::BR + BR_STRINGS, a);
    w.k.utcb_write(r.h, offset::BR + BR_STRINGS + 1, c);
    w.wait(r.h);
}

/// `s` sends one string (a `Send`, or a `Call`).
fn send(w: &mut World, s: Th, st: StringDesc, call: bool) {
    let [a, b] = st.encode();
    let sys = if call { Sys::Call } else { Sys::Send };
    w.sys(s.h, sys, GATE, MsgTag::new(9, 1, 1), &[77, a, b], NEVER, NEVER);
}

/// `len` bytes at receiver address `va` (in its first 4 pages, or the receiver pager's
/// frame for the page after them).
fn received(w: &World, va: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0; len];
    for (i, byte) in b.iter_mut().enumerate() {
        let v = va + i as u64;
        let pa =
            if v >= DST + 0x4000 { ram(PR_FRAME) + (v - DST - 0x4000) } else { ram(0x20_0000) + (v - DST) };
        let mut one = [0u8];
        w.k.hal.mem.read_bytes(PhysAddr(pa), &mut one);
        *byte = one[0];
    }
    b
}

/// The receiver got the message with the string at `at`, `len` bytes from source offset
/// `src_off`.
fn delivered(w: &mut World, r: Th, at: u64, len: u64, src_off: u64) {
    let rr = w.ok(r.h);
    assert_eq!(rr.label, 0x5);
    assert_eq!(rr.tag, MsgTag::new(9, 1, 1));
    assert_eq!(rr.words[0], 77);
    assert_eq!(StringDesc::decode(rr.words[1], rr.words[2]), Ok(sd(at, len)));
    assert!(received(w, at, len as usize) == expected(src_off, len as usize), "the string arrived");
}

/// Both partners got `e`, are ready, and no transfer is left.
fn failed(w: &mut World, s: Th, r: Th, e: Error) {
    assert_eq!(w.err(s.h), Some((e, Phase::Send)));
    assert_eq!(w.err(r.h), Some((e, Phase::Receive)));
    assert_eq!(w.state(s.h), State::Ready);
    assert_eq!(w.state(r.h), State::Ready);
    assert_eq!(w.k.long.active, 0);
}

/// A pager (running) answers the page fault it received with a page of `frame` at the
/// fault address.
fn answer(w: &mut World, p: Th, frame: u64, rights: MemRights) -> u64 {
    let m = w.ok(p.h);
    assert_eq!(m.tag, MsgTag::new(proto::PAGE_FAULT, page_fault::WORDS, 0));
    let addr = m.words[page_fault::ADDR];
    let it =
        Item::Map { send_base: addr, fpage: Fpage::memory(World::window(ram(frame)), 12, rights) }.encode();
    w.sys(p.h, Sys::ReplyWait, 0, MsgTag::new(0, 0, 1), &it, NEVER, NEVER);
    addr
}

#[test]
fn an_interrupt_between_chunks_lets_the_cpu_go_and_the_copy_resumes() {
    let Scene { mut w, s, r, .. } = scene();
    buffer(&mut w, r, sd(DST, 0x4000));
    w.k.hal.preempt_after = Some(1);
    send(&mut w, s, sd(SRC, 0x4000), false);
    // Two chunks copied, then the pending interrupt: the CPU goes idle to take it.
    assert_eq!(w.state(r.h), State::Locked { partner: s.h });
    assert_eq!(w.state(s.h), State::Ready);
    assert!(mid_copy(&w, s));
    assert_eq!(received(&w, DST + 0x3000, 4), vec![0; 4], "the rest not yet copied");
    // The interrupt (a tick) is taken; the copy resumes on the way back and completes.
    w.tick(1);
    delivered(&mut w, r, DST, 0x4000, 0);
    assert_eq!(w.ret(s.h).status, Status::OK);
    assert!(w.k.hal.preempt_checks >= 3);
}

#[test]
fn a_higher_priority_thread_runs_while_the_copy_waits_then_it_resumes() {
    let Scene { mut w, s, r, c, .. } = scene();
    buffer(&mut w, r, sd(DST, 0x4000));
    w.k.hal.preempt_after = Some(0);
    send(&mut w, s, sd(SRC, 0x4000), true);
    assert!(mid_copy(&w, s));
    // The pending interrupt wakes the controller: it runs first, the sender waits in the
    // middle of its copy with its window closed.
    w.as_ctl(c, |w, _| assert!(w.k.long.window.owner.is_none()));
    // The call completes and the receiver runs with the message.
    assert_eq!(w.cur(), Some(r.h));
    delivered(&mut w, r, DST, 0x4000, 0);
    assert!(matches!(w.state(s.h), State::WaitReply { .. }));
}

#[test]
fn the_receivers_pages_unmapped_while_the_sender_is_away_are_not_written() {
    let Scene { mut w, s, r, c, .. } = scene();
    buffer(&mut w, r, sd(DST, 0x4000));
    w.k.hal.preempt_after = Some(0);
    send(&mut w, s, sd(SRC, 0x4000), false);
    assert!(mid_copy(&w, s));
    assert!(matches!(w.state(r.h), State::Locked { .. }));
    // Root takes the receiver's memory away meanwhile.
    let fp = Fpage::memory(World::window(ram(0x20_0000)), 14, MemRights::RW);
    w.as_ctl(c, |w, h| w.invoke_ok(h, pecan_abi::caps::ROOT_TASK, task::UNMAP, &[fp.0, 0]));
    // The copy resumes with the window mapped anew: it faults on the receiver's side (its
    // pager is asked), and nothing reaches the old frames.
    assert!(received(&w, DST + 0x1000, 0x3000) == vec![0; 0x3000], "the old frames untouched");
    assert!(matches!(w.state(r.h), State::WaitReply { .. } | State::Sending { .. }));
    assert_eq!(w.state(s.h), State::Locked { partner: r.h });
}

#[test]
fn a_page_fault_in_the_senders_string_is_resolved_by_its_pager() {
    let Scene { mut w, s, r, ps, .. } = scene();
    buffer(&mut w, r, sd(DST, 0x2000));
    // 0x1000 bytes in the last mapped page, 0x1000 in the unmapped one after it.
    send(&mut w, s, sd(SRC + 0x3000, 0x2000), false);
    assert_eq!(w.cur(), Some(ps.h), "the sender's pager runs");
    assert!(matches!(w.state(s.h), State::WaitReply { .. }));
    assert_eq!(w.state(r.h), State::Locked { partner: s.h });
    let addr = answer(&mut w, ps, PS_FRAME, MemRights::RW);
    assert_eq!(addr, SRC + 0x4000);
    delivered(&mut w, r, DST, 0x2000, 0x3000);
    assert_eq!(w.ret(s.h).status, Status::OK);
}

#[test]
fn a_page_fault_in_the_receivers_buffer_is_resolved_by_its_pager() {
    let Scene { mut w, s, r, pr, .. } = scene();
    buffer(&mut w, r, sd(DST + 0x3800, 0x1000));
    send(&mut w, s, sd(SRC, 0x1000), true);
    // Asked on the receiver's behalf; the sender waits locked.
    assert_eq!(w.cur(), Some(pr.h), "the receiver's pager runs");
    assert_eq!(w.state(s.h), State::Locked { partner: r.h });
    let addr = answer(&mut w, pr, PR_FRAME, MemRights::RW);
    assert_eq!(addr, DST + 0x4000);
    // The call completes: the receiver runs.
    assert_eq!(w.cur(), Some(r.h));
    delivered(&mut w, r, DST + 0x3800, 0x1000, 0);
}

#[test]
fn faults_on_both_sides_in_one_transfer() {
    let Scene { mut w, s, r, ps, pr, .. } = scene();
    buffer(&mut w, r, sd(DST + 0x3000, 0x2000));
    send(&mut w, s, sd(SRC + 0x3000, 0x2000), false);
    assert_eq!(w.cur(), Some(ps.h));
    answer(&mut w, ps, PS_FRAME, MemRights::RW);
    assert_eq!(w.cur(), Some(pr.h));
    answer(&mut w, pr, PR_FRAME, MemRights::RW);
    delivered(&mut w, r, DST + 0x3000, 0x2000, 0x3000);
}

#[test]
fn a_pager_that_does_not_resolve_the_fault_fails_the_transfer() {
    // The pager maps the page read-only into the receiver's buffer: it faults again.
    let Scene { mut w, s, r, pr, .. } = scene();
    buffer(&mut w, r, sd(DST + 0x4000, 0x100));
    send(&mut w, s, sd(SRC, 0x100), false);
    answer(&mut w, pr, PR_FRAME, MemRights::R);
    failed(&mut w, s, r, Error::BadAddress);
}

#[test]
fn a_pager_that_is_a_locked_partner_fails_the_transfer_at_once() {
    // The receiver's pager is the sender (a fault in the buffer), or the sender's pager the
    // receiver (a fault in the string): locked, it could never answer.
    for dst in [true, false] {
        let Scene { mut w, s, r, c, .. } = scene();
        let (faulting, pager) = if dst { (r, s) } else { (s, r) };
        w.as_ctl(c, |w, h| {
            let g = w.slot();
            w.invoke_ok(h, pecan_abi::caps::ROOT_FACTORY, factory::CREATE_GATE, &[g, pager.slot, 0xdead]);
            let fp = Fpage::object(g, 0, pecan_abi::CapRights::ALL);
            w.invoke_ok(h, faulting.task_slot, task::MAP, &[fp.0, 12]);
            w.invoke_ok(h, faulting.slot, thread::CONFIGURE, &[12, 0]);
        });
        let faults = w.k.counters.faults;
        if dst {
            buffer(&mut w, r, sd(DST + 0x3800, 0x1000));
            send(&mut w, s, sd(SRC, 0x1000), true);
        } else {
            buffer(&mut w, r, sd(DST, 0x2000));
            send(&mut w, s, sd(SRC + 0x3000, 0x2000), true);
        }
        failed(&mut w, s, r, Error::Deadlock);
        assert_eq!(w.k.counters.faults, faults, "no page-fault IPC was sent");
        // Both go on: the next transfer (without faults) works.
        if w.cur() == Some(s.h) {
            w.yield_(s.h);
        }
        buffer(&mut w, r, sd(DST, 0x1000));
        send(&mut w, s, sd(SRC, 0x1000), false);
        delivered(&mut w, r, DST, 0x1000, 0);
    }
}

#[test]
fn a_transfer_timeout_when_the_pager_does_not_answer() {
    let Scene { mut w, s, r, ps, .. } = scene();
    let t = xfer_timeouts(Timeout::from_micros(3000), NEVER);
    w.k.utcb_write(s.h, offset::TCR + TCR_XFER_TIMEOUTS, t);
    buffer(&mut w, r, sd(DST, 0x2000));
    send(&mut w, s, sd(SRC + 0x3000, 0x2000), false);
    assert_eq!(w.cur(), Some(ps.h));
    // The pager takes the fault and sleeps instead of answering.
    let m = w.ok(ps.h);
    assert_eq!(m.words[page_fault::ADDR], SRC + 0x4000);
    w.recv(ps.h, 0, NEVER);
    w.tick(10);
    failed(&mut w, s, r, Error::TransferTimeout);
    if MECHANISM != Mechanism::KernelBuffer {
        // (Copy-in/copy-out had copied nothing out yet.)
        assert!(received(&w, DST, 0x1000) == expected(0x3000, 0x1000), "what was copied stays");
    }
}

#[test]
fn a_receive_side_transfer_timeout_of_zero_allows_no_fault() {
    let Scene { mut w, s, r, .. } = scene();
    w.k.utcb_write(r.h, offset::TCR + TCR_XFER_TIMEOUTS, xfer_timeouts(NEVER, Timeout::ZERO));
    buffer(&mut w, r, sd(DST + 0x4000, 0x10));
    send(&mut w, s, sd(SRC, 0x10), false);
    failed(&mut w, s, r, Error::TransferTimeout);
}

#[test]
fn cancelling_either_partner_mid_transfer() {
    for cancel_sender in [true, false] {
        let Scene { mut w, s, r, ps, c, .. } = scene();
        buffer(&mut w, r, sd(DST, 0x2000));
        send(&mut w, s, sd(SRC + 0x3000, 0x2000), false);
        assert_eq!(w.cur(), Some(ps.h));
        let victim = if cancel_sender { s } else { r };
        w.as_ctl(c, |w, h| w.invoke_ok(h, victim.slot, thread::CANCEL, &[]));
        failed(&mut w, s, r, Error::Cancelled);
        // The pager's reply finds nobody waiting.
        let it = Item::Map {
            send_base: SRC + 0x4000,
            fpage: Fpage::memory(World::window(ram(PS_FRAME)), 12, MemRights::R),
        };
        w.ok(ps.h);
        let it = it.encode();
        w.sys(ps.h, Sys::Reply, 0, MsgTag::new(0, 0, 1), &it, NEVER, NEVER);
        assert_eq!(w.err(ps.h), Some((Error::NoReplyCap, Phase::Send)));
    }
}

#[test]
fn deleting_either_partner_mid_transfer() {
    for delete_sender in [true, false] {
        let Scene { mut w, s, r, c, .. } = scene();
        buffer(&mut w, r, sd(DST, 0x4000));
        w.k.hal.preempt_after = Some(0);
        send(&mut w, s, sd(SRC, 0x4000), false);
        assert!(w.k.threads.get(s.h).unwrap().xfer.is_some());
        let (victim, other, phase) = if delete_sender { (s, r, Phase::Receive) } else { (r, s, Phase::Send) };
        w.as_ctl(c, |w, h| w.invoke_ok(h, victim.slot, any::DESTROY, &[]));
        assert!(!w.alive(victim.h));
        assert_eq!(w.err(other.h), Some((Error::PartnerDeleted, phase)));
        assert_eq!(w.state(other.h), State::Ready);
        assert_eq!(w.k.long.active, 0);
    }
}

#[test]
fn a_queued_sender_copies_when_the_receiver_comes() {
    let Scene { mut w, s, r, .. } = scene();
    // The receiver is busy: the sender queues.
    w.k.utcb_write(r.h, offset::BR + BR_STRING_COUNT, 1);
    let [a, c] = sd(DST + 0x100, 0x3000).encode();
    w.k.utcb_write(r.h, offset::BR + BR_STRINGS, a);
    w.k.utcb_write(r.h, offset::BR + BR_STRINGS + 1, c);
    assert_eq!(w.cur(), Some(r.h));
    w.yield_(r.h);
    assert_eq!(w.cur(), Some(s.h));
    send(&mut w, s, sd(SRC + 0x10, 0x3000), false);
    assert!(matches!(w.state(s.h), State::Sending { .. }));
    // The receiver waits: the sender runs to copy, then the receiver gets it.
    w.wait(r.h);
    delivered(&mut w, r, DST + 0x100, 0x3000, 0x10);
}

#[test]
fn the_window_costs_one_flush_and_two_entry_writes_per_transfer() {
    if MECHANISM != Mechanism::TempMapping {
        return;
    }
    let Scene { mut w, s, r, .. } = scene();
    if !w.counting() {
        return;
    }
    for i in 0..3 {
        buffer(&mut w, r, sd(DST, 0x100));
        let (f0, p0) = (w.k.counters.tlb_flushes, w.k.counters.pte_writes);
        send(&mut w, s, sd(SRC, 0x100), false);
        let (f, p) = (w.k.counters.tlb_flushes - f0, w.k.counters.pte_writes - p0);
        assert_eq!(f, 1, "transfer {i}: the window's flush");
        // The first transfer makes the window's two tables.
        assert_eq!(p, if i == 0 { 4 } else { 2 }, "transfer {i}: slot written and cleared");
        w.ok(r.h);
        assert_eq!(w.cur(), Some(s.h));
        w.yield_(s.h);
    }
}
