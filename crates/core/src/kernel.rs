//! The kernel state and the helpers every operation shares: capability lookup, system-call
//! results, waking and blocking threads, and the scheduling decision at the end of every
//! kernel entry.

extern crate alloc;
use alloc::vec::Vec;
use pecan_abi::{CapRights, Error, Phase, Status};
use pecan_hal::{Hal, Mmu, PhysAddr, PhysMem, Timer, UserContext};
use pecan_mm::{AsidAllocator, FreeList};

use crate::counters::Counters;
use crate::list::Which;
use crate::mdb::Mdb;
use crate::obj::factory::Factory;
use crate::obj::gate::Gate;
use crate::obj::irq::Irq;
use crate::obj::task::Task;
use crate::obj::{Cap, Handle, ObjRef, Table};
use crate::sched::Scheduler;
use crate::thread::{State, Tcb};
use crate::timeout::Wheel;

/// Sizes of the kernel's object tables.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Most threads.
    pub max_threads: usize,
    /// Most tasks.
    pub max_tasks: usize,
    /// Most gates.
    pub max_gates: usize,
    /// Most IRQ objects (hardware and software).
    pub max_irqs: usize,
    /// Most factories.
    pub max_factories: usize,
    /// Most mapping-database nodes.
    pub max_nodes: usize,
    /// The root factory's quota, in bytes.
    pub root_quota: u64,
    /// Number of hardware interrupt lines.
    pub irq_lines: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_threads: 256,
            max_tasks: 64,
            max_gates: 256,
            max_irqs: 64,
            max_factories: 32,
            max_nodes: 1 << 16,
            root_quota: 16 << 20,
            irq_lines: 64,
        }
    }
}

/// A region of physical memory the root task owns, reachable through its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootRegion {
    /// Physical base.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
    /// Device memory (mapped uncached).
    pub device: bool,
}

/// The kernel.
///
/// `#[repr(C)]`: the fields the IPC fast path touches first (thread, task and gate tables,
/// the loaded address space, ASIDs, counters, then the scheduler, whose ready lists come
/// last), so the arch's entry can reach them at short offsets from one base register.
#[repr(C)]
pub struct Kernel<H: Hal> {
    /// Threads.
    pub threads: Table<Tcb<H::Context>>,
    /// Tasks.
    pub tasks: Table<Task>,
    /// Gates.
    pub gates: Table<Gate>,
    /// The task whose address space is loaded.
    pub active_task: crate::obj::OptHandle,
    /// ASID/PCID allocation.
    pub asids: AsidAllocator,
    /// Event counters.
    pub counters: Counters,
    /// The hardware.
    pub hal: H,
    /// Ready lists and the running thread.
    pub sched: Scheduler,
    /// IRQ objects.
    pub irqs: Table<Irq>,
    /// Factories.
    pub factories: Table<Factory>,
    /// The mapping database.
    pub mdb: Mdb,
    /// Pending timeouts.
    pub wheel: Wheel,
    /// Free kernel frames (page tables and UTCBs).
    pub frames: FreeList,
    /// Hardware line to IRQ object.
    pub hw_irqs: Vec<Option<Handle>>,
    /// Physical memory the root task owns.
    pub root_regions: Vec<RootRegion>,
    /// The root task.
    pub root_task: Option<Handle>,
    /// The root factory.
    pub root_factory: Option<Handle>,
    /// An exit code requested by user space (`Machine::EXIT`).
    pub exit_request: Option<u32>,
    /// Timer ticks per second.
    pub tick_hz: u64,
    /// Number of CPUs.
    pub cpus: usize,
    /// Long IPC: transfers under way, the temporary mapping's window, the kernel buffer.
    pub long: crate::ipc::longipc::LongIpc,
}

