//! The rules of mapping by IPC: where a flexpage lands in a smaller or a larger receive
//! window (the send base), rights narrowed to the sender's, a receiver's UTCB never
//! replaced.

use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::layout::ROOT_UTCB;
use pecan_abi::{Fpage, Item, MemRights};
use pecan_system::frames::{FRAMES, window, window_fpage};
use pecan_system::worker;
use pecan_user::thread::STACK_AREA;
use pecan_user::{Msg, Task, ipc};

use crate::env::{Env, T, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("mem-map-window-placement", window_placement),
    ("mem-map-rights-narrowed", rights_narrowed),
    ("mem-map-utcb-kept", utcb_kept),
];

/// A 64 KiB-aligned range of a worker's address space its pager backs (nothing there yet).
const W_WINDOW: u64 = STACK_AREA + (40 << 20);

/// Sends `item` to a `RECV_PAGE` worker with a window of `2^order` bytes at `base`; returns
/// its report `[status, landed, word there, order]` and runs `check` on the worker while it
/// still has what it got.
fn to_window(
    env: &Env<'_>,
    base: u64,
    order: u64,
    item: Item,
    check: impl Fn(Task) -> Result<(), Fail>,
) -> Result<[u64; 4], Fail> {
    let w = env.worker(&[worker::RECV_PAGE, base, order], &[], 120);
    let g = env.gate(w.child.thread, 1);
    let r = (|| {
        ipc::call(g, &Msg::new(1).item(item), T).map_err(fail("send the item"))?;
        let rep = env.report(&w, Duration::from_secs(2)).map_err(fail("report"))?;
        let got = [rep.word(0), rep.word(1), rep.word(2), rep.word(3)];
        check(w.child.task)?;
        Ok(got)
    })();
    env.kill(&w);
    let _ = g.any().destroy();
    r
}

fn present(task: Task, va: u64) -> bool {
    task.lookup(Fpage::memory(va, 12, MemRights::RWX)).is_ok_and(|(p, _)| p)
}

fn window_placement(env: &Env<'_>) -> Result<(), Fail> {
    // A 16 KiB flexpage of four frames, page k holding 0x1000 + k.
    let pa = FRAMES.alloc_contiguous(4).ok_or("no frames")?;
    for k in 0..4 {
        // SAFETY: our frames, reached through the window.
        unsafe { (window(pa + k * 0x1000) as *mut u64).write_volatile(0x1000 + k) };
    }
    let fp = window_fpage(pa, 14, MemRights::RW);
    let r = (|| {
        // A one-page window takes the page at send base mod 16 KiB.
        let got = to_window(env, W_WINDOW, 12, Item::Map { send_base: 0x2000, fpage: fp }, |t| {
            check!(present(t, W_WINDOW), "nothing in the window");
            Ok(())
        })?;
        check!(got == [0, W_WINDOW, 0x1002, 12], "small window: [status, at, word, order] = {got:#x?}");
        // A 64 KiB window takes all of it at send base mod 64 KiB, rounded down to 16 KiB.
        let at = W_WINDOW + 0x8000;
        let got = to_window(env, W_WINDOW, 16, Item::Map { send_base: 0x9000, fpage: fp }, |t| {
            for k in 0..16 {
                let va = W_WINDOW + k * 0x1000;
                let want = (at..at + 0x4000).contains(&va);
                check!(present(t, va) == want, "page {k} of the window: present {}", !want);
            }
            Ok(())
        })?;
        check!(got == [0, at, 0x1000, 14], "large window: [status, at, word, order] = {got:#x?}");
        Ok(())
    })();
    for k in 0..4 {
        FRAMES.free(pa + k * 0x1000);
    }
    r
}

fn rights_narrowed(env: &Env<'_>) -> Result<(), Fail> {
    // This task has a page read-only and sends it with RW: the receiver gets R.
    let pa = FRAMES.alloc().ok_or("no frame")?;
    // SAFETY: our frame.
    unsafe { (window(pa) as *mut u64).write_volatile(0x0123) };
    let ro = env.scratch();
    let r = (|| {
        Task::at(std_slots::TASK)
            .map(window_fpage(pa, 12, MemRights::R), ro)
            .map_err(fail("map read-only"))?;
        let item = Item::map(Fpage::memory(ro, 12, MemRights::RW));
        let got = to_window(env, W_WINDOW, 12, item, |t| {
            let l = t.lookup(Fpage::memory(W_WINDOW, 12, MemRights::RWX)).map_err(fail("lookup"))?;
            check!(l == (true, MemRights::R.0 as u64), "receiver has (present, rights) = {l:?}");
            Ok(())
        })?;
        check!(got[..3] == [0, W_WINDOW, 0x0123], "[status, at, word] = {:#x?}", &got[..3]);
        Ok(())
    })();
    env.unmap_own(ro);
    FRAMES.free(pa);
    r
}

fn utcb_kept(env: &Env<'_>) -> Result<(), Fail> {
    // The worker's receive window is its own UTCB page: the mapping is not made there, and
    // the worker goes on using its UTCB for IPC.
    let pa = FRAMES.alloc().ok_or("no frame")?;
    const MARK: u64 = 0x5157_dead_beef_0001;
    // SAFETY: our frame.
    unsafe { (window(pa) as *mut u64).write_volatile(MARK) };
    let r = (|| {
        let got = to_window(env, ROOT_UTCB, 12, Item::map(window_fpage(pa, 12, MemRights::RW)), |t| {
            let l = t.lookup(Fpage::memory(ROOT_UTCB, 12, MemRights::RWX)).map_err(fail("lookup"))?;
            check!(l == (true, 6), "UTCB page (present, rights) = {l:?}");
            Ok(())
        })?;
        check!(got[0] == 0 && got[2] != MARK, "the UTCB was replaced: {got:#x?}");
        Ok(())
    })();
    FRAMES.free(pa);
    r
}
