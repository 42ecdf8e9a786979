//! The kernel lock: one lock word per CPU, with a fixed layout so an arch's assembly may take one.
//!
//! `#[repr(C)]`: the data at offset 0 ([`KernelLock::DATA_OFFSET`]), then the number of words
//! in use, then [`MAX_CPUS`] lock words (a `u32`, 0 free, 1 held), each on its own cache line.
//! A word is taken by an acquire compare-and-swap of 0 → 1 and released by a release store
//! of 0: the same protocol in Rust and in the assembly fast paths (docs/smp.md, "Locking").
//!
//! The rule: **CPU `i`'s word covers CPU `i`'s data** (its core state, the threads whose
//! `cpu` is `i`, their frames); **the data of all CPUs and everything shared** (tables,
//! capabilities, tasks, address spaces) is written only by a holder of **every** word.
//! The Rust kernel ([`KernelLock::lock`], the guard that dereferences to the data) always
//! takes every word in use, in ascending order, so it has the kernel to itself; an assembly
//! fast path takes only its own CPU's word (by a single try: never waits, so it cannot
//! deadlock with the ordered takers), reads shared data that no one can write while it holds
//! a word, and writes only its own CPU's data. Two CPUs' IPC fast paths then run in parallel.
//!
//! The number of words in use starts at 1 and grows while the boot CPU holds the lock
//! ([`KernelGuard::grow`]), before other CPUs can enter the kernel: every taker reads it
//! after taking word 0, which anyone changing it holds.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Whether each CPU's fast path takes a word of its own (cargo feature `percpu-lock`);
/// without it every CPU's takes word 0, the Rust kernel takes only that one, and the lock
/// is one big lock, as it was (the switch that measures the difference).
pub const PER_CPU: bool = cfg!(feature = "percpu-lock");

/// Most CPUs with a word of their own (the arch crates support as many).
pub const MAX_CPUS: usize = 16;

/// A lock word alone on its cache line (no two CPUs' fast paths share a line).
#[repr(C, align(64))]
pub struct LockWord(AtomicU32);

impl LockWord {
    const fn new() -> Self {
        LockWord(AtomicU32::new(0))
    }

    /// One try: true if this call took the word.
    #[inline(always)]
    fn try_take(&self) -> bool {
        self.0.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Takes the word, calling `serve` while another CPU holds it.
    #[inline(always)]
    fn take(&self, serve: &impl Fn()) {
        while self.0.compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.0.load(Ordering::Relaxed) != 0 {
                serve();
                core::hint::spin_loop();
            }
        }
    }

    #[inline(always)]
    fn release(&self) {
        self.0.store(0, Ordering::Release);
    }

    /// Whether some CPU holds the word (a snapshot, for tests and assertions).
    pub fn held(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }
}

/// A lock around `T` made of per-CPU words (see the module documentation).
#[repr(C)]
pub struct KernelLock<T> {
    data: UnsafeCell<T>,
    /// Words in use: the Rust kernel takes words `0..cpus`.
    cpus: AtomicUsize,
    words: [LockWord; MAX_CPUS],
}

// SAFETY: the data is reached only through a guard, which exists only while its holder has
// every word in use, so one guard at a time, as for any mutex; what else touches the data
// (an assembly fast path under one word) is bound by the rule of the module documentation.
unsafe impl<T: Send> Sync for KernelLock<T> {}

impl<T> KernelLock<T> {
    /// Offset of the data from the start of the lock.
    pub const DATA_OFFSET: usize = core::mem::offset_of!(Self, data);
    /// Offset of CPU 0's word from the start of the lock; CPU `i`'s is `i * WORD_STRIDE`
    /// further (an assembly fast path that also takes another CPU's word).
    pub const WORDS_OFFSET: usize = core::mem::offset_of!(Self, words);
    /// Bytes from one CPU's word to the next.
    pub const WORD_STRIDE: usize = core::mem::size_of::<LockWord>();

    /// A free lock around `v`, one word in use.
    pub const fn new(v: T) -> Self {
        KernelLock {
            data: UnsafeCell::new(v),
            cpus: AtomicUsize::new(1),
            words: [const { LockWord::new() }; MAX_CPUS],
        }
    }

    /// CPU `cpu`'s word (the last one for a larger index), whose address an arch gives its
    /// assembly fast path.
    pub fn word(&self, cpu: usize) -> &LockWord {
        &self.words[cpu.min(MAX_CPUS - 1)]
    }

    /// Takes the lock: every word in use, spinning while another CPU holds one.
    #[inline(always)]
    pub fn lock(&self) -> KernelGuard<'_, T> {
        self.lock_serving(|| {})
    }

    /// Takes the lock, calling `serve` while another CPU holds a word: a CPU that spins with
    /// interrupts masked must answer what the holder may wait for (TLB shootdowns, kicks,
    /// FP/SIMD saves), or the two would wait for each other (`docs/smp.md`).
    #[inline(always)]
    pub fn lock_serving(&self, serve: impl Fn()) -> KernelGuard<'_, T> {
        self.words[0].take(&serve);
        // Stable from here: only a holder of word 0 changes it (`grow`).
        let cpus = self.cpus.load(Ordering::Relaxed);
        if cpus > 1 {
            for w in self.words.iter().take(cpus).skip(1) {
                w.take(&serve);
            }
        }
        KernelGuard { lock: self, held: cpus }
    }

    /// One try for every word in use, in order: the lock, or none with nothing held.
    pub fn try_lock(&self) -> Option<KernelGuard<'_, T>> {
        if !self.words[0].try_take() {
            return None;
        }
        let cpus = self.cpus.load(Ordering::Relaxed);
        for (i, w) in self.words[1..cpus].iter().enumerate() {
            if !w.try_take() {
                for w in &self.words[..=i] {
                    w.release();
                }
                return None;
            }
        }
        Some(KernelGuard { lock: self, held: cpus })
    }
}