impl<H: Hal> Kernel<H> {
    /// A kernel with empty tables, owning the kernel frames of `frames`.
    pub fn new(mut hal: H, config: Config, frames: FreeList) -> Option<Self> {
        let tick_hz = hal.timer().tick_hz().max(1);
        // Without the `asid` feature address spaces run untagged: every switch flushes.
        let asids = AsidAllocator::new(if cfg!(feature = "asid") { hal.mmu().asid_count() } else { 0 });
        let mut factories = Table::with_capacity(config.max_factories)?;
        let root_factory =
            factories.insert(Factory { limit: config.root_quota, used: 0, parent: None }).ok()?;
        Some(Kernel {
            hal,
            threads: Table::with_capacity(config.max_threads)?,
            tasks: Table::with_capacity(config.max_tasks)?,
            gates: Table::with_capacity(config.max_gates)?,
            irqs: Table::with_capacity(config.max_irqs)?,
            factories,
            mdb: Mdb::new(config.max_nodes),
            sched: Scheduler::new(),
            wheel: Wheel::new(),
            frames,
            asids,
            active_task: crate::obj::OptHandle::NONE,
            hw_irqs: alloc::vec![None; config.irq_lines as usize],
            root_regions: Vec::new(),
            root_task: None,
            root_factory: Some(root_factory),
            counters: Counters::default(),
            exit_request: None,
            tick_hz,
            cpus: 1,
            long: Default::default(),
        })
    }

    /// The running thread.
    #[inline(always)]
    pub fn current(&self) -> Option<Handle> {
        self.sched.current.get()
    }

    /// The saved registers of the running thread (the arch restores them on exit).
    #[inline(always)]
    pub fn current_context(&mut self) -> Option<&mut H::Context> {
        let c = self.sched.current.get()?;
        self.threads.get_mut(c).map(|t| &mut t.ctx)
    }

    // ---- capabilities ------------------------------------------------------------------

    /// Looks up `sel` in `task`'s capability space and checks the object is alive.
    pub fn lookup(&self, task: Handle, sel: u64) -> Result<Cap, Error> {
        let t = self.tasks.get(task).ok_or(Error::InvalidCap)?;
        let slot = t.caps.get(sel)?;
        if self.alive(slot.cap.obj) { Ok(slot.cap) } else { Err(Error::StaleCap) }
    }

    /// Looks up `sel` for thread `th` and checks it has `rights`.
    pub fn lookup_for(&self, th: Handle, sel: u64, rights: CapRights) -> Result<Cap, Error> {
        let task = self.threads.get(th).ok_or(Error::InvalidCap)?.task;
        let cap = self.lookup(task, sel)?;
        if !cap.rights.contains(rights) {
            return Err(Error::NoRights);
        }
        Ok(cap)
    }

    /// Whether the object a capability names still exists.
    pub fn alive(&self, obj: ObjRef) -> bool {
        match obj {
            ObjRef::Task(h) => self.tasks.contains(h),
            ObjRef::Thread(h) => self.threads.contains(h),
            ObjRef::Gate(h) => self.gates.contains(h),
            ObjRef::Irq(h) => self.irqs.contains(h),
            ObjRef::Factory(h) => self.factories.contains(h),
            ObjRef::Console | ObjRef::Machine | ObjRef::IoPorts { .. } => true,
        }
    }

    // ---- results -----------------------------------------------------------------------

    /// Sets the system-call results of thread `h`.
    #[inline(always)]
    pub fn set_result(&mut self, h: Handle, status: Status, label: u64, tag: u64) {
        if let Some(t) = self.threads.get_mut(h) {
            t.ctx.set_result(status.0, label, tag);
        }
    }

    /// Sets an error result on thread `h`.
    pub fn set_error(&mut self, h: Handle, e: Error, phase: Phase) {
        crate::counters::bump(&mut self.counters.errors);
        self.set_result(h, Status::error(e, phase), 0, 0);
    }

    // ---- UTCB --------------------------------------------------------------------------

    /// Word `i` of thread `h`'s UTCB.
    pub fn utcb_read(&mut self, h: Handle, i: usize) -> u64 {
        match self.threads.get(h) {
            Some(t) => {
                let pa = t.utcb_frame.add(i as u64 * 8);
                self.hal.mem().read_u64(pa)
            }
            None => 0,
        }
    }

