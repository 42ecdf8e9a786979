//! What scenarios run with: the root task's services (workers in their own address spaces,
//! root threads, gates) and waiting for reports.

use core::time::Duration;
use pecan_abi::CapRights;
use pecan_abi::caps::std_slots;
use pecan_abi::layout::{BootInfo, ROOT_PHYS_BASE};
use pecan_system::rootthread::{self, RootThread};
use pecan_system::slots::SLOTS;
use pecan_system::spawn::{Child, Spec, spawn};
use pecan_user::{Factory, Gate, IpcError, Msg, Received, Thread, Timeouts, ipc};

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
}
