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
use crate::percpu::PerCpus;
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
    /// The CPU this kernel entry runs on (`Hal::cpu_id`, read by every entry point):
    /// the index into `percpu`.
    pub cpu: usize,
    /// Per CPU: the loaded address space, the ready lists and the running thread.
    pub percpu: PerCpus,
    /// ASID/PCID allocation.
    pub asids: AsidAllocator,
    /// Event counters.
    pub counters: Counters,
    /// The hardware.
    pub hal: H,
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
    /// CPUs (a bit each) given a running thread by `handoff.rs` during this kernel entry,
    /// whose doorbells ring at its end ([`Kernel::prepare_return`]).
    pub handoffs: u64,
}

impl<H: Hal> Kernel<H> {
    /// A kernel with empty tables, owning the kernel frames of `frames`.
    pub fn new(mut hal: H, config: Config, frames: FreeList) -> Option<Self> {
        let tick_hz = hal.timer().tick_hz().max(1);
        let cpus = hal.cpus_online().clamp(1, pecan_hal::smp::MAX_CPUS);
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
            wheel: Wheel::new(),
            frames,
            asids,
            cpu: 0,
            percpu: PerCpus::new(cpus),
            hw_irqs: alloc::vec![None; config.irq_lines as usize],
            root_regions: Vec::new(),
            root_task: None,
            root_factory: Some(root_factory),
            counters: Counters::default(),
            exit_request: None,
            tick_hz,
            cpus,
            long: Default::default(),
            handoffs: 0,
        })
    }

    /// This CPU's ready lists and running thread.
    pub fn sched(&self) -> &crate::sched::Scheduler {
        &self.percpu[self.cpu].sched
    }

    /// The task whose address space this CPU has loaded.
    pub fn active_task(&self) -> Option<Handle> {
        self.percpu[self.cpu].active_task.get()
    }

    /// The running thread.
    #[inline(always)]
    pub fn current(&self) -> Option<Handle> {
        self.percpu[self.cpu].sched.current.get()
    }

    /// The saved registers of the running thread (the arch restores them on exit).
    #[inline(always)]
    pub fn current_context(&mut self) -> Option<&mut H::Context> {
        let c = self.percpu[self.cpu].sched.current.get()?;
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

    /// The tag `to` receives for a message from `from`: `tag` with the `CROSS_CPU` flag
    /// (`docs/abi.md`) when the two live on different CPUs.
    #[inline(always)]
    pub(crate) fn received_tag(&self, from: Handle, to: Handle, tag: u64) -> u64 {
        let cpu = |h| self.threads.get(h).map(|t| t.cpu);
        tag | cross_flag(cpu(from) != cpu(to))
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

    /// Marks `h` ready and puts it at the end of its CPU's ready list; asks that CPU for
    /// a reschedule if it outranks the thread running there (another CPU by a `Wake`
    /// IPI, which its arch turns into [`Kernel::reschedule`]; an idle one gets it handed
    /// over instead, `handoff.rs`). A thread with a migration
    /// pending moves to its new CPU first.
    pub fn wake(&mut self, h: Handle) {
        let Some(t) = self.threads.get_mut(h) else { return };
        t.state = State::Ready;
        t.block_epoch += 1;
        let prio = t.prio;
        if t.next_cpu != t.cpu {
            self.move_queue(h);
        }
        let cpu = self.cpu_of(h);
        let q = &mut self.percpu[cpu].sched;
        // A woken thread goes to the tail, whether or not lazy queues left it linked.
        q.dequeue(&mut self.threads, h);
        q.enqueue(&mut self.threads, h);
        let cur_prio = q.current.get().and_then(|c| self.threads.get(c)).map(|c| c.prio);
        if cur_prio.is_none_or(|p| prio > p) && !self.hand_off(cpu, h) {
            self.resched_cpu(cpu);
        }
    }

    /// Asks CPU `cpu` to reconsider what it runs: this CPU at the end of the entry, another
    /// by a `Wake` IPI (sent once until it reschedules).
    pub fn resched_cpu(&mut self, cpu: usize) {
        let q = &mut self.percpu[cpu].sched;
        let first = !q.need_resched;
        q.need_resched = true;
        if cpu != self.cpu && first {
            crate::counters::bump(&mut self.counters.ipis);
            self.hal.send_ipi(pecan_hal::IpiTarget::Cpu(cpu), pecan_hal::Ipi::Wake);
        }
    }

    /// The CPU whose ready lists hold `h` (where it runs or will run).
    #[inline(always)]
    pub fn cpu_of(&self, h: Handle) -> usize {
        self.threads.get(h).map_or(self.cpu, |t| (t.cpu as usize).min(self.percpu.len() - 1))
    }

    /// The CPU `h` runs on right now, if it is the running thread of a CPU other than this
    /// one (there it may be in user mode).
    pub fn running_elsewhere(&self, h: Handle) -> Option<usize> {
        let cpu = self.cpu_of(h);
        (cpu != self.cpu && self.percpu[cpu].sched.current.get() == Some(h)).then_some(cpu)
    }

    /// Makes sure `h` is not in user mode on another CPU: if it runs on one, that CPU is
    /// kicked into the kernel (`Hal::kick`: its registers are saved, its user address
    /// space unloaded) before this returns; it then waits for the kernel lock and
    /// reschedules.
    /// Its CPU forgets it as its running thread (a ready thread goes to the front of that
    /// CPU's list) and records it as stopped: if the entry the kick caused is a system
    /// call of the thread, the call is dropped (see [`Kernel::syscall_general`]).
    #[inline(never)]
    pub fn stop_remote(&mut self, h: Handle) {
        let Some(cpu) = self.running_elsewhere(h) else { return };
        // Handed over during this entry (`handoff.rs`), not yet rung: that CPU never ran
        // it, so it just takes the thread back; nothing to kick, nothing stopped there.
        let handed = self.percpu[cpu].handed == Some(h);
        if !handed {
            self.kick(cpu);
        }
        let q = &mut self.percpu[cpu];
        q.sched.current = crate::obj::OptHandle::NONE;
        if handed {
            q.handed = None;
        } else {
            q.stopped = h.into();
        }
        if self.threads.get(h).is_some_and(|t| t.state == State::Ready) {
            q.sched.enqueue_front(&mut self.threads, h);
        }
    }

    /// Kicks CPU `cpu` out of user mode (see [`Kernel::stop_remote`]).
    pub fn kick(&mut self, cpu: usize) {
        crate::counters::bump(&mut self.counters.ipis);
        self.hal.kick(cpu);
        self.percpu[cpu].active_task = crate::obj::OptHandle::NONE;
        self.percpu[cpu].sched.need_resched = true;
    }

    /// Moves `h`, which runs nowhere, from the ready lists of its CPU to those of its
    /// `next_cpu` (the state it is in stays; a ready thread is queued at the tail there).
    fn move_queue(&mut self, h: Handle) {
        let old = self.cpu_of(h);
        self.percpu[old].sched.dequeue(&mut self.threads, h);
        let Some(t) = self.threads.get_mut(h) else { return };
        t.cpu = t.next_cpu;
        let (task, cpu) = (t.task, t.cpu as usize);
        self.mark_ran_on(task, cpu);
        crate::counters::bump(&mut self.counters.migrations);
    }

    /// Records that `task`'s address space may be loaded on `cpu` (see `Task::ran_on`):
    /// when the core activates it there, and when one of its threads comes to `cpu`
    /// (created or migrated), since the fast paths switch to a thread's space from its
    /// cache without [`Kernel::activate`].
    pub(crate) fn mark_ran_on(&mut self, task: Handle, cpu: usize) {
        if let Some(t) = self.tasks.get_mut(task) {
            t.ran_on = t.ran_on.with(cpu);
        }
    }

    /// Moves thread `h` to CPU `cpu` (its affinity): a thread that runs nowhere moves now
    /// (a ready one to the tail of the new CPU's list, which is asked to reschedule if it
    /// outranks what runs there); a running one moves when its CPU next schedules
    /// (that CPU is asked to, by IPI if it is another).
    pub fn set_cpu(&mut self, h: Handle, cpu: usize) {
        let Some(t) = self.threads.get_mut(h) else { return };
        t.next_cpu = cpu as u32;
        let home = (t.cpu as usize).min(self.percpu.len() - 1);
        if home == cpu {
            return;
        }
        if self.percpu[home].sched.current.get() == Some(h) {
            self.resched_cpu(home);
            return;
        }
        let ready = self.threads.get(h).is_some_and(|t| t.state == State::Ready);
        self.move_queue(h);
        if ready {
            if let Some(t) = self.threads.get_mut(h) {
                t.block_epoch = t.block_epoch.wrapping_sub(1);
            }
            self.wake(h);
        }
    }

    /// Records that `h` (which was running or ready) now blocks in `state`. A thread
    /// running on another CPU is stopped there first.
    ///
    /// A thread of this CPU's lists runs nowhere else: only another CPU's thread costs the
    /// call of [`Kernel::stop_remote`] (the general path blocks on every IPC).
    pub fn block(&mut self, h: Handle, state: State) {
        let Some(t) = self.threads.get(h) else { return };
        if t.cpu as usize != self.cpu {
            self.stop_remote(h);
        }
        let last = self.percpu.len() - 1;
        let Some(t) = self.threads.get_mut(h) else { return };
        let cpu = (t.cpu as usize).min(last);
        t.state = state;
        t.block_epoch += 1;
        if !crate::sched::LAZY {
            self.percpu[cpu].sched.blocked(&mut self.threads, h);
        }
    }

    /// Hands the CPU from the running thread, which just blocked, to `partner`, which just
    /// became ready through a call or reply (seed 003, direct process switch with time-slice
    /// donation). The partner runs if nothing of higher priority is ready; the result is the
    /// same with or without the `direct-switch` feature. A partner on another CPU is woken
    /// there, and this CPU's dispatcher chooses.
    pub fn handoff(&mut self, partner: Handle) {
        let Some(p) = self.threads.get_mut(partner) else { return };
        if p.cpu as usize != self.cpu || p.next_cpu != p.cpu {
            self.wake(partner);
            let q = &mut self.percpu[self.cpu].sched;
            q.current = q.pick(&mut self.threads).into();
            q.need_resched = false;
            self.reset_slice();
            return;
        }
        p.state = State::Ready;
        p.block_epoch += 1;
        let prio = p.prio;
        crate::counters::bump(&mut self.counters.handoffs);
        let q = &mut self.percpu[self.cpu].sched;
        // `top()` is `highest()` kept up to date (0 with nothing ready): one load, no scan.
        if cfg!(feature = "direct-switch") && prio >= q.top() {
            if !crate::sched::LAZY {
                q.enqueue(&mut self.threads, partner);
            }
            q.current = partner.into();
            q.need_resched = false;
            crate::counters::bump(&mut self.counters.direct_switches);
            return;
        }
        self.handoff_dispatched(partner);
    }

    /// The handoff without a direct switch: the partner goes first among its priority and
    /// the dispatcher chooses (it picks the partner whenever a direct switch would have).
    pub(crate) fn handoff_dispatched(&mut self, partner: Handle) {
        let q = &mut self.percpu[self.cpu].sched;
        q.enqueue_front(&mut self.threads, partner);
        let slice = q.slice_left;
        q.current = q.pick(&mut self.threads).into();
        if q.current.get() == Some(partner) {
            q.slice_left = slice;
        } else {
            self.reset_slice();
        }
        self.percpu[self.cpu].sched.need_resched = false;
    }

    pub(crate) fn reset_slice(&mut self) {
        let q = &mut self.percpu[self.cpu].sched;
        q.slice_left = q.current.get().and_then(|c| self.threads.get(c)).map_or(0, |t| t.timeslice);
    }

    /// Reads this CPU's index from the HAL: every entry point of the core calls it first.
    #[inline(always)]
    pub fn enter(&mut self) {
        let cpu = self.hal.cpu_id();
        self.cpu = if cpu < self.percpu.len() { cpu } else { 0 };
    }

    /// A `Wake` IPI reached this CPU: something became ready here (or its running thread
    /// must migrate, or stop); the dispatcher reconsiders.
    pub fn reschedule(&mut self) {
        self.enter();
        crate::counters::bump(&mut self.counters.exceptions);
        self.schedule();
    }

    /// The scheduling decision at the end of a kernel entry: keep the running thread unless
    /// it blocked, something of higher priority became ready, or it must move to another
    /// CPU (it goes to that CPU's list).
    pub fn schedule(&mut self) {
        let me = self.cpu;
        let cur = self.percpu[me].sched.current.get();
        if let Some(c) = cur
            && let Some(t) = self.threads.get(c)
            && t.state == State::Ready
        {
            if t.cpu as usize != me {
                // Moved to another CPU's lists while this one was stopping it.
                let q = &mut self.percpu[me].sched;
                q.current = q.pick(&mut self.threads).into();
                q.need_resched = false;
                return self.reset_slice();
            }
            if t.next_cpu != t.cpu {
                // Migrating: this CPU lets it go (its registers are saved) and picks.
                self.percpu[me].sched.current = crate::obj::OptHandle::NONE;
                self.percpu[me].sched.need_resched = false;
                if let Some(t) = self.threads.get_mut(c) {
                    t.block_epoch = t.block_epoch.wrapping_sub(1);
                }
                self.wake(c);
                let q = &mut self.percpu[me].sched;
                q.current = q.pick(&mut self.threads).into();
                self.reset_slice();
                return;
            }
            let prio = t.prio;
            let q = &mut self.percpu[me].sched;
            if !q.need_resched {
                return;
            }
            q.need_resched = false;
            if q.top() <= prio {
                return;
            }
            // Preempted: it resumes first among its priority.
            q.enqueue_front(&mut self.threads, c);
            crate::counters::bump(&mut self.counters.preemptions);
        }
        let q = &mut self.percpu[me].sched;
        q.need_resched = false;
        q.current = q.pick(&mut self.threads).into();
        if q.current.get() != cur {
            self.reset_slice();
        }
    }

    /// Round robin: the running thread goes to the end of its list and the dispatcher
    /// chooses (end of a time slice, or `Yield`).
    pub fn rotate_current(&mut self) {
        let q = &mut self.percpu[self.cpu].sched;
        if let Some(c) = q.current.get()
            && self.threads.get(c).is_some_and(|t| t.state == State::Ready && t.next_cpu == t.cpu)
        {
            q.rotate(&mut self.threads, c);
        }
        if q.current.get().and_then(|c| self.threads.get(c)).is_some_and(|t| t.next_cpu != t.cpu) {
            // A migration pending: `schedule` moves it.
            q.need_resched = true;
            return self.schedule();
        }
        q.current = q.pick(&mut self.threads).into();
        self.reset_slice();
    }

    /// Loads the address space of the thread about to run (if it is not loaded already) and
    /// returns that thread. The arch calls this last, then restores the thread's registers.
    /// While a long IPC is under way this is also where its sender copies; `None` (idle)
    /// then may mean that an interrupt is pending in the middle of a copy. (The fast path
    /// never comes here: it refuses locked threads and switches by itself.)
    pub fn prepare_return(&mut self) -> Option<Handle> {
        if self.handoffs != 0 {
            self.ring_handoffs();
        }
        if self.long.busy() {
            // One load and branch on the general path (`ipc/longipc.rs`).
            return self.prepare_return_long();
        }
        let pc = &self.percpu[self.cpu];
        let (cur, active) = (pc.sched.current.get()?, pc.active_task.get());
        let task = self.threads.get(cur)?.task;
        if active != Some(task) {
            self.activate(task);
        }
        Some(cur)
    }

    /// Switches to `task`'s address space, tagging it with its ASID.
    #[inline(always)]
    pub fn activate(&mut self, task: Handle) {
        let me = self.cpu;
        let Some(space) = self.claim_space(task, me) else { return };
        // This CPU's state looked up once, before the switch (the MMU write clobbers memory).
        let pc = &mut self.percpu[me];
        self.hal.mmu().activate(space.root, space.asid, space.flush);
        pc.active_task = task.into();
    }

    /// What loading `task`'s space on CPU `cpu` takes (its root, its ASID, allocated now if
    /// it has none of this generation, and whether to flush), counted as an address-space
    /// switch there; `None` if there is no such task. Records `cpu` in the task's `ran_on`.
    #[inline(always)]
    pub(crate) fn claim_space(&mut self, task: Handle, cpu: usize) -> Option<pecan_hal::handoff::Space> {
        let t = self.tasks.get_mut(task)?;
        let before = t.asid.generation();
        let act = self.asids.activate(&mut t.asid);
        let root = t.root;
        // A fresh ASID: no CPU holds translations tagged with it for this task yet (those
        // of its old one are dead: shootdowns target the live ASID), and every way a CPU
        // comes to use it marks that CPU (here; a thread's space cache of this generation
        // is filled only after this, and a thread carrying it to a CPU marks it there):
        // the record starts over.
        if t.asid.generation() != before {
            t.ran_on = pecan_hal::CpuSet(0);
        }
        // `cpu` < the number of CPUs <= MAX_CPUS = 64 (`Kernel::enter`): the bit exists, so
        // no `CpuSet::with` (its bounds test costs ~3 instructions per switch here).
        t.ran_on = pecan_hal::CpuSet(t.ran_on.0 | 1u64 << (cpu % 64));
        if act.flush_all {
            self.asid_rollover();
            crate::counters::bump(&mut self.counters.tlb_flushes);
        }
        crate::counters::bump(&mut self.counters.as_switches);
        if act.flush_asid {
            // A recycled ASID, or untagged: loading the root drops the old translations.
            crate::counters::bump(&mut self.counters.tlb_flushes);
        }
        Some(pecan_hal::handoff::Space { root, asid: act.asid, flush: act.flush_asid })
    }

    /// The ASID generation rolled over (ASIDs are handed out machine-wide): every other
    /// CPU is kicked out of its address space, whose ASID is of the old generation and may
    /// now be handed to another task, and every CPU drops its non-global translations
    /// before any ASID of the new generation is used.
    #[cold]
    #[inline(never)]
    fn asid_rollover(&mut self) {
        let n = self.percpu.len();
        let me = self.cpu;
        for cpu in (0..n).filter(|&c| c != me) {
            self.kick(cpu);
        }
        self.hal.shootdown(pecan_hal::CpuSet::first(n), pecan_hal::Flush::All);
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

/// The tag bit of the `CROSS_CPU` flag when `cross`, else 0.
#[inline(always)]
pub(crate) const fn cross_flag(cross: bool) -> u64 {
    (cross as u64) * pecan_abi::MsgTag::new(0, 0, 0).with_flags(pecan_abi::tag::FLAG_CROSS_CPU).0
}
