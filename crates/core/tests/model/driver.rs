//! Drives a World and the model with the same operations and compares them after every
//! step: every completed system call's result, every thread's state, send queues, pending
//! IRQs, the line mask, every task's mappings as the page tables say, and the clock.

use pecan_abi::layout::ROOT_PHYS_BASE;
use pecan_abi::object::{any, factory, irq, task, thread};
use pecan_abi::{Fpage, MemRights, MsgTag, Status, Sys, Timeout, proto};
use pecan_core::Handle;
use pecan_core::list::Which;
use pecan_core::mdb::{NODE_COST, Resource};
use pecan_core::obj::ObjRef;
use pecan_core::thread::{Filter, Source, State};
use pecan_core::{Config, Kernel};
use pecan_hal::VirtAddr;
use pecan_mm::PageTable;
use pecan_sim::{Sim, SimPte};

use super::maps::ROOT;
use super::{HW, MFilter, MState, Model, Msg, NG, NQ, NT, Outcome, To};
use crate::common::{Th, World, ram, tag};

/// Tasks.
pub const NTASK: usize = 3;
/// Page slots per task.
pub const NPAGE: usize = 4;
/// Frames of root's memory the scenes map.
pub const NFRAME: usize = 6;
/// The task of each thread.
pub const TASK_OF: [usize; NT] = [0, 0, 1, 1, 2];

const GATES: u64 = 10;
const THREADS: u64 = 20;
const TASKS: u64 = 30;
const IRQS: u64 = 40;

/// Page `p` of a task.
pub fn va(p: usize) -> u64 {
    0x100_0000 + p as u64 * 0x1000
}

/// Frame `f` of root's memory.
pub fn frame(f: usize) -> u64 {
    ram(0x80_0000 + f as u64 * 0x1000)
}

/// What a closed wait names.
#[derive(Clone, Copy, Debug)]
pub enum Src {
    Nil,
    Gate(u8),
    Thread(u8),
    Irq(u8),
}

/// An operation root performs (through the controller when a test thread runs).
#[derive(Clone, Copy, Debug)]
pub enum RootOp {
    Cancel(u8),
    Suspend(u8),
    Start(u8),
    SetRegs(u8),
    SetPrio(u8, u8),
    DestroyThread(u8),
    DestroyGate(u8),
    DestroyIrq(u8),
    Detach(u8),
    Attach(u8, u8),
    Map { frame: u8, task: u8, page: u8, rights: u8 },
    Unmap { task: u8, page: u8, with_self: bool },
}

/// One step: a system call of the running thread, time, an interrupt, or a root action.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    Send { gate: u8, words: u8, snd: To },
    Call { gate: u8, words: u8, snd: To, rcv: To },
    Reply { words: u8 },
    ReplyWait { words: u8, rcv: To },
    Wait { rcv: To },
    Recv { src: Src, rcv: To },
    Yield,
    Trigger { irq: u8 },
    Ack,
    Map { page: u8, task: u8, to_page: u8, rights: u8, grant: bool },
    Unmap { task: u8, page: u8, with_self: bool },
    Tick { n: u8 },
    Interrupt,
    Root(RootOp),
}

/// Priorities the scenes use.
pub const PRIOS: [u8; 4] = [90, 100, 110, 120];
/// Rights the scenes use.
pub const RIGHTS: [u8; 4] = [4, 6, 5, 7];

fn timeout(t: To) -> Timeout {
    match t {
        To::Zero => Timeout::ZERO,
        To::Never => Timeout::NEVER,
        To::Ms(n) => Timeout::from_micros(n.max(1) as u64 * 1000),
    }
}

/// A world and its model.
pub struct Scene {
    pub w: World,
    pub m: Model,
    pub th: Vec<Th>,
    pub gates: Vec<u64>,
    pub irqs: Vec<u64>,
    pub tasks: Vec<u64>,
    pub ctl: Th,
    /// The running thread after every step (test-thread index, NT for root), for digests.
    pub trace: Vec<u8>,
    seq: u64,
    root_used: u64,
    first_slot: u64,
}

