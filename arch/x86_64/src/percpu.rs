//! Per-CPU data, reached through GS in kernel mode (IA32_GS_BASE points at this CPU's
//! block; user mode's GS base sits in IA32_KERNEL_GS_BASE and `swapgs` trades them on
//! entries from and exits to user mode).

use x86_64::VirtAddr;
use x86_64::registers::model_specific::{GsBase, KernelGsBase};

use crate::cell::SyncCell;

/// Most CPUs the kernel keeps data for.
pub const MAX_CPUS: usize = 16;

/// One CPU's block. Assembly uses the offsets below: keep them in sync.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default)]
pub struct PerCpu {
    /// The block's own address (`gs:[0]`), to turn GS into a pointer.
    pub self_ptr: u64,
    /// This CPU's kernel stack top (`gs:[8]`): where user-mode entries continue after
    /// saving into the thread's context.
    pub kernel_stack: u64,
    /// Scratch for the user rsp on `SYSCALL` (`gs:[16]`).
    pub user_rsp: u64,
    /// The running thread's `Context` (`gs:[24]`).
    pub current: u64,
    /// This CPU's index (`gs:[32]`).
    pub cpu_id: u64,
}

/// `gs:` offset of [`PerCpu::kernel_stack`].
pub const PERCPU_KERNEL_STACK: usize = core::mem::offset_of!(PerCpu, kernel_stack);
/// `gs:` offset of [`PerCpu::cpu_id`].
pub const PERCPU_CPU_ID: usize = core::mem::offset_of!(PerCpu, cpu_id);

static PERCPU: SyncCell<[PerCpu; MAX_CPUS]> =
    SyncCell::new([PerCpu { self_ptr: 0, kernel_stack: 0, user_rsp: 0, current: 0, cpu_id: 0 }; MAX_CPUS]);

/// Sets up CPU `cpu`'s block and points GS at it.
pub fn init(cpu: usize, kernel_stack: u64) {
    assert!(cpu < MAX_CPUS);
    // SAFETY: each CPU initializes only its own block, before anything reads it.
    let block = unsafe { &mut (*PERCPU.get())[cpu] };
    *block = PerCpu {
        self_ptr: block as *mut PerCpu as u64,
        kernel_stack,
        user_rsp: 0,
        current: 0,
        cpu_id: cpu as u64,
    };
    GsBase::write(VirtAddr::new(block.self_ptr));
    KernelGsBase::write(VirtAddr::new(0));
}

/// This CPU's index.
pub fn cpu_id() -> usize {
    let id: u64;
    // SAFETY: GS points at this CPU's block in kernel mode (set by `init` before any
    // caller runs); the load has no side effects.
    unsafe {
        core::arch::asm!("mov {}, gs:[{off}]", out(reg) id, off = const PERCPU_CPU_ID, options(nostack, readonly, preserves_flags))
    };
    id as usize
}
