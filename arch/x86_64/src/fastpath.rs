//! The assembly IPC fast path (`fastpath.S`, `fastpath-asm` feature): the offsets and
//! encodings it uses, as `const` operands from `pecan_core::layout`, the kernel's static
//! it locks, and whether it is built at all.
//!
//! It is built only with the `fastpath` and `fastpath-asm` features and the core's lazy
//! queues and direct switch (the configuration it reproduces: a blocked thread stays in
//! its ready list, the partner becomes current at once); otherwise `syscall.S` goes
//! straight to the platform's route, which runs the core's generic fast path.

// Without the features only `ON` and the type are left: the assembly's imports go unused.
#![cfg_attr(not(all(feature = "fastpath", feature = "fastpath-asm")), allow(unused_imports))]

use core::mem::{MaybeUninit, offset_of};

use pecan_abi::REG_MRS;
use pecan_abi::layout::USER_TOP;
use pecan_core::Kernel;
use pecan_core::layout::{self as lay, Layout, counter};
use pecan_kernel::lock::KernelLock;

use crate::context::{Context, FRAME_END, TrapFrame, VECTOR_SYSCALL};
use crate::guard::{FORCED_FLAGS, USER_FLAGS};
use crate::hal::X86;
use crate::percpu::PerCpu;

/// The type of the platform's kernel static, which it exports as `pecan_kernel_lock`
/// (the assembly takes its lock and addresses the kernel inside it).
pub type KernelStatic = KernelLock<MaybeUninit<Kernel<X86>>>;

/// Whether `syscall.S` tries the assembly fast path first: the features, and the core's
/// configuration it reproduces (`layout::ASM_FASTPATH_OK`).
pub const ON: bool = cfg!(all(feature = "fastpath", feature = "fastpath-asm")) && lay::ASM_FASTPATH_OK;

type L = Layout<X86>;

/// Whether the assembly also takes the cross-CPU case (partner waiting on another, idle
/// CPU: handed over there, this CPU idles; docs/smp.md "Cross-CPU fast path"): the core's
/// configuration for it, the HAL's handoff, and per-CPU lock words (the path takes its
/// own CPU's and the partner CPU's).
pub const CROSS: bool = lay::CROSS_ASM_OK && <X86 as pecan_hal::Hal>::HANDOFF && pecan_kernel::lock::PER_CPU;

/// The cross-CPU case's ring (`fastpath.S`, holding this CPU's and CPU `cpu`'s lock words,
/// having made the partner `cpu`'s running thread, whose space is loaded there): CPU
/// `cpu`'s doorbell with the partner's context `ctx`, and the `Wake` IPI unless it polls.
/// Whether an IPI was sent.
#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
extern "C" fn pecan_x86_64_fast_ring(cpu: usize, ctx: *mut Context) -> bool {
    crate::handoff::ring(cpu, ctx, None)
}

/// The cross-CPU case's end (`fastpath.S`, both lock words released): this CPU runs
/// nothing, it idles.
#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
extern "C" fn pecan_x86_64_fast_idle() -> ! {
    crate::resume::resume(pecan_kernel::Resume::Idle)
}

/// The kernel inside the lock.
#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
const KD: usize = KernelStatic::DATA_OFFSET;
/// A field of the kernel, from the lock.
#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
const fn k(off: usize) -> usize {
    KD + off
}
/// A counter, from the lock.
#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
const fn c(off: usize) -> usize {
    KD + L::COUNTERS + off
}
/// A field of the TCB, from its table slot.
#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
const fn tcb(off: usize) -> usize {
    L::THREAD_SLOT_VALUE + off
}
/// A register of the frame.
#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
const fn f(off: usize) -> usize {
    offset_of!(Context, regs) + off
}

// What the assembly assumes beyond the constants it is given.
const _: () = {
    assert!(USER_TOP == 1 << 47, "the rip check is a shift by 47");
    assert!(lay::FILTER_ANY == 0, "an open wait is a zero filter byte");
    assert!(lay::HANDLE_IDX == 0 && lay::HANDLE_GENERATION == 4, "a handle is one qword");
    assert!(lay::STATE_TAG == 0);
    assert!(pecan_abi::Status::OK.0 == 0, "Status::OK is a zero");
    assert!(USER_FLAGS < 1 << 31 && FORCED_FLAGS < 1 << 31, "32-bit immediates");
    assert!(REG_MRS <= 8, "eight message registers at most");
    assert!(L::THREAD_SLOT_SIZE < 1 << 31 && L::TASK_SLOT_SIZE < 1 << 31 && L::GATE_SLOT_SIZE < 1 << 31);
    assert!(lay::CAP_ENTRY_SIZE < 1 << 31);
};