impl Scene {
    /// A scene: 3 tasks, 5 threads at `prios`, 6 gates, 2 software IRQs and line 5, two
    /// pages per task; every task holds every gate, thread, task and IRQ capability.
    pub fn new(prios: [u8; NT], asids: usize) -> Scene {
        let config =
            Config { max_threads: 16, max_tasks: 8, max_gates: 16, max_irqs: 8, ..Config::default() };
        let mut w = World::with_frames(asids, config, 256 << 10);
        // Setup is the same every time: check once at the end, not after every call.
        w.checks = false;
        let ctl = w.ctl();
        let root_used = w.k.factories.iter().next().map_or(0, |f| f.1.used);
        let first_slot = w.slot();
        let tasks: Vec<u64> = (0..NTASK).map(|_| w.new_task()).collect();
        let th: Vec<Th> = (0..NT).map(|i| w.new_thread(tasks[TASK_OF[i]], prios[i] as u64)).collect();
        let mut gates: Vec<u64> = (0..NT).map(|i| w.new_gate(th[i], 0x100 + i as u64)).collect();
        gates.push(w.new_gate(th[0], 0x100 + NT as u64));
        let mut irqs: Vec<u64> = (0..2).map(|_| w.new_irq()).collect();
        irqs.push(World::IRQ_LINE5);
        for (q, t, label) in [(0, 1, 0x51), (1, 3, 0x52), (2, 2, 0x55)] {
            w.invoke_ok(w.root, irqs[q], irq::ATTACH, &[th[t].slot, label]);
        }
        for &t in &tasks {
            for (j, &g) in gates.iter().enumerate() {
                w.give_cap(g, t, GATES + j as u64);
            }
            for (i, x) in th.iter().enumerate() {
                w.give_cap(x.slot, t, THREADS + i as u64);
            }
            for (k, &x) in tasks.iter().enumerate() {
                w.give_cap(x, t, TASKS + k as u64);
            }
            for (q, &x) in irqs.iter().enumerate() {
                w.give_cap(x, t, IRQS + q as u64);
            }
        }
        let mut m = Model::new(&prios, &TASK_OF);
        for (k, &t) in tasks.iter().enumerate() {
            for p in 0..2 {
                let f = frame(2 * k + p);
                w.give_page(f, t, va(p), MemRights::RW);
                m.maps.window(ROOT_PHYS_BASE + f, f);
                m.maps.map(ROOT, ROOT_PHYS_BASE + f, k, va(p), 6, false);
            }
        }
        for x in &th {
            w.start(*x);
        }
        w.go();
        w.checks = true;
        w.check_now();
        let mut sc =
            Scene { w, m, th, gates, irqs, tasks, ctl, trace: Vec::new(), seq: 0, root_used, first_slot };
        sc.compare();
        sc
    }

    fn running(&self) -> Option<usize> {
        let c = self.w.cur()?;
        self.th.iter().position(|x| x.h == c)
    }

    fn next_msg(&mut self, words: u8) -> Msg {
        self.seq += 1;
        let n = words as usize % 11;
        Msg { label: 0x1000 + self.seq, words: (0..n as u64).map(|k| self.seq << 8 | k).collect() }
    }

    /// Performs one operation on the world and the model and compares them.
    pub fn step(&mut self, op: &Op) {
        self.m.done.clear();
        match (*op, self.running()) {
            (Op::Tick { n }, _) => self.ticks(1 + n as u64 % 4),
            (Op::Interrupt, _) if !self.m.line_masked => {
                self.w.interrupt(5);
                self.m.interrupt();
            }
            (Op::Interrupt, _) => self.ticks(1),
            (Op::Root(r), Some(_)) => {
                let ctl = self.ctl;
                self.w.interrupt(6);
                assert_eq!(self.w.cur(), Some(ctl.h), "controller runs");
                self.root_op(r, ctl.h);
                self.w.invoke_ok(ctl.h, World::IRQ_LINE6, irq::ACK, &[]);
                self.w.wait(ctl.h);
            }
            (Op::Root(r), None) => {
                let root = self.w.root;
                assert_eq!(self.w.cur(), Some(root), "root runs when no test thread is ready");
                self.root_op(r, root);
            }
            (_, None) => self.ticks(1),
            (op, Some(t)) => self.thread_op(op, t),
        }
        self.compare();
        self.trace.push(self.running().map_or(NT as u8, |t| t as u8));
    }

