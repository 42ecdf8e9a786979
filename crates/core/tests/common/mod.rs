//! The test world: a kernel on the simulated machine with a root task, system calls issued
//! as whichever thread is running, and the kernel's invariants checked after every step.
#![allow(dead_code)]

use pecan_abi::caps::{ROOT_FACTORY, ROOT_THREAD};
use pecan_abi::layout::{ROOT_PHYS_BASE, USER_TOP};
use pecan_abi::object::{factory, thread};
use pecan_abi::utcb::offset;
use pecan_abi::{Control, Error, MsgTag, Phase, REG_MRS, Status, Sys, Timeout};
use pecan_core::list::Which;
use pecan_core::mdb::{NODE_COST, Resource};
use pecan_core::obj::task::VmEntry;
use pecan_core::obj::{Handle, ObjRef};
use pecan_core::thread::{Filter, State};
use pecan_core::{Config, Kernel, RootRegion};
use pecan_hal::{PAGE_SIZE, PhysAddr, PhysMem, PteKind, VirtAddr};
use pecan_mm::{FreeList, PageTable};
use pecan_sim::{Sim, SimPte};

/// Physical range of the kernel's own frames in the simulated machine.
pub const KERNEL_FRAMES: (u64, u64) = (0x1000_0000, 0x1000_0000 + (32 << 20));
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
        Self::with(0, Config { max_threads: 64, max_tasks: 16, max_gates: 64, ..Config::default() })
    }

    /// A world with `asids` ASIDs and `config`.
    pub fn with(asids: usize, config: Config) -> Self {
        let mut sim = Sim::new(asids);
        let mut frames = FreeList::new();
        frames.add_region(&mut sim.mem, KERNEL_FRAMES.0, KERNEL_FRAMES.1 - KERNEL_FRAMES.0);
        let total_frames = frames.len();
        let mut k = Kernel::new(sim, config, frames).expect("kernel");
        let regions = [
            RootRegion { base: ROOT_RAM.0, size: ROOT_RAM.1, device: false },
            RootRegion { base: ROOT_DEV.0, size: ROOT_DEV.1, device: true },
        ];
        let root_task = k.boot_root_task(&regions).expect("root task");
        let root = k.boot_root_thread(root_task, 0x40_0000, 0x7000_0000, &[5, 6]).expect("root thread");
        k.prepare_return();
        let mut w = World { k, root_task, root, total_frames, next_slot: 64, next_utcb: 0x10_0000_0000 };
        w.check();
        w
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

    /// Checks every invariant of the kernel's state.
    pub fn check(&mut self) {
        check_invariants(&self.k, self.total_frames);
        self.check_tlb();
    }

    /// No cached translation of the loaded address space disagrees with its page table.
    fn check_tlb(&mut self) {
        let Some((root, asid)) = self.k.hal.mmu.active else { return };
        let entries: Vec<_> =
            self.k.hal.mmu.tlb.iter().filter(|((a, _), _)| *a == asid.0).map(|(k, v)| (*k, *v)).collect();
        for ((_, page), (pa, attrs)) in entries {
            let now = PageTable::<SimPte>::new(root).lookup(&self.k.hal.mem, VirtAddr(page));
            assert_eq!(now, Some((pa, attrs)), "stale TLB entry for {page:#x}");
        }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

/// The kernel's invariants.
pub fn check_invariants(k: &Kernel<Sim>, total_frames: usize) {
    // Threads: one state, consistent with the lists they are in.
    for (h, t) in k.threads.iter() {
        let linked = t.wait_links.is_linked();
        match t.state {
            State::Sending { receiver, gate, .. } => {
                assert!(k.gates.contains(gate) || true, "gate may be gone only through deletion paths");
                let r = k.threads.get(receiver).expect("sender's receiver alive");
                assert!(
                    r.send_queue.collect(&k.threads, Which::Wait).contains(&h),
                    "{h:?} in its receiver's send queue"
                );
            }
            State::WaitReply { callee, .. } => {
                let c = k.threads.get(callee).expect("callee alive");
                assert!(
                    c.blocked_on_me.collect(&k.threads, Which::Wait).contains(&h),
                    "{h:?} waits in its callee's list"
                );
            }
            State::Receiving(Filter::Thread(t2)) => {
                let c = k.threads.get(t2).expect("closed-wait partner alive");
                assert!(c.blocked_on_me.collect(&k.threads, Which::Wait).contains(&h));
            }
            _ => assert!(!linked, "{h:?} in {:?} is in a wait list", t.state),
        }
        for s in t.send_queue.collect(&k.threads, Which::Wait) {
            assert!(
                matches!(k.threads.get(s).unwrap().state, State::Sending { receiver, .. } if receiver == h)
            );
        }
        for s in t.blocked_on_me.collect(&k.threads, Which::Wait) {
            let st = k.threads.get(s).unwrap().state;
            assert!(
                matches!(st, State::WaitReply { callee, .. } if callee == h)
                    || st == State::Receiving(Filter::Thread(h)),
                "{s:?} in {h:?}'s blocked list is {st:?}"
            );
        }
        for i in t.pending_irqs.collect(&k.irqs, Which::Irq) {
            let q = k.irqs.get(i).unwrap();
            assert!(q.pending && q.target.map(|x| x.0) == Some(h));
        }
    }
    // Ready lists hold at least every ready thread (the running one may be outside them
    // while it runs on a donated slice).
    let queued = k.sched.queued(&k.threads);
    for (h, t) in k.threads.iter() {
        if t.state == State::Ready && k.sched.current != Some(h) {
            assert!(queued.contains(&h), "ready {h:?} not queued");
        }
        if !pecan_core::sched::LAZY && t.state != State::Ready {
            assert!(!queued.contains(&h), "blocked {h:?} queued without lazy queues");
        }
    }
    assert!(k.sched.bitmap_consistent());
    // The running thread is ready and no ready thread outranks it.
    if let Some(c) = k.sched.current {
        let ct = k.threads.get(c).expect("current alive");
        assert_eq!(ct.state, State::Ready, "running thread is ready");
        for (_, t) in k.threads.iter() {
            if t.state == State::Ready {
                assert!(t.prio <= ct.prio, "a ready thread outranks the running one");
            }
        }
    } else {
        assert!(k.threads.iter().all(|(_, t)| t.state != State::Ready), "idle with a ready thread");
    }
    // The mapping database agrees with page tables and capability spaces, both ways.
    for (id, n) in k.mdb.iter() {
        let task = k.tasks.get(n.task).expect("node's task alive");
        if let Some(p) = n.parent {
            let pn = k.mdb.get(p).expect("parent alive");
            assert_eq!(pn.res, n.res, "derived node maps the same resource");
        }
        match n.res {
            Resource::Frame(pa) => {
                assert_eq!(task.vm.get(&n.addr), Some(&VmEntry::Node(id)));
                let pte = PageTable::<SimPte>::new(task.root).lookup(&k.hal.mem, VirtAddr(n.addr));
                if let Some((frame, _)) = pte {
                    assert_eq!(frame, pa, "page table maps the node's frame");
                } else {
                    // Only the root task's window pages may be recorded before they are touched.
                    assert!(
                        n.parent.is_none() && n.addr >= ROOT_PHYS_BASE,
                        "mapping without a page-table entry"
                    );
                }
            }
            Resource::Cap => assert_eq!(task.caps.get(n.addr).map(|s| s.node).ok(), Some(id)),
        }
    }
    for (th, task) in k.tasks.iter() {
        for (va, e) in &task.vm {
            match e {
                VmEntry::Node(n) => assert!(k.mdb.get(*n).is_some_and(|x| x.task == th && x.addr == *va)),
                VmEntry::Utcb(t) => {
                    assert!(k.threads.get(*t).is_some_and(|x| x.utcb_va == *va && x.task == th))
                }
            }
        }
        for (sel, s) in task.caps.iter() {
            assert!(k.mdb.get(s.node).is_some_and(|x| x.task == th && x.addr == sel));
        }
        // Every user leaf in the page table is recorded.
        let mut leaves = Vec::new();
        walk(&k.hal.mem, task.root, 3, 0, &mut leaves);
        for va in leaves {
            assert!(task.vm.contains_key(&va), "page {va:#x} mapped but not recorded");
        }
    }
    // Quotas balance: every factory's usage is what its live objects cost.
    for (f, fa) in k.factories.iter() {
        let mut used = 0u64;
        let tcb = core::mem::size_of::<pecan_core::thread::Tcb<pecan_sim::SimContext>>() as u64 + PAGE_SIZE;
        used += k.threads.iter().filter(|(_, t)| t.charged_to == f).count() as u64 * tcb;
        for (th, t) in k.tasks.iter() {
            if t.charged_to == f {
                let order = t.caps.size().trailing_zeros() as u8;
                used += core::mem::size_of::<pecan_core::obj::task::Task>() as u64
                    + pecan_core::obj::cap::CapSpace::cost(order)
                    + PAGE_SIZE;
                used += (t.pt_frames - 1) * PAGE_SIZE;
                used += k.mdb.iter().filter(|(_, n)| n.task == th).count() as u64 * NODE_COST;
            }
        }
        used += k.gates.iter().filter(|(_, g)| g.charged_to == f).count() as u64
            * core::mem::size_of::<pecan_core::obj::gate::Gate>() as u64;
        used += k.irqs.iter().filter(|(_, q)| q.charged_to == Some(f)).count() as u64
            * core::mem::size_of::<pecan_core::obj::irq::Irq>() as u64;
        for (_, sub) in k.factories.iter().filter(|(_, s)| s.parent == Some(f)) {
            used += sub.limit + core::mem::size_of::<pecan_core::obj::factory::Factory>() as u64;
        }
        assert_eq!(fa.used, used, "factory {f:?} quota balance");
    }
    // Kernel frames: free + page tables + UTCBs = all.
    let pt: u64 = k.tasks.iter().map(|(_, t)| t.pt_frames).sum();
    let utcbs = k.threads.len() as u64;
    assert_eq!(k.frames.len() as u64 + pt + utcbs, total_frames as u64, "kernel frames leaked");
    let _ = USER_TOP;
}

fn walk(mem: &pecan_sim::SimMem, table: PhysAddr, level: usize, base: u64, out: &mut Vec<u64>) {
    let entries = if level == 3 { 256 } else { 512 };
    for i in 0..entries {
        let raw = mem.read_u64(table.add(i as u64 * 8));
        let va = base + ((i as u64) << (12 + 9 * level));
        match pecan_sim::decode(raw, level) {
            PteKind::Invalid => {}
            PteKind::Table(next) => walk(mem, next, level - 1, va, out),
            PteKind::Leaf(..) => out.push(va),
        }
    }
}

/// Shorthand for a tag.
pub fn tag(label: u64, words: usize) -> MsgTag {
    MsgTag::new(label, words, 0)
}
