//! Threads on several CPUs: affinity, IPC between threads on different CPUs (call, send,
//! timeouts, cancellation, deletion of the partner), stopping and deleting a thread that
//! runs on another CPU, migration of blocked and running threads (with their FP/SIMD
//! state), and an unmap done on one CPU while the page's user ran on another (no stale
//! translation survives it). Each uses the last CPU the kernel reports, so on one CPU the same scenario
//! runs with both sides on CPU 0 and must pass as well.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use pecan_abi::tag::FLAG_CROSS_CPU;
use pecan_abi::{Error, Phase, Status};
use pecan_system::rootthread::RootThread;
use pecan_user::{Msg, Timeouts, ipc};

use crate::env::{Env, T, code, fail, status};
use crate::{Fail, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("smp-affinity-bad-cpu", bad_cpu),
    ("smp-call-across-cpus", call_across),
    ("smp-send-receive-across-cpus", send_across),
    ("smp-timeouts-across-cpus", timeouts_across),
    ("smp-cancel-across-cpus", cancel_across),
    ("smp-delete-partner-across-cpus", delete_partner_across),
    ("smp-stop-running-across-cpus", stop_running_across),
    ("smp-migrate-blocked", migrate_blocked),
    ("smp-migrate-running-fp", migrate_running_fp),
    ("smp-parallel", parallel),
    ("smp-unmap-remote-no-stale-tlb", unmap_remote),
];

use crate::Scenario;

/// The CPU the scenarios put the far side on: the last one (0 on one CPU).
fn far(env: &Env<'_>) -> u64 {
    env.bi.cpus.max(1) - 1
}

/// A helper (see [`Env::helper`]) started on CPU `cpu`.
fn helper_on(
    env: &Env<'_>,
    prio: u64,
    cpu: u64,
    f: impl Fn() + Send + Sync + 'static,
) -> Result<RootThread, Fail> {
    let h = env.helper_created(prio, f);
    h.thread.set_affinity(cpu).map_err(fail("set_affinity"))?;
    h.thread.start().map_err(fail("start"))?;
    Ok(h)
}

fn bad_cpu(env: &Env<'_>) -> Result<(), Fail> {
    let me = env.me();
    let r = me.set_affinity(env.bi.cpus);
    check!(
        code(&r) == Some((Error::InvalidArgument, Phase::Send)),
        "CPU {} (one too many): {r:?}",
        env.bi.cpus
    );
    check!(Error::InvalidArgument.fault() == pecan_abi::Fault::Caller, "not the caller's fault");
    let r = me.set_affinity(u64::MAX);
    check!(code(&r) == Some((Error::InvalidArgument, Phase::Send)), "CPU u64::MAX: {r:?}");
    me.set_affinity(0).map_err(fail("CPU 0"))?;
    Ok(())
}

/// Calls to a server on the far CPU; each side's received tag carries `CROSS_CPU` exactly
/// when the CPUs differ.
fn call_across(env: &Env<'_>) -> Result<(), Fail> {
    env.me().set_affinity(0).map_err(fail("set_affinity(0)"))?;
    let h = helper_on(env, 100, far(env), || {
        pecan_user::server::serve(|req| {
            let flags = req.tag.flags() as u64;
            Some(Msg::new(req.label()).word(req.word(0) + 1).word(req.gate_label).word(flags))
        })
    })?;
    let g = env.gate(h.thread, 0x5a);
    let cross = if far(env) != 0 { FLAG_CROSS_CPU } else { 0 };
    let mut bad = None;
    for i in 0..200u64 {
        let want = (7, i + 1, 0x5a, cross as u64, cross);
        match ipc::call(g, &Msg::new(7).word(i), T) {
            Ok(r) if (r.label(), r.word(0), r.word(1), r.word(2), r.tag.flags()) == want => {}
            other => {
                bad = Some((i, other.map(|r| (r.label(), r.word(0), r.word(1), r.word(2), r.tag.flags()))));
                break;
            }
        }
    }
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    check!(bad.is_none(), "call (i, result) = {bad:?}");
    Ok(())
}

