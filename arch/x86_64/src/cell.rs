//! A `static` cell for hardware-facing data (descriptor tables, stacks, page-table pools)
//! that the CPU reads by address and the kernel writes during single-threaded boot.

use core::cell::UnsafeCell;

/// Interior-mutable static storage; every access goes through a raw pointer whose user
/// states why no other access races with it.
#[repr(transparent)]
pub struct SyncCell<T>(UnsafeCell<T>);

// SAFETY: the cell only hands out raw pointers; each dereference site justifies itself
// (boot runs on one CPU with interrupts off; later users take locks).
unsafe impl<T> Sync for SyncCell<T> {}

impl<T> SyncCell<T> {
    /// A cell holding `v`.
    pub const fn new(v: T) -> Self {
        SyncCell(UnsafeCell::new(v))
    }

    /// A raw pointer to the contents.
    pub const fn get(&self) -> *mut T {
        self.0.get()
    }
}
