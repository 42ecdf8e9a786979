//! Memory mappings (seed 002, flexpages): map, grant and recursive unmap across tasks,
//! rights, the L4 placement rule for map items, the root task's window, TLB flushes, and
//! accesses through the simulated MMU after every change.

mod common;
use common::*;
use pecan_abi::layout::USER_TOP;
use pecan_abi::object::task;
use pecan_abi::utcb::{BR_MEM_WINDOW, BR_OBJ_WINDOW, offset};
use pecan_abi::{CapRights, Error, Fpage, Item, MemRights, Phase, Timeout};
use pecan_core::Handle;
use pecan_hal::MemType;
use pecan_sim::AccessFault;

const NEVER: Timeout = Timeout::NEVER;
/// Task `i`'s capability, in every task, is at `TASKS + i`.
const TASKS: u64 = 40;
const GATE: u64 = 10;

/// Tasks with one puppet thread each; every task holds every task's capability.
struct Scene {
    w: World,
    t: Vec<u64>,
    p: Vec<Th>,
}

impl Scene {
    fn h(&self, i: usize) -> Handle {
        self.w.task_h(self.t[i])
    }
}

fn scene(n: usize) -> Scene {
    scene_asids(n, 0)
}

fn scene_asids(n: usize, asids: usize) -> Scene {
    let mut w = World::with(asids, World::config());
    let t: Vec<u64> = (0..n).map(|_| w.new_task()).collect();
    for &a in &t {
        for (j, &b) in t.iter().enumerate() {
            w.give_task(b, a, TASKS + j as u64);
        }
    }
    let p = t.iter().map(|&x| w.puppet(x)).collect();
    Scene { w, t, p }
}

fn page(va: u64, rights: MemRights) -> Fpage {
    Fpage::memory(va, 12, rights)
}

/// Task `from` (its puppet) maps its flexpage `fp` into task `to` at `dst`.
fn map(sc: &mut Scene, from: usize, to: usize, fp: Fpage, dst: u64, grant: bool) -> Result<Vec<u64>, Error> {
    let p = sc.p[from];
    sc.w.act(p, |w, h| w.invoke(h, TASKS + to as u64, task::MAP, &[fp.0, dst, grant as u64]))
}

/// Task `by` unmaps flexpage `fp` of task `of`.
fn unmap(sc: &mut Scene, by: usize, of: usize, fp: Fpage, with_self: bool) {
    let p = sc.p[by];
    let flag = if with_self { task::UNMAP_SELF } else { 0 };
    sc.w.act(p, |w, h| w.invoke_ok(h, TASKS + of as u64, task::UNMAP, &[fp.0, flag]));
}

fn mapped(sc: &mut Scene, i: usize, va: u64) -> Result<u64, AccessFault> {
    let h = sc.h(i);
    sc.w.access(h, va, false).map(|pa| pa.0)
}

fn writable(sc: &mut Scene, i: usize, va: u64) -> Result<u64, AccessFault> {
    let h = sc.h(i);
    sc.w.access(h, va, true).map(|pa| pa.0)
}

const V: u64 = 0x1000_0000;

#[test]
fn root_maps_a_page_and_the_task_can_use_it() {
    let mut sc = scene(1);
    sc.w.give_page(ram(0x5000), sc.t[0], V, MemRights::RW);
    assert_eq!(mapped(&mut sc, 0, V + 0x123), Ok(ram(0x5123)));
    assert_eq!(writable(&mut sc, 0, V), Ok(ram(0x5000)));
    assert_eq!(mapped(&mut sc, 0, V + 0x1000), Err(AccessFault::NotMapped));
    // Pages outside root's memory are skipped without an error, as in L4.
    sc.w.give_page(0x1000, sc.t[0], V + 0x1000, MemRights::RW);
    assert_eq!(mapped(&mut sc, 0, V + 0x1000), Err(AccessFault::NotMapped));
}

