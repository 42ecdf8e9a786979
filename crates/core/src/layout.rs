//! The data layout an arch's assembly IPC fast path reads and writes: field offsets
//! (`core::mem::offset_of!`) and the encodings of the enums it tests, exported as
//! constants so the assembly never hard-codes a number (docs/fastpath.md).
//!
//! Every type named here has a layout Rust guarantees: `#[repr(C)]` structs, and enums
//! with `#[repr(C, u8)]` / `#[repr(u8)]` and fixed discriminants, whose layout the
//! reference defines as a `#[repr(C)]` struct of the tag byte and a `#[repr(C)]` union
//! of one struct per variant. The private `*Repr` types below spell that definition out,
//! so the payload offsets come from `offset_of!` too, and const assertions check that
//! they agree with the real enums in size and alignment. The "none" values of the
//! optional fields are a handle of generation 0 ([`Handle::NONE`]): no object has it, so
//! a generation-checked lookup of it fails like a stale one. Host tests (the `layout`
//! tests in `pecan-kernel`, which may read memory) write values through safe Rust and read
//! them back at these offsets.
//!
//! Offsets into the kernel are from the start of [`Kernel`]; into a CPU's core state (the
//! running thread, `need_resched`, the top priority, the loaded task), from the start of
//! that CPU's [`PerCpu`] (`PERCPU_BASE` holds CPU 0's address, `PERCPU_SIZE` apart); into
//! a thread, from the start of its [`Tcb`] (the table slot's object, `THREAD_SLOT_VALUE`
//! past the slot).

use core::marker::PhantomData;
use core::mem::{align_of, offset_of, size_of};

use pecan_hal::Hal;
use pecan_mm::AsidAllocator;

use crate::counters::Counters;
use crate::kernel::Kernel;
use crate::list::List;
use crate::obj::cap::{Cap, CapSlot, CapSpace, Entry, ObjRef};
use crate::obj::gate::Gate;
use crate::obj::table::{Handle, Table};
use crate::obj::task::Task;
use crate::percpu::{PerCpu, PerCpus};
use crate::sched::Scheduler;
use crate::thread::{Filter, Reply, SpaceCache, State, Tcb};

// The reference's definition of the `#[repr(C, u8)]` enums' layout, field for field.

#[repr(C)]
struct FilterRepr {
    tag: u8,
    payload: Handle,
}

#[repr(C)]
struct SendingRepr {
    gate: Handle,
    receiver: Handle,
    call: bool,
    source: u8,
}

#[repr(C)]
struct WaitReplyRepr {
    callee: Handle,
    source: u8,
}

#[repr(C)]
union StatePayload {
    sending: core::mem::ManuallyDrop<SendingRepr>,
    receiving: core::mem::ManuallyDrop<FilterRepr>,
    wait_reply: core::mem::ManuallyDrop<WaitReplyRepr>,
    locked: Handle,
}

#[repr(C)]
struct StateRepr {
    tag: u8,
    payload: StatePayload,
}

#[repr(C)]
struct PortsRepr {
    first: u16,
    count: u32,
}

#[repr(C)]
union ObjPayload {
    handle: Handle,
    ports: core::mem::ManuallyDrop<PortsRepr>,
}

#[repr(C)]
struct ObjRefRepr {
    tag: u8,
    payload: ObjPayload,
}

#[repr(C)]
struct EntryRepr {
    tag: u8,
    slot: CapSlot,
}

const _: () = assert!(size_of::<State>() == size_of::<StateRepr>());
const _: () = assert!(align_of::<State>() == align_of::<StateRepr>());
const _: () = assert!(size_of::<Filter>() == size_of::<FilterRepr>());
const _: () = assert!(size_of::<ObjRef>() == size_of::<ObjRefRepr>());
const _: () = assert!(align_of::<ObjRef>() == align_of::<ObjRefRepr>());
const _: () = assert!(size_of::<Entry>() == size_of::<EntryRepr>());
const _: () = assert!(align_of::<Entry>() == align_of::<EntryRepr>());

