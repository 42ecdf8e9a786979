//! The thread control block and the IPC states a thread can be in.

extern crate alloc;

use pecan_hal::PhysAddr;

use crate::list::{Linked, Links, List, Which};
use crate::obj::table::Handle;

/// What a receiving thread accepts. `#[repr(C, u8)]` with fixed discriminants
/// (`layout.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, u8)]
pub enum Filter {
    /// Open wait: any gate bound to it, any IRQ attached to it.
    Any = 0,
    /// Closed wait on one gate bound to it.
    Gate(Handle) = 1,
    /// Closed wait on one sending thread.
    Thread(Handle) = 2,
    /// Closed wait on one IRQ attached to it.
    Irq(Handle) = 3,
    /// Closed wait on nobody: sleep until the timeout.
    Nil = 4,
}

/// Where the message of a sending thread comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Source {
    /// The sender's own registers and UTCB (a system call).
    User = 0,
    /// A message the kernel made on the thread's behalf (page fault, exception), held in
    /// [`Tcb::kmsg`]; the thread is not in a system call and its registers stay untouched.
    Kernel = 1,
}

/// A thread's state. Exactly one; only a sending thread is in a wait list (its receiver's
/// send queue). `#[repr(C, u8)]` with fixed discriminants: an arch's assembly fast path
/// reads and writes it (`layout.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, u8)]
pub enum State {
    /// Not runnable: never started, suspended, or stopped after an unhandled fault.
    Inactive = 0,
    /// Runnable (or running).
    Ready = 1,
    /// Blocked in a send phase, in `receiver`'s send queue.
    Sending {
        /// The gate the message goes through.
        gate: Handle,
        /// The thread the gate is bound to.
        receiver: Handle,
        /// After the send, wait for the reply (call).
        call: bool,
        /// Where the message is.
        source: Source,
    } = 2,
    /// Blocked in a receive phase (open or closed wait, or sleep).
    Receiving(Filter) = 3,
    /// Blocked waiting for the reply of `callee` (the receive phase of a call). In no list:
    /// the callee's reply capability names it, and deleting the callee finds it by a scan
    /// of the thread table (deletion is rare; a call is not).
    WaitReply {
        /// The thread that received the call.
        callee: Handle,
        /// The call was a kernel-made fault message: the reply resumes the thread instead
        /// of completing a system call.
        source: Source,
    } = 4,
    /// Locked in a long IPC (string items, `ipc/longipc.rs`): the receiver while its
    /// sender copies, or the sender while the receiver's pager resolves a page fault in
    /// the receiver's buffer. Not runnable, accepts nothing; in no list (the transfer is
    /// recorded in the sender's TCB). See `docs/long-ipc.md`.
    Locked {
        /// The partner of the transfer.
        partner: Handle,
    } = 5,
}

impl State {
    /// Whether the thread is blocked in IPC.
    pub fn is_blocked(&self) -> bool {
        !matches!(self, State::Inactive | State::Ready)
    }
}

/// A kernel-made message (page fault or exception), sent on a faulting thread's behalf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelMsg {
    /// The message tag.
    pub tag: u64,
    /// Its words.
    pub words: [u64; 5],
}

/// Resource bits of a thread (seed 001, "TCB Resources"): state an architecture must
/// handle on the general path. The fast path tests the whole word at once; no bit is
/// defined yet (the lazy FP/SIMD switch needs none: a fast-path switch only sets the trap
/// for the new thread, like every return to user mode).
pub mod resources {
    /// No resource: the fast path may run.
    pub const NONE: u32 = 0;
}

/// A thread's implicit reply capability with a fixed layout (an arch's assembly fast path
/// reads and writes it): the caller and its call number; a caller of [`Handle::NONE`]
/// (generation 0, which no thread has) for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Reply {
    /// The caller waiting for the reply.
    pub caller: Handle,
    /// The caller's call number ([`Tcb::call_count`] when it called).
    pub call: u32,
}

impl Reply {
    /// No reply capability.
    pub const NONE: Reply = Reply { caller: Handle::NONE, call: 0 };

    /// The caller and its call number, if there is a reply capability.
    #[inline(always)]
    pub const fn get(self) -> Option<(Handle, u32)> {
        if self.caller.generation == 0 { None } else { Some((self.caller, self.call)) }
    }
}

impl From<Option<(Handle, u32)>> for Reply {
    #[inline(always)]
    fn from(r: Option<(Handle, u32)>) -> Self {
        match r {
            Some((caller, call)) => Reply { caller, call },
            None => Reply::NONE,
        }
    }
}

/// The address space a thread runs in, as the fast path loads it without looking its
/// task up: the task's root table and ASID, valid while the ASID allocator is still in
/// `generation` (0: not filled; the general path's `Kernel::activate` fills it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SpaceCache {
    /// The task's root table.
    pub root: PhysAddr,
    /// The ASID generation the entry belongs to.
    pub generation: u64,
    /// The task's ASID in that generation.
    pub asid: u16,
}

