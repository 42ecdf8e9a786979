//! The cross-CPU handoff's doorbell: how a CPU hands a thread to an idle CPU, which
//! resumes it from its idle loop without entering the core (docs/smp.md, "Handoff").
//!
//! The core, holding the lock of the target CPU's state, made the thread that CPU's running
//! thread and recorded its address space as loaded there; [`Doorbell::ring`] then tells
//! the target what to do about it: load the space (root, ASID, flush) and return to the
//! thread's context. The target takes both with [`Doorbell::take`] in its idle loop, or
//! only the space with [`Doorbell::settle`] whenever it takes the kernel lock for anything
//! else (the core then decides what runs, believing the space loaded). Whoever changes
//! the target's state afterwards under the lock and interrupts it withdraws the context
//! ([`Doorbell::withdraw`], a `Wake`: the core must decide again) or both ([`Doorbell::cancel`],
//! a kick: the target unloads its user space and the core marks it so).
//!
//! A polling target ([`Doorbell::poll`]) needs no interrupt: [`Doorbell::ring`] says whether
//! one is needed. Pure, lock-free safe Rust over atomics: host-tested with threads.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::{Asid, PhysAddr};

/// An address space to load: root table, ASID, and whether to drop the ASID's (or, untagged,
/// every non-global) translations, the arguments of [`crate::Mmu::activate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    /// Root table.
    pub root: PhysAddr,
    /// ASID (0: untagged).
    pub asid: Asid,
    /// Drop the old translations.
    pub flush: bool,
}

/// `space` word: a space is pending.
const PENDING: u32 = 1 << 16;
/// `space` word: flush.
const FLUSH: u32 = 1 << 17;
/// `space` word: cancelled by a kick; a context taken with it is dropped.
const CANCELLED: u32 = 1 << 18;

/// One CPU's doorbell.
pub struct Doorbell {
    /// The context to resume (an address), 0 for none.
    ctx: AtomicUsize,
    /// The root of the pending space (valid while `space` has `PENDING`).
    root: AtomicU64,
    /// ASID in bits 15..0, `PENDING`, `FLUSH`.
    space: AtomicU32,
    /// The CPU polls `ctx` in its idle loop (no interrupt needed).
    polling: AtomicBool,
}

impl Default for Doorbell {
    fn default() -> Self {
        Self::new()
    }
}

impl Doorbell {
    /// Nothing pending, not polling.
    pub const fn new() -> Self {
        Doorbell {
            ctx: AtomicUsize::new(0),
            root: AtomicU64::new(0),
            space: AtomicU32::new(0),
            polling: AtomicBool::new(false),
        }
    }

    /// Hands the context at `ctx` (not 0), with `space` to load first if given. Returns
    /// whether the target needs an interrupt to notice (it is not polling). The caller
    /// holds the lock of the target's state, so two rings never overlap, and the target
    /// has taken (or settled) the previous one before the core could ring again.
    pub fn ring(&self, ctx: usize, space: Option<Space>) -> bool {
        let w = match space {
            Some(s) => {
                self.root.store(s.root.0, Ordering::Relaxed);
                s.asid.0 as u32 | PENDING | if s.flush { FLUSH } else { 0 }
            }
            // Also clears an earlier cancellation.
            None => 0,
        };
        self.space.store(w, Ordering::Release);
        // SeqCst with the target's `polling` store and `ctx` check (`Doorbell::idle`): either
        // it sees the context, or this sees it not polling and interrupts it.
        self.ctx.store(ctx, Ordering::SeqCst);
        !self.polling.load(Ordering::SeqCst)
    }

    /// The target's idle loop: the context to resume and the space to load first, if rung.
    pub fn take(&self) -> (Option<usize>, Option<Space>) {
        let ctx = self.ctx.swap(0, Ordering::SeqCst);
        // A kick's cancel between the two swaps shows here: the context is dropped too.
        match self.space.swap(0, Ordering::SeqCst) {
            CANCELLED => (None, None),
            w => (if ctx != 0 { Some(ctx) } else { None }, self.space_of(w)),
        }
    }

