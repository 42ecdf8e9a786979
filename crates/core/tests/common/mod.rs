//! The test world: a kernel on the simulated machine with a root task, system calls issued
//! as whichever thread is running, and the kernel's invariants checked after every step.
#![allow(dead_code)]

mod invariants;

pub use invariants::check_invariants;
use pecan_abi::caps::{ROOT_FACTORY, ROOT_IRQ_BASE, ROOT_THREAD};
use pecan_abi::layout::ROOT_PHYS_BASE;
use pecan_abi::object::{factory, irq, task, thread};
use pecan_abi::utcb::offset;
use pecan_abi::{CapRights, Control, Error, Fpage, MemRights, MsgTag, Phase, REG_MRS, Status, Sys, Timeout};
use pecan_core::obj::{Handle, ObjRef};
use pecan_core::thread::State;
use pecan_core::{Config, Kernel, RootRegion};
use pecan_hal::{FaultInfo, PAGE_SIZE, PhysAddr, VirtAddr};
use pecan_mm::{FreeList, PageTable};
use pecan_sim::{AccessFault, Sim, SimPte};

/// Where the kernel's own frames start in the simulated machine.
pub const KERNEL_FRAMES_BASE: u64 = 0x1000_0000;
/// Bytes of kernel frames a default world has.
pub const KERNEL_FRAMES_SIZE: u64 = 8 << 20;
/// Physical RAM the root task owns.
pub const ROOT_RAM: (u64, u64) = (0x4000_0000, 256 << 20);
/// A device region the root task owns.
pub const ROOT_DEV: (u64, u64) = (0x0900_0000, 0x1000);

/// What a system call returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ret {
    /// Status word.
    pub status: Status,
    /// Gate label.
    pub label: u64,
    /// Tag.
    pub tag: MsgTag,
    /// Message words (as many as the tag says).
    pub words: Vec<u64>,
}

impl Ret {
    /// The error, if any.
    pub fn err(&self) -> Option<(Error, Phase)> {
        self.status.result().err()
    }
}

/// The kernel in a simulated machine.
pub struct World {
    pub k: Kernel<Sim>,
    pub root_task: Handle,
    pub root: Handle,
    pub total_frames: usize,
    /// Check the invariants after every step (large tests turn this off and check at a
    /// few points).
    pub checks: bool,
    /// The kernel's count of page-table writes when the tables were last walked.
    walked_at: Option<u64>,
    next_slot: u64,
    next_utcb: u64,
}

/// A thread made by the world: its handle and its capability slot in the root task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Th {
    pub h: Handle,
    pub slot: u64,
    pub task_slot: u64,
}

impl World {
    /// A world with untagged TLB and default tables.
    pub fn new() -> Self {
        Self::with(0, Self::config())
    }

    /// The tables of a default world.
    pub fn config() -> Config {
        Config { max_threads: 64, max_tasks: 16, max_gates: 64, ..Config::default() }
    }

    /// A world with `asids` ASIDs and `config`.
    pub fn with(asids: usize, config: Config) -> Self {
        Self::with_frames(asids, config, KERNEL_FRAMES_SIZE)
    }

    /// A world with `asids` ASIDs, `config` and `kernel_bytes` of kernel frames.
    pub fn with_frames(asids: usize, config: Config, kernel_bytes: u64) -> Self {
        Self::build(Sim::new(asids), config, kernel_bytes)
    }

    fn build(mut sim: Sim, config: Config, kernel_bytes: u64) -> Self {
        let mut frames = FreeList::new();
        frames.add_region(&mut sim.mem, KERNEL_FRAMES_BASE, kernel_bytes);
        let total_frames = frames.len();
        let mut k = Kernel::new(sim, config, frames).expect("kernel");
        let regions = [
            RootRegion { base: ROOT_RAM.0, size: ROOT_RAM.1, device: false },
            RootRegion { base: ROOT_DEV.0, size: ROOT_DEV.1, device: true },
        ];
        let root_task = k.boot_root_task(&regions).expect("root task");
        let root = k.boot_root_thread(root_task, 0x40_0000, 0x7000_0000, &[5, 6]).expect("root thread");
        k.prepare_return();
        let mut w = World {
            k,
            root_task,
            root,
            total_frames,
            checks: true,
            walked_at: None,
            next_slot: 64,
            next_utcb: 0x10_0000_0000,
        };
        w.check();
        w
    }