fn send_across(env: &Env<'_>) -> Result<(), Fail> {
    let g = env.gate(env.me(), 0x5b);
    let h = helper_on(env, 100, far(env), move || {
        for i in 0..50u64 {
            let _ = ipc::send(g, &Msg::new(1).word(i), Timeouts::NEVER);
        }
    })?;
    let mut got = alloc::vec::Vec::new();
    for _ in 0..50 {
        match ipc::recv(g.any(), T) {
            Ok(m) => got.push(m.word(0)),
            Err(e) => {
                got.push(u64::MAX - e.error as u64);
                break;
            }
        }
    }
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    check!(got.iter().copied().eq(0..50), "received {got:?}");
    Ok(())
}

static TIMED_OUT: AtomicU64 = AtomicU64::new(0);

fn timeouts_across(env: &Env<'_>) -> Result<(), Fail> {
    // The far thread's receive times out (CPU 0 keeps the time), then it sleeps and sends.
    TIMED_OUT.store(0, Ordering::SeqCst);
    let back = env.gate(env.me(), 0x5c);
    let h = helper_on(env, 100, far(env), move || {
        let own = pecan_user::AnyCap::at(0);
        let r = ipc::recv(own, Timeouts::new(None, Some(Duration::from_millis(5))));
        TIMED_OUT.store(status(&r), Ordering::SeqCst);
        ipc::sleep(Duration::from_millis(3));
        let _ = ipc::send(back, &Msg::new(2).word(42), Timeouts::NEVER);
    })?;
    let r = ipc::recv(back.any(), T);
    // A receive with a timeout here while the far side runs.
    let mine = ipc::recv(back.any(), Timeouts::new(None, Some(Duration::from_millis(2))));
    let _ = h.thread.any().destroy();
    let _ = back.any().destroy();
    let r = r.map_err(fail("the message after the sleep"))?;
    check!(r.word(0) == 42, "got word {}", r.word(0));
    let want = Status::error(Error::Timeout, Phase::Receive).0;
    check!(
        TIMED_OUT.load(Ordering::SeqCst) == want,
        "far receive ended {:#x}",
        TIMED_OUT.load(Ordering::SeqCst)
    );
    check!(code(&mine) == Some((Error::Timeout, Phase::Receive)), "near receive: {mine:?}");
    Ok(())
}

static ENDED: AtomicU64 = AtomicU64::new(0);

fn cancel_across(env: &Env<'_>) -> Result<(), Fail> {
    ENDED.store(0, Ordering::SeqCst);
    let h = helper_on(env, 100, far(env), || {
        let r = ipc::wait(Timeouts::NEVER);
        ENDED.store(status(&r) | 1 << 63, Ordering::SeqCst);
    })?;
    env.wait_state(h.thread, 3)?;
    let c = h.thread.cancel();
    let ended = env.wait_for(2000, || ENDED.load(Ordering::SeqCst) != 0);
    let _ = h.thread.any().destroy();
    c.map_err(fail("cancel"))?;
    check!(ended, "the far thread never returned from its wait");
    let want = Status::error(Error::Cancelled, Phase::Receive).0 | 1 << 63;
    check!(ENDED.load(Ordering::SeqCst) == want, "it returned {:#x}", ENDED.load(Ordering::SeqCst));
    Ok(())
}

fn delete_partner_across(env: &Env<'_>) -> Result<(), Fail> {
    // A server here takes the call and never replies; the caller on the far CPU waits
    // for the reply until the server is deleted.
    ENDED.store(0, Ordering::SeqCst);
    let server = helper_on(env, 100, 0, || {
        let _ = ipc::wait(Timeouts::NEVER);
    })?;
    let g = env.gate(server.thread, 0x5d);
    let caller = helper_on(env, 100, far(env), move || {
        let r = ipc::call(g, &Msg::new(3), Timeouts::NEVER);
        ENDED.store(status(&r) | 1 << 63, Ordering::SeqCst);
    })?;
    let waiting = env.wait_state(caller.thread, 4);
    let d = server.thread.any().destroy();
    let ended = env.wait_for(2000, || ENDED.load(Ordering::SeqCst) != 0);
    let _ = caller.thread.any().destroy();
    let _ = g.any().destroy();
    waiting?;
    d.map_err(fail("destroy the server"))?;
    check!(ended, "the caller never returned");
    let want = Status::error(Error::PartnerDeleted, Phase::Receive).0 | 1 << 63;
    check!(ENDED.load(Ordering::SeqCst) == want, "the call returned {:#x}", ENDED.load(Ordering::SeqCst));
    Ok(())
}

