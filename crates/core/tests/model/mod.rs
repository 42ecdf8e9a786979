//! A small reference model of the kernel's semantics for the property tests: threads and
//! their IPC states, send queues, reply capabilities, timeouts in ticks, gates, IRQs with a
//! hardware line's mask, and the mapping tree of memory pages. It says what every system
//! call returns and which state every thread is in; the driver compares the kernel with it
//! after every step.
#![allow(dead_code)]

pub mod driver;
pub mod maps;

use std::collections::{HashSet, VecDeque};

use pecan_abi::{Error, Phase};

/// Test threads.
pub const NT: usize = 5;
/// Gates: gate `i < NT` is bound to thread `i`; the last one to thread 0 as well.
pub const NG: usize = NT + 1;
/// IRQs: two software ones and the hardware one of line 5 (index `HW`).
pub const NQ: usize = 3;
/// The hardware IRQ.
pub const HW: usize = 2;

/// A timeout as the tests choose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum To {
    /// 0.
    Zero,
    /// Never.
    Never,
    /// This many milliseconds (ticks at 1 kHz), at least 1.
    Ms(u8),
}

/// A message: its tag label and words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub label: u64,
    pub words: Vec<u64>,
}

/// What a receiver accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MFilter {
    Any,
    Gate(usize),
    Thread(usize),
    Irq(usize),
    Nil,
}

/// A thread's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MState {
    Ready,
    Inactive,
    Sending { gate: usize, call: bool, msg: Msg, rcv: To },
    Receiving(MFilter),
    WaitReply { callee: usize },
}

impl MState {
    fn blocked(&self) -> bool {
        !matches!(self, MState::Ready | MState::Inactive)
    }
}

/// What a completed system call returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Success: the gate label, the tag's label and the words.
    Ok { label: u64, tag_label: u64, words: Vec<u64> },
    /// An IRQ message with this attach label.
    Irq { label: u64 },
    /// An error in a phase.
    Err(Error, Phase),
}

impl Outcome {
    /// Plain success with nothing in it.
    pub fn ok() -> Outcome {
        Outcome::Ok { label: 0, tag_label: 0, words: vec![] }
    }
}

/// A thread.
#[derive(Clone, Debug)]
pub struct MThread {
    pub alive: bool,
    pub prio: u8,
    pub task: usize,
    pub state: MState,
    pub deadline: Option<u64>,
    pub reply_to: Option<(usize, u32)>,
    pub calls: u32,
}

/// A gate.
#[derive(Clone, Debug)]
pub struct MGate {
    pub alive: bool,
    pub receiver: Option<usize>,
    pub label: u64,
}

/// An IRQ object.
#[derive(Clone, Debug)]
pub struct MIrq {
    pub alive: bool,
    pub target: Option<(usize, u64)>,
    pub pending: bool,
}

/// The model.
pub struct Model {
    pub th: Vec<MThread>,
    pub queues: Vec<VecDeque<usize>>,
    pub pending: Vec<VecDeque<usize>>,
    pub gates: Vec<MGate>,
    pub irqs: Vec<MIrq>,
    pub line_masked: bool,
    pub now: u64,
    /// Completions of the current step: (thread, outcome).
    pub done: Vec<(usize, Outcome)>,
    /// Message labels delivered so far (each at most once).
    pub delivered: HashSet<u64>,
    pub maps: maps::Maps,
}

fn ticks(t: To) -> Option<u64> {
    match t {
        To::Ms(n) => Some(n.max(1) as u64),
        _ => None,
    }
}

impl Model {
    /// The model of a fresh scene: every thread ready.
    pub fn new(prios: &[u8], tasks: &[usize]) -> Model {
        let th = (0..NT)
            .map(|i| MThread {
                alive: true,
                prio: prios[i],
                task: tasks[i],
                state: MState::Ready,
                deadline: None,
                reply_to: None,
                calls: 0,
            })
            .collect();
        let mut gates: Vec<MGate> =
            (0..NT).map(|i| MGate { alive: true, receiver: Some(i), label: 0x100 + i as u64 }).collect();
        gates.push(MGate { alive: true, receiver: Some(0), label: 0x100 + NT as u64 });
        let irqs = vec![
            MIrq { alive: true, target: Some((1, 0x51)), pending: false },
            MIrq { alive: true, target: Some((3, 0x52)), pending: false },
            MIrq { alive: true, target: Some((2, 0x55)), pending: false },
        ];
        Model {
            th,
            queues: vec![VecDeque::new(); NT],
            pending: vec![VecDeque::new(); NT],
            gates,
            irqs,
            line_masked: false,
            now: 0,
            done: Vec::new(),
            delivered: HashSet::new(),
            maps: maps::Maps::default(),
        }
    }

