//! Every error code of the ABI, produced by a scenario and checked with its phase; and bad
//! input from user space of every kind gets its defined error (the invariants hold after
//! every step, and the caller never blocks on a rejected call).

mod common;
use common::*;
use pecan_abi::caps::{ROOT_CONSOLE, ROOT_FACTORY, ROOT_TASK, ROOT_THREAD};
use pecan_abi::layout::USER_TOP;
use pecan_abi::object::{any, factory, gate, task, thread};
use pecan_abi::utcb::{BR_MEM_WINDOW, offset};
use pecan_abi::{
    CapRights, Control, Error, Fault, Fpage, Item, MemRights, MsgTag, Phase, StringDesc, Sys, Timeout,
};
use pecan_core::Config;
use std::collections::HashSet;

const NEVER: Timeout = Timeout::NEVER;
const ZERO: Timeout = Timeout::ZERO;
const GATE: u64 = 10;

/// Server `s` and client `c` (both 100) in one task, a gate to `s` at GATE; root has the
/// gate at `g`. The server runs first.
struct Scene {
    w: World,
    s: Th,
    c: Th,
    g: u64,
}

fn scene() -> Scene {
    let mut w = World::new();
    let t = w.new_task();
    let s = w.spawn(t, 100);
    let c = w.spawn(t, 100);
    let g = w.new_gate(s, 0x42);
    w.give_cap(g, t, GATE);
    w.go();
    Scene { w, s, c, g }
}

/// Runs `f` (the server running) and returns the server's error.
fn server_err(f: impl FnOnce(&mut World, Th, Th)) -> Option<(Error, Phase)> {
    let Scene { mut w, s, c, .. } = scene();
    f(&mut w, s, c);
    w.err(s.h)
}

/// Root's error after `f`.
fn root_err(f: impl FnOnce(&mut World) -> Result<Vec<u64>, Error>) -> Option<(Error, Phase)> {
    let mut w = World::new();
    f(&mut w).err().map(|e| (e, Phase::Send))
}