#[test]
fn rights_are_reduced_on_the_way_and_remapping_changes_them() {
    let mut sc = scene(2);
    sc.w.give_page(ram(0x5000), sc.t[0], V, MemRights::R);
    assert!(mapped(&mut sc, 0, V).is_ok());
    assert_eq!(writable(&mut sc, 0, V), Err(AccessFault::Denied));
    // A read-only page cannot be passed on writable.
    map(&mut sc, 0, 1, page(V, MemRights::RW), V, false).unwrap();
    assert_eq!(writable(&mut sc, 1, V), Err(AccessFault::Denied));
    // Root maps it again writable: the same mapping gains the right (no new node).
    let nodes = sc.w.k.mdb.len();
    sc.w.give_page(ram(0x5000), sc.t[0], V, MemRights::RW);
    assert_eq!(sc.w.k.mdb.len(), nodes);
    assert!(writable(&mut sc, 0, V).is_ok());
    // And read-only again: the cached writable translation must be flushed.
    assert!(writable(&mut sc, 0, V).is_ok());
    sc.w.give_page(ram(0x5000), sc.t[0], V, MemRights::R);
    assert_eq!(writable(&mut sc, 0, V), Err(AccessFault::Denied));
}

#[test]
fn weakening_a_mapping_weakens_everything_derived_from_it() {
    let mut sc = scene(3);
    sc.w.give_page(ram(0x5000), sc.t[0], V, MemRights::RW);
    map(&mut sc, 0, 1, page(V, MemRights::RW), V, false).unwrap();
    map(&mut sc, 1, 2, page(V, MemRights::RW), V, false).unwrap();
    assert!(writable(&mut sc, 2, V).is_ok());
    // Task 0 maps the page to task 1 again, read-only: task 2's copy (derived from task
    // 1's) may not stay writable.
    map(&mut sc, 0, 1, page(V, MemRights::R), V, false).unwrap();
    assert_eq!(writable(&mut sc, 1, V), Err(AccessFault::Denied));
    assert_eq!(writable(&mut sc, 2, V), Err(AccessFault::Denied));
    assert!(mapped(&mut sc, 2, V).is_ok());
}

#[test]
fn recursive_unmap_across_three_tasks() {
    for with_self in [false, true] {
        let mut sc = scene(4);
        sc.w.give_page(ram(0x7000), sc.t[0], V, MemRights::RW);
        map(&mut sc, 0, 1, page(V, MemRights::RW), V + 0x1000, false).unwrap();
        map(&mut sc, 1, 2, page(V + 0x1000, MemRights::RW), V + 0x2000, false).unwrap();
        map(&mut sc, 2, 3, page(V + 0x2000, MemRights::R), V + 0x3000, false).unwrap();
        map(&mut sc, 0, 3, page(V, MemRights::R), V, false).unwrap();
        for (i, va) in [(0, V), (1, V + 0x1000), (2, V + 0x2000), (3, V + 0x3000), (3, V)] {
            assert_eq!(mapped(&mut sc, i, va), Ok(ram(0x7000)), "task {i}");
        }
        // Task 1 revokes what it gave (and, with UNMAP_SELF, its own mapping).
        unmap(&mut sc, 1, 1, page(V + 0x1000, MemRights::RWX), with_self);
        assert_eq!(mapped(&mut sc, 1, V + 0x1000).is_ok(), !with_self);
        assert_eq!(mapped(&mut sc, 2, V + 0x2000), Err(AccessFault::NotMapped));
        assert_eq!(mapped(&mut sc, 3, V + 0x3000), Err(AccessFault::NotMapped));
        // The siblings derived from task 0 directly stay.
        assert!(mapped(&mut sc, 0, V).is_ok());
        assert!(mapped(&mut sc, 3, V).is_ok());
        // Root revokes everything derived from its window page.
        sc.w.invoke_ok(
            sc.w.root,
            pecan_abi::caps::ROOT_TASK,
            task::UNMAP,
            &[page(World::window(ram(0x7000)), MemRights::RWX).0, task::UNMAP_SELF],
        );
        for (i, va) in [(0, V), (1, V + 0x1000), (3, V)] {
            assert_eq!(mapped(&mut sc, i, va), Err(AccessFault::NotMapped), "task {i}");
        }
        // Root's window itself survives: it can map the page again.
        sc.w.give_page(ram(0x7000), sc.t[2], V, MemRights::RW);
        assert!(mapped(&mut sc, 2, V).is_ok());
    }
}

