//! Threads of the root task. The root task has no pager, so their stacks are mapped from
//! its own memory before they start.

use core::sync::atomic::{AtomicU64, Ordering};
use pecan_abi::MemRights;
use pecan_abi::caps::std_slots;
use pecan_user::ipc::IpcError;
use pecan_user::thread::{stack_top_of, utcb_of};
use pecan_user::{Factory, Task, Thread};

use crate::frames::{FRAMES, PAGE, window_fpage};
use crate::slots::SLOTS;

/// Bytes of stack mapped for each root thread.
pub const STACK: u64 = 64 * 1024;

/// The next free thread index of the root task (0 is its first thread).
static NEXT: AtomicU64 = AtomicU64::new(1);

/// A root thread: its capability and index.
#[derive(Clone, Copy, Debug)]
pub struct RootThread {
    /// The thread.
    pub thread: Thread,
    /// Its index (UTCB and stack slot).
    pub index: u64,
}

/// Creates (but does not start) a root thread running `entry(arg)` at `prio`.
pub fn create(entry: extern "C" fn(u64) -> !, arg: u64, prio: u64) -> Result<RootThread, IpcError> {
    let index = NEXT.fetch_add(1, Ordering::Relaxed);
    let top = (stack_top_of(index) + 16).next_multiple_of(PAGE);
    let mut va = top - STACK;
    while va < top {
        let pa = FRAMES.alloc().expect("frame for a root stack");
        Task::at(std_slots::TASK).map(window_fpage(pa, 12, MemRights::RW), va)?;
        va += PAGE;
    }
    let t = Factory::at(std_slots::FACTORY).create_thread(
        SLOTS.alloc(),
        Task::at(std_slots::TASK),
        utcb_of(index),
    )?;
    t.set_regs(entry as *const () as u64, stack_top_of(index), arg)?;
    t.set_priority(prio, 0)?;
    Ok(RootThread { thread: t, index })
}

/// Creates and starts a root thread.
pub fn start(entry: extern "C" fn(u64) -> !, arg: u64, prio: u64) -> Result<RootThread, IpcError> {
    let t = create(entry, arg, prio)?;
    t.thread.start()?;
    Ok(t)
}