fn produce(e: Error) -> Option<(Error, Phase)> {
    match e {
        Error::Timeout => {
            // The server is busy (it yields): a send with timeout 0 fails at once.
            let Scene { mut w, s, c, .. } = scene();
            w.yield_(s.h);
            w.sys(c.h, Sys::Send, GATE, tag(1, 0), &[], ZERO, NEVER);
            w.err(c.h)
        }
        Error::Cancelled => {
            let Scene { mut w, s, c, .. } = scene();
            w.recv(s.h, 0, NEVER);
            w.recv(c.h, 0, NEVER);
            w.invoke_ok(w.root, s.slot, thread::CANCEL, &[]);
            w.err(s.h)
        }
        Error::PartnerDeleted => {
            let Scene { mut w, s, c, .. } = scene();
            w.wait(s.h);
            w.call(c.h, GATE, tag(1, 0), &[]);
            w.recv(s.h, 0, NEVER);
            w.invoke_ok(w.root, s.slot, any::DESTROY, &[]);
            w.err(c.h)
        }
        Error::InvalidCap => server_err(|w, s, _| w.send(s.h, 99, tag(1, 0), &[])),
        Error::StaleCap => {
            let Scene { mut w, s, c, g, .. } = scene();
            w.recv(s.h, 0, NEVER);
            w.recv(c.h, 0, NEVER);
            w.invoke_ok(w.root, g, any::DESTROY, &[]);
            w.invoke_ok(w.root, c.slot, thread::CANCEL, &[]);
            w.send(c.h, GATE, tag(1, 0), &[]);
            w.err(c.h)
        }
        Error::NoRights => {
            let mut w = World::new();
            let t = w.new_task();
            let g = w.new_gate(Th { h: w.root, slot: ROOT_THREAD, task_slot: ROOT_TASK }, 1);
            w.give_cap_rights(g, t, GATE, CapRights::CONTROL);
            let p = w.puppet(t);
            w.act(p, |w, h| {
                w.send(h, GATE, tag(1, 0), &[]);
                w.err(h)
            })
        }
        Error::WrongType => {
            root_err(|w| w.invoke(w.root, ROOT_FACTORY, factory::CREATE_GATE, &[200, ROOT_TASK, 0]))
        }
        Error::MessageOverflow => {
            // A map item to a receiver without a receive window: the receiver's fault,
            // reported to it in its receive phase.
            let Scene { mut w, s, c, .. } = scene();
            w.k.utcb_write(s.h, offset::BR + BR_MEM_WINDOW, 0);
            w.wait(s.h);
            let [a, b] = Item::map(Fpage::memory(0x1000, 12, MemRights::R)).encode();
            w.sys(c.h, Sys::Send, GATE, tag_items(1, 0, 1), &[a, b], NEVER, NEVER);
            w.err(s.h)
        }
        Error::BadFlexpage => root_err(|w| {
            let t = w.new_task();
            w.invoke(w.root, t, task::MAP, &[Fpage::memory(0x1000, 13, MemRights::R).0, 0x2000])
        }),
        Error::MalformedMessage => server_err(|w, s, _| w.send(s.h, GATE, MsgTag::new(1, 65, 0), &[])),
        Error::BadAddress => {
            let Scene { mut w, s, c, .. } = scene();
            w.k.utcb_write(s.h, offset::BR + pecan_abi::utcb::BR_STRING_COUNT, 1);
            let [a, b] = StringDesc { addr: 0x5000, len: 8, continued: false }.encode();
            w.k.utcb_write(s.h, offset::BR + pecan_abi::utcb::BR_STRINGS, a);
            w.k.utcb_write(s.h, offset::BR + pecan_abi::utcb::BR_STRINGS + 1, b);
            w.wait(s.h);
            let [a, b] = StringDesc { addr: 0x9000, len: 8, continued: false }.encode();
            w.sys(c.h, Sys::Send, GATE, tag_items(1, 0, 1), &[a, b], NEVER, NEVER);
            w.err(c.h)
        }
        Error::UnknownSyscall => {
            let Scene { mut w, s, .. } = scene();
            w.sys_raw(s.h, 9, 0, 0);
            w.err(s.h)
        }
        Error::InvalidArgument => {
            let Scene { mut w, s, .. } = scene();
            w.sys_raw(s.h, Sys::Null as u64 | 1 << 8, 0, 0);
            w.err(s.h)
        }
        Error::QuotaExceeded => root_err(|w| {
            let f = w.slot();
            w.invoke_ok(w.root, ROOT_FACTORY, factory::CREATE_FACTORY, &[f, 10]);
            let s = w.slot();
            w.invoke(w.root, f, factory::CREATE_IRQ, &[s])
        }),
        Error::OutOfMemory => {
            let mut w = World::with(0, Config { max_gates: 1, ..World::config() });
            let a = w.slot();
            w.invoke_ok(w.root, ROOT_FACTORY, factory::CREATE_GATE, &[a, 0, 0]);
            let b = w.slot();
            w.invoke(w.root, ROOT_FACTORY, factory::CREATE_GATE, &[b, 0, 0]).err().map(|e| (e, Phase::Send))
        }
        Error::NoReplyCap => server_err(|w, s, _| w.reply(s.h, tag(1, 0), &[])),
        Error::SlotOccupied => {
            root_err(|w| w.invoke(w.root, ROOT_FACTORY, factory::CREATE_IRQ, &[ROOT_TASK]))
        }
        Error::AlreadyBound => root_err(|w| {
            let t = w.new_task();
            let a = w.new_thread(t, 100);
            let b = w.new_thread(t, 100);
            let g = w.new_gate(a, 1);
            w.invoke(w.root, g, gate::BIND, &[b.slot])
        }),
        Error::NotBound => {
            let mut w = World::new();
            let g = w.slot();
            w.invoke_ok(w.root, ROOT_FACTORY, factory::CREATE_GATE, &[g, 0, 0]);
            w.send(w.root, g, tag(1, 0), &[]);
            w.err(w.root)
        }
        Error::Deadlock => deadlock(),
        Error::TransferTimeout => {
            // A string in an unmapped page of the sender, whose transfer timeout is 0: the
            // page fault cannot be waited for.
            let Scene { mut w, s, c, .. } = scene();
            w.k.utcb_write(s.h, offset::BR + pecan_abi::utcb::BR_STRING_COUNT, 1);
            let [a, b] = StringDesc { addr: 0x5000, len: 8, continued: false }.encode();
            w.k.utcb_write(s.h, offset::BR + pecan_abi::utcb::BR_STRINGS, a);
            w.k.utcb_write(s.h, offset::BR + pecan_abi::utcb::BR_STRINGS + 1, b);
            let xt = pecan_abi::utcb::xfer_timeouts(ZERO, NEVER);
            w.k.utcb_write(c.h, offset::TCR + pecan_abi::utcb::TCR_XFER_TIMEOUTS, xt);
            w.wait(s.h);
            let [a, b] = StringDesc { addr: 0x9000, len: 8, continued: false }.encode();
            w.sys(c.h, Sys::Send, GATE, tag_items(1, 0, 1), &[a, b], NEVER, NEVER);
            w.err(c.h)
        }
    }
}

