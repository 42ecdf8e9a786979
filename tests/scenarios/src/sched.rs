//! Scheduling seen from user space: threads of one priority share the CPU by time slice
//! (the timer preempts them), a sleeping thread of higher priority preempts them when it
//! wakes, suspension stops a running thread and START resumes it where it was, SET_REGS
//! redirects a blocked thread.

use core::time::Duration;
use pecan_system::frames::{FRAMES, window};
use pecan_system::worker;
use pecan_user::thread::{STACK_AREA, stack_top_of};
use pecan_user::{Gate, Msg, Timeouts, ipc};

use crate::env::{Env, T, Worker, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("thread-round-robin", round_robin),
    ("thread-suspend-resume", suspend_resume),
    ("thread-set-regs-redirects", set_regs_redirects),
];

/// Where a spinning worker's counter is (root maps a frame there).
const COUNTER: u64 = STACK_AREA + (48 << 20);

/// Two `SPIN` workers of one priority with 2 ms time slices, each counting in a frame of
/// ours; their frames.
fn spinners(env: &Env<'_>) -> Result<([Worker; 2], [u64; 2]), Fail> {
    let mut ws = alloc::vec::Vec::new();
    let mut frames = [0; 2];
    for f in frames.iter_mut() {
        *f = FRAMES.alloc().ok_or("no frame")?;
        let w = env.worker(&[worker::SPIN, COUNTER], &[], 110);
        let mapped =
            w.child.task.map(pecan_system::frames::window_fpage(*f, 12, pecan_abi::MemRights::RW), COUNTER);
        let sliced = w.child.thread.set_priority(110, 2000);
        ws.push(w);
        mapped.and(sliced).map_err(fail("set up a spinner"))?;
    }
    Ok(([ws[0], ws[1]], frames))
}

fn count(pa: u64) -> u64 {
    // SAFETY: our frame, which a spinner increments.
    unsafe { (window(pa) as *const u64).read_volatile() }
}

fn stop(env: &Env<'_>, ws: &[Worker], frames: &[u64]) {
    for w in ws {
        env.kill(w);
    }
    for &f in frames {
        FRAMES.free(f);
    }
}

fn round_robin(env: &Env<'_>) -> Result<(), Fail> {
    let (ws, frames) = spinners(env)?;
    // Neither ever blocks: while this thread sleeps, only the timer switches between them,
    // and only the timer ends the sleep.
    env.sleep_ms(30);
    let first = [count(frames[0]), count(frames[1])];
    env.sleep_ms(30);
    let second = [count(frames[0]), count(frames[1])];
    stop(env, &ws, &frames);
    check!(first.iter().all(|&c| c > 0), "after 30 ms the spinners counted {first:?}");
    check!(second[0] > first[0] && second[1] > first[1], "then {first:?} -> {second:?}");
    Ok(())
}

fn suspend_resume(env: &Env<'_>) -> Result<(), Fail> {
    let (ws, frames) = spinners(env)?;
    let r = (|| {
        env.sleep_ms(10);
        ws[0].child.thread.suspend().map_err(fail("suspend"))?;
        let held = count(frames[0]);
        let other = count(frames[1]);
        env.sleep_ms(20);
        check!(count(frames[0]) == held, "a suspended thread counted on: {held} -> {}", count(frames[0]));
        check!(count(frames[1]) > other, "the other stopped too");
        let state = ws[0].child.thread.read_regs().map_err(fail("read_regs"))?[2];
        check!(state == 0, "suspended thread in state {state}");
        ws[0].child.thread.start().map_err(fail("start"))?;
        env.sleep_ms(20);
        check!(count(frames[0]) > held, "not resumed: still {held}");
        Ok(())
    })();
    stop(env, &ws, &frames);
    r
}

/// Where `set_regs_redirects` sends its helper: reports through the gate in `arg`.
extern "C" fn redirected(back: u64) -> ! {
    let _ = ipc::send(Gate::at(back), &Msg::new(0x5e7), Timeouts::NEVER);
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}

fn set_regs_redirects(env: &Env<'_>) -> Result<(), Fail> {
    // A helper blocked in a closed wait on nothing that will come is sent elsewhere.
    let back = env.gate(env.me(), 0xbac);
    let h = env.helper(100, || {
        let _ = ipc::recv(pecan_user::AnyCap::at(0), Timeouts::NEVER);
    });
    let r = (|| {
        env.wait_state(h.thread, 3)?;
        let ip = redirected as *const () as u64;
        h.thread.set_regs(ip, stack_top_of(h.index), back.sel()).map_err(fail("set_regs"))?;
        let m = ipc::recv(back.any(), T).map_err(fail("the redirected thread is silent"))?;
        check!(m.label() == 0x5e7, "got label {:#x}", m.label());
        Ok(())
    })();
    let _ = h.thread.any().destroy();
    let _ = back.any().destroy();
    r
}
