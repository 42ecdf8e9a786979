//! The root task's own service threads.

use core::sync::atomic::Ordering;
use pecan_system::rootthread;
use pecan_system::spawn::PAGER_THREAD;

/// Starts the pager thread (above every other priority the root task uses).
pub fn start_pager() {
    let t = rootthread::start(pecan_system::pager::run, 0, 220).expect("pager thread");
    PAGER_THREAD.store(t.thread.sel(), Ordering::Relaxed);
}