    /// A world with `cpus` CPUs (untagged TLB, default tables), running on CPU 0.
    pub fn with_cpus(cpus: usize) -> Self {
        Self::with_cpus_asids(cpus, 0)
    }

    /// A world with `cpus` CPUs and `asids` ASIDs (default tables), running on CPU 0.
    pub fn with_cpus_asids(cpus: usize, asids: usize) -> Self {
        Self::build(Sim::with_cpus(asids, cpus), Self::config(), KERNEL_FRAMES_SIZE)
    }

    /// Continues on CPU `cpu` (the next entries run there).
    pub fn on(&mut self, cpu: usize) {
        self.k.hal.set_cpu(cpu);
        self.k.enter();
    }

    /// CPU `cpu` takes the `Wake` IPIs sent to it (a reschedule) and the threads handed to
    /// it; whether there was one.
    pub fn take_ipis(&mut self, cpu: usize) -> bool {
        let n = self.k.hal.ipis.iter().filter(|(c, _)| *c == cpu).count();
        self.k.hal.ipis.retain(|(c, _)| *c != cpu);
        // A thread handed to the CPU (`crosscore`): it runs it without entering the core,
        // unless a `Wake` came after (which withdraws the handoff: the core decides).
        let handed = self.k.hal.handoffs.iter().filter(|(c, _)| *c == cpu).count();
        self.k.hal.handoffs.retain(|(c, _)| *c != cpu);
        if n + handed > 0 {
            self.on(cpu);
            if n > 0 {
                self.k.reschedule();
                self.k.prepare_return();
            }
            self.check();
        }
        n + handed > 0
    }

    /// The thread running on CPU `cpu`.
    pub fn cur_on(&self, cpu: usize) -> Option<Handle> {
        self.k.percpu[cpu].sched.current.get()
    }

    /// The running thread.
    pub fn cur(&self) -> Option<Handle> {
        self.k.current()
    }

    /// Issues a system call as `th`, which must be running.
    #[allow(clippy::too_many_arguments)]
    pub fn sys(
        &mut self,
        th: Handle,
        sys: Sys,
        cap: u64,
        tag: MsgTag,
        words: &[u64],
        snd: Timeout,
        rcv: Timeout,
    ) {
        assert_eq!(
            self.k.current(),
            Some(th),
            "thread {th:?} is not running (running: {:?})",
            self.k.current()
        );
        for (i, &w) in words.iter().enumerate() {
            if i < REG_MRS {
                self.k.threads.get_mut(th).unwrap().ctx.mr[i] = w;
            } else {
                self.k.utcb_write(th, offset::MR + i, w);
            }
        }
        let ctx = &mut self.k.threads.get_mut(th).unwrap().ctx;
        ctx.r0 = Control::new(sys, snd, rcv).0;
        ctx.r1 = cap;
        ctx.r2 = tag.0;
        self.k.syscall();
        self.k.prepare_return();
        self.check();
    }

    /// Issues a raw control word (for bad-input tests).
    pub fn sys_raw(&mut self, th: Handle, control: u64, cap: u64, tag: u64) {
        assert_eq!(self.k.current(), Some(th));
        let ctx = &mut self.k.threads.get_mut(th).unwrap().ctx;
        ctx.r0 = control;
        ctx.r1 = cap;
        ctx.r2 = tag;
        self.k.syscall();
        self.k.prepare_return();
        self.check();
    }

