//! Capability selectors with a fixed meaning: the nil selector and the root task's
//! initial capabilities.

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
/// The first of the hardware IRQ capabilities (lines listed in the boot info).
pub const ROOT_IRQ_BASE: u64 = 32;
/// The number of hardware IRQ slots.
pub const ROOT_IRQ_COUNT: u64 = 32;
/// The first slot the root task may use freely.
pub const ROOT_FIRST_FREE: u64 = 64;
/// log2 of the number of capability slots of the root task.
pub const ROOT_CAP_ORDER: u8 = 16;
