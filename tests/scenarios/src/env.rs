//! What scenarios run with: the root task's services (workers in their own address spaces,
//! root threads, gates) and waiting for reports.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::layout::{BootInfo, ROOT_PHYS_BASE};
use pecan_abi::{CapRights, Error, Fpage, Phase, Status, Timeout};
use pecan_system::pager::{self, Crash};
use pecan_system::rootthread::{self, RootThread};
use pecan_system::slots::SLOTS;
use pecan_system::spawn::{Child, Spec, spawn};
use pecan_user::{Factory, Gate, IpcError, Msg, Received, Task, Thread, Timeouts, ipc};

use crate::{Fail, check};

/// Timeouts for an IPC that must complete: send never, receive 2 s (a failing scenario
/// reports instead of hanging).
pub const T: Timeouts = Timeouts { send: Timeout::NEVER, recv: Timeout::from_micros(2_000_000) };

/// The environment of the scenarios.
pub struct Env<'a> {
    /// The boot information.
    pub bi: &'a BootInfo,
}

/// A worker task and the gate it reports through.
#[derive(Clone, Copy, Debug)]
pub struct Worker {
    /// The task.
    pub child: Child,
    /// Its parent gate (bound to the scenario's thread).
    pub parent: Gate,
}

impl Env<'_> {
    /// The root factory.
    pub fn factory(&self) -> Factory {
        Factory::at(std_slots::FACTORY)
    }

    /// This (the scenario-running) thread.
    pub fn me(&self) -> Thread {
        Thread::at(std_slots::THREAD)
    }

    /// A new gate bound to `thread` with `label`.
    pub fn gate(&self, thread: Thread, label: u64) -> Gate {
        self.factory().create_gate(SLOTS.alloc(), Some(thread), label).expect("gate")
    }

    /// Starts a `worker` task with `args` (`args[0]` the command), reporting through a new
    /// gate bound to this thread, with extra capabilities.
    pub fn worker(&self, args: &[u64], caps: &[(u64, u64, CapRights)], prio: u64) -> Worker {
        let parent = self.gate(self.me(), 0x7e57);
        let m = self.bi.modules().iter().find(|m| m.name() == b"worker").expect("worker module");
        // SAFETY: the module is root memory mapped by the window, only read.
        let file =
            unsafe { core::slice::from_raw_parts((ROOT_PHYS_BASE + m.base) as *const u8, m.size as usize) };
        let mut all = alloc::vec::Vec::from(caps);
        all.push((parent.sel(), std_slots::PARENT, CapRights::SEND));
        let spec = Spec {
            name: "worker",
            file_pa: m.base,
            file,
            args,
            prio,
            caps: &all,
            quota: 64 * 1024,
            machine: false,
            share_text: true,
        };
        let child = spawn(&spec).expect("spawn worker");
        Worker { child, parent }
    }

    /// Waits up to `timeout` for `w`'s next report; the worker stays blocked until
    /// [`Env::release`].
    pub fn report(&self, w: &Worker, timeout: Duration) -> Result<Received, IpcError> {
        ipc::recv(w.parent.any(), Timeouts::new(None, Some(timeout)))
    }

    /// Lets the worker whose report was just received go on.
    pub fn release(&self) {
        let _ = ipc::reply(&Msg::new(0));
    }

    /// Destroys a worker and everything it had.
    pub fn kill(&self, w: &Worker) {
        let _ = pecan_system::spawn::destroy(&w.child);
        let _ = w.parent.any().destroy();
    }

    /// Starts a root thread running `entry(arg)` at `prio`.
    pub fn thread(&self, entry: extern "C" fn(u64) -> !, arg: u64, prio: u64) -> RootThread {
        rootthread::start(entry, arg, prio).expect("root thread")
    }

    /// Sleeps.
    pub fn sleep_ms(&self, ms: u64) {
        ipc::sleep(Duration::from_millis(ms));
    }

    /// Starts a root thread at `prio` (below the scenario thread's) running `f`, then
    /// sleeping forever. `f` must not allocate: the heap's lock is not priority-aware.
    pub fn helper(&self, prio: u64, f: impl Fn() + Send + Sync + 'static) -> RootThread {
        let t = self.helper_created(prio, f);
        t.thread.start().expect("start helper");
        t
    }

    /// A helper (as [`Env::helper`]) created but not started, to be configured first.
    pub fn helper_created(&self, prio: u64, f: impl Fn() + Send + Sync + 'static) -> RootThread {
        let f: &'static (dyn Fn() + Send + Sync) = alloc::boxed::Box::leak(alloc::boxed::Box::new(f));
        let p: &'static &'static (dyn Fn() + Send + Sync) =
            alloc::boxed::Box::leak(alloc::boxed::Box::new(f));
        rootthread::create(run_helper, p as *const _ as u64, prio).expect("helper thread")
    }

    /// A helper that cancels this thread's IPC after `ms` milliseconds unless it is
    /// destroyed first: a scenario that must block without a timeout (to take the IPC fast
    /// path, which needs both timeouts never) fails instead of hanging.
    pub fn watchdog(&self, ms: u64) -> RootThread {
        let me = self.me();
        self.helper(100, move || {
            ipc::sleep(Duration::from_millis(ms));
            let _ = me.cancel();
        })
    }

    /// Polls `cond` every millisecond for up to `ms` milliseconds; whether it came true.
    pub fn wait_for(&self, ms: u64, cond: impl Fn() -> bool) -> bool {
        for _ in 0..ms {
            if cond() {
                return true;
            }
            self.sleep_ms(1);
        }
        cond()
    }

    /// Waits (up to 2 s) until `t` is in IPC state `state` (`READ_REGS`: 2 sending,
    /// 3 receiving, 4 waiting for a reply).
    pub fn wait_state(&self, t: Thread, state: u64) -> Result<(), Fail> {
        let ok = self.wait_for(2000, || t.read_regs().is_ok_and(|r| r[2] == state));
        check!(ok, "thread never reached state {state}: {:?}", t.read_regs());
        Ok(())
    }

    /// Waits (up to 2 s) for the first unresolved fault or exception of worker `w`, as the
    /// pager recorded it.
    pub fn crash(&self, w: &Worker) -> Result<Crash, Fail> {
        let first = || pager::stats(w.child.id).1.first().copied();
        self.wait_for(2000, || first().is_some());
        first().ok_or_else(|| alloc::string::String::from("the pager recorded nothing"))
    }

    /// A 2 MiB-aligned range of the root task's address space that nothing else uses (for
    /// receive windows and mappings), a new one each call.
    pub fn scratch(&self) -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(0x2000_0000_0000);
        NEXT.fetch_add(0x20_0000, Ordering::Relaxed)
    }

    /// Removes whatever the root task has at memory page `va` (and what was derived from it).
    pub fn unmap_own(&self, va: u64) {
        let _ = Task::at(std_slots::TASK).unmap(Fpage::memory(va, 12, pecan_abi::MemRights::RWX), true);
    }

    /// Empties capability slot `sel` of the root task and gives it back.
    pub fn free_slot(&self, sel: u64) {
        let _ = Task::at(std_slots::TASK).unmap(Fpage::object(sel, 0, CapRights::ALL), true);
        SLOTS.free(sel);
    }
}