#[test]
fn grant_moves_the_mapping_with_its_subtree() {
    let mut sc = scene(4);
    sc.w.give_page(ram(0x8000), sc.t[0], V, MemRights::RW);
    map(&mut sc, 0, 1, page(V, MemRights::RW), V, false).unwrap();
    map(&mut sc, 1, 2, page(V, MemRights::RW), V, false).unwrap();
    // Task 1 grants its page to task 3: it loses it, task 2 keeps its copy.
    map(&mut sc, 1, 3, page(V, MemRights::RW), V + 0x5000, true).unwrap();
    assert_eq!(mapped(&mut sc, 1, V), Err(AccessFault::NotMapped));
    assert_eq!(mapped(&mut sc, 3, V + 0x5000), Ok(ram(0x8000)));
    assert!(mapped(&mut sc, 2, V).is_ok());
    // Task 2's copy now derives from task 3's: revoking task 3's removes it.
    unmap(&mut sc, 3, 3, page(V + 0x5000, MemRights::RWX), false);
    assert_eq!(mapped(&mut sc, 2, V), Err(AccessFault::NotMapped));
    assert!(mapped(&mut sc, 3, V + 0x5000).is_ok());
    assert!(mapped(&mut sc, 0, V).is_ok());
}

#[test]
fn grant_with_fewer_rights_weakens_the_moved_subtree() {
    let mut sc = scene(4);
    sc.w.give_page(ram(0x8000), sc.t[0], V, MemRights::RW);
    map(&mut sc, 0, 1, page(V, MemRights::RW), V, false).unwrap();
    map(&mut sc, 1, 2, page(V, MemRights::RW), V, false).unwrap();
    map(&mut sc, 1, 3, page(V, MemRights::R), V, true).unwrap();
    assert_eq!(writable(&mut sc, 3, V), Err(AccessFault::Denied));
    assert_eq!(writable(&mut sc, 2, V), Err(AccessFault::Denied));
}

#[test]
fn mapping_onto_a_different_page_replaces_it() {
    let mut sc = scene(3);
    sc.w.give_page(ram(0x1000), sc.t[0], V, MemRights::RW);
    map(&mut sc, 0, 1, page(V, MemRights::RW), V, false).unwrap();
    sc.w.give_page(ram(0x2000), sc.t[0], V, MemRights::RW);
    assert_eq!(mapped(&mut sc, 0, V), Ok(ram(0x2000)));
    assert_eq!(mapped(&mut sc, 1, V), Err(AccessFault::NotMapped), "derived from the replaced page");
}

#[test]
fn mapping_a_page_back_onto_its_origin_changes_nothing() {
    for grant in [false, true] {
        let mut sc = scene(3);
        sc.w.give_page(ram(0x1000), sc.t[0], V, MemRights::RW);
        map(&mut sc, 0, 1, page(V, MemRights::RW), V + 0x1000, false).unwrap();
        map(&mut sc, 1, 2, page(V + 0x1000, MemRights::RW), V, false).unwrap();
        // Task 1 maps (grants) its copy back to task 0, right where it came from.
        map(&mut sc, 1, 0, page(V + 0x1000, MemRights::RW), V, grant).unwrap();
        assert_eq!(mapped(&mut sc, 0, V), Ok(ram(0x1000)));
        assert_eq!(mapped(&mut sc, 1, V + 0x1000), Ok(ram(0x1000)), "grant {grant}");
        assert_eq!(mapped(&mut sc, 2, V), Ok(ram(0x1000)));
        // Root's window page is the origin of everything: mapping into root's window
        // address from task 0 changes nothing either.
        let rootw = World::window(ram(0x1000));
        sc.w.invoke_ok(sc.w.root, sc.t[0], task::MAP, &[page(rootw, MemRights::RW).0, V + 0x4000]);
        let p = sc.p[0];
        let root_slot = {
            // Give task 0 root's task capability.
            let s = 50;
            sc.w.give_task(pecan_abi::caps::ROOT_TASK, sc.t[0], s);
            s
        };
        sc.w.act(p, |w, h| {
            w.invoke_ok(h, root_slot, task::MAP, &[page(V, MemRights::RW).0, rootw, grant as u64])
        });
        assert_eq!(mapped(&mut sc, 0, V), Ok(ram(0x1000)));
    }
}

