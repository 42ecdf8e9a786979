//! Per-CPU data, found through TPIDR_EL1.
//!
//! The trap entry for EL0 (next issue) loads the CPU's kernel stack from here; the kernel
//! reads its CPU index here. One entry per CPU; only the boot CPU runs so far.

use aarch64_cpu::registers::{Readable, TPIDR_EL1, Writeable};

/// Most CPUs the kernel supports.
pub const MAX_CPUS: usize = 8;

/// One CPU's data. The assembly uses the offsets below.
#[repr(C)]
#[derive(Debug)]
pub struct PerCpu {
    /// Top of this CPU's kernel stack (SP_EL1 after an EL0 trap).
    pub kstack_top: u64,
    /// The running thread's saved context (`crate::context::Context`), or 0.
    pub current: u64,
    /// This CPU's index (0: the boot CPU).
    pub index: u64,
    /// Its MPIDR_EL1 affinity.
    pub affinity: u64,
}

/// Byte offset of `PerCpu::kstack_top`.
pub const PERCPU_KSTACK_TOP: usize = 0;
/// Byte offset of `PerCpu::current`.
pub const PERCPU_CURRENT: usize = 8;

const _: () = assert!(core::mem::offset_of!(PerCpu, current) == PERCPU_CURRENT);

static mut PERCPU: [PerCpu; MAX_CPUS] =
    [const { PerCpu { kstack_top: 0, current: 0, index: 0, affinity: 0 } }; MAX_CPUS];

/// Sets up CPU `index`'s data and points TPIDR_EL1 at it.
///
/// # Safety
/// Called once per CPU, on that CPU, before anything reads its per-CPU data.
pub unsafe fn init(index: usize, kstack_top: u64) {
    // SAFETY: each CPU writes only its own entry, once, before using it.
    let p = unsafe { &mut *core::ptr::addr_of_mut!(PERCPU[index]) };
    p.kstack_top = kstack_top;
    p.index = index as u64;
    p.affinity = crate::cpu::affinity();
    TPIDR_EL1.set(p as *mut PerCpu as u64);
}

/// This CPU's index (0 before `init`).
pub fn index() -> usize {
    let p = TPIDR_EL1.get() as *const PerCpu;
    if p.is_null() {
        return 0;
    }
    // SAFETY: TPIDR_EL1 is either 0 or points at this CPU's entry, set by `init`.
    unsafe { (*p).index as usize }
}
