//! The assembly IPC fast path (`fastpath.S`, `fastpath-asm` feature): the entry block of
//! asm.rs with fastpath.S in it, and its constants, all from the core's exported layout
//! (`pecan_core::layout`) and this crate's context and per-CPU offsets. The platform names
//! its kernel lock `pecan_kernel_lock`.

use pecan_core::fastpath::{CALL, REPLY_WAIT};
use pecan_core::layout::{self, Layout, counter};

use crate::Aarch64;
use crate::context::{CTX_FP_CPU, MR_BASE};
use crate::percpu::{PERCPU_CPACR, PERCPU_CURRENT, PERCPU_FP_OWNER, PERCPU_INDEX, PERCPU_LOCK_WORD};

type L = Layout<Aarch64>;

/// The platform's kernel static's type (exported as `pecan_kernel_lock`).
type KernelStatic = pecan_kernel::lock::KernelLock<core::mem::MaybeUninit<pecan_core::Kernel<Aarch64>>>;
/// The kernel lock's data offset.
const DATA_OFFSET: usize = KernelStatic::DATA_OFFSET;

/// Whether the assembly also takes the cross-CPU case (partner waiting on another, idle
/// CPU: handed over there, this CPU idles; docs/smp.md "Cross-CPU fast path"): the core's
/// configuration for it, the HAL's handoff, and per-CPU lock words (the path takes its
/// own CPU's and the partner CPU's).
pub const CROSS: bool =
    layout::CROSS_ASM_OK && <Aarch64 as pecan_hal::Hal>::HANDOFF && pecan_kernel::lock::PER_CPU;

/// The cross-CPU case's ring (`fastpath.S`, holding this CPU's and CPU `cpu`'s lock words,
/// having made the partner `cpu`'s running thread, whose space is loaded there): CPU
/// `cpu`'s doorbell with the partner's context `ctx`, and the `Wake` SGI unless it polls.
/// Whether an SGI was sent.
extern "C" fn pecan_aarch64_fast_ring(cpu: usize, ctx: *mut crate::Context) -> bool {
    crate::handoff::ring(cpu, ctx, None)
}

/// The cross-CPU case's end (`fastpath.S`, both lock words released, on this CPU's kernel
/// stack): this CPU idles; the context its idle loop leads to.
extern "C" fn pecan_aarch64_fast_idle() -> *mut crate::Context {
    crate::user::resume(pecan_kernel::Resume::Idle)
}

/// Control-word bits that must be zero for a `Null` (the core's `fastpath::NOT_NULL`):
/// the number and the reserved bits.
const NOT_NULL: u64 = 0xffff_0000_0000_ffff;
/// The bits `Call` and `ReplyWait` share above their numbers (both timeouts never): the
/// vector's `eor` leaves the number.
const CTRL_HIGH: u64 = CALL & !0xff;
const _: () = assert!(REPLY_WAIT & !0xff == CTRL_HIGH && CALL & NOT_NULL != 0);
/// `CapRights::SEND`'s bit.
const SEND_BIT: u32 = pecan_abi::CapRights::SEND.0.trailing_zeros();
const _: () = assert!(pecan_abi::CapRights::SEND.0.is_power_of_two());
/// `State::Receiving(Filter::Any)` as the state's first 8 bytes: the tag, padding, the
/// filter's tag and padding (the filter's handle starts at 8).
const STATE_RECV_ANY: u64 =
    (layout::STATE_RECEIVING as u64) | (layout::FILTER_ANY as u64) << (8 * layout::STATE_FILTER_TAG);
const _: () =
    assert!(layout::STATE_TAG == 0 && layout::STATE_FILTER_TAG < 8 && layout::STATE_FILTER_HANDLE >= 8);
// The assembly tests these for zero: `Filter::Any`'s tag, `Source::User`, the FP trap.
const _: () = assert!(layout::FILTER_ANY == 0 && layout::SOURCE_USER == 0);
const _: () = assert!(crate::fpu::CPACR_TRAP == 0);

