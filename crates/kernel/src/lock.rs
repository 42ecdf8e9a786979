//! The kernel lock: a spin lock with a fixed layout, so an arch's assembly may take it.
//!
//! `#[repr(C)]`: the lock word (a `u32`, 0 free, 1 held) at offset 0, the data at
//! [`KernelLock::DATA_OFFSET`]. Taking it is an acquire compare-and-swap of 0 → 1,
//! releasing it a release store of 0: the same protocol in Rust ([`KernelLock::lock`]) and
//! in an assembly fast path that addresses the platform's static by symbol.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

/// A spin lock around `T` with the lock word at offset 0.
#[repr(C)]
pub struct KernelLock<T> {
    word: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a guard, which exists only while the word is
// held: one holder at a time, as for any mutex.
unsafe impl<T: Send> Sync for KernelLock<T> {}

impl<T> KernelLock<T> {
    /// Offset of the data from the start of the lock (the word is at 0).
    pub const DATA_OFFSET: usize = core::mem::offset_of!(Self, data);

    /// A free lock around `v`.
    pub const fn new(v: T) -> Self {
        KernelLock { word: AtomicU32::new(0), data: UnsafeCell::new(v) }
    }

    /// Takes the lock, spinning while another CPU holds it.
    #[inline(always)]
    pub fn lock(&self) -> KernelGuard<'_, T> {
        while self.word.compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.word.load(Ordering::Relaxed) != 0 {
                core::hint::spin_loop();
            }
        }
        KernelGuard { lock: self }
    }
}

impl<T> KernelLock<T> {
    /// Takes the lock, calling `serve` while another CPU holds it: a CPU that spins with
    /// interrupts masked must answer what the holder may wait for (TLB shootdowns, kicks,
    /// FP/SIMD saves), or the two would wait for each other (`docs/smp.md`).
    #[inline(always)]
    pub fn lock_serving(&self, serve: impl Fn()) -> KernelGuard<'_, T> {
        while self.word.compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.word.load(Ordering::Relaxed) != 0 {
                serve();
                core::hint::spin_loop();
            }
        }
        KernelGuard { lock: self }
    }
}

/// The held lock; dropping it releases the lock.
pub struct KernelGuard<'a, T> {
    lock: &'a KernelLock<T>,
}

impl<T> Deref for KernelGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this CPU holds the word.
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
        self.lock.word.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_is_first_and_the_guard_releases_it() {
        let l = KernelLock::new(5u64);
        assert_eq!(core::mem::offset_of!(KernelLock<u64>, word), 0);
        assert_eq!(KernelLock::<u64>::DATA_OFFSET, 8);
        {
            let mut g = l.lock();
            *g += 1;
            assert_eq!(l.word.load(Ordering::Relaxed), 1);
        }
        assert_eq!(l.word.load(Ordering::Relaxed), 0);
        assert_eq!(*l.lock(), 6);
    }
}
