//! Capabilities: passed with the same map/grant/unmap as memory (object flexpages, through
//! Task MAP and through map items with a BR1 window), rights checks, recursive revocation,
//! and stale capabilities after DESTROY (generation check).

mod common;
use common::*;
use pecan_abi::object::{any, factory, gate, task};
use pecan_abi::utcb::{BR_MEM_WINDOW, BR_OBJ_WINDOW, offset};
use pecan_abi::{CapRights, Error, Fpage, Item, MemRights, Phase, Status, Sys, Timeout};
use pecan_core::obj::ObjRef;

const NEVER: Timeout = Timeout::NEVER;
const TASKS: u64 = 40;

struct Scene {
    w: World,
    t: Vec<u64>,
    p: Vec<Th>,
}

fn scene(n: usize) -> Scene {
    let mut w = World::new();
    let t: Vec<u64> = (0..n).map(|_| w.new_task()).collect();
    for &a in &t {
        for (j, &b) in t.iter().enumerate() {
            w.give_task(b, a, TASKS + j as u64);
        }
    }
    let p = t.iter().map(|&x| w.puppet(x)).collect();
    Scene { w, t, p }
}

fn obj(slot: u64, rights: CapRights) -> Fpage {
    Fpage::object(slot, 0, rights)
}

/// Task `from` maps its object flexpage `fp` into task `to` at slot `dst`.
fn map(sc: &mut Scene, from: usize, to: usize, fp: Fpage, dst: u64, grant: bool) -> Result<Vec<u64>, Error> {
    let p = sc.p[from];
    sc.w.act(p, |w, h| w.invoke(h, TASKS + to as u64, task::MAP, &[fp.0, dst, grant as u64]))
}

/// What task `i` holds at `slot`: (object type, rights), via IDENTIFY.
fn identify(sc: &mut Scene, i: usize, slot: u64) -> Result<(u64, u8), Error> {
    let p = sc.p[i];
    sc.w.act(p, |w, h| w.invoke(h, slot, any::IDENTIFY, &[])).map(|r| (r[0], r[1] as u8))
}

/// A gate bound to root's own first thread, at a root slot.
fn some_gate(w: &mut World) -> u64 {
    let s = w.slot();
    w.invoke_ok(
        w.root,
        pecan_abi::caps::ROOT_FACTORY,
        factory::CREATE_GATE,
        &[s, pecan_abi::caps::ROOT_THREAD, 5],
    );
    s
}

const GATE_TYPE: u64 = pecan_abi::object::ObjType::Gate as u64;

#[test]
fn map_passes_a_capability_with_at_most_the_rights_given() {
    let mut sc = scene(3);
    let g = some_gate(&mut sc.w);
    let t0 = sc.t[0];
    sc.w.give_cap_rights(g, t0, 10, CapRights(CapRights::SEND.0 | CapRights::MAP.0));
    assert_eq!(identify(&mut sc, 0, 10), Ok((GATE_TYPE, 5)));
    // Task 0 passes it on, asking for all rights: it cannot give CONTROL it lacks.
    map(&mut sc, 0, 1, obj(10, CapRights::ALL), 20, false).unwrap();
    assert_eq!(identify(&mut sc, 1, 20), Ok((GATE_TYPE, 5)));
    // Task 1 passes it on with SEND only; without MAP, that copy cannot travel further.
    map(&mut sc, 1, 2, obj(20, CapRights::SEND), 30, false).unwrap();
    assert_eq!(identify(&mut sc, 2, 30), Ok((GATE_TYPE, 1)));
    assert_eq!(map(&mut sc, 2, 1, obj(30, CapRights::ALL), 21, false), Err(Error::NoRights));
    assert_eq!(identify(&mut sc, 1, 21), Err(Error::InvalidCap));
}

#[test]
fn rights_are_checked_on_use() {
    let mut sc = scene(1);
    let t0 = sc.t[0];
    // A gate capability without SEND: sending fails; IDENTIFY needs no right.
    let g = some_gate(&mut sc.w);
    sc.w.give_cap_rights(g, t0, 10, CapRights::CONTROL);
    let p = sc.p[0];
    sc.w.act(p, |w, h| {
        w.sys(h, Sys::Send, 10, tag(1, 0), &[], NEVER, NEVER);
        assert_eq!(w.err(h), Some((Error::NoRights, Phase::Send)));
    });
    // A task capability without CONTROL cannot map.
    sc.w.give_cap_rights(t0, t0, 11, CapRights::SEND);
    sc.w.act(p, |w, h| {
        assert_eq!(w.invoke(h, 11, task::MAP, &[obj(10, CapRights::ALL).0, 12]), Err(Error::NoRights));
        assert_eq!(w.invoke(h, 10, any::DESTROY, &[]), Ok(vec![]), "CONTROL is enough to destroy");
    });
    // A factory capability with SEND only can read the quota but not create.
    sc.w.give_cap_rights(pecan_abi::caps::ROOT_FACTORY, t0, 13, CapRights::SEND);
    sc.w.act(p, |w, h| {
        assert!(w.invoke(h, 13, factory::QUOTA, &[]).is_ok());
        assert_eq!(w.invoke(h, 13, factory::CREATE_GATE, &[20, 0, 0]), Err(Error::NoRights));
    });
}