    /// The target took the kernel lock for another reason: the space to load now, if one is
    /// pending; a pending context is dropped (the core decides what runs).
    pub fn settle(&self) -> Option<Space> {
        self.ctx.store(0, Ordering::Relaxed);
        self.take_space()
    }

    fn take_space(&self) -> Option<Space> {
        let w = self.space.swap(0, Ordering::SeqCst);
        self.space_of(w)
    }

    fn space_of(&self, w: u32) -> Option<Space> {
        (w & PENDING != 0).then(|| Space {
            root: PhysAddr(self.root.load(Ordering::Relaxed)),
            asid: Asid(w as u16),
            flush: w & FLUSH != 0,
        })
    }

    /// Another CPU changed the target's state under the lock and is about to interrupt it:
    /// the context is no longer to be resumed blindly (the space still is to be loaded).
    pub fn withdraw(&self) {
        self.ctx.store(0, Ordering::SeqCst);
    }

    /// Another CPU kicks the target out of its user address space: nothing is to be loaded
    /// or resumed.
    pub fn cancel(&self) {
        self.ctx.store(0, Ordering::SeqCst);
        self.space.store(CANCELLED, Ordering::SeqCst);
    }

    /// The target polls (true) or is about to wait for an interrupt (false). Before it
    /// waits it must clear this and then [`Doorbell::take`] once more.
    pub fn poll(&self, on: bool) {
        self.polling.store(on, Ordering::SeqCst);
    }

    /// Whether the target polls.
    pub fn polling(&self) -> bool {
        self.polling.load(Ordering::Relaxed)
    }
}

/// Every CPU's doorbell (an arch's static), with what the arch's IPI and kick paths do to
/// them: a kernel `Wake` withdraws its targets' contexts, a kick cancels.
pub struct Doorbells(pub [Doorbell; crate::smp::MAX_CPUS]);

impl Default for Doorbells {
    fn default() -> Self {
        Self::new()
    }
}

impl Doorbells {
    /// Nothing pending anywhere.
    pub const fn new() -> Self {
        Doorbells([const { Doorbell::new() }; crate::smp::MAX_CPUS])
    }

    /// CPU `cpu`'s doorbell, if there can be such a CPU.
    pub fn get(&self, cpu: usize) -> Option<&Doorbell> {
        self.0.get(cpu)
    }

    /// A kernel `Wake` goes to `to` (sent from CPU `me`, `online` CPUs running): the
    /// contexts handed to its targets are withdrawn ([`Doorbell::withdraw`]).
    pub fn withdraw(&self, to: crate::IpiTarget, me: usize, online: usize) {
        match to {
            crate::IpiTarget::Cpu(c) => self.get(c).into_iter().for_each(Doorbell::withdraw),
            crate::IpiTarget::Others => self
                .0
                .iter()
                .take(online)
                .enumerate()
                .filter(|&(c, _)| c != me)
                .for_each(|(_, d)| d.withdraw()),
        }
    }

