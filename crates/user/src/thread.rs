//! Starting more threads in the running task.
//!
//! Thread 0 of a task (the one the loader started) has its UTCB at `ROOT_UTCB`; thread
//! `i >= 1` at `UTCB_AREA + i * 4 KiB`, and its stack below `STACK_AREA + (i + 1) *
//! STACK_SLOT`. The stack must be backed: by the task's pager on demand, or mapped by the
//! caller beforehand.

use pecan_abi::caps::std_slots;
use pecan_abi::layout::ROOT_UTCB;

use crate::cap::{Factory, Task, Thread};
use crate::ipc::IpcError;

/// Where the UTCBs of threads 1 and up are placed (room for millions).
pub const UTCB_AREA: u64 = 0x0000_3ffc_0000_0000;
/// Where thread stacks are placed.
pub const STACK_AREA: u64 = 0x0000_3ffe_0000_0000;
/// Bytes of address space per thread stack.
pub const STACK_SLOT: u64 = 1 << 20;

/// The UTCB address of thread `i`.
pub const fn utcb_of(i: u64) -> u64 {
    if i == 0 { ROOT_UTCB } else { UTCB_AREA + i * 4096 }
}

/// The initial stack pointer of thread `i` (`i >= 1`), aligned as the architecture's
/// calling convention expects at function entry (x86_64: as if a return address had just
/// been pushed).
pub const fn stack_top_of(i: u64) -> u64 {
    let top = STACK_AREA + (i + 1) * STACK_SLOT - 16;
    if cfg!(target_arch = "x86_64") { top - 8 } else { top }
}

/// Creates thread number `index` in the running task, into capability slot `slot`, running
/// `entry(arg)` at `prio`, with the task's pager as pager and exception handler. The
/// thread's stack is `stack_top_of(index)`.
pub fn spawn(
    slot: u64,
    index: u64,
    entry: extern "C" fn(u64) -> !,
    arg: u64,
    prio: u64,
) -> Result<Thread, IpcError> {
    let f = Factory::at(std_slots::FACTORY);
    let t = f.create_thread(slot, Task::at(std_slots::TASK), utcb_of(index))?;
    t.configure(std_slots::PAGER, std_slots::PAGER)?;
    t.set_regs(entry as usize as u64, stack_top_of(index), arg)?;
    t.set_priority(prio, 0)?;
    t.start()?;
    Ok(t)
}