/// [`Handle::idx`] (a `u32`) in a handle.
pub const HANDLE_IDX: usize = offset_of!(Handle, idx);
/// [`Handle::generation`] (a `u32`) in a handle; 0 in a "none" handle.
pub const HANDLE_GENERATION: usize = offset_of!(Handle, generation);

/// The tag byte of a [`State`].
pub const STATE_TAG: usize = offset_of!(StateRepr, tag);
/// `State::Ready`'s tag.
pub const STATE_READY: u8 = 1;
/// `State::Receiving`'s tag.
pub const STATE_RECEIVING: u8 = 3;
/// `State::WaitReply`'s tag.
pub const STATE_WAIT_REPLY: u8 = 4;
/// The tag byte of a `State::Receiving`'s [`Filter`], in the state.
pub const STATE_FILTER_TAG: usize = offset_of!(StateRepr, payload) + offset_of!(FilterRepr, tag);
/// The handle of a `State::Receiving(Filter::Gate(_))`, in the state.
pub const STATE_FILTER_HANDLE: usize = offset_of!(StateRepr, payload) + offset_of!(FilterRepr, payload);
/// `Filter::Any`'s tag.
pub const FILTER_ANY: u8 = 0;
/// `Filter::Gate`'s tag.
pub const FILTER_GATE: u8 = 1;
/// `State::WaitReply`'s `callee` handle, in the state.
pub const STATE_CALLEE: usize = offset_of!(StateRepr, payload) + offset_of!(WaitReplyRepr, callee);
/// `State::WaitReply`'s `source` byte, in the state.
pub const STATE_SOURCE: usize = offset_of!(StateRepr, payload) + offset_of!(WaitReplyRepr, source);
/// `Source::User`'s value.
pub const SOURCE_USER: u8 = 0;

/// Bytes from one capability-space slot to the next.
pub const CAP_ENTRY_SIZE: usize = size_of::<Entry>();
/// The tag byte of a slot (`Entry`): [`CAP_ENTRY_FULL`] if it holds a capability.
pub const CAP_ENTRY_TAG: usize = offset_of!(EntryRepr, tag);
/// `Entry::Full`'s tag.
pub const CAP_ENTRY_FULL: u8 = 1;
/// The tag byte of the capability's [`ObjRef`], in a slot.
pub const CAP_OBJ_TAG: usize = offset_of!(EntryRepr, slot)
    + offset_of!(CapSlot, cap)
    + offset_of!(Cap, obj)
    + offset_of!(ObjRefRepr, tag);
/// The handle an [`ObjRef`] names, in a slot.
pub const CAP_OBJ_HANDLE: usize = offset_of!(EntryRepr, slot)
    + offset_of!(CapSlot, cap)
    + offset_of!(Cap, obj)
    + offset_of!(ObjRefRepr, payload);
/// `ObjRef::Gate`'s tag.
pub const OBJ_GATE: u8 = 2;
/// The capability's rights byte (`CapRights`), in a slot.
pub const CAP_RIGHTS: usize =
    offset_of!(EntryRepr, slot) + offset_of!(CapSlot, cap) + offset_of!(Cap, rights);

/// The address of slot 0 (a `usize`) in a [`CapSpace`].
pub const CAPS_BASE: usize = CapSpace::BASE_OFFSET;
/// The number of slots (a `usize`) in a [`CapSpace`].
pub const CAPS_LEN: usize = CapSpace::LEN_OFFSET;
/// A task's capability space, in the [`Task`].
pub const TASK_CAPS: usize = offset_of!(Task, caps);

/// A gate's receiver (a handle, generation 0 if unbound), in the [`Gate`].
pub const GATE_RECEIVER: usize = offset_of!(Gate, receiver);
/// A gate's label (a `u64`), in the [`Gate`].
pub const GATE_LABEL: usize = offset_of!(Gate, label);