    fn ticks(&mut self, n: u64) {
        for _ in 0..n {
            self.w.tick(1);
            self.m.tick();
        }
    }

    fn thread_op(&mut self, op: Op, t: usize) {
        let h = self.th[t].h;
        let never = Timeout::NEVER;
        match op {
            Op::Send { gate, words, snd } => {
                let g = gate as usize % NG;
                let msg = self.next_msg(words);
                let tg = MsgTag::new(msg.label, msg.words.len(), 0);
                self.w.sys(h, Sys::Send, GATES + g as u64, tg, &msg.words, timeout(snd), never);
                self.m.send(t, g, false, msg, snd, To::Never);
            }
            Op::Call { gate, words, snd, rcv } => {
                let g = gate as usize % NG;
                let msg = self.next_msg(words);
                let tg = MsgTag::new(msg.label, msg.words.len(), 0);
                self.w.sys(h, Sys::Call, GATES + g as u64, tg, &msg.words, timeout(snd), timeout(rcv));
                self.m.send(t, g, true, msg, snd, rcv);
            }
            Op::Reply { words } => {
                let msg = self.next_msg(words);
                let tg = MsgTag::new(msg.label, msg.words.len(), 0);
                self.w.sys(h, Sys::Reply, 0, tg, &msg.words, never, never);
                self.m.reply(t, msg, None);
            }
            Op::ReplyWait { words, rcv } => {
                let msg = self.next_msg(words);
                let tg = MsgTag::new(msg.label, msg.words.len(), 0);
                self.w.sys(h, Sys::ReplyWait, 0, tg, &msg.words, never, timeout(rcv));
                self.m.reply(t, msg, Some(rcv));
            }
            Op::Wait { rcv } => {
                self.w.sys(h, Sys::Wait, 0, tag(0, 0), &[], never, timeout(rcv));
                self.m.wait(t, rcv);
            }
            Op::Recv { src, rcv } => {
                let (sel, f) = match src {
                    Src::Nil => (0, None),
                    Src::Gate(g) => (GATES + (g as usize % NG) as u64, Some(MFilter::Gate(g as usize % NG))),
                    Src::Thread(i) => {
                        (THREADS + (i as usize % NT) as u64, Some(MFilter::Thread(i as usize % NT)))
                    }
                    Src::Irq(q) => (IRQS + (q as usize % NQ) as u64, Some(MFilter::Irq(q as usize % NQ))),
                };
                self.w.sys(h, Sys::Recv, sel, tag(0, 0), &[], never, timeout(rcv));
                self.m.recv(t, f, rcv);
            }
            Op::Yield => {
                self.w.yield_(h);
                self.m.done.push((t, Outcome::ok()));
            }
            Op::Trigger { irq: q } => {
                let q = q as usize % NQ;
                self.w.sys(h, Sys::Invoke, IRQS + q as u64, tag(irq::TRIGGER, 0), &[], never, never);
                self.m.trigger(t, q);
            }
            Op::Ack => {
                self.w.sys(h, Sys::Invoke, IRQS + HW as u64, tag(irq::ACK, 0), &[], never, never);
                self.m.ack(t);
            }
            Op::Map { page, task: k, to_page, rights, grant } => {
                let (k, p, p2) = (k as usize % NTASK, page as usize % NPAGE, to_page as usize % NPAGE);
                let r = RIGHTS[rights as usize % RIGHTS.len()];
                let fp = Fpage::memory(va(p), 12, MemRights(r)).0;
                let args = [fp, va(p2), grant as u64];
                self.w.sys(h, Sys::Invoke, TASKS + k as u64, tag(task::MAP, 3), &args, never, never);
                self.m.maps.map(TASK_OF[t], va(p), k, va(p2), r, grant);
                self.m.done.push((t, Outcome::ok()));
            }
            Op::Unmap { task: k, page, with_self } => {
                let (k, p) = (k as usize % NTASK, page as usize % NPAGE);
                let fp = Fpage::memory(va(p), 12, MemRights::RWX).0;
                let args = [fp, if with_self { task::UNMAP_SELF } else { 0 }];
                self.w.sys(h, Sys::Invoke, TASKS + k as u64, tag(task::UNMAP, 2), &args, never, never);
                self.m.maps.unmap_at(k, va(p), with_self);
                self.m.done.push((t, Outcome::ok()));
            }
            Op::Tick { .. } | Op::Interrupt | Op::Root(_) => unreachable!(),
        }
    }

