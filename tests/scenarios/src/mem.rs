//! Memory: map and grant items, map and unmap by task invocation, recursive unmap across
//! three tasks (map and grant), access after unmap faulting to the pager (which resolves
//! it), page-fault IPC (an answer without a mapping makes the thread fault again, one with
//! a map item resumes it), demand paging, read-only mappings.

use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::{CapRights, Fpage, Item, MemRights, proto};
use pecan_system::frames::{FRAMES, window, window_fpage};
use pecan_system::pager;
use pecan_system::worker;
use pecan_user::thread::STACK_AREA;
use pecan_user::{Msg, Task, ipc};

use crate::env::{Env, T, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("mem-map-item", map_item),
    ("mem-grant-item", grant_item),
    ("mem-map-unmap-refault", map_unmap_refault),
    ("mem-recursive-unmap", recursive_unmap),
    ("mem-recursive-unmap-grant", recursive_unmap_grant),
    ("mem-page-fault-ipc", page_fault_ipc),
    ("mem-pager-on-demand", pager_on_demand),
    ("mem-read-only-mapping", read_only_mapping),
];

/// A page of a worker's address space its pager backs with zeroed memory on demand.
const W_PAGE: u64 = STACK_AREA + (32 << 20);
/// A page of a worker's address space its pager knows nothing about.
const W_OUT: u64 = 0x2000_0000_0000;
/// What `SEND_PAGE` writes into its page.
const FEED: u64 = 0xfeed_f00d;

const TWO_S: Duration = Duration::from_secs(2);

/// Whether page `va` of `task` is mapped, and with which rights.
fn lookup(task: Task, va: u64) -> Result<(bool, u64), Fail> {
    task.lookup(Fpage::memory(va, 12, MemRights::RWX)).map_err(fail("lookup"))
}

fn peek(va: u64) -> u64 {
    // SAFETY: the callers read pages just mapped into the root task.
    unsafe { (va as *const u64).read_volatile() }
}

/// A worker maps (`grant` = 0) or grants (1) one of its pages to this thread.
fn receive_page(env: &Env<'_>, grant: u64) -> Result<(), Fail> {
    let win = env.scratch();
    let g = env.gate(env.me(), 0x3a);
    let w = env.worker(
        &[worker::SEND_PAGE, W_PAGE, grant],
        &[(g.sel(), worker::TARGET_SLOT, CapRights::SEND)],
        120,
    );
    ipc::accept_memory(Fpage::memory(win, 12, MemRights::RW));
    let r = (|| {
        let m = ipc::recv(g.any(), T).map_err(fail("receive the item"))?;
        let want = Fpage::memory(win, 12, MemRights::RW);
        let got = m.item(0);
        let ok = match got {
            Some(Item::Map { fpage, .. }) => grant == 0 && fpage == want,
            Some(Item::Grant { fpage, .. }) => grant == 1 && fpage == want,
            _ => false,
        };
        check!(ok, "item descriptor {got:?}");
        check!(peek(win) == FEED, "page content {:#x}", peek(win));
        check!(lookup(Task::at(std_slots::TASK), win)? == (true, 6), "not mapped here with RW");
        let theirs = lookup(w.child.task, W_PAGE)?.0;
        check!(theirs == (grant == 0), "the sender's mapping present: {theirs}");
        ipc::reply(&Msg::new(0)).map_err(fail("reply"))?;
        let rep = env.report(&w, TWO_S).map_err(fail("report"))?;
        env.release();
        check!(rep.word(0) == 0, "the sender's call: status {:#x}", rep.word(0));
        Ok(())
    })();
    ipc::accept_memory(Fpage::NIL);
    // A mapped page goes with the worker; a granted one is ours: give it up first (the
    // pager frees the worker's frames).
    env.unmap_own(win);
    env.kill(&w);
    let _ = g.any().destroy();
    r
}

fn map_item(env: &Env<'_>) -> Result<(), Fail> {
    receive_page(env, 0)
}

fn grant_item(env: &Env<'_>) -> Result<(), Fail> {
    receive_page(env, 1)
}

