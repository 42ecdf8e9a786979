//! User faults become IPC (seed 002, "Pagers resolve page faults by IPC"): the page-fault
//! and exception protocols, the pager's map item resolving the fault, the exception
//! handler's new registers or kill, the root task's window, and unhandled faults.

mod common;
use common::*;
use pecan_abi::object::{any, thread};
use pecan_abi::proto::{exception, page_fault};
use pecan_abi::{Error, Fpage, Item, MemRights, MsgTag, Phase, StringDesc, Sys, Timeout, proto};
use pecan_core::State;
use pecan_hal::FaultInfo;
use pecan_sim::AccessFault;

const NEVER: Timeout = Timeout::NEVER;
/// The pager's gate, in the faulting task.
const PAGER: u64 = 10;
/// The exception handler's gate, in the faulting task.
const EXC: u64 = 11;
/// A thread capability (not a gate), in the faulting task.
const NOT_A_GATE: u64 = 12;
const V: u64 = 0x2000_0000;

/// Faulting thread `a` (100) in its own task, configured with the pager and exception
/// gates; pager `p` and handler `x` (150) in root's task wait for faults.
struct Scene {
    w: World,
    a: Th,
    p: Th,
    x: Th,
    task: u64,
    /// A gate bound to root's thread, in root's task (where p and x live).
    groot: u64,
}

fn scene() -> Scene {
    let mut w = World::new();
    let task = w.new_task();
    let a = w.new_thread(task, 100);
    let p = w.new_thread(pecan_abi::caps::ROOT_TASK, 150);
    let x = w.new_thread(pecan_abi::caps::ROOT_TASK, 150);
    let gp = w.new_gate(p, 0xfa);
    let gx = w.new_gate(x, 0xec);
    w.give_cap(gp, task, PAGER);
    w.give_cap(gx, task, EXC);
    w.give_cap(a.slot, task, NOT_A_GATE);
    w.invoke_ok(w.root, a.slot, thread::CONFIGURE, &[PAGER, EXC]);
    let root_th = Th { h: w.root, slot: pecan_abi::caps::ROOT_THREAD, task_slot: pecan_abi::caps::ROOT_TASK };
    let groot = w.new_gate(root_th, 0x700);
    w.start(p);
    w.start(x);
    w.start(a);
    w.go();
    w.wait(p.h);
    w.wait(x.h);
    assert_eq!(w.cur(), Some(a.h));
    Scene { w, a, p, x, task, groot }
}

fn map_reply(pa: u64, at: u64, rights: MemRights) -> [u64; 2] {
    Item::Map { send_base: at, fpage: Fpage::memory(World::window(pa), 12, rights) }.encode()
}

#[test]
fn a_page_fault_is_resolved_by_the_pagers_map_item() {
    let Scene { mut w, a, p, task, .. } = scene();
    let th = w.task_h(task);
    let before = w.k.threads.get(a.h).unwrap().ctx.clone();
    assert_eq!(w.access(th, V + 0x123, true), Err(AccessFault::NotMapped));
    w.fault(a.h, FaultInfo::Page { addr: V + 0x123, access: 2 });
    // The pager runs with the page-fault message.
    assert_eq!(w.cur(), Some(p.h));
    let r = w.ok(p.h);
    assert_eq!(r.label, 0xfa);
    assert_eq!(r.tag, MsgTag::new(proto::PAGE_FAULT, page_fault::WORDS, 0));
    assert_eq!(r.words[page_fault::ADDR], V + 0x123);
    assert_eq!(r.words[page_fault::IP], 0x40_0000);
    assert_eq!(r.words[page_fault::ACCESS], 2);
    assert!(matches!(w.state(a.h), State::WaitReply { .. }));
    // The pager replies with a page of its memory at the fault address.
    let [i0, i1] = map_reply(ram(0x3000), V + 0x123, MemRights::RW);
    w.sys(p.h, Sys::ReplyWait, 0, tag_items(0, 0, 1), &[i0, i1], NEVER, NEVER);
    w.ok(p.h);
    assert_eq!(w.cur(), Some(a.h));
    // The thread retries with its registers untouched: no system call returned.
    assert_eq!(w.k.threads.get(a.h).unwrap().ctx, before);
    assert_eq!(w.access(th, V + 0x123, true), Ok(pecan_hal::PhysAddr(ram(0x3123))));
    if w.counting() {
        assert_eq!(w.k.counters.faults, 1);
    }
}