    /// Writes word `i` of thread `h`'s UTCB.
    pub fn utcb_write(&mut self, h: Handle, i: usize, v: u64) {
        if let Some(t) = self.threads.get(h) {
            let pa = t.utcb_frame.add(i as u64 * 8);
            self.hal.mem().write_u64(pa, v);
        }
    }

    /// The UTCB frame of `h`.
    pub fn utcb_frame(&self, h: Handle) -> Option<PhysAddr> {
        self.threads.get(h).map(|t| t.utcb_frame)
    }

    // ---- scheduling ----------------------------------------------------------------------

    /// Marks `h` ready and puts it at the end of its ready list; asks for a reschedule if it
    /// outranks the running thread.
    pub fn wake(&mut self, h: Handle) {
        let Some(t) = self.threads.get_mut(h) else { return };
        t.state = State::Ready;
        t.block_epoch += 1;
        let prio = t.prio;
        // A woken thread goes to the tail, whether or not lazy queues left it linked.
        self.sched.dequeue(&mut self.threads, h);
        self.sched.enqueue(&mut self.threads, h);
        let cur_prio = self.sched.current.get().and_then(|c| self.threads.get(c)).map(|c| c.prio);
        if cur_prio.is_none_or(|p| prio > p) {
            self.sched.need_resched = true;
        }
    }

    /// Records that `h` (which was running or ready) now blocks in `state`.
    pub fn block(&mut self, h: Handle, state: State) {
        let Some(t) = self.threads.get_mut(h) else { return };
        t.state = state;
        t.block_epoch += 1;
        self.sched.blocked(&mut self.threads, h);
    }

    /// Hands the CPU from the running thread, which just blocked, to `partner`, which just
    /// became ready through a call or reply (seed 003, direct process switch with time-slice
    /// donation). The partner runs if nothing of higher priority is ready; the result is the
    /// same with or without the `direct-switch` feature.
    pub fn handoff(&mut self, partner: Handle) {
        let Some(p) = self.threads.get_mut(partner) else { return };
        p.state = State::Ready;
        p.block_epoch += 1;
        let prio = p.prio;
        crate::counters::bump(&mut self.counters.handoffs);
        if cfg!(feature = "direct-switch") && self.sched.highest().is_none_or(|h| prio >= h) {
            if !crate::sched::LAZY {
                self.sched.enqueue(&mut self.threads, partner);
            }
            self.sched.current = partner.into();
            self.sched.need_resched = false;
            crate::counters::bump(&mut self.counters.direct_switches);
            return;
        }
        self.handoff_dispatched(partner);
    }

    /// The handoff without a direct switch: the partner goes first among its priority and
    /// the dispatcher chooses (it picks the partner whenever a direct switch would have).
    pub(crate) fn handoff_dispatched(&mut self, partner: Handle) {
        self.sched.enqueue_front(&mut self.threads, partner);
        let slice = self.sched.slice_left;
        self.sched.current = self.sched.pick(&mut self.threads).into();
        if self.sched.current.get() == Some(partner) {
            self.sched.slice_left = slice;
        } else {
            self.reset_slice();
        }
        self.sched.need_resched = false;
    }

    fn reset_slice(&mut self) {
        self.sched.slice_left =
            self.sched.current.get().and_then(|c| self.threads.get(c)).map_or(0, |t| t.timeslice);
    }

    /// The scheduling decision at the end of a kernel entry: keep the running thread unless
    /// it blocked or something of higher priority became ready.
    pub fn schedule(&mut self) {
        let cur = self.sched.current.get();
        if let Some(c) = cur
            && self.threads.get(c).is_some_and(|t| t.state == State::Ready)
        {
            if !self.sched.need_resched {
                return;
            }
            self.sched.need_resched = false;
            let prio = self.threads.get(c).map_or(0, |t| t.prio);
            if self.sched.highest().is_none_or(|h| h <= prio) {
                return;
            }
            // Preempted: it resumes first among its priority.
            self.sched.enqueue_front(&mut self.threads, c);
            crate::counters::bump(&mut self.counters.preemptions);
        }
        self.sched.need_resched = false;
        self.sched.current = self.sched.pick(&mut self.threads).into();
        if self.sched.current.get() != cur {
            self.reset_slice();
        }
    }

