//! Capability selectors with a fixed meaning: the nil selector, the root task's initial
//! capabilities, and the slots every task started by a loader gets (the same numbers, so
//! one program runs as the root task or as a child).

/// The nil selector: never names an object. `Recv` from nil sleeps; `Wait` ignores it.
pub const NIL: u64 = 0;

/// The root task's own task.
pub const ROOT_TASK: u64 = 1;
/// The root task's first thread.
pub const ROOT_THREAD: u64 = 2;
/// The root factory, whose quota is all kernel memory set aside for objects.
pub const ROOT_FACTORY: u64 = 3;
/// The kernel console.
pub const ROOT_CONSOLE: u64 = 4;
/// The machine object.
pub const ROOT_MACHINE: u64 = 5;
/// All I/O ports (x86_64 only; the slot is empty on AArch64).
pub const ROOT_IOPORTS: u64 = 9;
/// The first of the hardware IRQ capabilities (lines listed in the boot info).
pub const ROOT_IRQ_BASE: u64 = 32;
/// The number of hardware IRQ slots.
pub const ROOT_IRQ_COUNT: u64 = 32;
/// The first slot the root task may use freely.
pub const ROOT_FIRST_FREE: u64 = 64;
/// log2 of the number of capability slots of the root task.
pub const ROOT_CAP_ORDER: u8 = 16;

/// Slots of a task started by a loader (the root task's loader follows this convention):
/// its own task, thread and factory, the console, and gates to well-known services.
pub mod std_slots {
    /// The task itself.
    pub const TASK: u64 = 1;
    /// The task's first thread.
    pub const THREAD: u64 = 2;
    /// The factory the task creates objects with.
    pub const FACTORY: u64 = 3;
    /// The console.
    pub const CONSOLE: u64 = 4;
    /// The machine (root task, and tasks the root trusts with it).
    pub const MACHINE: u64 = 5;
    /// A gate to the name service.
    pub const NAMES: u64 = 6;
    /// A gate to the task that started this one.
    pub const PARENT: u64 = 7;
    /// The gate the task's threads use as pager (also their exception handler).
    pub const PAGER: u64 = 8;
    /// The first slot a program may use freely.
    pub const FIRST_FREE: u64 = 64;
}