#[test]
fn a_reply_without_an_item_lets_the_thread_retry() {
    let Scene { mut w, a, p, task, .. } = scene();
    w.fault(a.h, FaultInfo::Page { addr: V, access: 4 });
    w.reply_wait(p.h, tag(0, 0), &[]);
    assert_eq!(w.cur(), Some(a.h));
    assert_eq!(w.state(a.h), State::Ready);
    let th = w.task_h(task);
    assert_eq!(w.access(th, V, false), Err(AccessFault::NotMapped));
    // A grant item works as well (the pager gives its own page away).
    w.fault(a.h, FaultInfo::Page { addr: V, access: 4 });
    let root_task = w.root_task;
    w.k.map_memory(root_task, World::window(ram(0x5000)), root_task, 0x30_0000, 0x1000, 7, false).unwrap();
    let [i0, i1] = Item::Grant { send_base: V, fpage: Fpage::memory(0x30_0000, 12, MemRights::RW) }.encode();
    w.sys(p.h, Sys::ReplyWait, 0, tag_items(0, 0, 1), &[i0, i1], NEVER, NEVER);
    assert_eq!(w.access(th, V, false), Ok(pecan_hal::PhysAddr(ram(0x5000))));
    assert!(w.translate(root_task, 0x30_0000).is_none());
}

#[test]
fn an_exception_goes_to_the_handler_which_sets_registers_or_kills() {
    let Scene { mut w, a, x, .. } = scene();
    w.fault(a.h, FaultInfo::Exception { kind: exception::KIND_ARITHMETIC, code: 0, addr: 0 });
    assert_eq!(w.cur(), Some(x.h));
    let r = w.ok(x.h);
    assert_eq!(r.label, 0xec);
    assert_eq!(r.tag, MsgTag::new(proto::EXCEPTION, exception::WORDS, 0));
    assert_eq!(r.words, vec![exception::KIND_ARITHMETIC, 0x40_0000, 0x7000_0000, 0, 0]);
    // New registers: the thread resumes there.
    w.reply_wait(x.h, tag(0, 2), &[0x50_0000, 0x6000_0000]);
    assert_eq!(w.cur(), Some(a.h));
    let ctx = &w.k.threads.get(a.h).unwrap().ctx;
    assert_eq!((ctx.ip, ctx.sp), (0x50_0000, 0x6000_0000));
    // Kill: the thread stops.
    w.fault(a.h, FaultInfo::Exception { kind: exception::KIND_ILLEGAL, code: 6, addr: 0 });
    w.reply_wait(x.h, tag(exception::KILL, 0), &[]);
    assert_eq!(w.state(a.h), State::Inactive);
    assert!(w.blocked(x.h), "a reply-and-wait that kills still waits");
    assert_eq!(w.cur(), Some(w.root));
}

#[test]
fn without_a_usable_handler_the_thread_stops_and_can_be_restarted() {
    for (pager, why) in [(0, "nil"), (NOT_A_GATE, "not a gate"), (77, "empty slot")] {
        let Scene { mut w, a, p, x, .. } = scene();
        w.recv(a.h, 0, Timeout::ZERO);
        // Reconfigure as root: a must sleep first.
        w.recv(a.h, 0, NEVER);
        w.invoke_ok(w.root, a.slot, thread::CONFIGURE, &[pager, 0]);
        w.invoke_ok(w.root, a.slot, thread::CANCEL, &[]);
        w.fault(a.h, FaultInfo::Page { addr: V, access: 4 });
        assert_eq!(w.state(a.h), State::Inactive, "{why}");
        assert!(w.blocked(p.h) && w.blocked(x.h), "nobody was called");
        w.invoke_ok(w.root, a.slot, thread::SET_REGS, &[0x40_1000, 0x7000_0000, 0]);
        w.invoke_ok(w.root, a.slot, thread::START, &[]);
        assert_eq!(w.cur(), Some(a.h));
        // An exception without a handler stops it as well.
        w.fault(a.h, FaultInfo::Exception { kind: exception::KIND_BREAKPOINT, code: 0, addr: 0 });
        assert_eq!(w.state(a.h), State::Inactive);
    }
}

#[test]
fn the_root_task_resolves_its_own_window_faults() {
    let mut w = World::new();
    let va = World::window(ram(0x4000)) + 8;
    let rt = w.root_task;
    assert_eq!(w.access(rt, va, true), Err(AccessFault::NotMapped));
    w.fault(w.root, FaultInfo::Page { addr: va, access: 2 });
    assert_eq!(w.cur(), Some(w.root));
    assert_eq!(w.access(rt, va, true), Ok(pecan_hal::PhysAddr(ram(0x4008))));
    if w.counting() {
        assert_eq!(w.k.counters.messages, 0, "no IPC");
    }
    // Device memory in the window is mapped uncached.
    w.fault(w.root, FaultInfo::Page { addr: World::window(ROOT_DEV.0), access: 4 });
    assert!(w.access(rt, World::window(ROOT_DEV.0), false).is_ok());
}

