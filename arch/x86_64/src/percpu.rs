//! Per-CPU data, reached through GS in kernel mode (IA32_GS_BASE points at this CPU's
//! block; user mode's GS base sits in IA32_KERNEL_GS_BASE and `swapgs` trades them on
//! entries from and exits to user mode).
//!
//! The entry assembly (`syscall.S`, `vectors.S`, `return.S`) reads the first fields by
//! their `gs:` offsets (the `PERCPU_*` constants, passed to the assembly as operands); the
//! rest is Rust's (the lazy FPU, the FS base cache, the idle flag, the CPU's TSS). One block
//! per CPU, `MAX_CPUS` of them; CPU `i` (the kernel's index, 0 the boot CPU) uses block `i`.

use x86_64::VirtAddr;
use x86_64::registers::model_specific::{GsBase, KernelGsBase};
use x86_64::structures::tss::TaskStateSegment;

use crate::cell::SyncCell;
use crate::context::Context;

/// Most CPUs the kernel keeps data for.
pub const MAX_CPUS: usize = 16;

/// One CPU's block.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug)]
pub struct PerCpu {
    /// The block's own address (`gs:[0]`), to turn GS into a pointer.
    pub self_ptr: u64,
    /// This CPU's kernel stack top (`gs:[8]`): where every entry from user mode continues
    /// after saving into the thread's context, and where the idle loop runs.
    pub kernel_stack: u64,
    /// Scratch for the user rsp on `SYSCALL` (`gs:[16]`).
    pub user_rsp: u64,
    /// The running thread's `Context` (`gs:[24]`), null before the first thread runs.
    pub current: *mut Context,
    /// This CPU's index (`gs:[32]`).
    pub cpu_id: u64,
    /// The end of the running thread's `TrapFrame` (`gs:[40]`): the same value as
    /// TSS.RSP0, where `SYSCALL` starts pushing.
    pub frame_end: u64,
    /// The context whose x87/SSE registers are in the FPU (null: nobody's), with its
    /// `fpu_id` (`fpu.rs`).
    pub fpu_owner: *mut Context,
    /// The `fpu_id` of `fpu_owner` when it took the FPU.
    pub fpu_owner_id: u64,
    /// Whether the running thread may change the FPU registers (CR0.TS clear for it): the
    /// next kernel entry must save them.
    pub fpu_live: bool,
    /// Whether CR0.TS is set (a cache, to skip CR0 writes).
    pub ts_set: bool,
    /// Whether the CPU waits in the idle loop: an interrupt taken in kernel mode is then an
    /// event for the kernel.
    pub idle: bool,
    /// The context whose FS base is loaded, and that FS base.
    pub fs_ctx: *mut Context,
    /// The FS base loaded for `fs_ctx`.
    pub fs_base: u64,
    /// The address of this CPU's kernel-lock word (`pecan_kernel::lock`), which the
    /// assembly fast path takes alone; set by the platform ([`set_lock_word`]).
    pub lock_word: u64,
    /// This CPU's task-state segment (RSP0 for entries from user mode, IST 1 for double
    /// faults), here so that `gdt::set_kernel_stack` is one `gs:` store.
    pub tss: TaskStateSegment,
}

impl PerCpu {
    const EMPTY: PerCpu = PerCpu {
        self_ptr: 0,
        kernel_stack: 0,
        user_rsp: 0,
        current: core::ptr::null_mut(),
        cpu_id: 0,
        frame_end: 0,
        fpu_owner: core::ptr::null_mut(),
        fpu_owner_id: 0,
        fpu_live: false,
        ts_set: false,
        idle: false,
        fs_ctx: core::ptr::null_mut(),
        fs_base: 0,
        lock_word: 0,
        tss: TaskStateSegment::new(),
    };
}

/// `gs:` offset of [`PerCpu::kernel_stack`].
pub const PERCPU_KERNEL_STACK: usize = core::mem::offset_of!(PerCpu, kernel_stack);
/// `gs:` offset of [`PerCpu::user_rsp`].
pub const PERCPU_USER_RSP: usize = core::mem::offset_of!(PerCpu, user_rsp);
/// `gs:` offset of [`PerCpu::cpu_id`].
pub const PERCPU_CPU_ID: usize = core::mem::offset_of!(PerCpu, cpu_id);
/// `gs:` offset of [`PerCpu::frame_end`].
pub const PERCPU_FRAME_END: usize = core::mem::offset_of!(PerCpu, frame_end);
/// `gs:` offset of [`PerCpu::lock_word`].
pub const PERCPU_LOCK_WORD: usize = core::mem::offset_of!(PerCpu, lock_word);
/// `gs:` offset of RSP0 in [`PerCpu::tss`] (the TSS keeps it at byte 4).
pub const PERCPU_TSS_RSP0: usize = core::mem::offset_of!(PerCpu, tss) + 4;

static PERCPU: SyncCell<[PerCpu; MAX_CPUS]> = SyncCell::new([PerCpu::EMPTY; MAX_CPUS]);

/// Sets up CPU `cpu`'s block and points GS at it; returns the block (its TSS goes into
/// the CPU's GDT next).
pub fn init(cpu: usize, kernel_stack: u64) -> *mut PerCpu {
    assert!(cpu < MAX_CPUS);
    // SAFETY: each CPU initializes only its own block, before anything reads it.
    let block = unsafe { &mut (*PERCPU.get())[cpu] };
    *block = PerCpu {
        self_ptr: block as *mut PerCpu as u64,
        kernel_stack,
        cpu_id: cpu as u64,
        lock_word: block.lock_word,
        ..PerCpu::EMPTY
    };
    GsBase::write(VirtAddr::new(block.self_ptr));
    KernelGsBase::write(VirtAddr::new(0));
    block
}

/// Records the address of CPU `cpu`'s kernel-lock word for its assembly fast path: called
/// by the platform for every CPU before the first return to user mode (a block that `init`
/// sets up keeps it).
pub fn set_lock_word(cpu: usize, word: *const ()) {
    assert!(cpu < MAX_CPUS);
    // SAFETY: a plain store to one field, which only the fast path of that CPU reads, and
    // only after the first return to user mode, which follows this call.
    unsafe { core::ptr::addr_of_mut!((*PERCPU.get())[cpu].lock_word).write_volatile(word as u64) };
}

/// This CPU's block. Only this CPU touches it, always with interrupts disabled (kernel
/// code runs with IF clear), so a caller may use the pointer until it returns to user mode
/// or to the idle loop.
pub fn this() -> *mut PerCpu {
    let p: u64;
    // SAFETY: GS points at this CPU's block in kernel mode (set by `init` before any
    // caller runs); the load has no side effects.
    unsafe { core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags)) };
    p as *mut PerCpu
}

/// This CPU's index.
pub fn cpu_id() -> usize {
    let id: u64;
    // SAFETY: as in `this`.
    unsafe {
        core::arch::asm!("mov {}, gs:[{off}]", out(reg) id, off = const PERCPU_CPU_ID, options(nostack, readonly, preserves_flags))
    };
    id as usize
}