fn map_unmap_refault(env: &Env<'_>) -> Result<(), Fail> {
    // Root maps one of its pages into a worker, which reads it; root revokes it; the
    // worker's next read faults to its pager, which backs it with a fresh zeroed page.
    let pa = FRAMES.alloc().ok_or("no frame")?;
    // SAFETY: our frame, reached through the window.
    unsafe { (window(pa) as *mut u64).write_volatile(0x1234_5678) };
    let w = env.worker(&[worker::READ_TWICE, W_PAGE], &[], 120);
    let r = (|| {
        w.child.task.map(window_fpage(pa, 12, MemRights::RW), W_PAGE).map_err(fail("map"))?;
        let first = env.report(&w, TWO_S).map_err(fail("first report"))?;
        check!(first.word(0) == 0x1234_5678, "first read {:#x}", first.word(0));
        check!(lookup(w.child.task, W_PAGE)? == (true, 6), "not mapped RW in the worker");
        Task::at(std_slots::TASK).unmap(window_fpage(pa, 12, MemRights::RW), false).map_err(fail("unmap"))?;
        check!(!lookup(w.child.task, W_PAGE)?.0, "still mapped after unmap");
        let faults = pager::stats(w.child.id).0;
        env.release();
        let second = env.report(&w, TWO_S).map_err(fail("second report"))?;
        env.release();
        check!(second.word(0) == 0, "second read {:#x}, not a fresh page", second.word(0));
        let (after, crashes) = pager::stats(w.child.id);
        check!(after > faults && crashes.is_empty(), "pager: {faults} -> {after} faults, {crashes:?}");
        Ok(())
    })();
    env.kill(&w);
    FRAMES.free(pa);
    r
}

fn recursive_unmap(env: &Env<'_>) -> Result<(), Fail> {
    unmap_chain(env, 0)
}

fn recursive_unmap_grant(env: &Env<'_>) -> Result<(), Fail> {
    unmap_chain(env, 1)
}

/// root --(Task MAP)--> A --(IPC map item, or grant: `grant` = 1)--> B; root's unmap
/// revokes what A and B have.
fn unmap_chain(env: &Env<'_>, grant: u64) -> Result<(), Fail> {
    let pa = FRAMES.alloc().ok_or("no frame")?;
    let b = env.worker(&[worker::RECV_PAGE, W_PAGE], &[], 120);
    let gb = env.gate(b.child.thread, 0xb);
    let a_page = W_PAGE + 0x1000;
    let a = env.worker(
        &[worker::SEND_PAGE, a_page, grant],
        &[(gb.sel(), worker::TARGET_SLOT, CapRights::SEND)],
        120,
    );
    let r = (|| {
        a.child.task.map(window_fpage(pa, 12, MemRights::RW), a_page).map_err(fail("map into A"))?;
        // A's call returns once B has the page; B then reports and stays blocked.
        let ra = env.report(&a, TWO_S).map_err(fail("A's report"))?;
        env.release();
        check!(ra.word(0) == 0, "A's call: {:#x}", ra.word(0));
        let rb = env.report(&b, TWO_S).map_err(fail("B's report"))?;
        let got = (rb.word(0), rb.word(1), rb.word(2));
        check!(got == (0, W_PAGE, FEED), "B got (status, where, word) = {got:#x?}");
        check!(peek(window(pa)) == FEED, "A did not write into root's frame");
        check!(lookup(a.child.task, a_page)?.0 == (grant == 0), "A's mapping after the item");
        check!(lookup(b.child.task, W_PAGE)?.0, "not mapped in B");
        Task::at(std_slots::TASK).unmap(window_fpage(pa, 12, MemRights::RW), false).map_err(fail("unmap"))?;
        check!(!lookup(a.child.task, a_page)?.0, "A keeps it");
        check!(!lookup(b.child.task, W_PAGE)?.0, "B keeps it");
        check!(lookup(Task::at(std_slots::TASK), window(pa))?.0, "root lost its own page");
        // B's next access faults to its pager, which resolves it.
        let faults = pager::stats(b.child.id).0;
        env.release();
        let again = env.report(&b, TWO_S).map_err(fail("B's second report"))?;
        env.release();
        check!(again.word(0) == 0, "B read {:#x} after the unmap", again.word(0));
        check!(pager::stats(b.child.id).0 > faults, "B's fault did not reach its pager");
        Ok(())
    })();
    env.kill(&a);
    env.kill(&b);
    let _ = gb.any().destroy();
    FRAMES.free(pa);
    r
}