    /// A root action, issued by `by` (root or the controller) with root's capabilities.
    fn root_op(&mut self, r: RootOp, by: Handle) {
        let ti = |i: u8| i as usize % NT;
        let (slot, method, args, want): (u64, u64, Vec<u64>, Result<(), pecan_abi::Error>) = match r {
            RootOp::Cancel(i) => (self.th[ti(i)].slot, thread::CANCEL, vec![], self.m.cancel(ti(i))),
            RootOp::Suspend(i) => (self.th[ti(i)].slot, thread::SUSPEND, vec![], self.m.suspend(ti(i))),
            RootOp::Start(i) => (self.th[ti(i)].slot, thread::START, vec![], self.m.start(ti(i))),
            RootOp::SetRegs(i) => {
                (self.th[ti(i)].slot, thread::SET_REGS, vec![0x40_0000, 0x7000_0000, 0], self.m.cancel(ti(i)))
            }
            RootOp::SetPrio(i, p) => {
                let p = PRIOS[p as usize % PRIOS.len()];
                (self.th[ti(i)].slot, thread::SET_PRIORITY, vec![p as u64], self.m.set_prio(ti(i), p))
            }
            RootOp::DestroyThread(i) => {
                (self.th[ti(i)].slot, any::DESTROY, vec![], self.m.destroy_thread(ti(i)))
            }
            RootOp::DestroyGate(g) => {
                let g = g as usize % NG;
                (self.gates[g], any::DESTROY, vec![], self.m.destroy_gate(g))
            }
            RootOp::DestroyIrq(q) => {
                let q = q as usize % 2;
                (self.irqs[q], any::DESTROY, vec![], self.m.destroy_irq(q))
            }
            RootOp::Detach(q) => {
                let q = q as usize % NQ;
                (self.irqs[q], irq::DETACH, vec![], self.m.detach(q))
            }
            RootOp::Attach(q, i) => {
                let (q, t) = (q as usize % NQ, ti(i));
                let label = 0x50 + (q as u64) * 16 + t as u64;
                (self.irqs[q], irq::ATTACH, vec![self.th[t].slot, label], self.m.attach(q, t, label))
            }
            RootOp::Map { frame: f, task: k, page, rights } => {
                let (f, k, p) = (frame(f as usize % NFRAME), k as usize % NTASK, page as usize % NPAGE);
                let r = RIGHTS[rights as usize % RIGHTS.len()];
                self.m.maps.window(ROOT_PHYS_BASE + f, f);
                self.m.maps.map(ROOT, ROOT_PHYS_BASE + f, k, va(p), r, false);
                let fp = Fpage::memory(ROOT_PHYS_BASE + f, 12, MemRights(r)).0;
                (self.tasks[k], task::MAP, vec![fp, va(p)], Ok(()))
            }
            RootOp::Unmap { task: k, page, with_self } => {
                let (k, p) = (k as usize % NTASK, page as usize % NPAGE);
                self.m.maps.unmap_at(k, va(p), with_self);
                let fp = Fpage::memory(va(p), 12, MemRights::RWX).0;
                (self.tasks[k], task::UNMAP, vec![fp, if with_self { task::UNMAP_SELF } else { 0 }], Ok(()))
            }
        };
        let got = self.w.invoke(by, slot, method, &args).map(|_| ());
        assert_eq!(got, want, "{r:?}");
    }

    // ---- comparison ------------------------------------------------------------------

    fn idx(&self, h: Handle) -> usize {
        self.th.iter().position(|x| x.h == h).unwrap_or_else(|| panic!("{h:?} is no test thread"))
    }