/// The length (a `u32`) of a [`List`] (a send queue, the pending IRQs).
pub const LIST_LEN: usize = offset_of!(List, len);

/// The offsets that depend on the architecture's types (its `Context`): of the kernel,
/// its tables and the TCB, for `Kernel<H>`.
pub struct Layout<H>(PhantomData<H>);

impl<H: Hal> Layout<H> {
    /// The address of the thread table's slot 0 (a `usize`), in the kernel.
    pub const THREADS_BASE: usize = offset_of!(Kernel<H>, threads) + Table::<Tcb<H::Context>>::BASE_OFFSET;
    /// The number of thread-table slots (a `usize`), in the kernel.
    pub const THREADS_LEN: usize = offset_of!(Kernel<H>, threads) + Table::<Tcb<H::Context>>::LEN_OFFSET;
    /// Bytes from one thread slot to the next.
    pub const THREAD_SLOT_SIZE: usize = Table::<Tcb<H::Context>>::SLOT_SIZE;
    /// A thread slot's generation (a `u32`; odd: live), in the slot.
    pub const THREAD_SLOT_GENERATION: usize = Table::<Tcb<H::Context>>::SLOT_GENERATION;
    /// 8 bytes of a thread slot equal to the live thread's handle, in the slot.
    pub const THREAD_SLOT_HANDLE: usize = Table::<Tcb<H::Context>>::SLOT_HANDLE;
    /// The [`Tcb`] in its slot.
    pub const THREAD_SLOT_VALUE: usize = Table::<Tcb<H::Context>>::SLOT_VALUE;

    /// The address of the task table's slot 0, in the kernel.
    pub const TASKS_BASE: usize = offset_of!(Kernel<H>, tasks) + Table::<Task>::BASE_OFFSET;
    /// The number of task-table slots, in the kernel.
    pub const TASKS_LEN: usize = offset_of!(Kernel<H>, tasks) + Table::<Task>::LEN_OFFSET;
    /// Bytes from one task slot to the next.
    pub const TASK_SLOT_SIZE: usize = Table::<Task>::SLOT_SIZE;
    /// A task slot's generation, in the slot.
    pub const TASK_SLOT_GENERATION: usize = Table::<Task>::SLOT_GENERATION;
    /// 8 bytes of a task slot equal to the live task's handle, in the slot.
    pub const TASK_SLOT_HANDLE: usize = Table::<Task>::SLOT_HANDLE;
    /// The [`Task`] in its slot.
    pub const TASK_SLOT_VALUE: usize = Table::<Task>::SLOT_VALUE;

    /// The address of the gate table's slot 0, in the kernel.
    pub const GATES_BASE: usize = offset_of!(Kernel<H>, gates) + Table::<Gate>::BASE_OFFSET;
    /// The number of gate-table slots, in the kernel.
    pub const GATES_LEN: usize = offset_of!(Kernel<H>, gates) + Table::<Gate>::LEN_OFFSET;
    /// Bytes from one gate slot to the next.
    pub const GATE_SLOT_SIZE: usize = Table::<Gate>::SLOT_SIZE;
    /// A gate slot's generation, in the slot.
    pub const GATE_SLOT_GENERATION: usize = Table::<Gate>::SLOT_GENERATION;
    /// 8 bytes of a gate slot equal to the live gate's handle, in the slot.
    pub const GATE_SLOT_HANDLE: usize = Table::<Gate>::SLOT_HANDLE;
    /// The [`Gate`] in its slot.
    pub const GATE_SLOT_VALUE: usize = Table::<Gate>::SLOT_VALUE;