    /// What `th`'s last system call returned.
    pub fn ret(&mut self, th: Handle) -> Ret {
        let ctx = self.k.threads.get(th).expect("thread").ctx.clone();
        let tag = MsgTag(ctx.r2);
        let n = tag.total_words().min(64);
        let mut words = Vec::new();
        for i in 0..n {
            words.push(if i < REG_MRS { ctx.mr[i] } else { self.k.utcb_read(th, offset::MR + i) });
        }
        Ret { status: Status(ctx.r0), label: ctx.r1, tag, words }
    }

    /// Invokes `method` on `cap` as `th`.
    pub fn invoke(&mut self, th: Handle, cap: u64, method: u64, args: &[u64]) -> Result<Vec<u64>, Error> {
        self.sys(
            th,
            Sys::Invoke,
            cap,
            MsgTag::new(method, args.len(), 0),
            args,
            Timeout::NEVER,
            Timeout::NEVER,
        );
        let r = self.ret(th);
        match r.err() {
            None => Ok(r.words),
            Some((e, _)) => Err(e),
        }
    }

    /// Invokes and expects success.
    pub fn invoke_ok(&mut self, th: Handle, cap: u64, method: u64, args: &[u64]) -> Vec<u64> {
        self.invoke(th, cap, method, args).unwrap_or_else(|e| panic!("invoke {method} on {cap}: {e:?}"))
    }

    /// A free slot in the root task.
    pub fn slot(&mut self) -> u64 {
        self.next_slot += 1;
        self.next_slot - 1
    }

    /// Runs root (which must be running) to create a task; returns its slot.
    pub fn new_task(&mut self) -> u64 {
        let s = self.slot();
        self.invoke_ok(self.root, ROOT_FACTORY, factory::CREATE_TASK, &[s, 8]);
        s
    }

    /// Handle of the object in root slot `s`.
    pub fn obj(&self, s: u64) -> ObjRef {
        self.k.tasks.get(self.root_task).unwrap().caps.get(s).unwrap().cap.obj
    }

    /// Runs root to create a thread in the task at `task_slot` (`ROOT_TASK` for root's own)
    /// at `prio`, started.
    pub fn new_thread(&mut self, task_slot: u64, prio: u64) -> Th {
        let s = self.slot();
        let utcb = self.next_utcb;
        self.next_utcb += PAGE_SIZE;
        self.invoke_ok(self.root, ROOT_FACTORY, factory::CREATE_THREAD, &[s, task_slot, utcb]);
        self.invoke_ok(self.root, s, thread::SET_REGS, &[0x40_0000, 0x7000_0000, 0]);
        self.invoke_ok(self.root, s, thread::SET_PRIORITY, &[prio]);
        let ObjRef::Thread(h) = self.obj(s) else { panic!() };
        Th { h, slot: s, task_slot }
    }

    /// Starts a thread (root must be running).
    pub fn start(&mut self, t: Th) {
        self.invoke_ok(self.root, t.slot, thread::START, &[]);
    }

    /// Runs root to create a gate bound to `t` with `label`; returns its root slot.
    pub fn new_gate(&mut self, t: Th, label: u64) -> u64 {
        let s = self.slot();
        self.invoke_ok(self.root, ROOT_FACTORY, factory::CREATE_GATE, &[s, t.slot, label]);
        s
    }

    /// Copies root's capability in `slot` into `task_slot`'s capability space at `dst`.
    pub fn give_cap(&mut self, slot: u64, task_slot: u64, dst: u64) {
        let fp = pecan_abi::Fpage::object(slot, 0, pecan_abi::CapRights::ALL);
        self.invoke_ok(self.root, task_slot, pecan_abi::object::task::MAP, &[fp.0, dst]);
    }

    /// Maps root-window memory (physical `pa`, `size` bytes) into `task_slot` at `va`.
    pub fn give_mem(&mut self, pa: u64, order: u8, task_slot: u64, va: u64, rights: pecan_abi::MemRights) {
        let fp = pecan_abi::Fpage::memory(ROOT_PHYS_BASE + pa, order, rights);
        self.invoke_ok(self.root, task_slot, pecan_abi::object::task::MAP, &[fp.0, va]);
    }