    fn complete(&mut self, t: usize, o: Outcome) {
        self.done.push((t, o));
    }

    fn fail(&mut self, t: usize, e: Error, phase: Phase) {
        self.complete(t, Outcome::Err(e, phase));
    }

    /// Blocks `t` in `state` with timeout `to`; false for timeout 0.
    fn block(&mut self, t: usize, state: MState, to: To) -> bool {
        if to == To::Zero {
            return false;
        }
        self.th[t].state = state;
        self.th[t].deadline = ticks(to).map(|n| self.now + n);
        true
    }

    fn ready(&mut self, t: usize) {
        self.th[t].state = MState::Ready;
        self.th[t].deadline = None;
    }

    /// The live receiver of gate `g`.
    fn receiver(&self, g: usize) -> Option<usize> {
        self.gates[g].receiver.filter(|&r| self.th[r].alive)
    }

    // ---- system calls ---------------------------------------------------------------

    /// Send (or call) from `s` through gate `g`.
    pub fn send(&mut self, s: usize, g: usize, call: bool, msg: Msg, snd: To, rcv: To) {
        if !self.gates[g].alive {
            return self.fail(s, Error::StaleCap, Phase::Send);
        }
        let Some(r) = self.receiver(g) else { return self.fail(s, Error::NotBound, Phase::Send) };
        if r == s {
            return self.fail(s, Error::Deadlock, Phase::Send);
        }
        let accepts = match self.th[r].state {
            MState::Receiving(MFilter::Any) => true,
            MState::Receiving(MFilter::Gate(x)) => x == g,
            MState::Receiving(MFilter::Thread(x)) => x == s,
            _ => false,
        };
        if accepts {
            self.deliver(s, r, g, call, msg, rcv);
            if !call {
                self.complete(s, Outcome::ok());
            }
            return;
        }
        if self.block(s, MState::Sending { gate: g, call, msg, rcv }, snd) {
            self.queues[r].push_back(s);
        } else {
            self.fail(s, Error::Timeout, Phase::Send);
        }
    }

    /// Moves `msg` from `s` to `r` (waiting or taking it from its queue).
    fn deliver(&mut self, s: usize, r: usize, g: usize, call: bool, msg: Msg, rcv: To) {
        assert!(self.delivered.insert(msg.label), "message {:#x} delivered twice", msg.label);
        let label = self.gates[g].label;
        self.complete(r, Outcome::Ok { label, tag_label: msg.label, words: msg.words });
        self.ready(r);
        if call {
            self.th[s].calls = self.th[s].calls.wrapping_add(1);
            self.th[r].reply_to = Some((s, self.th[s].calls));
            if !self.block(s, MState::WaitReply { callee: r }, rcv) {
                self.th[r].reply_to = None;
                self.fail(s, Error::Timeout, Phase::Receive);
                self.ready(s);
            }
        } else {
            self.ready(s);
        }
    }

    /// Reply (and, with `wait`, open wait with that timeout) from `r`.
    pub fn reply(&mut self, r: usize, msg: Msg, wait: Option<To>) {
        let cap = self.th[r].reply_to.take();
        let caller = cap.filter(|&(s, n)| {
            self.th[s].alive && self.th[s].state == MState::WaitReply { callee: r } && self.th[s].calls == n
        });
        let Some((s, _)) = caller else { return self.fail(r, Error::NoReplyCap, Phase::Send) };
        self.complete(s, Outcome::Ok { label: 0, tag_label: msg.label, words: msg.words });
        self.ready(s);
        self.complete(r, Outcome::ok());
        if let Some(to) = wait {
            // The reply's outcome is replaced by the wait's.
            self.done.pop();
            self.receive(r, MFilter::Any, to);
        }
    }

    /// Open wait.
    pub fn wait(&mut self, r: usize, to: To) {
        self.th[r].reply_to = None;
        self.receive(r, MFilter::Any, to);
    }

    /// Closed wait: `src` is what the capability names (None: nil).
    pub fn recv(&mut self, r: usize, src: Option<MFilter>, to: To) {
        self.th[r].reply_to = None;
        let filter = match src {
            None => MFilter::Nil,
            Some(MFilter::Thread(t)) if !self.th[t].alive => {
                return self.fail(r, Error::StaleCap, Phase::Receive);
            }
            Some(MFilter::Thread(t)) if t == r => return self.fail(r, Error::Deadlock, Phase::Receive),
            Some(MFilter::Gate(g)) if !self.gates[g].alive => {
                return self.fail(r, Error::StaleCap, Phase::Receive);
            }
            Some(MFilter::Gate(g)) if self.gates[g].receiver != Some(r) => {
                return self.fail(r, Error::NotBound, Phase::Receive);
            }
            Some(MFilter::Irq(q)) if !self.irqs[q].alive => {
                return self.fail(r, Error::StaleCap, Phase::Receive);
            }
            Some(MFilter::Irq(q)) if self.irqs[q].target.map(|x| x.0) != Some(r) => {
                return self.fail(r, Error::NotBound, Phase::Receive);
            }
            Some(f) => f,
        };
        self.receive(r, filter, to);
    }