    fn filter_of(&self, f: Filter) -> MFilter {
        let k = &self.w.k;
        match f {
            Filter::Any => MFilter::Any,
            Filter::Nil => MFilter::Nil,
            Filter::Thread(t) => MFilter::Thread(self.idx(t)),
            Filter::Gate(g) => MFilter::Gate(
                (0..NG).find(|&j| gate_handle(k, self.gates[j]) == Some(g)).expect("a known gate"),
            ),
            Filter::Irq(i) => {
                MFilter::Irq((0..NQ).find(|&q| irq_handle(k, self.irqs[q]) == Some(i)).expect("a known IRQ"))
            }
        }
    }

    /// Compares the kernel with the model.
    pub fn compare(&mut self) {
        // Results of the system calls that completed in this step.
        let done = std::mem::take(&mut self.m.done);
        for (t, o) in &done {
            let ret = self.w.ret(self.th[*t].h);
            let ok = match o {
                Outcome::Ok { label, tag_label, words } => {
                    ret.status == Status::OK
                        && ret.label == *label
                        && ret.tag == MsgTag::new(*tag_label, words.len(), 0)
                        && ret.words == *words
                }
                Outcome::Irq { label } => {
                    ret.status == Status::OK
                        && ret.label == *label
                        && ret.tag == MsgTag::new(proto::IRQ, 0, 0)
                }
                Outcome::Err(e, ph) => ret.err() == Some((*e, *ph)),
            };
            assert!(ok, "thread {t}: kernel returned {ret:?}, model says {o:?}");
        }
        self.m.done = done;
        // Thread states, queues and pending IRQs.
        for t in 0..NT {
            let h = self.th[t].h;
            let mt = &self.m.th[t];
            assert_eq!(self.w.k.threads.contains(h), mt.alive, "thread {t} alive");
            if !mt.alive {
                continue;
            }
            let kt = self.w.k.threads.get(h).unwrap();
            let state = match kt.state {
                State::Ready => MState::Ready,
                State::Inactive => MState::Inactive,
                State::Sending { call, source: Source::User, gate, .. } => {
                    let MState::Sending { gate: mg, msg, rcv, .. } = &mt.state else {
                        panic!("thread {t}: kernel {:?}, model {:?}", kt.state, mt.state)
                    };
                    assert_eq!(
                        gate_handle(&self.w.k, self.gates[*mg]),
                        Some(gate),
                        "thread {t} sends through"
                    );
                    MState::Sending { gate: *mg, call, msg: msg.clone(), rcv: *rcv }
                }
                State::Receiving(f) => MState::Receiving(self.filter_of(f)),
                State::WaitReply { callee, source: Source::User } => {
                    MState::WaitReply { callee: self.idx(callee) }
                }
                s => panic!("thread {t}: unexpected {s:?}"),
            };
            assert_eq!(state, mt.state, "thread {t} state");
            assert_eq!(kt.prio, mt.prio, "thread {t} priority");
            let q: Vec<usize> =
                kt.send_queue.collect(&self.w.k.threads, Which::Wait).iter().map(|h| self.idx(*h)).collect();
            assert_eq!(q, self.m.queues[t].iter().copied().collect::<Vec<_>>(), "thread {t} send queue");
            let pend: Vec<usize> = kt
                .pending_irqs
                .collect(&self.w.k.irqs, Which::Irq)
                .iter()
                .map(|i| (0..NQ).find(|&q| irq_handle(&self.w.k, self.irqs[q]) == Some(*i)).unwrap())
                .collect();
            assert_eq!(
                pend,
                self.m.pending[t].iter().copied().collect::<Vec<_>>(),
                "thread {t} pending IRQs"
            );
        }
        // IRQ objects and the line.
        for q in 0..NQ {
            let h = irq_handle(&self.w.k, self.irqs[q]);
            let mi = &self.m.irqs[q];
            assert_eq!(h.is_some(), mi.alive, "IRQ {q} alive");
            if let Some(h) = h {
                let ki = self.w.k.irqs.get(h).unwrap();
                assert_eq!(ki.pending, mi.pending, "IRQ {q} pending");
                assert_eq!(ki.target.map(|(t, l)| (self.idx(t), l)), mi.target, "IRQ {q} target");
            }
        }
        assert_eq!(self.w.masked(5), self.m.line_masked, "line 5 mask");
        assert_eq!(self.w.k.wheel.now, self.m.now);
        // Mappings: the page tables say exactly what the model says.
        for k in 0..NTASK {
            let th = task_handle(&self.w.k, self.tasks[k]).expect("task alive");
            let root = self.w.k.tasks.get(th).unwrap().root;
            let view = self.m.maps.view(k);
            for p in 0..NPAGE {
                let got = PageTable::<SimPte>::new(root).lookup(&self.w.k.hal.mem, VirtAddr(va(p)));
                let want = view.get(&va(p));
                match (got, want) {
                    (None, None) => {}
                    (Some((pa, a)), Some(&(f, r))) => {
                        assert_eq!(pa.0, f, "task {k} page {p} frame");
                        let rights = (a.read as u8) << 2 | (a.write as u8) << 1 | a.exec as u8;
                        let want_r = r | if r & 1 != 0 { 4 } else { 0 };
                        assert_eq!(rights, want_r, "task {k} page {p} rights");
                    }
                    (g, w) => panic!("task {k} page {p}: kernel {g:?}, model {w:?}"),
                }
            }
            let nodes = self
                .w
                .k
                .mdb
                .iter()
                .filter(|(_, n)| n.task == th && matches!(n.res, Resource::Frame(_)))
                .count();
            assert_eq!(nodes, view.len(), "task {k} mapping nodes");
        }
        // The running thread touches its memory, filling the TLB: a missing flush later
        // shows up as a stale entry in the World's checks.
        if let Some(t) = self.running() {
            for (v, (_, r)) in self.m.maps.view(TASK_OF[t]) {
                let _ = self.w.k.hal.user_access(v, r & 2 != 0);
            }
        }
    }