/// Runs a helper's function (`p` points to a leaked reference to it), then sleeps.
extern "C" fn run_helper(p: u64) -> ! {
    // SAFETY: `p` comes from `Env::helper_created`: a leaked, never freed reference.
    let f = unsafe { *(p as *const &'static (dyn Fn() + Send + Sync)) };
    f();
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}

/// The error and phase of a result, for comparisons.
pub fn code<T>(r: &Result<T, IpcError>) -> Option<(Error, Phase)> {
    r.as_ref().err().map(|e| (e.error, e.phase))
}

/// The status word of a result.
pub fn status<T>(r: &Result<T, IpcError>) -> u64 {
    match r {
        Ok(_) => Status::OK.0,
        Err(e) => Status::error(e.error, e.phase).0,
    }
}

/// A failure for an unexpected error.
pub fn fail(what: &str) -> impl Fn(IpcError) -> Fail + '_ {
    move |e| alloc::format!("{what}: {:?} in {:?}", e.error, e.phase)
}

/// The status word of `e` in `phase`.
pub const fn st(e: Error, phase: Phase) -> u64 {
    Status::error(e, phase).0
}

/// A raw system call with message words `words` (in registers or the UTCB, as the ABI
/// says); returns the status word.
pub fn raw(control: u64, cap: u64, tag: u64, words: &[u64]) -> u64 {
    let mut r = pecan_user::arch::Regs { r0: control, r1: cap, r2: tag, ..Default::default() };
    for (i, &w) in words.iter().enumerate() {
        match r.mr.get_mut(i) {
            Some(m) => *m = w,
            None => pecan_user::utcb::set_mr(i, w),
        }
    }
    pecan_user::arch::syscall(&mut r);
    r.r0
}