/// The phase each error is produced in by `produce`.
fn phase_of(e: Error) -> Phase {
    match e {
        Error::Cancelled | Error::PartnerDeleted | Error::MessageOverflow | Error::Deadlock => Phase::Receive,
        _ => Phase::Send,
    }
}

#[test]
fn every_error_code_is_produced() {
    let mut seen = HashSet::new();
    for e in Error::ALL {
        let got = produce(e);
        assert_eq!(got, Some((e, phase_of(e))), "{e:?}");
        seen.insert(e);
    }
    assert_eq!(seen.len(), Error::ALL.len(), "every code of the ABI is produced");
}

/// A thread that closed-waits on itself.
fn deadlock() -> Option<(Error, Phase)> {
    let mut w = World::new();
    let t = w.new_task();
    let p = w.puppet(t);
    w.give_cap(p.slot, t, 20);
    w.act(p, |w, h| {
        w.recv(h, 20, NEVER);
        w.err(h)
    })
}

#[test]
fn fault_attribution_of_every_code() {
    for e in Error::ALL {
        let f = e.fault();
        let want = match e {
            Error::Timeout | Error::Cancelled | Error::PartnerDeleted | Error::TransferTimeout => Fault::None,
            Error::MessageOverflow => Fault::Receiver,
            Error::BadFlexpage | Error::MalformedMessage => Fault::Sender,
            Error::OutOfMemory => Fault::Kernel,
            _ => Fault::Caller,
        };
        assert_eq!(f, want, "{e:?}");
    }
}

// ---- bad input ------------------------------------------------------------------------

/// The server issues a raw system call; it must not block, and gets `want`.
fn raw(w: &mut World, s: Th, control: u64, cap: u64, tag: u64, want: (Error, Phase)) {
    w.sys_raw(s.h, control, cap, tag);
    assert_eq!(w.cur(), Some(s.h), "rejected without blocking: {control:#x}");
    assert_eq!(w.err(s.h), Some(want), "control {control:#x} cap {cap} tag {tag:#x}");
}

#[test]
fn undefined_system_calls_and_reserved_control_bits() {
    let Scene { mut w, s, .. } = scene();
    for n in 9..=255u64 {
        raw(&mut w, s, n, GATE, 0, (Error::UnknownSyscall, Phase::Send));
    }
    for bit in (8..16).chain(48..64) {
        raw(&mut w, s, Sys::Null as u64 | 1 << bit, 0, 0, (Error::InvalidArgument, Phase::Send));
        raw(&mut w, s, Sys::Send as u64 | 1 << bit, GATE, 0, (Error::InvalidArgument, Phase::Send));
    }
    // Null with garbage everywhere else is fine.
    w.sys_raw(s.h, Sys::Null as u64 | 0x1234_5678 << 16, u64::MAX, u64::MAX);
    w.ok(s.h);
}

#[test]
fn reserved_timeouts_in_every_operation() {
    let Scene { mut w, s, .. } = scene();
    for raw_to in [0x8000u16, 0x8001, 0xc000, 0xfffe] {
        let bad = Timeout::from_raw(raw_to);
        for (op, snd, rcv, phase) in [
            (Sys::Send, bad, NEVER, Phase::Send),
            (Sys::Call, bad, NEVER, Phase::Send),
            (Sys::Call, NEVER, bad, Phase::Send),
            (Sys::Reply, bad, NEVER, Phase::Send),
            (Sys::ReplyWait, NEVER, bad, Phase::Send),
            (Sys::Wait, NEVER, bad, Phase::Receive),
            (Sys::Recv, NEVER, bad, Phase::Receive),
        ] {
            let cap = if op == Sys::Recv { 0 } else { GATE };
            raw(&mut w, s, Control::new(op, snd, rcv).0, cap, tag(1, 0).0, (Error::InvalidArgument, phase));
        }
    }
}

