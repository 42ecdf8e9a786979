//! The kernel's invariants, checked after every step of every test.
//!
//! Wait lists agree with thread states; the ready lists hold at least every ready thread
//! (exactly the ready ones without lazy queues); no ready thread outranks the running one;
//! the mapping database agrees with page tables and capability spaces both ways, and a
//! derived mapping never has rights its parent lacks; every factory's usage is what its
//! live objects cost; every kernel frame is free, a page table or a UTCB.

use pecan_abi::layout::ROOT_PHYS_BASE;
use pecan_core::Kernel;
use pecan_core::list::Which;
use pecan_core::mdb::{NODE_COST, Resource};
use pecan_core::obj::Handle;
use pecan_core::obj::task::VmEntry;
use pecan_core::thread::{Filter, State};
use pecan_hal::{PAGE_SIZE, PhysAddr, PteKind, VirtAddr};
use pecan_mm::PageTable;
use pecan_sim::{Sim, SimPte};

/// Checks every invariant; `total_frames` is the number of kernel frames at boot. With
/// `walk_tables`, every page table is walked for leaves the database does not record (the
/// costly part: callers skip it while no page-table entry was written since the last walk).
pub fn check_invariants(k: &Kernel<Sim>, total_frames: usize, walk_tables: bool) {
    check_threads(k);
    check_ready(k);
    let nodes_of = check_mappings(k, walk_tables);
    check_quotas(k, &nodes_of);
    // Kernel frames: free + page tables + UTCBs = all.
    let pt: u64 = k.tasks.iter().map(|(_, t)| t.pt_frames).sum();
    let utcbs = k.threads.len() as u64;
    let long = k.long_ipc_frames() as u64;
    assert_eq!(k.frames.len() as u64 + pt + utcbs + long, total_frames as u64, "kernel frames leaked");
}

/// One state per thread, consistent with the wait lists it is in.
fn check_threads(k: &Kernel<Sim>) {
    for (h, t) in k.threads.iter() {
        let linked = t.wait_links.is_linked();
        match t.state {
            State::Sending { receiver, gate, .. } => {
                assert!(k.gates.contains(gate), "{h:?} sends through a dead gate");
                let r = k.threads.get(receiver).expect("sender's receiver alive");
                assert!(
                    r.send_queue.collect(&k.threads, Which::Wait).contains(&h),
                    "{h:?} in its receiver's send queue"
                );
            }
            // In no list: deleting the partner finds these by scanning the thread table.
            State::WaitReply { callee, .. } => {
                assert!(k.threads.contains(callee), "{h:?}'s callee alive");
                assert_ne!(callee, h, "{h:?} waits for its own reply");
            }
            State::Receiving(Filter::Thread(t2)) => {
                assert!(k.threads.contains(t2), "{h:?}'s closed-wait partner alive");
            }
            State::Receiving(Filter::Gate(g)) => {
                let gate = k.gates.get(g).expect("closed-wait gate alive");
                assert_eq!(gate.receiver.get(), Some(h), "{h:?} waits on a gate not bound to it");
            }
            State::Receiving(Filter::Irq(i)) => {
                let q = k.irqs.get(i).expect("closed-wait IRQ alive");
                assert_eq!(q.target.map(|x| x.0), Some(h), "{h:?} waits on an IRQ not attached to it");
            }
            _ => assert!(!linked, "{h:?} in {:?} is in a wait list", t.state),
        }
        if !matches!(t.state, State::Sending { .. }) {
            assert!(!linked, "{h:?} in {:?} is in a wait list", t.state);
        }
        check_long_ipc(k, h);
        for s in t.send_queue.collect(&k.threads, Which::Wait) {
            assert!(
                matches!(k.threads.get(s).unwrap().state, State::Sending { receiver, .. } if receiver == h)
            );
        }
        assert_eq!(t.send_queue.len(), t.send_queue.collect(&k.threads, Which::Wait).len());
        for i in t.pending_irqs.collect(&k.irqs, Which::Irq) {
            let q = k.irqs.get(i).unwrap();
            assert!(q.pending && q.target.map(|x| x.0) == Some(h));
        }
        if let Some(task) = k.tasks.get(t.task) {
            assert_eq!(task.vm.get(&t.utcb_va), Some(&VmEntry::Utcb(h)), "{h:?}'s UTCB recorded");
        } else {
            panic!("{h:?} lives in a dead task");
        }
    }
    // A pending IRQ with a target is in exactly that target's list.
    for (i, q) in k.irqs.iter() {
        if let (true, Some((t, _))) = (q.pending, q.target) {
            let th = k.threads.get(t).expect("IRQ target alive");
            assert!(th.pending_irqs.collect(&k.irqs, Which::Irq).contains(&i), "pending {i:?} listed");
        }
        if let Some((t, _)) = q.target {
            assert!(k.threads.contains(t), "IRQ {i:?} attached to a dead thread");
        }
    }
}

