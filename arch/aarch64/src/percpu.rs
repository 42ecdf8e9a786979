//! Per-CPU data, found through TPIDR_EL1.
//!
//! The EL0 entry (`user.S`) loads the CPU's kernel stack from here; the lazy FP/SIMD
//! switch (`fpu.rs`) keeps the CPU's FP owner here; the kernel reads its CPU index here.
//! One entry per CPU, `MAX_CPUS` of them: CPU `i` (the kernel's index, 0 the boot CPU)
//! uses entry `i`.

use aarch64_cpu::registers::{Readable, TPIDR_EL1, Writeable};

use crate::context::Context;

/// Most CPUs the kernel supports.
pub const MAX_CPUS: usize = 16;

/// One CPU's data. The assembly uses the offsets below.
#[repr(C)]
#[derive(Debug)]
pub struct PerCpu {
    /// Top of this CPU's kernel stack (SP_EL1 after an EL0 trap).
    pub kstack_top: u64,
    /// The context of the thread this CPU last returned to in user mode, or null.
    pub current: *mut Context,
    /// This CPU's index (0: the boot CPU).
    pub index: u64,
    /// Its MPIDR_EL1 affinity.
    pub affinity: u64,
    /// The context whose FP/SIMD state may be live in this CPU's registers (it is, if
    /// that context's `fp_cpu` still names this CPU), or null.
    pub fp_owner: *mut Context,
    /// The CPACR_EL1 value last written on this CPU (to skip rewriting it).
    pub cpacr: u64,
    /// The address of this CPU's kernel-lock word (`pecan_kernel::lock`), which the
    /// assembly fast path takes alone; set by the platform ([`set_lock_word`]).
    pub lock_word: u64,
}

/// Byte offset of `PerCpu::kstack_top`.
pub const PERCPU_KSTACK_TOP: usize = 0;
/// Byte offset of `PerCpu::current`.
pub const PERCPU_CURRENT: usize = 8;
/// Byte offset of `PerCpu::index`.
pub const PERCPU_INDEX: usize = core::mem::offset_of!(PerCpu, index);
/// Byte offset of `PerCpu::fp_owner`.
pub const PERCPU_FP_OWNER: usize = core::mem::offset_of!(PerCpu, fp_owner);
/// Byte offset of `PerCpu::cpacr`.
pub const PERCPU_CPACR: usize = core::mem::offset_of!(PerCpu, cpacr);
/// Byte offset of `PerCpu::lock_word`.
pub const PERCPU_LOCK_WORD: usize = core::mem::offset_of!(PerCpu, lock_word);

const _: () = assert!(core::mem::offset_of!(PerCpu, kstack_top) == PERCPU_KSTACK_TOP);
const _: () = assert!(core::mem::offset_of!(PerCpu, current) == PERCPU_CURRENT);

static mut PERCPU: [PerCpu; MAX_CPUS] = [const {
    PerCpu {
        kstack_top: 0,
        current: core::ptr::null_mut(),
        index: 0,
        affinity: 0,
        fp_owner: core::ptr::null_mut(),
        cpacr: 0,
        lock_word: 0,
    }
}; MAX_CPUS];

/// Records the address of CPU `cpu`'s kernel-lock word for its assembly fast path: called
/// by the platform for every CPU before the first return to user mode (`init` keeps it).
pub fn set_lock_word(cpu: usize, word: *const ()) {
    assert!(cpu < MAX_CPUS);
    // SAFETY: a plain store to one field, which only the fast path of that CPU reads, and
    // only after the first return to user mode, which follows this call.
    unsafe { core::ptr::addr_of_mut!(PERCPU[cpu].lock_word).write_volatile(word as u64) };
}

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
    p.current = core::ptr::null_mut();
    p.fp_owner = core::ptr::null_mut();
    p.cpacr = 0; // entry.S cleared CPACR_EL1
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

/// This CPU's data, for code that runs with interrupts masked (the trap paths).
///
/// # Safety
/// `init` has run on this CPU, and the caller does not keep the reference across
/// anything else that takes it (one trap path at a time: interrupts are masked in the
/// kernel, and each CPU touches only its own entry).
pub unsafe fn this() -> &'static mut PerCpu {
    // SAFETY: `init` pointed TPIDR_EL1 at this CPU's entry; the caller keeps it unique.
    unsafe { &mut *(TPIDR_EL1.get() as *mut PerCpu) }
}