    /// The address of CPU 0's core state ([`PerCpu`]), in the kernel: CPU `i`'s is at
    /// that address plus `i * PERCPU_SIZE` (`i` = `Hal::cpu_id`).
    pub const PERCPU_BASE: usize = offset_of!(Kernel<H>, percpu) + PerCpus::BASE_OFFSET;
    /// Bytes from one CPU's core state to the next.
    pub const PERCPU_SIZE: usize = PerCpus::SIZE;
    /// The task whose address space this CPU loaded (a handle, generation 0: none), in the
    /// CPU's [`PerCpu`].
    pub const ACTIVE_TASK: usize = offset_of!(PerCpu, active_task);
    /// The ASID allocator's generation (a `u64`), in the kernel.
    pub const ASID_GENERATION: usize = offset_of!(Kernel<H>, asids) + AsidAllocator::GENERATION_OFFSET;
    /// This CPU's running thread (a handle), in the CPU's [`PerCpu`].
    pub const CURRENT: usize = offset_of!(PerCpu, sched) + offset_of!(Scheduler, current);
    /// This CPU's `need_resched` (a `bool`), in the CPU's [`PerCpu`].
    pub const NEED_RESCHED: usize = offset_of!(PerCpu, sched) + offset_of!(Scheduler, need_resched);
    /// The highest priority with a non-empty ready list of this CPU (a `u8`), in the CPU's
    /// [`PerCpu`].
    pub const TOP: usize = offset_of!(PerCpu, sched) + offset_of!(Scheduler, top);
    /// The event counters (`u64` each, [`Counters`]), in the kernel.
    pub const COUNTERS: usize = offset_of!(Kernel<H>, counters);
    /// The thread another CPU stopped here (a handle, generation 0: none), in the CPU's
    /// [`PerCpu`].
    pub const STOPPED: usize = offset_of!(PerCpu, stopped);
    /// Ticks left of this CPU's time slice (a `u32`), in the CPU's [`PerCpu`].
    pub const SLICE_LEFT: usize = offset_of!(PerCpu, sched) + offset_of!(Scheduler, slice_left);
    /// How many threads this CPU's ready lists hold (a `u32`), in the CPU's [`PerCpu`].
    pub const QUEUED: usize = offset_of!(PerCpu, sched) + offset_of!(Scheduler, queued);
    /// The number of long IPCs under way (a `u32`, 0: none), in the kernel.
    pub const LONG_ACTIVE: usize =
        offset_of!(Kernel<H>, long) + offset_of!(crate::ipc::longipc::LongIpc, active);