/// The held lock (every word in use); dropping it releases the words.
pub struct KernelGuard<'a, T> {
    lock: &'a KernelLock<T>,
    held: usize,
}

impl<T> KernelGuard<'_, T> {
    /// Puts the words of CPUs `0..cpus` in use (at most [`MAX_CPUS`]; never fewer than
    /// now), taking the new ones: called by the boot CPU before the other CPUs can enter the
    /// kernel, so that from then on a fast path holding only its own word excludes the Rust
    /// kernel on every CPU.
    pub fn grow(&mut self, cpus: usize) {
        let cpus = cpus.clamp(self.held, MAX_CPUS);
        for w in &self.lock.words[self.held..cpus] {
            w.take(&|| {});
        }
        self.lock.cpus.store(cpus, Ordering::Relaxed);
        self.held = cpus;
    }

    /// Puts the words of `cpus` CPUs in use ([`KernelGuard::grow`]) and gives each CPU's
    /// fast path (through `give(cpu, address)`) the word it is to take: its own, or word 0
    /// for every CPU without [`PER_CPU`] (which puts no other word in use).
    pub fn spread(&mut self, cpus: usize, give: impl Fn(usize, *const ())) {
        if PER_CPU {
            self.grow(cpus);
        }
        for cpu in 0..MAX_CPUS {
            let w = self.lock.word(if PER_CPU { cpu } else { 0 });
            give(cpu, w as *const LockWord as *const ());
        }
    }

    /// The words this guard holds (the words in use).
    pub fn held(&self) -> usize {
        self.held
    }
}

impl<T> Deref for KernelGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this CPU holds every word in use.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for KernelGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for KernelGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.held > 1 {
            for w in self.lock.words.iter().take(self.held).skip(1) {
                w.release();
            }
        }
        self.lock.words[0].release();
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    #[test]
    fn the_data_is_first_and_the_guard_releases_every_word() {
        let l = KernelLock::new(5u64);
        assert_eq!(KernelLock::<u64>::DATA_OFFSET, 0);
        assert_eq!(core::mem::size_of::<LockWord>(), 64);
        {
            let mut g = l.lock();
            *g += 1;
            assert!(l.word(0).held() && !l.word(1).held());
            g.grow(3);
            assert_eq!(g.held(), 3);
            assert!((0..3).all(|c| l.word(c).held()) && !l.word(3).held());
        }
        assert!((0..MAX_CPUS).all(|c| !l.word(c).held()));
        let g = l.lock();
        assert_eq!((*g, g.held()), (6, 3));
        drop(g);
        assert!((0..MAX_CPUS).all(|c| !l.word(c).held()));
    }

    #[test]
    fn grow_never_shrinks_and_stops_at_the_last_word() {
        let l = KernelLock::new(());
        let mut g = l.lock();
        g.grow(4);
        g.grow(2);
        assert_eq!(g.held(), 4);
        g.grow(1000);
        assert_eq!(g.held(), MAX_CPUS);
        drop(g);
        assert_eq!(l.lock().held(), MAX_CPUS);
        assert!(core::ptr::eq(l.word(99), l.word(MAX_CPUS - 1)));
    }

    #[test]
    fn one_held_word_keeps_the_kernel_out_and_try_lock_takes_nothing() {
        let l = KernelLock::new(0u32);
        l.lock().grow(2);
        // A fast path on CPU 1 holds its word.
        assert!(l.word(1).try_take());
        assert!(l.try_lock().is_none());
        assert!(!l.word(0).held(), "try_lock gave word 0 back");
        l.word(1).release();
        let g = l.try_lock().expect("free");
        assert_eq!(g.held(), 2);
    }

    /// Per-CPU "fast paths" each take their own word and bump their own counter; a "kernel"
    /// takes every word and checks that no counter moves under it, then moves them all.
    #[test]
    fn fast_paths_run_in_parallel_and_the_kernel_excludes_them() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicU64;
        const CPUS: usize = 3;
        const ROUNDS: u64 = 20_000;
        struct Data {
            counts: [AtomicU64; CPUS],
            total: u64,
        }
        let l = Arc::new(KernelLock::new(Data { counts: [const { AtomicU64::new(0) }; CPUS], total: 0 }));
        l.lock().grow(CPUS);
        let mut cpus = Vec::new();
        for cpu in 0..CPUS {
            let l = Arc::clone(&l);
            cpus.push(std::thread::spawn(move || {
                let mut done = 0;
                while done < ROUNDS {
                    if !l.word(cpu).try_take() {
                        continue;
                    }
                    // SAFETY: the word gives this thread its own counter (atomic anyway);
                    // the data is reached by a raw pointer, as the assembly reaches it.
                    let d = unsafe { &*l.data.get() };
                    d.counts[cpu].fetch_add(1, Ordering::Relaxed);
                    l.word(cpu).release();
                    done += 1;
                }
            }));
        }
        let kernel = {
            let l = Arc::clone(&l);
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    let mut g = l.lock();
                    let before: u64 = g.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                    std::thread::yield_now();
                    let after: u64 = g.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                    assert_eq!(before, after, "a fast path ran under the kernel");
                    g.total += 1;
                }
            })
        };
        for c in cpus {
            c.join().unwrap();
        }
        kernel.join().unwrap();
        let g = l.lock();
        assert_eq!(g.total, 2_000);
        assert!(g.counts.iter().all(|c| c.load(Ordering::Relaxed) == ROUNDS));
    }
}