    /// Round robin: the running thread goes to the end of its list and the dispatcher
    /// chooses (end of a time slice, or `Yield`).
    pub fn rotate_current(&mut self) {
        if let Some(c) = self.sched.current.get()
            && self.threads.get(c).is_some_and(|t| t.state == State::Ready)
        {
            self.sched.rotate(&mut self.threads, c);
        }
        self.sched.current = self.sched.pick(&mut self.threads).into();
        self.reset_slice();
    }

    /// Loads the address space of the thread about to run (if it is not loaded already) and
    /// returns that thread. The arch calls this last, then restores the thread's registers.
    /// While a long IPC is under way this is also where its sender copies; `None` (idle)
    /// then may mean that an interrupt is pending in the middle of a copy. (The fast path
    /// never comes here: it refuses locked threads and switches by itself.)
    pub fn prepare_return(&mut self) -> Option<Handle> {
        if self.long.busy() {
            // One load and branch on the general path (`ipc/longipc.rs`).
            return self.prepare_return_long();
        }
        let cur = self.sched.current.get()?;
        let task = self.threads.get(cur)?.task;
        if self.active_task.get() != Some(task) {
            self.activate(task);
        }
        Some(cur)
    }

    /// Switches to `task`'s address space, tagging it with its ASID.
    #[inline(always)]
    pub fn activate(&mut self, task: Handle) {
        let Some(t) = self.tasks.get_mut(task) else { return };
        let act = self.asids.activate(&mut t.asid);
        let root = t.root;
        if act.flush_all {
            self.hal.mmu().flush_all();
            crate::counters::bump(&mut self.counters.tlb_flushes);
        }
        self.hal.mmu().activate(root, act.asid, act.flush_asid);
        crate::counters::bump(&mut self.counters.as_switches);
        if act.flush_asid {
            // A recycled ASID, or untagged: loading the root drops the old translations.
            crate::counters::bump(&mut self.counters.tlb_flushes);
        }
        self.active_task = task.into();
    }

    /// [`Kernel::activate`], then records the address space in `thread`'s cache for the
    /// fast path: its root with the ASID it holds in the current generation, or, untagged
    /// (no ASIDs: every switch flushes), its root with ASID 0 (the fast path then loads it
    /// flushing, as [`Kernel::activate`] does).
    #[inline(never)]
    pub fn activate_and_cache(&mut self, thread: Handle, task: Handle) {
        self.activate(task);
        let Some(t) = self.tasks.get(task) else { return };
        let asid = match self.asids.current(&t.asid) {
            Some(a) => a.0,
            None if !self.asids.tagged() => 0,
            None => return,
        };
        let space = crate::thread::SpaceCache { root: t.root, generation: self.asids.generation(), asid };
        if let Some(th) = self.threads.get_mut(thread) {
            th.space = space;
        }
    }

    /// Converts a relative timeout in microseconds to an expiry tick (at least one tick
    /// ahead, never early).
    pub fn deadline(&self, us: u64) -> u64 {
        let ticks = (us as u128 * self.tick_hz as u128).div_ceil(1_000_000) as u64;
        self.wheel.now + ticks.max(1)
    }

    /// Threads blocked on `h`, for its deletion: its send queue, then (by a scan of the
    /// thread table, in table order) the threads waiting for its reply or closed-waiting
    /// for a message from it. No list links those to `h`: a call would pay for the
    /// insertion, and deletion is rare.
    pub fn waiters(&self, h: Handle) -> (Vec<Handle>, Vec<Handle>) {
        let Some(t) = self.threads.get(h) else { return (Vec::new(), Vec::new()) };
        let others = self
            .threads
            .iter()
            .filter(|(_, w)| match w.state {
                State::WaitReply { callee, .. } => callee == h,
                State::Receiving(crate::thread::Filter::Thread(x)) => x == h,
                _ => false,
            })
            .map(|(w, _)| w)
            .collect();
        (t.send_queue.collect(&self.threads, Which::Wait), others)
    }
}