    fn receive(&mut self, r: usize, filter: MFilter, to: To) {
        // A pending IRQ first.
        let irq = match filter {
            MFilter::Any => self.pending[r].front().copied(),
            MFilter::Irq(q) => self.irqs[q].pending.then_some(q),
            _ => None,
        };
        if let Some(q) = irq {
            self.pending[r].retain(|&x| x != q);
            self.irqs[q].pending = false;
            let label = self.irqs[q].target.map_or(0, |x| x.1);
            self.complete(r, Outcome::Irq { label });
            self.ready(r);
            return;
        }
        let found = match filter {
            MFilter::Any => self.queues[r].front().copied(),
            MFilter::Gate(g) => self.queues[r]
                .iter()
                .copied()
                .find(|&s| matches!(self.th[s].state, MState::Sending { gate, .. } if gate == g)),
            MFilter::Thread(t) => self.queues[r].contains(&t).then_some(t),
            MFilter::Irq(_) | MFilter::Nil => None,
        };
        if let Some(s) = found {
            self.queues[r].retain(|&x| x != s);
            let MState::Sending { gate, call, msg, rcv } = self.th[s].state.clone() else { unreachable!() };
            self.th[s].deadline = None;
            self.deliver(s, r, gate, call, msg, rcv);
            if !call {
                self.complete(s, Outcome::ok());
            }
            return;
        }
        if !self.block(r, MState::Receiving(filter), to) {
            self.fail(r, Error::Timeout, Phase::Receive);
        }
    }

    /// Software trigger of IRQ `q` by `t`.
    pub fn trigger(&mut self, t: usize, q: usize) {
        if !self.irqs[q].alive {
            return self.fail(t, Error::StaleCap, Phase::Send);
        }
        self.fire(q);
        self.complete(t, Outcome::ok());
    }

    /// A hardware interrupt on line 5 (only while it is unmasked).
    pub fn interrupt(&mut self) {
        assert!(!self.line_masked);
        self.line_masked = true;
        if self.irqs[HW].alive {
            self.fire(HW);
        }
    }

    fn fire(&mut self, q: usize) {
        if self.irqs[q].pending {
            return;
        }
        let Some((t, label)) = self.irqs[q].target else {
            self.irqs[q].pending = true;
            return;
        };
        let waiting = match self.th[t].state {
            MState::Receiving(MFilter::Any) => true,
            MState::Receiving(MFilter::Irq(x)) => x == q,
            _ => false,
        };
        if waiting {
            self.complete(t, Outcome::Irq { label });
            self.ready(t);
        } else {
            self.irqs[q].pending = true;
            self.pending[t].push_back(q);
        }
    }

    /// `t` acknowledges the hardware IRQ.
    pub fn ack(&mut self, t: usize) {
        if !self.irqs[HW].alive {
            return self.fail(t, Error::StaleCap, Phase::Send);
        }
        if self.irqs[HW].target.is_some() {
            self.line_masked = false;
        }
        self.complete(t, Outcome::ok());
    }

    /// One timer tick: expired timeouts.
    pub fn tick(&mut self) {
        self.now += 1;
        for t in 0..NT {
            if !self.th[t].alive || self.th[t].deadline != Some(self.now) || !self.th[t].state.blocked() {
                continue;
            }
            let phase = match self.th[t].state {
                MState::Sending { .. } => {
                    for q in self.queues.iter_mut() {
                        q.retain(|&x| x != t);
                    }
                    Phase::Send
                }
                _ => Phase::Receive,
            };
            self.fail(t, Error::Timeout, phase);
            self.ready(t);
        }
    }

    // ---- thread control, deletion (by root) -------------------------------------------

    /// Aborts `t`'s IPC with `e`; false if it was not blocked.
    fn abort(&mut self, t: usize, e: Error) -> bool {
        let phase = match &self.th[t].state {
            MState::Sending { .. } => Phase::Send,
            MState::Receiving(_) | MState::WaitReply { .. } => Phase::Receive,
            MState::Ready | MState::Inactive => return false,
        };
        for q in self.queues.iter_mut() {
            q.retain(|&x| x != t);
        }
        self.fail(t, e, phase);
        self.ready(t);
        true
    }