    /// Advances `n` timer ticks.
    pub fn tick(&mut self, n: u64) {
        for _ in 0..n {
            self.k.tick();
            self.k.prepare_return();
            self.check();
        }
    }

    /// Lets the test threads run: root drops to the lowest priority, so it acts again only
    /// when every other thread is blocked.
    pub fn go(&mut self) {
        self.invoke_ok(self.root, ROOT_THREAD, thread::SET_PRIORITY, &[1]);
    }

    /// Root (running) raises itself above every test thread again.
    pub fn root_high(&mut self) {
        self.invoke_ok(self.root, ROOT_THREAD, thread::SET_PRIORITY, &[250]);
    }

    /// Which thread holds page `va` of `task` and what frame the page table says.
    pub fn translate(&mut self, task: Handle, va: u64) -> Option<PhysAddr> {
        let root = self.k.tasks.get(task)?.root;
        PageTable::<SimPte>::new(root).lookup(&self.k.hal.mem, VirtAddr(va)).map(|(pa, _)| pa)
    }

    // ---- shorthands ----------------------------------------------------------------------

    /// The state of thread `t`.
    pub fn state(&self, t: Handle) -> State {
        self.k.threads.get(t).expect("thread alive").state
    }

    /// Whether `t` is blocked in IPC.
    pub fn blocked(&self, t: Handle) -> bool {
        self.state(t).is_blocked()
    }

    /// Whether `t` is alive.
    pub fn alive(&self, t: Handle) -> bool {
        self.k.threads.contains(t)
    }

    /// Send with timeouts never.
    pub fn send(&mut self, th: Handle, cap: u64, tag: MsgTag, words: &[u64]) {
        self.sys(th, Sys::Send, cap, tag, words, Timeout::NEVER, Timeout::NEVER);
    }

    /// Call with timeouts never.
    pub fn call(&mut self, th: Handle, cap: u64, tag: MsgTag, words: &[u64]) {
        self.sys(th, Sys::Call, cap, tag, words, Timeout::NEVER, Timeout::NEVER);
    }

    /// Open wait with timeout never.
    pub fn wait(&mut self, th: Handle) {
        self.sys(th, Sys::Wait, 0, MsgTag(0), &[], Timeout::NEVER, Timeout::NEVER);
    }

    /// Closed wait on `cap` (0: sleep) with receive timeout `rcv`.
    pub fn recv(&mut self, th: Handle, cap: u64, rcv: Timeout) {
        self.sys(th, Sys::Recv, cap, MsgTag(0), &[], Timeout::NEVER, rcv);
    }

    /// Reply through the reply capability.
    pub fn reply(&mut self, th: Handle, tag: MsgTag, words: &[u64]) {
        self.sys(th, Sys::Reply, 0, tag, words, Timeout::NEVER, Timeout::NEVER);
    }

    /// Reply and open wait (receive timeout never).
    pub fn reply_wait(&mut self, th: Handle, tag: MsgTag, words: &[u64]) {
        self.sys(th, Sys::ReplyWait, 0, tag, words, Timeout::NEVER, Timeout::NEVER);
    }

    /// Yield.
    pub fn yield_(&mut self, th: Handle) {
        self.sys(th, Sys::Yield, 0, MsgTag(0), &[], Timeout::NEVER, Timeout::NEVER);
    }

    /// The error of `th`'s last system call.
    pub fn err(&mut self, th: Handle) -> Option<(Error, Phase)> {
        self.ret(th).err()
    }

    /// Asserts `th`'s last system call succeeded.
    pub fn ok(&mut self, th: Handle) -> Ret {
        let r = self.ret(th);
        assert_eq!(r.status, Status::OK, "{th:?} returned {:?}", r.err());
        r
    }

    /// Runs root to create a task with `2^order` capability slots; returns its slot.
    pub fn new_task_order(&mut self, order: u64) -> u64 {
        let s = self.slot();
        self.invoke_ok(self.root, ROOT_FACTORY, factory::CREATE_TASK, &[s, order]);
        s
    }