    /// Ends the scene: everything the scene made is destroyed and every byte and frame
    /// comes back (root keeps only its window pages' original nodes).
    pub fn finish(mut self) {
        let k = &mut self.w.k;
        for &t in &self.tasks {
            if let Some(h) = task_handle(k, t) {
                k.destroy(ObjRef::Task(h)).expect("task destroyed");
            }
        }
        for &g in &self.gates {
            if let Some(h) = gate_handle(k, g) {
                k.destroy(ObjRef::Gate(h)).expect("gate destroyed");
            }
        }
        for &q in &self.irqs[..2] {
            if let Some(h) = irq_handle(k, q) {
                k.destroy(ObjRef::Irq(h)).expect("IRQ destroyed");
            }
        }
        k.schedule();
        k.prepare_return();
        self.w.check_now();
        assert_eq!(self.w.k.threads.len(), 2, "only root and the controller are left");
        // Root keeps its (stale) capabilities to what the scene made, and its window pages'
        // original nodes; everything else came back.
        let root_task = self.w.root_task;
        let last = self.w.slot();
        let caps = (self.first_slot..last)
            .filter(|&s| self.w.k.tasks.get(root_task).is_some_and(|t| t.caps.get(s).is_ok()))
            .count() as u64;
        let used = self.w.k.factories.iter().next().map_or(0, |f| f.1.used);
        let windows = self.m.maps.window_nodes() as u64;
        assert_eq!(used, self.root_used + (windows + caps) * NODE_COST, "root's quota is back");
        let _ = factory::QUOTA;
    }
}

fn task_handle(k: &Kernel<Sim>, slot: u64) -> Option<Handle> {
    match k.lookup(k.root_task?, slot).ok()?.obj {
        ObjRef::Task(t) => Some(t),
        _ => None,
    }
}

fn gate_handle(k: &Kernel<Sim>, slot: u64) -> Option<Handle> {
    match k.lookup(k.root_task?, slot).ok()?.obj {
        ObjRef::Gate(g) => Some(g),
        _ => None,
    }
}

fn irq_handle(k: &Kernel<Sim>, slot: u64) -> Option<Handle> {
    match k.lookup(k.root_task?, slot).ok()?.obj {
        ObjRef::Irq(i) => Some(i),
        _ => None,
    }
}