static SPINS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

fn spinner(i: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        loop {
            SPINS[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn spins(i: usize) -> u64 {
    SPINS[i].load(Ordering::Relaxed)
}

fn stop_running_across(env: &Env<'_>) -> Result<(), Fail> {
    // A thread that never blocks, on the far CPU (or sharing CPU 0 by time slice):
    // suspended, resumed, then deleted while it runs there.
    SPINS[0].store(0, Ordering::SeqCst);
    let prio = env.me().read_regs().map_err(fail("read_regs"))?[3];
    let h = helper_on(env, prio, far(env), spinner(0))?;
    let r = (|| {
        check!(env.wait_for(2000, || spins(0) > 0), "the spinner never ran");
        h.thread.suspend().map_err(fail("suspend"))?;
        let held = spins(0);
        env.sleep_ms(5);
        check!(spins(0) == held, "a suspended thread counted on: {held} -> {}", spins(0));
        h.thread.start().map_err(fail("start"))?;
        check!(env.wait_for(2000, || spins(0) > held), "the resumed thread did not count");
        env.sleep_ms(2);
        Ok(())
    })();
    let d = h.thread.any().destroy();
    let after = spins(0);
    env.sleep_ms(5);
    r?;
    d.map_err(fail("destroy"))?;
    check!(spins(0) == after, "a deleted thread counted on: {after} -> {}", spins(0));
    Ok(())
}

fn migrate_blocked(env: &Env<'_>) -> Result<(), Fail> {
    // The server moves between CPUs while it waits for the next call.
    let h =
        helper_on(env, 100, 0, || pecan_user::server::serve(|req| Some(Msg::new(0).word(req.word(0) * 3))))?;
    let g = env.gate(h.thread, 0x5e);
    let mut got = alloc::vec::Vec::new();
    let mut moved = Ok(());
    for i in 0..20u64 {
        if let Err(e) = h.thread.set_affinity(if i % 2 == 0 { far(env) } else { 0 }) {
            moved = Err(e);
        }
        got.push(ipc::call(g, &Msg::new(0).word(i), T).map(|r| r.word(0)));
    }
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    moved.map_err(fail("set_affinity"))?;
    let want: alloc::vec::Vec<_> = (0..20u64).map(|i| Ok(i * 3)).collect();
    check!(got == want, "replies {got:?}");
    Ok(())
}

static FP_OK: AtomicU64 = AtomicU64::new(0);
static FP_BAD: AtomicU64 = AtomicU64::new(0);

/// A sum in floating point that depends on every step (the registers carry it).
fn fp_sum(n: u64) -> f64 {
    let mut x = core::hint::black_box(0.0f64);
    let mut y = core::hint::black_box(1.0f64);
    for i in 1..=n {
        x += i as f64 * 0.5;
        y = y * 1.000_001 + x * 1e-9;
    }
    x + y
}

fn migrate_running_fp(env: &Env<'_>) -> Result<(), Fail> {
    // A thread that keeps floating-point state in its registers is moved between the CPUs
    // while it computes (and this thread computes too): every result must be exact.
    FP_OK.store(0, Ordering::SeqCst);
    FP_BAD.store(0, Ordering::SeqCst);
    let want = fp_sum(5000);
    let prio = env.me().read_regs().map_err(fail("read_regs"))?[3];
    let h = helper_on(env, prio - 1, far(env), move || {
        loop {
            if fp_sum(5000).to_bits() == want.to_bits() {
                FP_OK.fetch_add(1, Ordering::Relaxed);
            } else {
                FP_BAD.fetch_add(1, Ordering::Relaxed);
            }
        }
    })?;
    let mut mine = 0;
    let mut moved = Ok(());
    for i in 0..40u64 {
        if let Err(e) = h.thread.set_affinity(if i % 2 == 0 { 0 } else { far(env) }) {
            moved = Err(e);
        }
        if fp_sum(2000).to_bits() != fp_sum(2000).to_bits() {
            mine += 1;
        }
        env.sleep_ms(1);
    }
    let _ = h.thread.any().destroy();
    moved.map_err(fail("set_affinity"))?;
    let (ok, bad) = (FP_OK.load(Ordering::SeqCst), FP_BAD.load(Ordering::SeqCst));
    check!(bad == 0 && mine == 0, "wrong sums: {bad} of {} (and {mine} here)", ok + bad);
    check!(ok > 0, "the moving thread never finished a sum");
    Ok(())
}

fn parallel(env: &Env<'_>) -> Result<(), Fail> {
    // With two CPUs or more: a spinner above this thread's priority on the far CPU does
    // not keep this one from running (on one CPU it would).
    if env.bi.cpus < 2 {
        return Ok(());
    }
    SPINS[1].store(0, Ordering::SeqCst);
    let prio = env.me().read_regs().map_err(fail("read_regs"))?[3];
    let h = helper_on(env, prio + 1, far(env), spinner(1))?;
    let ran = env.wait_for(2000, || spins(1) > 0);
    let before = spins(1);
    env.sleep_ms(5);
    let after = spins(1);
    let d = h.thread.any().destroy();
    d.map_err(fail("destroy"))?;
    check!(ran && after > before, "the spinner did not run beside this thread: {before} -> {after}");
    Ok(())
}

fn unmap_remote(env: &Env<'_>) -> Result<(), Fail> {
    // A worker on the last CPU reads a page of ours (its TLB there holds the translation),
    // and stays blocked; we unmap the page here; its next read must fault (the pager backs
    // it with a fresh zeroed page), never see the old frame through a stale translation.
    use pecan_abi::MemRights;
    use pecan_abi::caps::std_slots;
    use pecan_system::frames::{FRAMES, window, window_fpage};
    use pecan_system::{pager, worker};
    use pecan_user::Task;
    const W_PAGE: u64 = pecan_user::thread::STACK_AREA + (32 << 20);
    let two_s = Duration::from_secs(2);
    let pa = FRAMES.alloc().ok_or("no frame")?;
    // SAFETY: our frame, reached through the window.
    unsafe { (window(pa) as *mut u64).write_volatile(0x5eed_f00d) };
    let w = env.worker(&[worker::READ_TWICE, W_PAGE], &[], 120);
    let r = (|| {
        w.child.thread.set_affinity(far(env)).map_err(fail("set_affinity"))?;
        w.child.task.map(window_fpage(pa, 12, MemRights::RW), W_PAGE).map_err(fail("map"))?;
        let first = env.report(&w, two_s).map_err(fail("first report"))?;
        check!(first.word(0) == 0x5eed_f00d, "first read {:#x}", first.word(0));
        Task::at(std_slots::TASK).unmap(window_fpage(pa, 12, MemRights::RW), false).map_err(fail("unmap"))?;
        // The old frame changes: a stale translation would read this.
        // SAFETY: as above.
        unsafe { (window(pa) as *mut u64).write_volatile(0xbad_57a1e) };
        let faults = pager::stats(w.child.id).0;
        env.release();
        let second = env.report(&w, two_s).map_err(fail("second report"))?;
        env.release();
        check!(second.word(0) == 0, "second read {:#x}: not a fresh page (stale TLB?)", second.word(0));
        let after = pager::stats(w.child.id).0;
        check!(after > faults, "no fault after the unmap: {faults} -> {after}");
        Ok(())
    })();
    env.kill(&w);
    FRAMES.free(pa);
    r
}