#[test]
fn malformed_tags() {
    let Scene { mut w, s, .. } = scene();
    let bad_tags = [
        MsgTag::new(1, 65, 0).0,
        MsgTag::new(1, 64, 1).0,
        MsgTag::new(1, 0, 31).0 | 0x7f, // 127 words
        MsgTag::new(1, 2, 0).with_flags(0b0010).0,
        MsgTag::new(1, 2, 0).with_flags(0b1000).0,
    ];
    for t in bad_tags {
        for op in [Sys::Send, Sys::Call, Sys::Reply, Sys::ReplyWait, Sys::Invoke] {
            raw(&mut w, s, Control::new(op, NEVER, NEVER).0, GATE, t, (Error::MalformedMessage, Phase::Send));
        }
    }
}

#[test]
fn malformed_items_and_flexpages_in_messages() {
    // Word 0 of an item: undefined types, reserved bits of map/grant and string items.
    let items: Vec<([u64; 2], Error)> = vec![
        ([0, 0], Error::MalformedMessage),
        ([4, 0], Error::MalformedMessage),
        ([0xf, 0], Error::MalformedMessage),
        ([1 | 0x10, Fpage::memory(0x1000, 12, MemRights::R).0], Error::MalformedMessage),
        ([2 | 0x800, Fpage::memory(0x1000, 12, MemRights::R).0], Error::MalformedMessage),
        ([3 | 0x40, 0x1000], Error::MalformedMessage),
        // Flexpages: kind 3, reserved bit, misaligned, order out of range, kernel half.
        ([1, 0x30], Error::BadFlexpage),
        ([1, Fpage::memory(0x1000, 12, MemRights::R).0 | 8], Error::BadFlexpage),
        ([1, Fpage::memory(0x1000, 13, MemRights::R).0], Error::BadFlexpage),
        ([1, Fpage::memory(0, 11, MemRights::R).0], Error::BadFlexpage),
        ([1, Fpage::memory(0, 48, MemRights::R).0], Error::BadFlexpage),
        ([1, Fpage::memory(USER_TOP, 12, MemRights::R).0], Error::BadFlexpage),
        ([1, Fpage::memory(0xffff_8000_0000_0000, 12, MemRights::R).0], Error::BadFlexpage),
        ([1, Fpage::object(3, 1, CapRights::ALL).0], Error::BadFlexpage),
        ([1, Fpage::object(0, 25, CapRights::ALL).0], Error::BadFlexpage),
    ];
    for (item, e) in items {
        let Scene { mut w, s, c, .. } = scene();
        w.k.utcb_write(s.h, offset::BR + BR_MEM_WINDOW, Fpage::memory(0, 47, MemRights::RWX).0);
        w.wait(s.h);
        w.sys(c.h, Sys::Send, GATE, tag_items(1, 1, 1), &[5, item[0], item[1]], NEVER, NEVER);
        assert_eq!(w.err(c.h), Some((e, Phase::Send)), "{item:x?}");
        assert_eq!(w.err(s.h), Some((e, Phase::Receive)));
        assert_eq!(e.fault(), Fault::Sender);
    }
}

#[test]
fn bad_selectors() {
    let Scene { mut w, s, c, g, .. } = scene();
    // Nil, out of range, empty: InvalidCap in the phase of the operation.
    for sel in [0, 255, 256, 1 << 40, u64::MAX, 77] {
        for (op, phase) in [(Sys::Send, Phase::Send), (Sys::Call, Phase::Send), (Sys::Invoke, Phase::Send)] {
            raw(&mut w, s, Control::new(op, NEVER, NEVER).0, sel, tag(1, 0).0, (Error::InvalidCap, phase));
        }
        if sel != 0 {
            raw(
                &mut w,
                s,
                Control::new(Sys::Recv, NEVER, NEVER).0,
                sel,
                0,
                (Error::InvalidCap, Phase::Receive),
            );
        }
    }
    // Stale.
    w.recv(s.h, 0, NEVER);
    w.recv(c.h, 0, NEVER);
    w.invoke_ok(w.root, g, any::DESTROY, &[]);
    w.invoke_ok(w.root, s.slot, thread::CANCEL, &[]);
    for (op, phase) in [
        (Sys::Send, Phase::Send),
        (Sys::Call, Phase::Send),
        (Sys::Recv, Phase::Receive),
        (Sys::Invoke, Phase::Send),
    ] {
        raw(
            &mut w,
            s,
            Control::new(op, NEVER, NEVER).0,
            GATE,
            tag(any::IDENTIFY, 0).0,
            (Error::StaleCap, phase),
        );
    }
}