    /// The result of a thread method on `t`: StaleCap if it is gone.
    fn alive_or_stale(&self, t: usize) -> Result<(), Error> {
        if self.th[t].alive { Ok(()) } else { Err(Error::StaleCap) }
    }

    pub fn cancel(&mut self, t: usize) -> Result<(), Error> {
        self.alive_or_stale(t)?;
        self.abort(t, Error::Cancelled);
        Ok(())
    }

    pub fn suspend(&mut self, t: usize) -> Result<(), Error> {
        self.alive_or_stale(t)?;
        self.abort(t, Error::Cancelled);
        self.th[t].state = MState::Inactive;
        self.th[t].deadline = None;
        Ok(())
    }

    pub fn start(&mut self, t: usize) -> Result<(), Error> {
        self.alive_or_stale(t)?;
        if self.th[t].state == MState::Inactive {
            self.ready(t);
        }
        Ok(())
    }

    pub fn set_prio(&mut self, t: usize, prio: u8) -> Result<(), Error> {
        self.alive_or_stale(t)?;
        self.th[t].prio = prio;
        Ok(())
    }

    pub fn destroy_thread(&mut self, t: usize) -> Result<(), Error> {
        self.alive_or_stale(t)?;
        for q in self.queues.iter_mut() {
            q.retain(|&x| x != t);
        }
        let senders: Vec<usize> = self.queues[t].drain(..).collect();
        for s in senders {
            self.abort(s, Error::PartnerDeleted);
        }
        for x in 0..NT {
            let on_me = match self.th[x].state {
                MState::WaitReply { callee } => callee == t,
                MState::Receiving(MFilter::Thread(y)) => y == t,
                _ => false,
            };
            if self.th[x].alive && x != t && on_me {
                self.abort(x, Error::PartnerDeleted);
            }
        }
        for q in 0..NQ {
            if self.irqs[q].alive && self.irqs[q].target.is_some_and(|x| x.0 == t) {
                self.detach_now(q);
            }
        }
        // Its results no longer count.
        self.done.retain(|(x, _)| *x != t);
        let th = &mut self.th[t];
        th.alive = false;
        th.state = MState::Inactive;
        th.deadline = None;
        th.reply_to = None;
        self.pending[t].clear();
        Ok(())
    }

    pub fn destroy_gate(&mut self, g: usize) -> Result<(), Error> {
        if !self.gates[g].alive {
            return Err(Error::StaleCap);
        }
        if let Some(r) = self.gates[g].receiver.take()
            && self.th[r].alive
        {
            let senders: Vec<usize> = self.queues[r]
                .iter()
                .copied()
                .filter(|&s| matches!(self.th[s].state, MState::Sending { gate, .. } if gate == g))
                .collect();
            for s in senders {
                self.abort(s, Error::Cancelled);
            }
            if self.th[r].state == MState::Receiving(MFilter::Gate(g)) {
                self.abort(r, Error::Cancelled);
            }
        }
        self.gates[g].alive = false;
        Ok(())
    }

    fn detach_now(&mut self, q: usize) {
        if self.irqs[q].pending
            && let Some((t, _)) = self.irqs[q].target
        {
            self.pending[t].retain(|&x| x != q);
        }
        self.irqs[q].pending = false;
        let target = self.irqs[q].target.take();
        if q == HW {
            self.line_masked = true;
        }
        if let Some((t, _)) = target
            && self.th[t].alive
            && self.th[t].state == MState::Receiving(MFilter::Irq(q))
        {
            self.abort(t, Error::Cancelled);
        }
    }

    pub fn detach(&mut self, q: usize) -> Result<(), Error> {
        if !self.irqs[q].alive {
            return Err(Error::StaleCap);
        }
        self.detach_now(q);
        Ok(())
    }

    pub fn destroy_irq(&mut self, q: usize) -> Result<(), Error> {
        self.detach(q)?;
        self.irqs[q].alive = false;
        Ok(())
    }

    pub fn attach(&mut self, q: usize, t: usize, label: u64) -> Result<(), Error> {
        self.alive_or_stale(t)?;
        if !self.irqs[q].alive {
            return Err(Error::StaleCap);
        }
        if self.irqs[q].target.is_some_and(|x| self.th[x.0].alive) {
            return Err(Error::AlreadyBound);
        }
        let was_pending = self.irqs[q].pending;
        self.irqs[q].target = Some((t, label));
        self.irqs[q].pending = false;
        if q == HW {
            self.line_masked = false;
        }
        if was_pending {
            self.fire(q);
        }
        Ok(())
    }
}
