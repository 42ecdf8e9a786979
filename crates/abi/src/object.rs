//! Kernel objects and their methods, invoked with the `Invoke` system call.
//!
//! An invocation is a message to a kernel object: the tag's label names the method, the
//! untyped words are its arguments, and on success the kernel returns a tag whose words
//! are the results (in the same message registers). Arguments that name other objects are
//! capability selectors in the caller's capability space.

/// Types of kernel objects.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjType {
    /// An address space plus a capability space.
    Task = 1,
    /// A thread of execution.
    Thread = 2,
    /// An IPC gate, bound to one receiving thread, carrying a label.
    Gate = 3,
    /// An interrupt source (a hardware line or a software-triggered one).
    Irq = 4,
    /// Creates objects and charges them to its kernel-memory quota.
    Factory = 5,
    /// The kernel's debug console.
    Console = 6,
    /// The machine: exit, counters.
    Machine = 7,
    /// A range of I/O ports (x86_64 only).
    IoPorts = 8,
}

impl ObjType {
    /// Decodes an object type.
    pub const fn from_u8(v: u8) -> Option<ObjType> {
        Some(match v {
            1 => ObjType::Task,
            2 => ObjType::Thread,
            3 => ObjType::Gate,
            4 => ObjType::Irq,
            5 => ObjType::Factory,
            6 => ObjType::Console,
            7 => ObjType::Machine,
            8 => ObjType::IoPorts,
            _ => return None,
        })
    }
}

/// Methods every object has.
pub mod any {
    /// Returns `[ObjType, rights]` of the capability (needs no right).
    pub const IDENTIFY: u64 = 0xffe;
    /// Destroys the object (needs CONTROL): every capability to it becomes stale and
    /// its memory returns to the quota it was charged to.
    pub const DESTROY: u64 = 0xfff;
}

/// Factory methods (CONTROL). Every `CREATE_*` takes the destination slot as word 0.
pub mod factory {
    /// `[dst, cap_order]`: a task with an empty address space and `2^cap_order` slots.
    pub const CREATE_TASK: u64 = 1;
    /// `[dst, task, utcb_addr]`: an inactive thread in `task` with its UTCB at `utcb_addr`.
    pub const CREATE_THREAD: u64 = 2;
    /// `[dst, thread, label]`: a gate bound to `thread` (nil selector: unbound).
    pub const CREATE_GATE: u64 = 3;
    /// `[dst]`: a software-triggered IRQ object.
    pub const CREATE_IRQ: u64 = 4;
    /// `[dst, quota]`: a factory whose quota of `quota` bytes is taken from this one.
    pub const CREATE_FACTORY: u64 = 5;
    /// `[]` -> `[remaining bytes, limit bytes]` (SEND right is enough).
    pub const QUOTA: u64 = 6;
}

/// Task methods (CONTROL).
pub mod task {
    /// `[fpage, dst_base]`: map the caller's flexpage into this task at `dst_base`
    /// (memory: an address; object: a slot). The rights are the flexpage's, limited by
    /// the caller's. Grant with the flag `GRANT` in word 2.
    pub const MAP: u64 = 1;
    /// `[fpage, flags]`: revoke the flexpage in this task and every mapping derived from
    /// it; with `UNMAP_SELF` also this task's own mapping.
    pub const UNMAP: u64 = 2;
    /// `[fpage]` -> `[present, rights]`: whether the first page/slot is mapped.
    pub const LOOKUP: u64 = 3;
    /// Word-2 flag of `MAP`: grant instead of map.
    pub const GRANT: u64 = 1;
    /// Word-1 flag of `UNMAP`: remove this task's own mapping too, not just derived ones.
    pub const UNMAP_SELF: u64 = 1;
}

/// Thread methods (CONTROL).
pub mod thread {
    /// `[ip, sp, arg]`: set the user registers (arg in the first argument register).
    pub const SET_REGS: u64 = 1;
    /// `[pager, exception_handler]`: selectors in the thread's own task's capability space
    /// (nil: none); looked up when a fault happens.
    pub const CONFIGURE: u64 = 2;
    /// `[priority (0..=255), timeslice_us (0: default)]`.
    pub const SET_PRIORITY: u64 = 3;
    /// `[]`: make the thread runnable.
    pub const START: u64 = 4;
    /// `[]`: stop the thread (cancels its IPC); `START` resumes it.
    pub const SUSPEND: u64 = 5;
    /// `[]`: cancel the thread's IPC in progress (it returns `Cancelled`).
    pub const CANCEL: u64 = 6;
    /// `[cpu]`: move the thread to another CPU.
    pub const SET_AFFINITY: u64 = 7;
    /// `[]` -> `[ip, sp, state]`.
    pub const READ_REGS: u64 = 8;
}

/// Gate methods (CONTROL).
pub mod gate {
    /// `[thread, label]`: bind the gate to a receiving thread.
    pub const BIND: u64 = 1;
    /// `[]`: unbind the gate (blocked senders get `Cancelled`).
    pub const UNBIND: u64 = 2;
}

/// IRQ methods.
pub mod irq {
    /// `[thread, label]` (CONTROL): deliver this IRQ to `thread` with `label`.
    pub const ATTACH: u64 = 1;
    /// `[]` (CONTROL): stop delivering.
    pub const DETACH: u64 = 2;
    /// `[]` (SEND): acknowledge the last delivery and unmask the line.
    pub const ACK: u64 = 3;
    /// `[]` (SEND): trigger the IRQ by software.
    pub const TRIGGER: u64 = 4;
}

/// Console methods (SEND).
pub mod console {
    /// `[len, bytes...]`: write `len` bytes packed little-endian into the following words.
    pub const WRITE: u64 = 1;
}

/// Machine methods.
pub mod machine {
    /// `[code]` (CONTROL): stop the machine; under QEMU, exit with a status derived from
    /// `code` (0 success).
    pub const EXIT: u64 = 1;
    /// `[]` -> kernel event counters (see `docs/abi.md`; zeros unless the kernel was built
    /// with its `counters` feature).
    pub const COUNTERS: u64 = 2;
    /// Number of words `COUNTERS` returns.
    pub const COUNTER_WORDS: usize = 16;
    /// `[]`: reset the kernel event counters.
    pub const RESET_COUNTERS: u64 = 3;
}

/// I/O-port methods (x86_64; the capability itself carries its port range).
pub mod ioports {
    /// `[port, width (1, 2 or 4)]` -> `[value]` (SEND).
    pub const IN: u64 = 1;
    /// `[port, width, value]` (SEND).
    pub const OUT: u64 = 2;
    /// `[dst, first, count]` (CONTROL): a capability to a part of this range, into `dst`.
    pub const NARROW: u64 = 3;
}