#[test]
fn a_huge_flexpage_maps_only_what_is_there_and_quickly() {
    let mut sc = scene(2);
    sc.w.give_page(ram(0x3000), sc.t[0], 0x40_0000_0000, MemRights::RW);
    let start = std::time::Instant::now();
    // Order 40: a terabyte; only one page of it is mapped in task 0.
    map(&mut sc, 0, 1, Fpage::memory(0, 40, MemRights::RW), 0, false).unwrap();
    unmap(&mut sc, 0, 1, Fpage::memory(0, 46, MemRights::RWX), true);
    map(&mut sc, 0, 1, Fpage::memory(0, 47, MemRights::RW), 0, false).unwrap();
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
    assert_eq!(mapped(&mut sc, 1, 0x40_0000_0000), Ok(ram(0x3000)));
    // Root maps a 2 MiB block of its window: 512 pages.
    sc.w.invoke_ok(
        sc.w.root,
        sc.t[1],
        task::MAP,
        &[Fpage::memory(World::window(ram(0x20_0000)), 21, MemRights::RW).0, 0x2000_0000],
    );
    assert_eq!(mapped(&mut sc, 1, 0x2000_0000 + 0x1f_f000), Ok(ram(0x3f_f000)));
}

#[test]
fn the_utcb_cannot_be_mapped_over_or_unmapped() {
    let mut sc = scene(1);
    let p = sc.p[0];
    let utcb = sc.w.k.threads.get(p.h).unwrap().utcb_va;
    let frame = sc.w.k.threads.get(p.h).unwrap().utcb_frame;
    sc.w.give_page(ram(0x1000), sc.t[0], utcb, MemRights::RW);
    assert_eq!(mapped(&mut sc, 0, utcb), Ok(frame.0));
    unmap(&mut sc, 0, 0, page(utcb, MemRights::RWX), true);
    assert_eq!(mapped(&mut sc, 0, utcb), Ok(frame.0));
    let r = sc.w.act(p, |w, h| w.invoke_ok(h, TASKS, task::LOOKUP, &[page(utcb, MemRights::R).0]));
    assert_eq!(r, vec![1, 6]);
}

#[test]
fn device_memory_is_mapped_uncached() {
    let mut sc = scene(1);
    sc.w.give_page(ROOT_DEV.0, sc.t[0], V, MemRights::RW);
    let h = sc.h(0);
    let root = sc.w.k.tasks.get(h).unwrap().root;
    let (_, attrs) = pecan_mm::PageTable::<pecan_sim::SimPte>::new(root)
        .lookup(&sc.w.k.hal.mem, pecan_hal::VirtAddr(V))
        .unwrap();
    assert_eq!(attrs.mem, MemType::Device);
}

#[test]
fn lookup_reports_presence_and_rights() {
    let mut sc = scene(1);
    sc.w.give_page(ram(0x1000), sc.t[0], V, MemRights::R);
    let t = sc.t[0];
    assert_eq!(sc.w.invoke_ok(sc.w.root, t, task::LOOKUP, &[page(V, MemRights::R).0]), vec![1, 4]);
    assert_eq!(sc.w.invoke_ok(sc.w.root, t, task::LOOKUP, &[page(V + 0x1000, MemRights::R).0]), vec![0, 0]);
    // Root's window reads as fully mapped even where untouched.
    let rw = page(World::window(ram(0x9000)), MemRights::R).0;
    assert_eq!(sc.w.invoke_ok(sc.w.root, pecan_abi::caps::ROOT_TASK, task::LOOKUP, &[rw]), vec![1, 7]);
    assert_eq!(sc.w.invoke(sc.w.root, t, task::LOOKUP, &[0]), Err(Error::BadFlexpage));
}