crate::asm::entry_block!(
    [include_str!("fastpath.S"),]
    FASTPATH_ASM = const layout::ASM_FASTPATH_OK as u64,
    KERNEL = sym pecan_kernel_lock,
    COUNTERS = const layout::COUNTERS_ON as u64,
    CTRL_HIGH = const CTRL_HIGH,
    CALL_NUM = const CALL & 0xff,
    REPLY_WAIT_NUM = const REPLY_WAIT & 0xff,
    NOT_NULL = const NOT_NULL,
    D = const DATA_OFFSET,
    TV = const L::THREAD_SLOT_VALUE,
    REG_MRS = const pecan_abi::REG_MRS,
    MR_BASE = const MR_BASE,
    SEND_BIT = const SEND_BIT,
    STATE_RECV_ANY = const STATE_RECV_ANY,
    THREADS_BASE = const L::THREADS_BASE,
    THREAD_SLOT_SIZE = const L::THREAD_SLOT_SIZE,
    THREAD_SLOT_GENERATION = const L::THREAD_SLOT_GENERATION,
    TASKS_BASE = const L::TASKS_BASE,
    TASK_SLOT_SIZE = const L::TASK_SLOT_SIZE,
    TASK_SLOT_VALUE = const L::TASK_SLOT_VALUE,
    GATES_BASE = const L::GATES_BASE,
    GATE_SLOT_SIZE = const L::GATE_SLOT_SIZE,
    GATE_SLOT_GENERATION = const L::GATE_SLOT_GENERATION,
    GATE_SLOT_VALUE = const L::GATE_SLOT_VALUE,
    PERCPU_BASE = const L::PERCPU_BASE,
    PERCPU_SIZE = const L::PERCPU_SIZE,
    ACTIVE_TASK = const L::ACTIVE_TASK,
    ASID_GENERATION = const L::ASID_GENERATION,
    CURRENT = const L::CURRENT,
    NEED_RESCHED = const L::NEED_RESCHED,
    TOP = const L::TOP,
    K_COUNTERS = const L::COUNTERS,
    C_EXCEPTIONS = const counter::EXCEPTIONS,
    C_SYSCALLS = const counter::SYSCALLS,
    C_FASTPATH = const counter::FASTPATH,
    C_MESSAGES = const counter::MESSAGES,
    C_HANDOFFS = const counter::HANDOFFS,
    C_DIRECT_SWITCHES = const counter::DIRECT_SWITCHES,
    C_AS_SWITCHES = const counter::AS_SWITCHES,
    C_TLB_FLUSHES = const counter::TLB_FLUSHES,
    TCB_STATE = const L::TCB_STATE,
    TCB_TASK = const L::TCB_TASK,
    TCB_REPLY_CALLER = const L::TCB_REPLY_CALLER,
    TCB_REPLY_CALL = const L::TCB_REPLY_CALL,
    TCB_CALL_COUNT = const L::TCB_CALL_COUNT,
    TCB_PRIO = const L::TCB_PRIO,
    TCB_RESOURCES = const L::TCB_RESOURCES,
    TCB_CPU = const L::TCB_CPU,
    TCB_BLOCK_EPOCH = const L::TCB_BLOCK_EPOCH,
    TCB_SEND_QUEUE_LEN = const L::TCB_SEND_QUEUE_LEN,
    TCB_PENDING_IRQS_LEN = const L::TCB_PENDING_IRQS_LEN,
    TCB_SPACE_ROOT = const L::TCB_SPACE_ROOT,
    TCB_SPACE_GENERATION = const L::TCB_SPACE_GENERATION,
    TCB_SPACE_ASID = const L::TCB_SPACE_ASID,
    TCB_CTX = const L::TCB_CTX,
    STATE_TAG = const layout::STATE_TAG,
    STATE_READY = const layout::STATE_READY,
    STATE_RECEIVING = const layout::STATE_RECEIVING,
    STATE_WAIT_REPLY = const layout::STATE_WAIT_REPLY,
    STATE_FILTER_TAG = const layout::STATE_FILTER_TAG,
    STATE_FILTER_HANDLE = const layout::STATE_FILTER_HANDLE,
    STATE_CALLEE = const layout::STATE_CALLEE,
    STATE_SOURCE = const layout::STATE_SOURCE,
    FILTER_GATE = const layout::FILTER_GATE,
    TASK_CAPS = const layout::TASK_CAPS,
    CAPS_BASE = const layout::CAPS_BASE,
    CAPS_LEN = const layout::CAPS_LEN,
    CAP_ENTRY_SIZE = const layout::CAP_ENTRY_SIZE,
    CAP_ENTRY_TAG = const layout::CAP_ENTRY_TAG,
    CAP_ENTRY_FULL = const layout::CAP_ENTRY_FULL,
    CAP_OBJ_TAG = const layout::CAP_OBJ_TAG,
    CAP_OBJ_HANDLE = const layout::CAP_OBJ_HANDLE,
    CAP_RIGHTS = const layout::CAP_RIGHTS,
    OBJ_GATE = const layout::OBJ_GATE,
    GATE_RECEIVER = const layout::GATE_RECEIVER,
    GATE_LABEL = const layout::GATE_LABEL,
    PERCPU_FP_OWNER = const PERCPU_FP_OWNER,
    PERCPU_INDEX = const PERCPU_INDEX,
    PERCPU_CPACR = const PERCPU_CPACR,
    PERCPU_LOCK_WORD = const PERCPU_LOCK_WORD,
    CROSS = const CROSS as u64,
    TAG_CROSS_CPU = const pecan_abi::MsgTag::new(0, 0, 0).with_flags(pecan_abi::tag::FLAG_CROSS_CPU).0,
    FAST_RING = sym pecan_aarch64_fast_ring,
    FAST_IDLE = sym pecan_aarch64_fast_idle,
    LOCK_WORDS = const KernelStatic::WORDS_OFFSET,
    WORD_SHIFT = const KernelStatic::WORD_STRIDE.trailing_zeros(),
    LONG_ACTIVE = const L::LONG_ACTIVE,
    C_IPIS = const counter::IPIS,
    C_REMOTE_HANDOFFS = const counter::REMOTE_HANDOFFS,
    STOPPED = const L::STOPPED,
    SLICE_LEFT = const L::SLICE_LEFT,
    QUEUED = const L::QUEUED,
    TCB_NEXT_CPU = const L::TCB_NEXT_CPU,
    TCB_TIMESLICE = const L::TCB_TIMESLICE,
    TCB_READY_LINKED = const L::TCB_READY_LINKED,
    PERCPU_CURRENT = const PERCPU_CURRENT,
    CTX_FP_CPU = const CTX_FP_CPU,
    CPACR_ON = const crate::fpu::CPACR_ON,
);

unsafe extern "C" {
    /// The platform's kernel lock (`KernelLock<MaybeUninit<Kernel<Aarch64>>>`), exported
    /// under this name.
    static pecan_kernel_lock: u8;
}