#[test]
fn unmap_revokes_capabilities_recursively() {
    let mut sc = scene(3);
    let g = some_gate(&mut sc.w);
    let t0 = sc.t[0];
    sc.w.give_cap(g, t0, 10);
    map(&mut sc, 0, 1, obj(10, CapRights::ALL), 20, false).unwrap();
    map(&mut sc, 1, 2, obj(20, CapRights::ALL), 30, false).unwrap();
    // Task 0 revokes what it passed on, keeping its own.
    let p = sc.p[0];
    sc.w.act(p, |w, h| w.invoke_ok(h, TASKS, task::UNMAP, &[obj(10, CapRights::ALL).0, 0]));
    assert!(identify(&mut sc, 0, 10).is_ok());
    assert_eq!(identify(&mut sc, 1, 20), Err(Error::InvalidCap));
    assert_eq!(identify(&mut sc, 2, 30), Err(Error::InvalidCap));
    // Root revokes its own copy and everything below.
    map(&mut sc, 0, 1, obj(10, CapRights::ALL), 20, false).unwrap();
    sc.w.invoke_ok(
        sc.w.root,
        pecan_abi::caps::ROOT_TASK,
        task::UNMAP,
        &[obj(g, CapRights::ALL).0, task::UNMAP_SELF],
    );
    assert_eq!(identify(&mut sc, 0, 10), Err(Error::InvalidCap));
    assert_eq!(identify(&mut sc, 1, 20), Err(Error::InvalidCap));
    assert_eq!(sc.w.invoke(sc.w.root, g, any::IDENTIFY, &[]), Err(Error::InvalidCap));
    // A range of slots at once: 1024..1028 holds two gates.
    for s in [1024, 1026] {
        let f = pecan_abi::caps::ROOT_FACTORY;
        sc.w.invoke_ok(sc.w.root, f, factory::CREATE_GATE, &[s, pecan_abi::caps::ROOT_THREAD, 1]);
    }
    sc.w.give_cap(1024, t0, 11);
    sc.w.give_cap(1026, t0, 12);
    let range = Fpage::object(1024, 2, CapRights::ALL);
    sc.w.invoke_ok(sc.w.root, pecan_abi::caps::ROOT_TASK, task::UNMAP, &[range.0, task::UNMAP_SELF]);
    assert_eq!(identify(&mut sc, 0, 11), Err(Error::InvalidCap));
    assert_eq!(identify(&mut sc, 0, 12), Err(Error::InvalidCap));
}

#[test]
fn grant_moves_a_capability_and_its_derived_copies_follow() {
    let mut sc = scene(3);
    let g = some_gate(&mut sc.w);
    let t0 = sc.t[0];
    sc.w.give_cap(g, t0, 10);
    map(&mut sc, 0, 1, obj(10, CapRights::ALL), 20, false).unwrap();
    map(&mut sc, 0, 2, obj(10, CapRights(CapRights::SEND.0 | CapRights::MAP.0)), 30, true).unwrap();
    assert_eq!(identify(&mut sc, 0, 10), Err(Error::InvalidCap), "granted away");
    assert_eq!(identify(&mut sc, 2, 30), Ok((GATE_TYPE, 5)));
    // The copy derived from the granted capability lost the right its origin gave up.
    assert_eq!(identify(&mut sc, 1, 20), Ok((GATE_TYPE, 5)));
    // It now derives from task 2's: revoking that removes it.
    let p = sc.p[2];
    sc.w.act(p, |w, h| w.invoke_ok(h, TASKS + 2, task::UNMAP, &[obj(30, CapRights::ALL).0, 0]));
    assert_eq!(identify(&mut sc, 1, 20), Err(Error::InvalidCap));
}