fn page_fault_ipc(env: &Env<'_>) -> Result<(), Fail> {
    // A thread of this task, paged by this thread, writes to an unmapped page.
    let at = env.scratch() + 0x3000;
    let pg = env.gate(env.me(), 0xfa);
    let back = env.gate(env.me(), 0xbac);
    let h = env.helper_created(100, move || {
        let p = at as *mut u64;
        // SAFETY: faults; the pager (the scenario thread) maps a page there.
        let v = unsafe {
            p.write_volatile(0xabcd);
            p.read_volatile()
        };
        let _ = ipc::send(back, &Msg::new(0).word(v), pecan_user::Timeouts::NEVER);
    });
    let pa = FRAMES.alloc().ok_or("no frame")?;
    let r = (|| {
        h.thread.configure(pg.sel(), pg.sel()).map_err(fail("configure"))?;
        h.thread.start().map_err(fail("start"))?;
        let f = ipc::recv(pg.any(), T).map_err(fail("no page fault message"))?;
        let got = (f.label(), f.len(), f.word(0), f.word(2));
        check!(
            got == (proto::PAGE_FAULT, 3, at, MemRights::W.0 as u64),
            "fault (label, words, addr, access) = {got:#x?}"
        );
        let map = Item::Map { send_base: at, fpage: window_fpage(pa, 12, MemRights::RW) };
        // An answer without a mapping: the thread retries and faults again.
        ipc::reply(&Msg::new(0)).map_err(fail("empty reply"))?;
        let f = ipc::recv(pg.any(), T).map_err(fail("no second page fault message"))?;
        check!(
            (f.label(), f.word(0)) == (proto::PAGE_FAULT, at),
            "second fault: {:#x?}",
            (f.label(), f.word(0))
        );
        ipc::reply(&Msg::new(0).item(map)).map_err(fail("reply"))?;
        let b = ipc::recv(back.any(), T).map_err(fail("the thread did not resume"))?;
        check!(b.word(0) == 0xabcd, "the thread read {:#x}", b.word(0));
        check!(peek(window(pa)) == 0xabcd, "the write did not land in the frame mapped");
        Ok(())
    })();
    let _ = h.thread.any().destroy();
    env.unmap_own(at);
    FRAMES.free(pa);
    let _ = pg.any().destroy();
    let _ = back.any().destroy();
    r
}

fn pager_on_demand(env: &Env<'_>) -> Result<(), Fail> {
    let w = env.worker(&[worker::TOUCH, W_PAGE, 16], &[], 120);
    let rep = env.report(&w, TWO_S);
    env.release();
    let (faults, crashes) = pager::stats(w.child.id);
    env.kill(&w);
    let rep = rep.map_err(fail("report"))?;
    check!(rep.word(0) == 16, "{} of 16 pages good", rep.word(0));
    check!(faults >= 16 && crashes.is_empty(), "pager: {faults} faults, {crashes:?}");
    Ok(())
}

fn read_only_mapping(env: &Env<'_>) -> Result<(), Fail> {
    // A page mapped read-only (where the pager backs nothing): a write faults to the pager
    // with access W, and the pager cannot resolve it.
    let pa = FRAMES.alloc().ok_or("no frame")?;
    let w = env.worker(&[worker::TOUCH, W_OUT, 1], &[], 120);
    let r = (|| {
        w.child.task.map(window_fpage(pa, 12, MemRights::R), W_OUT).map_err(fail("map"))?;
        check!(lookup(w.child.task, W_OUT)? == (true, 4), "not mapped read-only");
        let c = env.crash(&w)?;
        let got = (c.kind, c.words[0], c.words[2]);
        check!(got == (proto::PAGE_FAULT, W_OUT, MemRights::W.0 as u64), "(kind, addr, access) = {got:#x?}");
        check!(peek(window(pa)) == 0, "the write went through");
        Ok(())
    })();
    env.kill(&w);
    FRAMES.free(pa);
    r
}