#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
unsafe extern "C" {
    /// The platform's kernel (`KERNEL`, a [`KernelStatic`] exported under this name); only
    /// its address is used, so it is declared as a byte.
    static pecan_kernel_lock: u8;
    /// `syscall.S`'s way to the platform's Rust route.
    fn pecan_syscall_route() -> !;
}

#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
core::arch::global_asm!(
    include_str!("fastpath.S"),
    kernel = sym pecan_kernel_lock,
    route = sym pecan_syscall_route,
    pcid = sym crate::mmu::PCID,
    kd = const KD,
    call = const pecan_core::fastpath::CALL,
    reply_wait = const pecan_core::fastpath::REPLY_WAIT,
    not_null = const pecan_core::fastpath::NOT_NULL,
    reg_mrs = const REG_MRS,
    counters = const lay::COUNTERS_ON as u8,
    send = const pecan_abi::CapRights::SEND.0,
    k_percpu_base = const k(L::PERCPU_BASE),
    percpu_size = const L::PERCPU_SIZE,
    c_current = const L::CURRENT,
    c_need_resched = const L::NEED_RESCHED,
    c_top = const L::TOP,
    c_active_task = const L::ACTIVE_TASK,
    k_asid_gen = const k(L::ASID_GENERATION),
    k_threads_base = const k(L::THREADS_BASE),
    k_threads_len = const k(L::THREADS_LEN),
    k_tasks_base = const k(L::TASKS_BASE),
    k_tasks_len = const k(L::TASKS_LEN),
    k_gates_base = const k(L::GATES_BASE),
    k_gates_len = const k(L::GATES_LEN),
    k_c_exceptions = const c(counter::EXCEPTIONS),
    k_c_syscalls = const c(counter::SYSCALLS),
    k_c_fastpath = const c(counter::FASTPATH),
    k_c_messages = const c(counter::MESSAGES),
    k_c_handoffs = const c(counter::HANDOFFS),
    k_c_direct_switches = const c(counter::DIRECT_SWITCHES),
    k_c_as_switches = const c(counter::AS_SWITCHES),
    k_c_tlb_flushes = const c(counter::TLB_FLUSHES),
    tcb_stride = const L::THREAD_SLOT_SIZE,
    tcb_handle = const L::THREAD_SLOT_HANDLE,
    tcb_ctx = const tcb(L::TCB_CTX),
    tcb_state = const tcb(L::TCB_STATE),
    tcb_filter = const tcb(L::TCB_STATE + lay::STATE_FILTER_TAG),
    tcb_filter_handle = const tcb(L::TCB_STATE + lay::STATE_FILTER_HANDLE),
    tcb_callee = const tcb(L::TCB_STATE + lay::STATE_CALLEE),
    tcb_source = const tcb(L::TCB_STATE + lay::STATE_SOURCE),
    tcb_task = const tcb(L::TCB_TASK),
    tcb_reply_caller = const tcb(L::TCB_REPLY_CALLER),
    tcb_reply_call = const tcb(L::TCB_REPLY_CALL),
    tcb_call_count = const tcb(L::TCB_CALL_COUNT),
    tcb_prio = const tcb(L::TCB_PRIO),
    tcb_resources = const tcb(L::TCB_RESOURCES),
    tcb_cpu = const tcb(L::TCB_CPU),
    tcb_epoch = const tcb(L::TCB_BLOCK_EPOCH),
    tcb_send_queue_len = const tcb(L::TCB_SEND_QUEUE_LEN),
    tcb_pending_irqs_len = const tcb(L::TCB_PENDING_IRQS_LEN),
    tcb_space_root = const tcb(L::TCB_SPACE_ROOT),
    tcb_space_gen = const tcb(L::TCB_SPACE_GENERATION),
    tcb_space_asid = const tcb(L::TCB_SPACE_ASID),
    st_ready = const lay::STATE_READY,
    st_receiving = const lay::STATE_RECEIVING,
    st_wait_reply = const lay::STATE_WAIT_REPLY,
    filter_any = const lay::FILTER_ANY,
    filter_gate = const lay::FILTER_GATE,
    source_user = const lay::SOURCE_USER,
    obj_gate = const lay::OBJ_GATE,
    cap_entry_tag = const lay::CAP_ENTRY_TAG,
    cap_entry_full = const lay::CAP_ENTRY_FULL,
    cap_obj_tag = const lay::CAP_OBJ_TAG,
    cap_handle = const lay::CAP_OBJ_HANDLE,
    cap_rights = const lay::CAP_RIGHTS,
    caps_stride = const lay::CAP_ENTRY_SIZE,
    task_stride = const L::TASK_SLOT_SIZE,
    task_handle = const L::TASK_SLOT_HANDLE,
    task_caps_base = const L::TASK_SLOT_VALUE + lay::TASK_CAPS + lay::CAPS_BASE,
    task_caps_size = const L::TASK_SLOT_VALUE + lay::TASK_CAPS + lay::CAPS_LEN,
    gate_stride = const L::GATE_SLOT_SIZE,
    gate_handle = const L::GATE_SLOT_HANDLE,
    gate_label = const L::GATE_SLOT_VALUE + lay::GATE_LABEL,
    gate_receiver = const L::GATE_SLOT_VALUE + lay::GATE_RECEIVER,
    f_rax = const f(offset_of!(TrapFrame, rax)),
    f_rdi = const f(offset_of!(TrapFrame, rdi)),
    f_rsi = const f(offset_of!(TrapFrame, rsi)),
    f_rbx = const f(offset_of!(TrapFrame, rbx)),
    f_rbp = const f(offset_of!(TrapFrame, rbp)),
    f_mr0 = const f(offset_of!(TrapFrame, rdx)),
    f_mr1 = const f(offset_of!(TrapFrame, r8)),
    f_mr2 = const f(offset_of!(TrapFrame, r9)),
    f_mr3 = const f(offset_of!(TrapFrame, r10)),
    f_mr4 = const f(offset_of!(TrapFrame, r12)),
    f_mr5 = const f(offset_of!(TrapFrame, r13)),
    f_mr6 = const f(offset_of!(TrapFrame, r14)),
    f_mr7 = const f(offset_of!(TrapFrame, r15)),
    f_vector = const f(offset_of!(TrapFrame, vector)),
    f_rip = const f(offset_of!(TrapFrame, rip)),
    f_rflags = const f(offset_of!(TrapFrame, rflags)),
    f_rsp = const f(offset_of!(TrapFrame, rsp)),
    vector_syscall = const VECTOR_SYSCALL,
    user_flags = const USER_FLAGS,
    forced_flags = const FORCED_FLAGS,
    frame_end = const FRAME_END,
    ctx_fx = const offset_of!(Context, fx),
    ctx_tls = const offset_of!(Context, tls),
    ctx_fpu_id = const offset_of!(Context, fpu_id),
    pc_current = const offset_of!(PerCpu, current),
    pc_cpu_id = const offset_of!(PerCpu, cpu_id),
    pc_lock_word = const offset_of!(PerCpu, lock_word),
    cross = const CROSS as u8,
    tag_cross_cpu = const pecan_abi::MsgTag::new(0, 0, 0).with_flags(pecan_abi::tag::FLAG_CROSS_CPU).0,
    fast_ring = sym pecan_x86_64_fast_ring,
    fast_idle = sym pecan_x86_64_fast_idle,
    lock_words = const KernelStatic::WORDS_OFFSET,
    word_shift = const KernelStatic::WORD_STRIDE.trailing_zeros(),
    k_long_active = const k(L::LONG_ACTIVE),
    k_c_ipis = const c(counter::IPIS),
    k_c_remote_handoffs = const c(counter::REMOTE_HANDOFFS),
    c_stopped = const L::STOPPED,
    c_slice_left = const L::SLICE_LEFT,
    c_queued = const L::QUEUED,
    tcb_next_cpu = const tcb(L::TCB_NEXT_CPU),
    tcb_timeslice = const tcb(L::TCB_TIMESLICE),
    tcb_ready_linked = const tcb(L::TCB_READY_LINKED),
    pc_frame_end = const offset_of!(PerCpu, frame_end),
    pc_tss_rsp0 = const crate::percpu::PERCPU_TSS_RSP0,
    pc_fs_ctx = const offset_of!(PerCpu, fs_ctx),
    pc_fs_base = const offset_of!(PerCpu, fs_base),
    pc_fpu_owner = const offset_of!(PerCpu, fpu_owner),
    pc_fpu_owner_id = const offset_of!(PerCpu, fpu_owner_id),
    pc_fpu_live = const offset_of!(PerCpu, fpu_live),
    pc_ts_set = const offset_of!(PerCpu, ts_set),
);