#[test]
fn wrong_object_types() {
    let mut w = World::new();
    let t = w.new_task();
    let p = w.puppet(t);
    for slot in [ROOT_TASK, ROOT_FACTORY, ROOT_CONSOLE, World::IRQ_LINE5] {
        w.give_cap(slot, t, 10 + slot);
    }
    w.act(p, |w, h| {
        // Send through something that is not a gate.
        for slot in [ROOT_TASK, ROOT_FACTORY, ROOT_CONSOLE] {
            w.sys(h, Sys::Send, 10 + slot, tag(1, 0), &[], NEVER, NEVER);
            assert_eq!(w.err(h), Some((Error::WrongType, Phase::Send)));
            // Closed wait on something that is neither a gate, a thread nor an IRQ.
            w.sys(h, Sys::Recv, 10 + slot, tag(0, 0), &[], NEVER, NEVER);
            assert_eq!(w.err(h), Some((Error::WrongType, Phase::Receive)));
        }
        // Arguments that must name a thread or a task.
        assert_eq!(
            w.invoke(h, 10 + ROOT_FACTORY, factory::CREATE_THREAD, &[30, 10 + ROOT_CONSOLE, 0x1000]),
            Err(Error::WrongType)
        );
        assert_eq!(
            w.invoke(h, 10 + World::IRQ_LINE5, pecan_abi::object::irq::ATTACH, &[10 + ROOT_TASK]),
            Err(Error::WrongType)
        );
        // Methods an object does not have.
        assert_eq!(w.invoke(h, 10 + ROOT_TASK, 0x77, &[Fpage::NIL.0]), Err(Error::InvalidArgument));
        assert_eq!(w.invoke(h, 10 + ROOT_CONSOLE, any::DESTROY, &[]), Err(Error::WrongType));
    });
}

#[test]
fn kernel_half_addresses() {
    let mut w = World::new();
    let t = w.new_task();
    for va in [USER_TOP, 0xffff_8000_0000_0000, 0xffff_ffff_ffff_f000] {
        // As a UTCB.
        let s = w.slot();
        assert_eq!(
            w.invoke(w.root, ROOT_FACTORY, factory::CREATE_THREAD, &[s, t, va]),
            Err(Error::InvalidArgument)
        );
        // As a map source or destination.
        let fp = Fpage::memory(va, 12, MemRights::RW).0;
        assert_eq!(w.invoke(w.root, t, task::MAP, &[fp, 0x1000]), Err(Error::BadFlexpage));
        let ok = Fpage::memory(World::window(ram(0)), 12, MemRights::RW).0;
        assert_eq!(w.invoke(w.root, t, task::MAP, &[ok, va]), Err(Error::BadFlexpage));
        assert_eq!(w.invoke(w.root, t, task::UNMAP, &[fp, 0]), Err(Error::BadFlexpage));
    }
    // The root task's window is user space: its top page is fine.
    let top = Fpage::memory(USER_TOP - 0x1000, 12, MemRights::RW).0;
    w.invoke_ok(w.root, t, task::UNMAP, &[top, 0]);
}

#[test]
fn invoke_arguments_missing_or_out_of_range() {
    let mut w = World::new();
    for (slot, method, args) in [
        (ROOT_FACTORY, factory::CREATE_GATE, vec![]),
        (ROOT_TASK, task::MAP, vec![]),
        (ROOT_TASK, task::MAP, vec![Fpage::NIL.0]),
        (ROOT_THREAD, thread::SET_PRIORITY, vec![1000]),
        (ROOT_THREAD, thread::SET_REGS, vec![]),
    ] {
        assert_eq!(w.invoke(w.root, slot, method, &args), Err(Error::InvalidArgument), "{slot} {method}");
    }
}
