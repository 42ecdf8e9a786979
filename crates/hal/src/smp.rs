//! Several CPUs: what an inter-processor interrupt asks, which TLB entries a shootdown
//! drops, and the shootdown rendezvous an arch without broadcast TLB invalidation uses
//! (queue the request, interrupt the targets, wait for every acknowledgement).
//!
//! Pure, lock-free safe Rust over atomics: host-tested with threads standing in for CPUs.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::addr::VirtAddr;
use crate::mmu::Asid;

/// Most CPUs a [`CpuSet`] (and so a shootdown) can name.
pub const MAX_CPUS: usize = 64;

/// A set of CPU indices (bit `i`: CPU `i`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuSet(pub u64);

impl CpuSet {
    /// CPUs `0..n` (all of them when `n` is at least 64).
    pub const fn first(n: usize) -> CpuSet {
        if n >= MAX_CPUS { CpuSet(u64::MAX) } else { CpuSet((1u64 << n) - 1) }
    }

    /// The set with CPU `cpu` (unchanged for an index no set can hold).
    pub const fn with(self, cpu: usize) -> CpuSet {
        if cpu >= MAX_CPUS { self } else { CpuSet(self.0 | 1 << cpu) }
    }

    /// The set without CPU `cpu`.
    pub const fn without(self, cpu: usize) -> CpuSet {
        if cpu >= MAX_CPUS { self } else { CpuSet(self.0 & !(1 << cpu)) }
    }

    /// Whether `cpu` is in the set.
    pub const fn contains(self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.0 & (1 << cpu) != 0
    }

    /// The CPUs in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..MAX_CPUS).filter(move |&c| self.contains(c))
    }
}

/// What an inter-processor interrupt asks of its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipi {
    /// Look at your work (today: count it; with per-CPU ready queues: reschedule). Also
    /// wakes a CPU out of `hlt`/`wfi`.
    Wake,
    /// Serve the pending TLB shootdown (x86_64; AArch64 broadcasts invalidations in
    /// hardware and never sends it).
    Shootdown,
    /// Serve the pending remote call (the boot self-tests' remote reads).
    Call,
}

/// Which CPUs an IPI goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpiTarget {
    /// One CPU, by the kernel's index.
    Cpu(usize),
    /// Every running CPU but the sender.
    Others,
}

/// Translations to drop on every CPU that may hold them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// One user page of an address space.
    Page {
        /// The address space's tag.
        asid: Asid,
        /// The page.
        va: VirtAddr,
    },
    /// Every translation of an address space.
    Asid(Asid),
    /// Every non-global translation.
    All,
    /// One kernel page (a global translation, in every address space).
    KernelPage(VirtAddr),
}

impl Flush {
    /// Three words, for a request queued in atomics.
    pub const fn encode(self) -> [u64; 3] {
        match self {
            Flush::Page { asid, va } => [1, asid.0 as u64, va.0],
            Flush::Asid(asid) => [2, asid.0 as u64, 0],
            Flush::All => [3, 0, 0],
            Flush::KernelPage(va) => [4, 0, va.0],
        }
    }

    /// The request [`Flush::encode`] wrote; anything unknown is the safe superset, `All`
    /// plus the kernel page (callers treat `None` as "flush everything").
    pub const fn decode(w: [u64; 3]) -> Option<Flush> {
        match w[0] {
            1 => Some(Flush::Page { asid: Asid(w[1] as u16), va: VirtAddr(w[2]) }),
            2 => Some(Flush::Asid(Asid(w[1] as u16))),
            3 => Some(Flush::All),
            4 => Some(Flush::KernelPage(VirtAddr(w[2]))),
            _ => None,
        }
    }
}

/// One shootdown at a time, machine-wide: the initiator queues the request and the
/// target set, interrupts the targets, and waits until each has flushed and cleared its
/// bit. A CPU that spins with interrupts masked (waiting to initiate, or on any lock a
/// shootdown initiator may hold) must call [`Shootdown::serve`] in its loop, or two CPUs
/// could wait for each other.
#[derive(Debug)]
pub struct Shootdown {
    busy: AtomicBool,
    words: [AtomicU64; 3],
    pending: AtomicU64,
    /// Shootdowns completed (for tests and the boot log).
    pub done: AtomicU64,
}

