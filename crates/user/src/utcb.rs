//! Access to the running thread's UTCB: message, buffer and thread control registers.

use crate::arch::utcb_base;
use pecan_abi::MR_COUNT;
use pecan_abi::utcb::{BR_COUNT, TCR_COUNT, offset};

fn word(i: usize) -> *mut u64 {
    (utcb_base() + i * 8) as *mut u64
}

/// Message register `i` (for `i >= REG_MRS`; lower ones travel in registers).
#[inline(always)]
pub fn mr(i: usize) -> u64 {
    assert!(i < MR_COUNT);
    // SAFETY: the UTCB is mapped for this thread and the index is in range.
    unsafe { word(offset::MR + i).read_volatile() }
}

/// Sets message register `i`.
#[inline(always)]
pub fn set_mr(i: usize, v: u64) {
    assert!(i < MR_COUNT);
    // SAFETY: as in `mr`.
    unsafe { word(offset::MR + i).write_volatile(v) }
}

/// Buffer register `i`.
pub fn br(i: usize) -> u64 {
    assert!(i < BR_COUNT);
    // SAFETY: as in `mr`.
    unsafe { word(offset::BR + i).read_volatile() }
}

/// Sets buffer register `i`.
pub fn set_br(i: usize, v: u64) {
    assert!(i < BR_COUNT);
    // SAFETY: as in `mr`.
    unsafe { word(offset::BR + i).write_volatile(v) }
}

/// Thread control register `i`.
pub fn tcr(i: usize) -> u64 {
    assert!(i < TCR_COUNT);
    // SAFETY: as in `mr`.
    unsafe { word(offset::TCR + i).read_volatile() }
}

/// Sets thread control register `i`.
pub fn set_tcr(i: usize, v: u64) {
    assert!(i < TCR_COUNT);
    // SAFETY: as in `mr`.
    unsafe { word(offset::TCR + i).write_volatile(v) }
}