#[test]
fn mapping_onto_an_occupied_slot_replaces_it_unless_it_is_the_origin() {
    let mut sc = scene(2);
    let g1 = some_gate(&mut sc.w);
    let g2 = some_gate(&mut sc.w);
    let (t0, t1) = (sc.t[0], sc.t[1]);
    sc.w.give_cap(g1, t0, 10);
    sc.w.give_cap(g2, t1, 20);
    map(&mut sc, 0, 1, obj(10, CapRights::ALL), 20, false).unwrap();
    let h1 = sc.w.gate_h(g1);
    let t1h = sc.w.task_h(t1);
    assert_eq!(sc.w.k.lookup(t1h, 20).unwrap().obj, ObjRef::Gate(h1));
    // Task 1 maps it back onto task 0's slot 10, the capability it came from.
    for grant in [false, true] {
        map(&mut sc, 1, 0, obj(20, CapRights::ALL), 10, grant).unwrap();
        assert!(identify(&mut sc, 0, 10).is_ok());
        assert!(identify(&mut sc, 1, 20).is_ok(), "grant {grant}");
    }
    // Onto root's original: nothing changes either.
    sc.w.give_task(pecan_abi::caps::ROOT_TASK, t0, 50);
    let p = sc.p[0];
    sc.w.act(p, |w, h| w.invoke_ok(h, 50, task::MAP, &[obj(10, CapRights::ALL).0, g1, 1]));
    assert!(sc.w.invoke(sc.w.root, g1, any::IDENTIFY, &[]).is_ok());
}

#[test]
fn destroy_makes_every_copy_stale_and_a_reused_slot_does_not_revive_it() {
    let mut sc = scene(2);
    let g = some_gate(&mut sc.w);
    let t0 = sc.t[0];
    sc.w.give_cap(g, t0, 10);
    map(&mut sc, 0, 1, obj(10, CapRights::ALL), 20, false).unwrap();
    let old = sc.w.gate_h(g);
    sc.w.invoke_ok(sc.w.root, g, any::DESTROY, &[]);
    assert_eq!(identify(&mut sc, 0, 10), Err(Error::StaleCap));
    assert_eq!(identify(&mut sc, 1, 20), Err(Error::StaleCap));
    let p = sc.p[0];
    sc.w.act(p, |w, h| {
        w.sys(h, Sys::Send, 10, tag(1, 0), &[], NEVER, NEVER);
        assert_eq!(w.err(h), Some((Error::StaleCap, Phase::Send)));
        w.sys(h, Sys::Recv, 10, tag(0, 0), &[], NEVER, NEVER);
        assert_eq!(w.err(h), Some((Error::StaleCap, Phase::Receive)));
        assert_eq!(w.invoke(h, 10, gate::BIND, &[0]), Err(Error::StaleCap));
    });
    // A new gate takes the same table slot with a new generation.
    let g2 = some_gate(&mut sc.w);
    let new = sc.w.gate_h(g2);
    assert_eq!(new.idx, old.idx);
    assert_ne!(new.generation, old.generation);
    assert_eq!(identify(&mut sc, 0, 10), Err(Error::StaleCap));
    // Lookup reports the stale capability as present but dead.
    let r = sc.w.act(p, |w, h| w.invoke_ok(h, TASKS, task::LOOKUP, &[obj(10, CapRights::ALL).0]));
    assert_eq!(r, vec![1, 7, GATE_TYPE, 0]);
    // A stale capability can still be unmapped.
    sc.w.act(p, |w, h| w.invoke_ok(h, TASKS, task::UNMAP, &[obj(10, CapRights::ALL).0, task::UNMAP_SELF]));
    assert_eq!(identify(&mut sc, 0, 10), Err(Error::InvalidCap));
}

#[test]
fn slot_ranges_and_the_nil_slot() {
    let mut sc = scene(1);
    let t0 = sc.t[0];
    let g = some_gate(&mut sc.w);
    // Into the nil slot, or past the end of the 256-slot space.
    for dst in [0, 256, 1 << 20] {
        let r = sc.w.invoke(sc.w.root, t0, task::MAP, &[obj(g, CapRights::ALL).0, dst]);
        assert_eq!(r, Err(Error::InvalidArgument), "slot {dst}");
    }
    // A range that runs past the end.
    let r = sc.w.invoke(sc.w.root, t0, task::MAP, &[Fpage::object(64, 6, CapRights::ALL).0, 250]);
    assert_eq!(r, Err(Error::InvalidArgument));
    // Empty source slots are skipped.
    sc.w.invoke_ok(sc.w.root, t0, task::MAP, &[Fpage::object(0x4000, 4, CapRights::ALL).0, 16]);
    // Selectors: nil, out of range, empty.
    let p = sc.p[0];
    sc.w.act(p, |w, h| {
        for sel in [0, 255, 256, u64::MAX] {
            w.sys(h, Sys::Send, sel, tag(1, 0), &[], NEVER, NEVER);
            assert_eq!(w.err(h), Some((Error::InvalidCap, Phase::Send)), "selector {sel}");
        }
    });
}