/// Long IPC: a sender's transfer names a live receiver that points back; a locked thread
/// is one of the two partners of a transfer; the count of transfers is right.
fn check_long_ipc(k: &Kernel<Sim>, h: Handle) {
    let t = k.threads.get(h).unwrap();
    if let Some(x) = t.xfer.as_ref() {
        let r = k.threads.get(x.receiver).expect("a transfer's receiver alive");
        assert_eq!(r.xfer_sender, Some(h), "{h:?}'s receiver knows its sender");
        assert!(t.xfer_sender.is_none(), "{h:?} sends and receives a long IPC at once");
    }
    if let Some(s) = t.xfer_sender {
        let st = k.threads.get(s).expect("a transfer's sender alive");
        assert_eq!(st.xfer.as_ref().map(|x| x.receiver), Some(h), "{h:?}'s sender sends to it");
    }
    if let State::Locked { partner } = t.state {
        let (s, r) = if t.xfer.is_some() { (h, partner) } else { (partner, h) };
        let st = k.threads.get(s).expect("locked partner alive");
        assert_eq!(st.xfer.as_ref().map(|x| x.receiver), Some(r), "{h:?} locked in a live transfer");
    }
    if h == k.threads.iter().next().map(|(h, _)| h).unwrap_or(h) {
        let n = k.threads.iter().filter(|(_, t)| t.xfer.is_some()).count() as u32;
        assert_eq!(k.long.active, n, "transfers counted");
        assert!(k.long.window.owner.is_none(), "the window never outlives a copy");
    }
}

/// Per CPU: its ready lists hold only threads of that CPU and at least every ready one
/// that does not run (the running one may be outside them while it runs on a donated
/// slice); a thread runs on at most one CPU, its own; the running thread is ready and
/// outranked by no ready thread of its CPU, unless a reschedule is pending there (another
/// CPU woke something and sent it an IPI, not yet taken).
fn check_ready(k: &Kernel<Sim>) {
    // Queued, by table index (a plain vector: this runs after every step).
    let mut queued: Vec<Option<usize>> = vec![None; k.threads.capacity() + 1];
    for (cpu, pc) in k.percpu.iter().enumerate() {
        for h in pc.sched.queued(&k.threads) {
            let t = k.threads.get(h).expect("a dead thread is queued");
            assert_eq!(t.cpu as usize, cpu, "{h:?} of CPU {} queued on CPU {cpu}", t.cpu);
            assert!(queued[h.idx as usize].is_none(), "{h:?} is queued twice");
            queued[h.idx as usize] = Some(cpu);
        }
        assert!(pc.sched.bitmap_consistent());
    }
    let running: Vec<Option<Handle>> = k.percpu.iter().map(|pc| pc.sched.current.get()).collect();
    for (cpu, c) in running.iter().enumerate() {
        let Some(c) = *c else { continue };
        assert_eq!(running.iter().filter(|x| **x == Some(c)).count(), 1, "{c:?} runs on two CPUs");
        let ct = k.threads.get(c).expect("current alive");
        assert_eq!(ct.state, State::Ready, "running thread is ready");
        assert_eq!(ct.cpu as usize, cpu, "{c:?} of CPU {} runs on CPU {cpu}", ct.cpu);
    }
    for (h, t) in k.threads.iter() {
        let runs = running.contains(&Some(h));
        if t.state == State::Ready && !runs {
            assert_eq!(queued[h.idx as usize], Some(t.cpu as usize), "ready {h:?} not queued on its CPU");
        }
        if !pecan_core::sched::LAZY && t.state != State::Ready {
            assert!(queued[h.idx as usize].is_none(), "blocked {h:?} queued without lazy queues");
        }
    }
    for (cpu, pc) in k.percpu.iter().enumerate() {
        if pc.sched.need_resched && cpu != k.cpu {
            continue; // an IPI on its way
        }
        let ready_here = k.threads.iter().filter(|(_, t)| t.state == State::Ready && t.cpu as usize == cpu);
        match pc.sched.current.get() {
            Some(c) => {
                let prio = k.threads.get(c).map_or(0, |t| t.prio);
                for (_, t) in ready_here {
                    assert!(t.prio <= prio, "a ready thread outranks the running one on CPU {cpu}");
                }
            }
            None => assert!(ready_here.count() == 0, "CPU {cpu} idle with a ready thread"),
        }
    }
}