    /// The task handle in root slot `s`.
    pub fn task_h(&self, s: u64) -> Handle {
        match self.obj(s) {
            ObjRef::Task(t) => t,
            o => panic!("slot {s} holds {o:?}"),
        }
    }

    /// The gate handle in root slot `s`.
    pub fn gate_h(&self, s: u64) -> Handle {
        match self.obj(s) {
            ObjRef::Gate(g) => g,
            o => panic!("slot {s} holds {o:?}"),
        }
    }

    /// A new thread in `task_slot` at `prio`, started (root must be running).
    pub fn spawn(&mut self, task_slot: u64, prio: u64) -> Th {
        let t = self.new_thread(task_slot, prio);
        self.start(t);
        t
    }

    /// Copies root's capability in `slot` into `task_slot` at `dst` with `rights`.
    pub fn give_cap_rights(&mut self, slot: u64, task_slot: u64, dst: u64, rights: CapRights) {
        let fp = Fpage::object(slot, 0, rights);
        self.invoke_ok(self.root, task_slot, task::MAP, &[fp.0, dst]);
    }

    /// Copies root's task capability in `slot` into `task_slot` at `dst`.
    pub fn give_task(&mut self, slot: u64, task_slot: u64, dst: u64) {
        self.give_cap(slot, task_slot, dst);
    }

    /// Root's page of the physical window for `pa`.
    pub fn window(pa: u64) -> u64 {
        ROOT_PHYS_BASE + pa
    }

    /// A user access by task `task` to `va`, through the simulated MMU and TLB (loads the
    /// task's address space the way a switch to one of its threads would).
    pub fn access(&mut self, task: Handle, va: u64, write: bool) -> Result<PhysAddr, AccessFault> {
        if self.k.active_task() != Some(task) {
            self.k.activate(task);
        }
        let r = self.k.hal.user_access(va, write);
        self.check();
        r
    }

    /// The running thread faults (it must be running).
    pub fn fault(&mut self, th: Handle, info: FaultInfo) {
        assert_eq!(self.k.current(), Some(th), "faulting thread is running");
        self.k.user_fault(info);
        self.k.prepare_return();
        self.check();
    }

    /// A hardware interrupt on `line`.
    pub fn interrupt(&mut self, line: u32) {
        self.k.interrupt(line);
        self.k.prepare_return();
        self.check();
    }

    /// Whether hardware line `line` is masked.
    pub fn masked(&self, line: u32) -> bool {
        self.k.hal.irq.masked[line as usize]
    }

    /// Runs root to create a software IRQ; returns its root slot.
    pub fn new_irq(&mut self) -> u64 {
        let s = self.slot();
        self.invoke_ok(self.root, ROOT_FACTORY, factory::CREATE_IRQ, &[s]);
        s
    }

    /// Root's capability slot of the boot IRQ on line 5 (the World boots lines 5 and 6).
    pub const IRQ_LINE5: u64 = ROOT_IRQ_BASE;
    /// Root's capability slot of the boot IRQ on line 6 (used by the controller thread).
    pub const IRQ_LINE6: u64 = ROOT_IRQ_BASE + 1;

    /// A controller thread in the root task at priority 254, woken by line 6: it lets a
    /// test act with root's capabilities while other threads are ready. Root must run.
    pub fn ctl(&mut self) -> Th {
        let c = self.new_thread(pecan_abi::caps::ROOT_TASK, 254);
        self.invoke_ok(self.root, Self::IRQ_LINE6, irq::ATTACH, &[c.slot, 0]);
        self.start(c);
        assert_eq!(self.cur(), Some(c.h));
        self.wait(c.h);
        c
    }

