//! The periodic tick: timeouts (through the wheel) and round robin at the end of a slice.

use pecan_hal::Hal;

use crate::kernel::Kernel;
use crate::thread::State;

impl<H: Hal> Kernel<H> {
    /// One timer tick.
    pub fn tick(&mut self) {
        crate::counters::bump(&mut self.counters.exceptions);
        let now = self.wheel.now + 1;
        let mut due = alloc::vec::Vec::new();
        self.wheel.advance(&mut self.threads, now, |_, h| due.push(h));
        for h in due {
            self.timeout_expired(h);
        }
        if let Some(c) = self.sched.current.get()
            && self.threads.get(c).is_some_and(|t| t.state == State::Ready)
        {
            self.sched.slice_left = self.sched.slice_left.saturating_sub(1);
            if self.sched.slice_left == 0 {
                self.rotate_current();
            }
        }
        self.schedule();
    }

    /// Ticks since boot.
    pub fn now(&self) -> u64 {
        self.wheel.now
    }
}