impl Default for Shootdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shootdown {
    /// No request.
    pub const fn new() -> Self {
        Shootdown {
            busy: AtomicBool::new(false),
            words: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            pending: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }

    /// Runs `flush` on every CPU of `targets` but `me`: `local` performs it on this CPU
    /// (first, and for any request this CPU must serve while it waits), `kick(cpu)`
    /// interrupts a target. Returns once every target acknowledged.
    pub fn run(
        &self,
        me: usize,
        targets: CpuSet,
        flush: Flush,
        mut local: impl FnMut(Option<Flush>),
        mut kick: impl FnMut(usize),
    ) {
        local(Some(flush));
        let targets = targets.without(me);
        if targets.0 == 0 {
            return;
        }
        while self.busy.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.serve(me, &mut local);
            core::hint::spin_loop();
        }
        for (w, v) in self.words.iter().zip(flush.encode()) {
            w.store(v, Ordering::Relaxed);
        }
        self.pending.store(targets.0, Ordering::Release);
        targets.iter().for_each(&mut kick);
        while self.pending.load(Ordering::Acquire) != 0 {
            core::hint::spin_loop();
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        self.busy.store(false, Ordering::Release);
    }

    /// On CPU `me` (its IPI handler, or a spin loop): if a request waits for this CPU,
    /// performs it with `local` and acknowledges it. Returns whether there was one.
    pub fn serve(&self, me: usize, mut local: impl FnMut(Option<Flush>)) -> bool {
        let bit = 1u64.checked_shl(me as u32).unwrap_or(0);
        if self.pending.load(Ordering::Acquire) & bit == 0 {
            return false;
        }
        let w = [0, 1, 2].map(|i| self.words[i].load(Ordering::Relaxed));
        local(Flush::decode(w));
        self.pending.fetch_and(!bit, Ordering::Release);
        true
    }

    /// The CPUs that have not acknowledged the current request.
    pub fn pending(&self) -> CpuSet {
        CpuSet(self.pending.load(Ordering::Acquire))
    }
}

/// Kicking one CPU out of user mode (`Hal::kick`): the initiator (holding the kernel
/// lock) takes a request number, interrupts the target and waits until the target has
/// answered it; the target answers from kernel mode only (its IPI handler entered from
/// user mode or idle, or any spin loop with interrupts masked), after `leave` unloaded its
/// user address space. So once [`Kick::done`], the target runs no user code of the
/// thread it ran, and it cannot run any before it has taken the kernel lock.
#[derive(Debug, Default)]
pub struct Kick {
    asked: AtomicU64,
    answered: AtomicU64,
}

impl Kick {
    /// No request.
    pub const fn new() -> Self {
        Kick { asked: AtomicU64::new(0), answered: AtomicU64::new(0) }
    }

    /// On the initiator: a new request; its number, for [`Kick::done`].
    pub fn request(&self) -> u64 {
        self.asked.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// On the initiator: whether request `n` was answered.
    pub fn done(&self, n: u64) -> bool {
        self.answered.load(Ordering::Acquire) >= n
    }

    /// On the initiator: a request, `interrupt` to send the target its IPI, then the wait
    /// for the answer, calling `serve` (this CPU's own pending requests) while it spins.
    pub fn run(&self, interrupt: impl FnOnce(), mut serve: impl FnMut()) {
        let n = self.request();
        interrupt();
        while !self.done(n) {
            serve();
            core::hint::spin_loop();
        }
    }

    /// On the target, in kernel mode: answers every request so far, after `leave`, if
    /// one waits. Returns whether one did.
    pub fn serve(&self, leave: impl FnOnce()) -> bool {
        let asked = self.asked.load(Ordering::Acquire);
        if self.answered.load(Ordering::Relaxed) >= asked {
            return false;
        }
        leave();
        self.answered.store(asked, Ordering::Release);
        true
    }
}

/// What a remote call asks of its target (the boot self-tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteOp {
    /// Read the word at this kernel address (through the target's TLB); the answer is
    /// the word.
    Read(VirtAddr),
    /// Run this many TLB shootdowns of a kernel page from the target (inside its IPI
    /// handler, interrupts masked); the answer is the count done.
    Shootdowns(u64),
}

impl RemoteOp {
    const fn encode(self) -> [u64; 2] {
        match self {
            RemoteOp::Read(va) => [1, va.0],
            RemoteOp::Shootdowns(n) => [2, n],
        }
    }

    const fn decode(w: [u64; 2]) -> Option<RemoteOp> {
        match w[0] {
            1 => Some(RemoteOp::Read(VirtAddr(w[1]))),
            2 => Some(RemoteOp::Shootdowns(w[1])),
            _ => None,
        }
    }
}

/// A remote call box per CPU for the boot self-tests: the caller posts a [`RemoteOp`],
/// the target's IPI handler answers. One caller at a time per target.
#[derive(Debug)]
pub struct Mailbox {
    op: AtomicU64,
    arg: AtomicU64,
    result: AtomicU64,
    asked: AtomicU64,
    answered: AtomicU64,
}

impl Default for Mailbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Mailbox {
    /// Empty.
    pub const fn new() -> Self {
        Mailbox {
            op: AtomicU64::new(0),
            arg: AtomicU64::new(0),
            result: AtomicU64::new(0),
            asked: AtomicU64::new(0),
            answered: AtomicU64::new(0),
        }
    }

    /// Posts `op`; returns the ticket [`Mailbox::result`] waits for.
    pub fn post(&self, op: RemoteOp) -> u64 {
        let [o, a] = op.encode();
        self.op.store(o, Ordering::Relaxed);
        self.arg.store(a, Ordering::Relaxed);
        self.asked.fetch_add(1, Ordering::Release) + 1
    }