#[test]
fn capabilities_travel_in_map_items_through_the_object_window() {
    let mut w = World::new();
    let ts = w.new_task();
    let tr = w.new_task();
    let s = w.new_thread(ts, 100);
    let r = w.new_thread(tr, 100);
    let g = w.new_gate(r, 0x77);
    w.give_cap(g, ts, 10);
    let other = some_gate(&mut w);
    w.give_cap(other, ts, 12);
    w.give_cap(other, ts, 13);
    w.start(r);
    w.start(s);
    w.go();
    // The receiver accepts 4 slots at 32..36 and no memory.
    w.k.utcb_write(r.h, offset::BR + BR_OBJ_WINDOW, Fpage::object(32, 2, CapRights::ALL).0);
    w.k.utcb_write(r.h, offset::BR + BR_MEM_WINDOW, 0);
    w.wait(r.h);
    let item = Item::Map {
        send_base: 2 << 12,
        fpage: Fpage::object(12, 1, CapRights(CapRights::SEND.0 | CapRights::MAP.0)),
    };
    let [a, b] = item.encode();
    w.sys(s.h, Sys::Send, 10, tag_items(1, 0, 1), &[a, b], NEVER, NEVER);
    assert_eq!(w.ret(s.h).status, Status::OK);
    let rr = w.ok(r.h);
    assert_eq!(rr.words[1], Fpage::object(34, 1, CapRights(5)).0, "placed at the send base's offset");
    let trh = w.task_h(tr);
    let oh = w.gate_h(other);
    for slot in [34, 35] {
        let c = w.k.lookup(trh, slot).unwrap();
        assert_eq!((c.obj, c.rights), (ObjRef::Gate(oh), CapRights(5)));
    }
    assert!(w.k.lookup(trh, 32).is_err());
    // Grant: the sender's slots empty.
    w.yield_(s.h);
    w.wait(r.h);
    let item = Item::Grant { send_base: 0, fpage: Fpage::object(12, 0, CapRights::ALL) };
    let [a, b] = item.encode();
    w.sys(s.h, Sys::Send, 10, tag_items(1, 0, 1), &[a, b], NEVER, NEVER);
    let tsh = w.task_h(ts);
    assert!(w.k.lookup(tsh, 12).is_err());
    assert!(w.k.lookup(trh, 32).is_ok());
    // An object item with only a memory window: the receiver's fault.
    w.k.utcb_write(r.h, offset::BR + BR_OBJ_WINDOW, 0);
    w.k.utcb_write(r.h, offset::BR + BR_MEM_WINDOW, Fpage::memory(0x100_0000, 16, MemRights::RW).0);
    w.yield_(s.h);
    w.wait(r.h);
    let item = Item::map(Fpage::object(13, 0, CapRights::ALL));
    let [a, b] = item.encode();
    w.sys(s.h, Sys::Send, 10, tag_items(1, 0, 1), &[a, b], NEVER, NEVER);
    assert_eq!(w.err(s.h), Some((Error::MessageOverflow, Phase::Send)));
    assert_eq!(w.err(r.h), Some((Error::MessageOverflow, Phase::Receive)));
    // A window whose slots run past the receiver's space: the receiver's fault.
    w.k.utcb_write(r.h, offset::BR + BR_OBJ_WINDOW, Fpage::object(1 << 12, 4, CapRights::ALL).0);
    w.yield_(s.h);
    w.wait(r.h);
    w.sys(s.h, Sys::Send, 10, tag_items(1, 0, 1), &[a, b], NEVER, NEVER);
    assert_eq!(w.err(s.h), Some((Error::MessageOverflow, Phase::Send)));
}

#[test]
fn identify_reports_type_and_rights() {
    let mut w = World::new();
    for (slot, ty) in [
        (pecan_abi::caps::ROOT_TASK, pecan_abi::object::ObjType::Task),
        (pecan_abi::caps::ROOT_THREAD, pecan_abi::object::ObjType::Thread),
        (pecan_abi::caps::ROOT_FACTORY, pecan_abi::object::ObjType::Factory),
        (pecan_abi::caps::ROOT_CONSOLE, pecan_abi::object::ObjType::Console),
        (pecan_abi::caps::ROOT_MACHINE, pecan_abi::object::ObjType::Machine),
        (World::IRQ_LINE5, pecan_abi::object::ObjType::Irq),
    ] {
        assert_eq!(w.invoke_ok(w.root, slot, any::IDENTIFY, &[]), vec![ty as u64, 7]);
    }
}