/// The thread control block.
///
/// `#[repr(C)]`, with the fields the IPC fast path (`fastpath.rs`) reads or writes first:
/// `state`, `task`, `reply_to`, `call_count`, `prio`, `resources`, `block_epoch`, the
/// lengths of `send_queue` and `pending_irqs`, `space`, then `ctx`, whose first words are the
/// system-call and message registers on both architectures. So a call touches the first
/// three cache lines of each TCB (64-byte lines; the table slot's generation sits just
/// before the TCB), and nothing of the colder fields after `ctx`.
#[repr(C)]
pub struct Tcb<C> {
    /// IPC and scheduling state.
    pub state: State,
    /// The task (address space and capability space) the thread runs in.
    pub task: Handle,
    /// The implicit reply capability: the caller and its call number.
    pub reply_to: Reply,
    /// Number of calls this thread made (names one call for the reply capability).
    pub call_count: u32,
    /// Scheduling priority, 0 (lowest) to 255.
    pub prio: u8,
    /// Resource bits ([`resources`]): non-zero sends every system call of the thread to
    /// the general path.
    pub resources: u32,
    /// The CPU the thread runs on: the CPU whose ready lists hold it (index into
    /// `Kernel::percpu`). Set at creation to the creator's CPU; the fast path refuses a
    /// partner whose CPU is not the caller's.
    pub cpu: u32,
    /// Advanced whenever the thread blocks or wakes: a wheel entry is live only while it
    /// matches `timeout_epoch`.
    pub block_epoch: u64,
    /// Threads blocked sending to this thread, in arrival order.
    pub send_queue: List,
    /// IRQ objects attached to this thread that fired and wait to be delivered.
    pub pending_irqs: List,
    /// The task's address space, for the fast path's switch.
    pub space: SpaceCache,
    /// Saved user registers.
    pub ctx: C,
    /// The frame holding the UTCB.
    pub utcb_frame: PhysAddr,
    /// Where the UTCB is mapped in the task.
    pub utcb_va: u64,
    /// Time-slice length in ticks.
    pub timeslice: u32,
    /// Links in a send queue.
    pub wait_links: Links,
    /// Links in a ready list.
    pub ready_links: Links,
    /// Links in a timeout-wheel bucket.
    pub timer_links: Links,
    /// The tick at which the current timeout expires.
    pub timeout_at: u64,
    /// The block epoch the armed timeout belongs to.
    pub timeout_epoch: u64,
    /// Capability selector (in the thread's task) of the page-fault handler.
    pub pager: u64,
    /// Capability selector (in the thread's task) of the exception handler.
    pub exc_handler: u64,
    /// A kernel-made message being sent.
    pub kmsg: KernelMsg,
    /// The factory the thread is charged to.
    pub charged_to: Handle,
    /// The long IPC this thread is sending (`ipc/longipc.rs`), while it is under way.
    pub xfer: Option<alloc::boxed::Box<crate::ipc::longipc::Xfer>>,
    /// The sender of the long IPC this thread is receiving, while it is under way.
    pub xfer_sender: Option<Handle>,
    /// The CPU the thread is to run on (its affinity, `SET_AFFINITY`): equal to `cpu`
    /// except while a running thread waits to migrate at its CPU's next scheduling.
    pub next_cpu: u32,
}

impl<C> Tcb<C> {
    /// A new inactive thread.
    pub fn new(task: Handle, ctx: C, utcb_frame: PhysAddr, utcb_va: u64, charged_to: Handle) -> Self {
        Tcb {
            state: State::Inactive,
            task,
            reply_to: Reply::NONE,
            call_count: 0,
            prio: crate::sched::DEFAULT_PRIO,
            resources: resources::NONE,
            cpu: 0,
            block_epoch: 0,
            send_queue: List::new(),
            pending_irqs: List::new(),
            space: SpaceCache::default(),
            ctx,
            utcb_frame,
            utcb_va,
            timeslice: crate::sched::DEFAULT_TIMESLICE,
            wait_links: Links::default(),
            ready_links: Links::default(),
            timer_links: Links::default(),
            timeout_at: 0,
            timeout_epoch: u64::MAX,
            pager: 0,
            exc_handler: 0,
            kmsg: KernelMsg::default(),
            charged_to,
            xfer: None,
            xfer_sender: None,
            next_cpu: 0,
        }
    }
}

impl<C: pecan_hal::UserContext> crate::obj::table::Vacant for Tcb<C> {
    fn vacant() -> Self {
        Tcb::new(Handle::NONE, C::new_user(0, 0, 0), PhysAddr(0), 0, Handle::NONE)
    }
}

impl<C> Linked for Tcb<C> {
    fn links(&mut self, w: Which) -> &mut Links {
        match w {
            Which::Wait => &mut self.wait_links,
            Which::Ready => &mut self.ready_links,
            Which::Timer | Which::Irq => &mut self.timer_links,
        }
    }

    fn links_ref(&self, w: Which) -> &Links {
        match w {
            Which::Wait => &self.wait_links,
            Which::Ready => &self.ready_links,
            Which::Timer | Which::Irq => &self.timer_links,
        }
    }
}