#[test]
fn a_faulting_thread_queues_when_the_pager_is_busy_and_waits_forever() {
    let Scene { mut w, a, p, x, task, groot } = scene();
    // The pager is busy: it handles a's fault and, before replying, blocks sending to
    // root (a receive would end its reply capability); a second fault arrives from b.
    w.fault(a.h, FaultInfo::Page { addr: V, access: 4 });
    assert_eq!(w.cur(), Some(p.h));
    w.send(p.h, groot, tag(1, 0), &[]);
    let _ = x;
    // Root gives a second thread to the same task and lets it fault.
    assert_eq!(w.cur(), Some(w.root));
    let b = w.new_thread(task, 100);
    w.invoke_ok(w.root, b.slot, thread::CONFIGURE, &[PAGER, 0]);
    w.start(b);
    assert_eq!(w.cur(), Some(b.h));
    w.fault(b.h, FaultInfo::Page { addr: V + 0x1000, access: 4 });
    assert!(matches!(w.state(b.h), State::Sending { .. }));
    // Kernel-made messages wait without a timeout.
    w.tick(1500);
    assert!(matches!(w.state(b.h), State::Sending { .. }));
    // The pager deals with a, then takes b's fault at once.
    w.invoke_ok(w.root, p.slot, thread::CANCEL, &[]);
    assert_eq!(w.err(p.h), Some((Error::Cancelled, Phase::Send)));
    w.sys(p.h, Sys::Reply, 0, tag(0, 0), &[], NEVER, NEVER);
    w.ok(p.h);
    w.wait(p.h);
    let r = w.ok(p.h);
    assert_eq!(r.words[page_fault::ADDR], V + 0x1000);
    assert!(matches!(w.state(b.h), State::WaitReply { .. }));
}

#[test]
fn deleting_the_pager_or_cancelling_stops_the_faulting_thread() {
    // The pager dies while a waits for its reply.
    let Scene { mut w, a, p, .. } = scene();
    w.fault(a.h, FaultInfo::Page { addr: V, access: 4 });
    w.recv(p.h, 0, NEVER);
    w.invoke_ok(w.root, p.slot, any::DESTROY, &[]);
    assert_eq!(w.state(a.h), State::Inactive);
    // A thread blocked in a fault is cancelled: it stops too.
    let Scene { mut w, a, p, .. } = scene();
    w.fault(a.h, FaultInfo::Page { addr: V, access: 4 });
    w.recv(p.h, 0, NEVER);
    w.invoke_ok(w.root, a.slot, thread::CANCEL, &[]);
    assert_eq!(w.state(a.h), State::Inactive);
    // Then the pager's reply finds no reply capability.
    w.invoke_ok(w.root, p.slot, thread::CANCEL, &[]);
    w.reply(p.h, tag(0, 0), &[]);
    assert_eq!(w.err(p.h), Some((Error::NoReplyCap, Phase::Send)));
}

#[test]
fn a_bad_reply_is_the_pagers_error_and_stops_the_thread() {
    let bad: [(MsgTag, [u64; 2], Error); 3] = [
        (
            tag_items(0, 0, 1),
            StringDesc { addr: 0x1000, len: 8, continued: false }.encode(),
            Error::MalformedMessage,
        ),
        (tag_items(0, 0, 1), [1, Fpage::memory(0x1000, 13, MemRights::R).0], Error::BadFlexpage),
        (tag_items(0, 0, 1), [0xf, 0], Error::MalformedMessage),
    ];
    for (t, item, e) in bad {
        let Scene { mut w, a, p, .. } = scene();
        w.fault(a.h, FaultInfo::Page { addr: V, access: 4 });
        w.sys(p.h, Sys::Reply, 0, t, &item, NEVER, NEVER);
        assert_eq!(w.err(p.h), Some((e, Phase::Send)));
        assert_eq!(w.state(a.h), State::Inactive, "{e:?}");
    }
}

#[test]
fn an_access_after_unmap_faults_and_the_pager_maps_the_page_again() {
    let Scene { mut w, a, p, task, .. } = scene();
    let th = w.task_h(task);
    // a's page, mapped by root (a sleeps meanwhile), used, then revoked.
    w.recv(a.h, 0, NEVER);
    assert_eq!(w.cur(), Some(w.root));
    w.give_page(ram(0x6000), task, V, MemRights::RW);
    assert_eq!(w.access(th, V + 8, true), Ok(pecan_hal::PhysAddr(ram(0x6008))));
    let fp = Fpage::memory(World::window(ram(0x6000)), 12, MemRights::RWX).0;
    w.invoke_ok(w.root, pecan_abi::caps::ROOT_TASK, pecan_abi::object::task::UNMAP, &[fp, 0]);
    // The cached translation went with it: the access faults.
    assert_eq!(w.access(th, V + 8, true), Err(AccessFault::NotMapped));
    w.invoke_ok(w.root, a.slot, thread::CANCEL, &[]);
    w.fault(a.h, FaultInfo::Page { addr: V + 8, access: 2 });
    assert_eq!(w.ok(p.h).words[page_fault::ADDR], V + 8);
    let [i0, i1] = map_reply(ram(0x6000), V, MemRights::RW);
    w.sys(p.h, Sys::ReplyWait, 0, tag_items(0, 0, 1), &[i0, i1], NEVER, NEVER);
    assert_eq!(w.cur(), Some(a.h));
    assert_eq!(w.access(th, V + 8, true), Ok(pecan_hal::PhysAddr(ram(0x6008))));
}
