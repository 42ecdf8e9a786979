//! The root task's own threads. The root task has no pager, so it maps their stacks itself
//! from its window before starting them.

use core::sync::atomic::Ordering;
use pecan_abi::MemRights;
use pecan_abi::caps::std_slots;
use pecan_system::frames::{FRAMES, PAGE, window_fpage};
use pecan_system::slots::SLOTS;
use pecan_system::spawn::PAGER_THREAD;
use pecan_user::thread::{stack_top_of, utcb_of};
use pecan_user::{Factory, Task, Thread};

/// Bytes of stack mapped for each root thread.
const STACK: u64 = 64 * 1024;

/// Starts root thread number `index` at `entry(arg)`; returns it.
pub fn start(index: u64, entry: extern "C" fn(u64) -> !, arg: u64, prio: u64) -> Thread {
    let top = (stack_top_of(index) + 16).next_multiple_of(PAGE);
    let mut va = top - STACK;
    while va < top {
        let pa = FRAMES.alloc().expect("frame for a root stack");
        Task::at(std_slots::TASK).map(window_fpage(pa, 12, MemRights::RW), va).expect("map root stack");
        va += PAGE;
    }
    let t = Factory::at(std_slots::FACTORY)
        .create_thread(SLOTS.alloc(), Task::at(std_slots::TASK), utcb_of(index))
        .expect("root thread");
    t.set_regs(entry as usize as u64, stack_top_of(index), arg).expect("regs");
    t.set_priority(prio, 0).expect("prio");
    t.start().expect("start");
    t
}

/// Starts the pager thread (above every other priority the root task uses).
pub fn start_pager() {
    let t = start(1, pecan_system::pager::run, 0, 220);
    PAGER_THREAD.store(t.sel(), Ordering::Relaxed);
}