/// Per live task (by table index): its mapping nodes and, of those, capability nodes.
struct NodesOf(Vec<(u64, u64)>);

impl NodesOf {
    fn get(&self, t: Handle) -> (u64, u64) {
        self.0.get(t.idx as usize).copied().unwrap_or((0, 0))
    }
}

/// The mapping database agrees with page tables and capability spaces, both ways. Returns
/// per task: (nodes, capability nodes).
fn check_mappings(k: &Kernel<Sim>, walk_tables: bool) -> NodesOf {
    let mut nodes_of = NodesOf(vec![(0, 0); k.tasks.capacity()]);
    for (id, n) in k.mdb.iter() {
        let task = k.tasks.get(n.task).expect("node's task alive");
        let e = &mut nodes_of.0[n.task.idx as usize];
        e.0 += 1;
        e.1 += (n.res == Resource::Cap) as u64;
        if let Some(p) = n.parent {
            let pn = k.mdb.get(p).expect("parent alive");
            assert_eq!(pn.res, n.res, "derived node maps the same resource");
            assert_eq!(n.rights & !pn.rights, 0, "derived node {id:?} has rights its parent lacks");
        }
        match n.res {
            Resource::Frame(pa) => {
                assert_eq!(task.vm.get(&n.addr), Some(&VmEntry::Node(id)));
                assert_ne!(n.rights, 0, "a memory mapping without rights");
                let pte = PageTable::<SimPte>::new(task.root).lookup(&k.hal.mem, VirtAddr(n.addr));
                if let Some((frame, attrs)) = pte {
                    assert_eq!(frame, pa, "page table maps the node's frame");
                    assert_eq!(attrs.write, n.rights & 2 != 0, "page table has the node's write right");
                } else {
                    // Only the root task's window pages may be recorded before they are touched.
                    assert!(
                        n.parent.is_none() && n.addr >= ROOT_PHYS_BASE,
                        "mapping without a page-table entry"
                    );
                }
            }
            Resource::Cap => {
                let slot = task.caps.get(n.addr).expect("capability node in its slot");
                assert_eq!(slot.node, id);
                assert_eq!(slot.cap.rights.0, n.rights, "slot and node agree on rights");
            }
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
        // Every capability node is in its slot (checked above), and there are as many
        // occupied slots as capability nodes: the two agree both ways.
        let caps = nodes_of.get(th).1 as usize;
        assert_eq!(task.caps.len(), caps, "capability slots without a node");
        // Every user leaf in the page table is recorded.
        if !walk_tables {
            continue;
        }
        let mut leaves = Vec::new();
        walk(&k.hal.mem, task.root, 3, 0, &mut leaves);
        for va in leaves {
            assert!(task.vm.contains_key(&va), "page {va:#x} mapped but not recorded");
        }
    }
    nodes_of
}

/// Quotas balance: every factory's usage is what its live objects cost.
fn check_quotas(k: &Kernel<Sim>, nodes_of: &NodesOf) {
    let tcb = core::mem::size_of::<pecan_core::thread::Tcb<pecan_sim::SimContext>>() as u64 + PAGE_SIZE;
    for (f, fa) in k.factories.iter() {
        let mut used = 0u64;
        used += k.threads.iter().filter(|(_, t)| t.charged_to == f).count() as u64 * tcb;
        for (th, t) in k.tasks.iter() {
            if t.charged_to == f {
                let order = t.caps.size().trailing_zeros() as u8;
                used += core::mem::size_of::<pecan_core::obj::task::Task>() as u64
                    + pecan_core::obj::cap::CapSpace::cost(order)
                    + PAGE_SIZE;
                used += (t.pt_frames - 1) * PAGE_SIZE;
                used += nodes_of.get(th).0 * NODE_COST;
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
        assert!(fa.used <= fa.limit, "factory {f:?} over its quota");
    }
}

fn walk(mem: &pecan_sim::SimMem, table: PhysAddr, level: usize, base: u64, out: &mut Vec<u64>) {
    let entries = if level == 3 { 256 } else { 512 };
    // An untouched page reads as zero: no entries.
    let Some(page) = mem.page(table.0) else { return };
    for i in 0..entries {
        let raw = u64::from_le_bytes(page[i * 8..i * 8 + 8].try_into().unwrap());
        if raw == 0 {
            continue;
        }
        let va = base + ((i as u64) << (12 + 9 * level));
        match pecan_sim::decode(raw, level) {
            PteKind::Invalid => {}
            PteKind::Table(next) => walk(mem, next, level - 1, va, out),
            PteKind::Leaf(..) => out.push(va),
        }
    }
}