    /// Wakes the controller with line 6, runs `f` as it, then lets it wait again.
    pub fn as_ctl<R>(&mut self, c: Th, f: impl FnOnce(&mut World, Handle) -> R) -> R {
        self.interrupt(6);
        assert_eq!(self.cur(), Some(c.h), "controller runs");
        let r = f(self, c.h);
        assert_eq!(self.cur(), Some(c.h), "controller still runs");
        self.invoke_ok(c.h, Self::IRQ_LINE6, irq::ACK, &[]);
        self.wait(c.h);
        r
    }

    /// A puppet: a thread in `task_slot` at priority 250 that sleeps until a test makes it
    /// act (`World::act`). Root must run.
    pub fn puppet(&mut self, task_slot: u64) -> Th {
        let p = self.spawn(task_slot, 250);
        assert_eq!(self.cur(), Some(p.h));
        self.recv(p.h, 0, Timeout::NEVER);
        p
    }

    /// Root wakes puppet `p` (cancelling its sleep), `f` runs as it, then it sleeps again
    /// and root runs. Root must run.
    pub fn act<R>(&mut self, p: Th, f: impl FnOnce(&mut World, Handle) -> R) -> R {
        assert_eq!(self.cur(), Some(self.root), "root runs");
        self.invoke_ok(self.root, p.slot, thread::CANCEL, &[]);
        assert_eq!(self.cur(), Some(p.h), "the puppet runs");
        let r = f(self, p.h);
        if self.cur() == Some(p.h) {
            self.recv(p.h, 0, Timeout::NEVER);
        }
        r
    }

    /// Maps root-window memory into `task_slot` at `va` as root with `rights`.
    pub fn give_page(&mut self, pa: u64, task_slot: u64, va: u64, rights: MemRights) {
        self.give_mem(pa, 12, task_slot, va, rights);
    }

    // ---- invariants ----------------------------------------------------------------------

    /// Whether the kernel counts events (its counters may be compiled out): it has counted
    /// a system call.
    pub fn counting(&self) -> bool {
        self.k.counters.syscalls > 0
    }

    /// Checks every invariant of the kernel's state (if `checks` is on).
    pub fn check(&mut self) {
        if self.checks {
            self.check_now();
        }
    }

    /// Checks every invariant of the kernel's state now.
    pub fn check_now(&mut self) {
        // Leaves appear only through counted page-table writes: walk when there were some
        // (always, if the kernel was built without its event counters).
        let writes = self.k.counters.pte_writes;
        let walk = !self.counting() || self.walked_at != Some(writes);
        check_invariants(&self.k, self.total_frames, walk);
        self.walked_at = Some(writes);
        self.check_tlb();
    }

    /// No cached translation of an address space that holds a live ASID (or of the loaded
    /// one, untagged) disagrees with its page table.
    fn check_tlb(&mut self) {
        let mut live: Vec<(u16, PhysAddr)> = Vec::new();
        for (_, t) in self.k.tasks.iter() {
            if let Some(a) = self.k.asids.current(&t.asid) {
                live.push((a.0, t.root));
            }
        }
        if let Some((root, asid)) = self.k.hal.mmu.active {
            live.push((asid.0, root));
        }
        let entries: Vec<_> = self.k.hal.mmu.tlb.iter().map(|(k, v)| (*k, *v)).collect();
        for ((asid, page), (pa, attrs)) in entries {
            for (_, root) in live.iter().filter(|(a, _)| *a == asid) {
                let now = PageTable::<SimPte>::new(*root).lookup(&self.k.hal.mem, VirtAddr(page));
                assert_eq!(now, Some((pa, attrs)), "stale TLB entry for {page:#x} (ASID {asid})");
            }
        }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

/// The physical address `off` bytes into the root task's RAM.
pub fn ram(off: u64) -> u64 {
    ROOT_RAM.0 + off
}

/// Shorthand for a tag.
pub fn tag(label: u64, words: usize) -> MsgTag {
    MsgTag::new(label, words, 0)
}

/// Shorthand for a tag with typed items.
pub fn tag_items(label: u64, words: usize, items: usize) -> MsgTag {
    MsgTag::new(label, words, items)
}