    /// CPU `cpu` is kicked ([`Doorbell::cancel`]).
    pub fn cancel(&self, cpu: usize) {
        self.get(cpu).into_iter().for_each(Doorbell::cancel);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::sync::Arc;

    fn space(r: u64) -> Space {
        Space { root: PhysAddr(r), asid: Asid(7), flush: true }
    }

    #[test]
    fn ring_take_once() {
        let d = Doorbell::new();
        assert_eq!(d.take(), (None, None));
        assert!(d.ring(0x1000, Some(space(0x5000))));
        assert_eq!(d.take(), (Some(0x1000), Some(space(0x5000))));
        assert_eq!(d.take(), (None, None));
        assert!(d.ring(0x2000, None));
        assert_eq!(d.take(), (Some(0x2000), None));
    }

    #[test]
    fn a_polling_target_needs_no_interrupt() {
        let d = Doorbell::new();
        d.poll(true);
        assert!(d.polling());
        assert!(!d.ring(0x1000, None));
        d.poll(false);
        assert!(d.ring(0x1000, None));
    }

    #[test]
    fn settle_keeps_the_space_and_drops_the_context() {
        let d = Doorbell::new();
        d.ring(0x1000, Some(space(0x6000)));
        assert_eq!(d.settle(), Some(space(0x6000)));
        assert_eq!(d.take(), (None, None));
    }

    #[test]
    fn withdraw_keeps_the_space_cancel_drops_both() {
        let d = Doorbell::new();
        d.ring(0x1000, Some(space(0x6000)));
        d.withdraw();
        assert_eq!(d.take(), (None, Some(space(0x6000))));
        d.ring(0x1000, Some(space(0x6000)));
        d.cancel();
        assert_eq!(d.take(), (None, None));
        // A context taken just before a cancel is dropped by the cancel's mark.
        d.ring(0x1000, Some(space(0x6000)));
        let ctx = d.ctx.swap(0, Ordering::SeqCst);
        d.cancel();
        assert_eq!((ctx, d.take()), (0x1000, (None, None)));
        // The next ring clears the mark.
        d.cancel();
        d.ring(0x2000, None);
        assert_eq!(d.take(), (Some(0x2000), None));
    }

    #[test]
    fn a_wake_withdraws_its_targets_a_kick_cancels() {
        let ds = Doorbells::new();
        let ring = |c: usize| ds.get(c).unwrap().ring(0x1000 + c, Some(space(0x5000)));
        (0..4).for_each(|c| {
            ring(c);
        });
        ds.withdraw(crate::IpiTarget::Others, 1, 3);
        ds.withdraw(crate::IpiTarget::Cpu(99), 1, 3);
        let taken: std::vec::Vec<_> = (0..4).map(|c| ds.get(c).unwrap().take()).collect();
        assert_eq!(taken[0], (None, Some(space(0x5000))));
        assert_eq!(taken[1], (Some(0x1001), Some(space(0x5000))), "the sender's own is kept");
        assert_eq!(taken[2], (None, Some(space(0x5000))));
        assert_eq!(taken[3], (Some(0x1003), Some(space(0x5000))), "not running: kept");
        ring(2);
        ds.cancel(2);
        ds.cancel(99);
        assert_eq!(ds.get(2).unwrap().take(), (None, None));
    }

    /// The lost-wake-up race, 20,000 rounds against a ringing thread: a target that stops
    /// polling, looks once more and then waits for an "interrupt" (a flag the ringer sets
    /// when `ring` says one is needed) always gets every context; a lost wake-up would
    /// leave it waiting (failed after 10 s).
    #[test]
    fn no_lost_wake_up() {
        use std::sync::atomic::AtomicBool;
        let d = Arc::new(Doorbell::new());
        let irq = Arc::new(AtomicBool::new(false));
        let rounds = 20_000usize;
        let ringer = {
            let (d, irq) = (Arc::clone(&d), Arc::clone(&irq));
            std::thread::spawn(move || {
                for i in 1..=rounds {
                    while d.ctx.load(Ordering::SeqCst) != 0 {
                        std::hint::spin_loop();
                    }
                    if d.ring(i, None) {
                        irq.store(true, Ordering::SeqCst);
                    }
                }
            })
        };
        let mut got = 0;
        let mut take = |d: &Doorbell| {
            if let (Some(c), _) = d.take() {
                got += 1;
                assert_eq!(c, got);
                true
            } else {
                false
            }
        };
        let mut n = 0;
        while n < rounds {
            d.poll(true);
            for _ in 0..(n % 5) {
                std::hint::spin_loop();
            }
            if take(&d) {
                n += 1;
                continue;
            }
            d.poll(false);
            if take(&d) {
                n += 1;
                continue;
            }
            let t = std::time::Instant::now();
            while !irq.swap(false, Ordering::SeqCst) {
                assert!(t.elapsed().as_secs() < 10, "lost wake-up after {n} rounds");
                std::hint::spin_loop();
            }
        }
        ringer.join().unwrap();
    }
}