#[test]
fn bad_destinations_are_bad_flexpages() {
    let mut sc = scene(1);
    let t = sc.t[0];
    let fp = page(World::window(ram(0x1000)), MemRights::RW).0;
    for dst in [V + 0x800, USER_TOP, 0xffff_ffff_ffff_f000, USER_TOP - 0x1000 + 0x800] {
        assert_eq!(sc.w.invoke(sc.w.root, t, task::MAP, &[fp, dst]), Err(Error::BadFlexpage), "{dst:#x}");
    }
    // A two-page flexpage whose destination would cross the top of user space.
    let fp2 = Fpage::memory(World::window(ram(0x2000)), 13, MemRights::RW).0;
    assert_eq!(
        sc.w.invoke(sc.w.root, t, task::MAP, &[fp2, USER_TOP - 0x2000 + 0x2000]),
        Err(Error::BadFlexpage)
    );
    // Kernel-half source, misaligned source.
    for raw in [Fpage::memory(USER_TOP, 12, MemRights::R).0, Fpage::memory(0x1000, 13, MemRights::R).0] {
        assert_eq!(sc.w.invoke(sc.w.root, t, task::MAP, &[raw, V]), Err(Error::BadFlexpage));
    }
    let _ = &mut sc;
}

#[test]
fn unmapping_flushes_translations_of_an_address_space_that_is_not_loaded() {
    // Tagged TLB: task 0's translations survive the switch to root; the unmap must reach
    // them (the invariants check every live ASID's entries).
    let mut sc = scene_asids(2, 8);
    sc.w.give_page(ram(0x1000), sc.t[0], V, MemRights::RW);
    for i in 0..40u64 {
        sc.w.give_page(ram(0x10_0000 + i * 0x1000), sc.t[0], V + 0x10_0000 + i * 0x1000, MemRights::RW);
    }
    assert!(mapped(&mut sc, 0, V).is_ok());
    for i in 0..40u64 {
        assert!(mapped(&mut sc, 0, V + 0x10_0000 + i * 0x1000).is_ok());
    }
    let h = sc.h(0);
    let root_task = sc.w.root_task;
    sc.w.k.activate(root_task);
    // With tagging (the `asid` feature) task 0's entries survive the switch; without, the
    // kernel flushes on every switch and there is nothing stale to find.
    if sc.w.k.asids.tagged() {
        assert!(sc.w.k.hal.mmu.tlb.len() >= 41, "task 0's entries are still cached");
    }
    // One page (flush_page), then many (flush_asid).
    sc.w.invoke_ok(sc.w.root, sc.t[0], task::UNMAP, &[page(V, MemRights::RWX).0, task::UNMAP_SELF]);
    sc.w.invoke_ok(
        sc.w.root,
        sc.t[0],
        task::UNMAP,
        &[Fpage::memory(V, 24, MemRights::RWX).0, task::UNMAP_SELF],
    );
    assert_eq!(sc.w.access(h, V, false), Err(AccessFault::NotMapped));
    assert_eq!(sc.w.access(h, V + 0x10_0000, false), Err(AccessFault::NotMapped));
}

// ---- map items in IPC: the placement rule ------------------------------------------------

