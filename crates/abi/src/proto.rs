//! Predefined protocols: the labels and message formats of kernel-generated messages.
//!
//! The kernel sends page-fault and exception messages on behalf of a faulting thread to its
//! pager or exception handler (through the capability named in its thread configuration),
//! and IRQ messages on behalf of an IRQ object to the thread it is attached to.

use crate::tag::LABEL_MAX;

/// Label of an IRQ message (0 words; the gate label is the IRQ's attach label).
pub const IRQ: u64 = LABEL_MAX;
/// Label of a page-fault message (see [`page_fault`]).
pub const PAGE_FAULT: u64 = LABEL_MAX - 1;
/// Label of an exception message (see [`exception`]).
pub const EXCEPTION: u64 = LABEL_MAX - 2;
/// Lowest label reserved for kernel protocols; user protocols use labels below it.
pub const RESERVED_BASE: u64 = LABEL_MAX - 15;

/// Page-fault messages: 3 untyped words; the pager answers with a map item (or with no
/// item, to let the thread retry).
pub mod page_fault {
    /// Word 0: the faulting virtual address.
    pub const ADDR: usize = 0;
    /// Word 1: the instruction pointer of the fault.
    pub const IP: usize = 1;
    /// Word 2: the access that faulted as `MemRights` bits (4 read, 2 write, 1 execute),
    /// with [`IN_TRANSFER`] for a fault of a long IPC's copy.
    pub const ACCESS: usize = 2;
    /// Number of words.
    pub const WORDS: usize = 3;
    /// Flag in word [`ACCESS`]: the kernel faulted copying a string (long IPC) on the
    /// thread's behalf (its instruction pointer is the system call's). The transfer waits
    /// for the reply; a reply without a mapping that makes the access possible fails the
    /// transfer with `BadAddress` for both partners, so a pager that cannot resolve it
    /// should answer with an empty reply rather than none (`docs/long-ipc.md`).
    pub const IN_TRANSFER: u64 = 8;
}

/// Exception messages: 5 untyped words. The handler's reply may set a new instruction
/// pointer and stack pointer (reply words 0 and 1, when the reply has 2 words) or
/// leave them (0 words); a reply with label [`exception::KILL`] stops the thread.
pub mod exception {
    /// Word 0: the kind (see the `KIND_*` constants).
    pub const KIND: usize = 0;
    /// Word 1: the instruction pointer.
    pub const IP: usize = 1;
    /// Word 2: the stack pointer.
    pub const SP: usize = 2;
    /// Word 3: the architecture's code (x86_64 vector, AArch64 ESR_EL1).
    pub const CODE: usize = 3;
    /// Word 4: the faulting data address, where the architecture reports one.
    pub const ADDR: usize = 4;
    /// Number of words.
    pub const WORDS: usize = 5;

    /// An undefined or illegal instruction.
    pub const KIND_ILLEGAL: u64 = 1;
    /// A privileged instruction or a general protection fault.
    pub const KIND_PRIVILEGED: u64 = 2;
    /// An arithmetic fault (division by zero).
    pub const KIND_ARITHMETIC: u64 = 3;
    /// A breakpoint or debug trap.
    pub const KIND_BREAKPOINT: u64 = 4;
    /// A misaligned access.
    pub const KIND_ALIGNMENT: u64 = 5;
    /// Anything else.
    pub const KIND_OTHER: u64 = 6;

    /// Reply label that stops (deactivates) the faulting thread instead of resuming it.
    pub const KILL: u64 = 1;
}