    /// [`Tcb::state`].
    pub const TCB_STATE: usize = offset_of!(Tcb<H::Context>, state);
    /// [`Tcb::task`] (a handle).
    pub const TCB_TASK: usize = offset_of!(Tcb<H::Context>, task);
    /// The caller of [`Tcb::reply_to`] (a handle, generation 0: none).
    pub const TCB_REPLY_CALLER: usize = offset_of!(Tcb<H::Context>, reply_to) + offset_of!(Reply, caller);
    /// The call number of [`Tcb::reply_to`] (a `u32`).
    pub const TCB_REPLY_CALL: usize = offset_of!(Tcb<H::Context>, reply_to) + offset_of!(Reply, call);
    /// [`Tcb::call_count`] (a `u32`).
    pub const TCB_CALL_COUNT: usize = offset_of!(Tcb<H::Context>, call_count);
    /// [`Tcb::prio`] (a `u8`).
    pub const TCB_PRIO: usize = offset_of!(Tcb<H::Context>, prio);
    /// [`Tcb::resources`] (a `u32`).
    pub const TCB_RESOURCES: usize = offset_of!(Tcb<H::Context>, resources);
    /// [`Tcb::cpu`] (a `u32`).
    pub const TCB_CPU: usize = offset_of!(Tcb<H::Context>, cpu);
    /// [`Tcb::block_epoch`] (a `u64`).
    pub const TCB_BLOCK_EPOCH: usize = offset_of!(Tcb<H::Context>, block_epoch);
    /// The length of [`Tcb::send_queue`] (a `u32`).
    pub const TCB_SEND_QUEUE_LEN: usize = offset_of!(Tcb<H::Context>, send_queue) + LIST_LEN;
    /// The length of [`Tcb::pending_irqs`] (a `u32`).
    pub const TCB_PENDING_IRQS_LEN: usize = offset_of!(Tcb<H::Context>, pending_irqs) + LIST_LEN;
    /// The cached root table of [`Tcb::space`] (a `u64`).
    pub const TCB_SPACE_ROOT: usize = offset_of!(Tcb<H::Context>, space) + offset_of!(SpaceCache, root);
    /// The cached ASID generation of [`Tcb::space`] (a `u64`).
    pub const TCB_SPACE_GENERATION: usize =
        offset_of!(Tcb<H::Context>, space) + offset_of!(SpaceCache, generation);
    /// The cached ASID of [`Tcb::space`] (a `u16`; 0: untagged).
    pub const TCB_SPACE_ASID: usize = offset_of!(Tcb<H::Context>, space) + offset_of!(SpaceCache, asid);
    /// The saved registers, [`Tcb::ctx`].
    pub const TCB_CTX: usize = offset_of!(Tcb<H::Context>, ctx);
    /// [`Tcb::next_cpu`] (a `u32`; differs from `cpu` while the thread migrates).
    pub const TCB_NEXT_CPU: usize = offset_of!(Tcb<H::Context>, next_cpu);
    /// [`Tcb::timeslice`] (a `u32`).
    pub const TCB_TIMESLICE: usize = offset_of!(Tcb<H::Context>, timeslice);
    /// Whether the thread is in a ready list (a `bool`).
    pub const TCB_READY_LINKED: usize =
        offset_of!(Tcb<H::Context>, ready_links) + offset_of!(crate::list::Links, linked);
}

/// Offsets of the event counters in [`Counters`] (add [`Layout::COUNTERS`]).
pub mod counter {
    use super::{Counters, offset_of};
    /// System calls.
    pub const SYSCALLS: usize = offset_of!(Counters, syscalls);
    /// Messages.
    pub const MESSAGES: usize = offset_of!(Counters, messages);
    /// Handoffs.
    pub const HANDOFFS: usize = offset_of!(Counters, handoffs);
    /// Direct switches.
    pub const DIRECT_SWITCHES: usize = offset_of!(Counters, direct_switches);
    /// Address-space switches.
    pub const AS_SWITCHES: usize = offset_of!(Counters, as_switches);
    /// TLB flushes.
    pub const TLB_FLUSHES: usize = offset_of!(Counters, tlb_flushes);
    /// Fast-path system calls.
    pub const FASTPATH: usize = offset_of!(Counters, fastpath);
    /// Exceptions.
    pub const EXCEPTIONS: usize = offset_of!(Counters, exceptions);
    /// IPIs sent.
    pub const IPIS: usize = offset_of!(Counters, ipis);
    /// Threads handed to an idle CPU.
    pub const REMOTE_HANDOFFS: usize = offset_of!(Counters, remote_handoffs);
}

/// Whether the configuration is the one an assembly fast path implements: the fast path
/// on, lazy ready queues (a blocked thread stays in its list: no queue work) and the
/// direct switch (the partner runs at once). Otherwise the arch takes its general route.
pub const ASM_FASTPATH_OK: bool =
    crate::fastpath::ON && crate::sched::LAZY && cfg!(feature = "direct-switch");
/// Whether an assembly fast path may also take the cross-CPU case (partner waiting on
/// another, idle CPU: docs/smp.md "Cross-CPU fast path"): its configuration, and the
/// handoff (`crosscore`). The arch adds its own conditions (its HAL's handoff, per-CPU
/// lock words).
pub const CROSS_ASM_OK: bool = ASM_FASTPATH_OK && crate::handoff::ON;
/// Whether the event counters are compiled in (the assembly bumps them too).
pub const COUNTERS_ON: bool = crate::counters::ON;