/// Task 0's thread `s` sends to task 1's thread `r`, which waits with receive window `win`.
/// Returns the world after the transfer and the receiver's result.
fn send_item(
    item: Item,
    win: Fpage,
    setup: impl FnOnce(&mut World, u64, u64),
) -> (World, Vec<Handle>, Ret, Ret) {
    let mut w = World::new();
    let ts = w.new_task();
    let tr = w.new_task();
    let s = w.new_thread(ts, 100);
    let r = w.new_thread(tr, 100);
    let g = w.new_gate(r, 0x77);
    w.give_cap(g, ts, GATE);
    setup(&mut w, ts, tr);
    w.start(r);
    w.start(s);
    w.go();
    w.k.utcb_write(r.h, offset::BR + BR_MEM_WINDOW, win.0);
    w.wait(r.h);
    let [a, b] = item.encode();
    w.sys(s.h, pecan_abi::Sys::Send, GATE, tag_items(1, 0, 1), &[a, b], NEVER, NEVER);
    let rs = w.ret(s.h);
    let rr = w.ret(r.h);
    let hs = vec![w.task_h(ts), w.task_h(tr)];
    (w, hs, rs, rr)
}

fn src_pages(w: &mut World, ts: u64, base: u64, n: u64) {
    for i in 0..n {
        w.give_page(ram(0x40_0000 + i * 0x1000), ts, base + i * 0x1000, MemRights::RW);
    }
}

#[test]
fn a_small_flexpage_lands_in_a_large_window_at_the_send_base() {
    let item = Item::Map { send_base: 0x3000, fpage: page(0x50_0000, MemRights::RW) };
    let win = Fpage::memory(0x100_0000, 16, MemRights::RWX);
    let (mut w, t, rs, rr) = send_item(item, win, |w, ts, _| src_pages(w, ts, 0x50_0000, 1));
    assert_eq!(rs.status, pecan_abi::Status::OK);
    assert_eq!(rr.status, pecan_abi::Status::OK);
    assert_eq!(w.translate(t[1], 0x100_3000), Some(pecan_hal::PhysAddr(ram(0x40_0000))));
    // The receiver learns where it landed.
    assert_eq!(rr.tag.items(), 1);
    assert_eq!(rr.words[1], Fpage::memory(0x100_3000, 12, MemRights::RW).0);
    assert_eq!(
        Item::decode(rr.words[0], rr.words[1]).unwrap(),
        Item::Map { send_base: 0x3000, fpage: Fpage::memory(0x100_3000, 12, MemRights::RW) }
    );
    // The sender keeps its mapping.
    assert!(w.translate(t[0], 0x50_0000).is_some());
}

#[test]
fn a_large_flexpage_is_cut_to_a_small_window_at_the_send_base() {
    let item = Item::Map { send_base: 0x5000, fpage: Fpage::memory(0x50_0000, 16, MemRights::RW) };
    let win = page(0x200_0000, MemRights::RWX);
    let (mut w, t, _, rr) = send_item(item, win, |w, ts, _| src_pages(w, ts, 0x50_0000, 16));
    assert_eq!(rr.status, pecan_abi::Status::OK);
    assert_eq!(w.translate(t[1], 0x200_0000), Some(pecan_hal::PhysAddr(ram(0x40_5000))));
    assert_eq!(w.translate(t[1], 0x200_1000), None);
    assert_eq!(rr.words[1], page(0x200_0000, MemRights::RW).0);
}

#[test]
fn equal_sizes_and_a_send_base_beyond_the_window() {
    let item = Item::Map { send_base: 0xabc_d000, fpage: Fpage::memory(0x50_0000, 14, MemRights::RW) };
    let win = Fpage::memory(0x300_0000, 14, MemRights::RWX);
    let (mut w, t, _, rr) = send_item(item, win, |w, ts, _| src_pages(w, ts, 0x50_0000, 4));
    assert_eq!(rr.status, pecan_abi::Status::OK);
    for i in 0..4 {
        assert_eq!(
            w.translate(t[1], 0x300_0000 + i * 0x1000),
            Some(pecan_hal::PhysAddr(ram(0x40_0000 + i * 0x1000)))
        );
    }
    // A send base past a larger window wraps inside it (only its offset bits count).
    let item = Item::Map { send_base: 0x7_6000, fpage: page(0x50_0000, MemRights::RW) };
    let win = Fpage::memory(0x400_0000, 16, MemRights::RWX);
    let (mut w, t, _, _) = send_item(item, win, |w, ts, _| src_pages(w, ts, 0x50_0000, 1));
    assert!(w.translate(t[1], 0x400_6000).is_some());
}