    /// On the target: answers the posted request with `f(op)`, if one is waiting (`None`:
    /// a request this version does not know).
    pub fn serve(&self, f: impl FnOnce(Option<RemoteOp>) -> u64) -> bool {
        let asked = self.asked.load(Ordering::Acquire);
        if self.answered.load(Ordering::Relaxed) == asked {
            return false;
        }
        let w = [self.op.load(Ordering::Relaxed), self.arg.load(Ordering::Relaxed)];
        self.result.store(f(RemoteOp::decode(w)), Ordering::Relaxed);
        self.answered.store(asked, Ordering::Release);
        true
    }

    /// The answer to `ticket`, if it came.
    pub fn result(&self, ticket: u64) -> Option<u64> {
        (self.answered.load(Ordering::Acquire) == ticket).then(|| self.result.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::vec::Vec;

    #[test]
    fn sets_and_encoding() {
        assert_eq!(CpuSet::first(3), CpuSet(0b111));
        assert_eq!(CpuSet::first(64), CpuSet(u64::MAX));
        assert_eq!(CpuSet::first(4).without(0).iter().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(CpuSet(0).with(2).with(63), CpuSet(1 << 2 | 1 << 63));
        assert_eq!(CpuSet(0b1).with(64), CpuSet(0b1), "no CPU 64");
        for f in [
            Flush::Page { asid: Asid(7), va: VirtAddr(0x4000) },
            Flush::Asid(Asid(3)),
            Flush::All,
            Flush::KernelPage(VirtAddr(0xffff_ffff_f000_0000)),
        ] {
            assert_eq!(Flush::decode(f.encode()), Some(f));
        }
        assert_eq!(Flush::decode([9, 0, 0]), None);
    }

    /// Four "CPUs": each serves in a loop (its IPI handler), two of them also initiate.
    /// Every initiated shootdown is performed exactly once by every other CPU.
    #[test]
    fn every_target_flushes_before_the_initiator_goes_on() {
        const CPUS: usize = 4;
        const ROUNDS: usize = 100;
        let sd = Arc::new(Shootdown::new());
        let flushed: Arc<[AtomicUsize; CPUS]> = Arc::new(core::array::from_fn(|_| AtomicUsize::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for me in 0..CPUS {
            let (sd, flushed, stop, done) = (sd.clone(), flushed.clone(), stop.clone(), done.clone());
            handles.push(std::thread::spawn(move || {
                let count = |f: Option<Flush>| {
                    assert!(f.is_some());
                    flushed[me].fetch_add(1, Ordering::Relaxed);
                };
                if me < 2 {
                    for i in 0..ROUNDS {
                        let va = VirtAddr(0x1000 * (i as u64 + 1));
                        sd.run(me, CpuSet::first(CPUS), Flush::KernelPage(va), count, |_| {});
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                // Every CPU keeps serving (its IPI handler) until all are done.
                while !stop.load(Ordering::Relaxed) {
                    sd.serve(me, count);
                    std::thread::yield_now();
                }
            }));
        }
        while done.load(Ordering::Relaxed) < 2 {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().unwrap();
        }
        // Each CPU flushed once per shootdown (its own, as initiator, included).
        for f in flushed.iter() {
            assert_eq!(f.load(Ordering::Relaxed), 2 * ROUNDS);
        }
        assert_eq!(sd.done.load(Ordering::Relaxed), 2 * ROUNDS as u64);
        assert_eq!(sd.pending(), CpuSet(0));
    }

    #[test]
    fn mailbox() {
        let m = Mailbox::new();
        assert!(!m.serve(|_| 0));
        let t = m.post(RemoteOp::Shootdowns(21));
        assert_eq!(m.result(t), None);
        assert!(m.serve(|op| match op {
            Some(RemoteOp::Shootdowns(n)) => n * 2,
            _ => 0,
        }));
        assert_eq!(m.result(t), Some(42));
        assert!(!m.serve(|_| 0), "answered once");
        let t = m.post(RemoteOp::Read(VirtAddr(0xffff_8000_0000_1000)));
        assert!(m.serve(|op| (op == Some(RemoteOp::Read(VirtAddr(0xffff_8000_0000_1000)))) as u64));
        assert_eq!(m.result(t), Some(1));
    }

    #[test]
    fn kick_waits_for_the_target() {
        let k = std::sync::Arc::new(Kick::new());
        assert!(!k.serve(|| panic!("nothing asked")));
        let left = std::sync::Arc::new(AtomicUsize::new(0));
        let (k2, l2) = (k.clone(), left.clone());
        let target = std::thread::spawn(move || {
            let mut served = 0;
            while served < 100 {
                served += k2.serve(|| {
                    l2.fetch_add(1, Ordering::Relaxed);
                }) as usize;
            }
        });
        for _ in 0..100 {
            k.run(|| {}, || {});
            // Answered only after the target left user mode.
            assert!(left.load(Ordering::Relaxed) >= 1);
        }
        target.join().unwrap();
        assert_eq!(left.load(Ordering::Relaxed), 100);
    }
}