#[test]
fn a_grant_item_moves_the_page() {
    let item = Item::Grant { send_base: 0, fpage: page(0x50_0000, MemRights::RW) };
    let win = page(0x100_0000, MemRights::RWX);
    let (mut w, t, _, rr) = send_item(item, win, |w, ts, _| src_pages(w, ts, 0x50_0000, 1));
    assert_eq!(rr.status, pecan_abi::Status::OK);
    assert!(w.translate(t[0], 0x50_0000).is_none());
    assert!(w.translate(t[1], 0x100_0000).is_some());
    assert!(matches!(Item::decode(rr.words[0], rr.words[1]), Ok(Item::Grant { .. })));
}

#[test]
fn a_map_item_needs_a_receive_window_of_its_kind() {
    for win in [Fpage::NIL, Fpage::object(64, 2, CapRights::ALL)] {
        let item = Item::map(page(0x50_0000, MemRights::RW));
        let (mut w, t, rs, rr) = send_item(item, win, |w, ts, _| src_pages(w, ts, 0x50_0000, 1));
        assert_eq!(rs.err(), Some((Error::MessageOverflow, Phase::Send)));
        assert_eq!(rr.err(), Some((Error::MessageOverflow, Phase::Receive)));
        assert_eq!(Error::MessageOverflow.fault(), pecan_abi::Fault::Receiver);
        assert!(w.translate(t[1], 0x50_0000).is_none());
    }
    // A window that is not a valid flexpage is the receiver's fault too.
    let item = Item::map(page(0x50_0000, MemRights::RW));
    let (_, _, rs, rr) = send_item(item, Fpage(Fpage::memory(0x1000, 13, MemRights::RW).0), |w, ts, _| {
        src_pages(w, ts, 0x50_0000, 1)
    });
    assert_eq!(rs.err(), Some((Error::MessageOverflow, Phase::Send)));
    assert_eq!(rr.err(), Some((Error::MessageOverflow, Phase::Receive)));
}

#[test]
fn a_malformed_map_item_is_the_senders_fault_and_changes_nothing() {
    let win = Fpage::memory(0x100_0000, 16, MemRights::RWX);
    for fp in [
        Fpage::memory(0x50_0800 & !0xfff | 0x1000, 13, MemRights::RW),
        Fpage(0x38),
        Fpage::memory(USER_TOP, 12, MemRights::RW),
    ] {
        let item = Item::map(fp);
        let (mut w, t, rs, rr) = send_item(item, win, |w, ts, _| src_pages(w, ts, 0x50_0000, 2));
        assert_eq!(rs.err(), Some((Error::BadFlexpage, Phase::Send)), "{fp:?}");
        assert_eq!(rr.err(), Some((Error::BadFlexpage, Phase::Receive)));
        assert_eq!(Error::BadFlexpage.fault(), pecan_abi::Fault::Sender);
        assert!(w.translate(t[1], 0x100_0000).is_none());
    }
    // Reserved bits in the item word.
    let (_, _, rs, _) = send_item(Item::map(page(0x50_0000, MemRights::RW)), win, |_, _, _| {});
    assert_eq!(rs.status, pecan_abi::Status::OK, "an unbacked page maps nothing and is no error");
}

#[test]
fn a_nil_flexpage_in_an_item_maps_nothing() {
    let win = Fpage::memory(0x100_0000, 16, MemRights::RWX);
    let (_, _, rs, rr) = send_item(Item::map(Fpage::NIL), win, |_, _, _| {});
    assert_eq!(rs.status, pecan_abi::Status::OK);
    assert_eq!(rr.tag.items(), 0, "no descriptor for a nil item");
    let _ = BR_OBJ_WINDOW;
}
