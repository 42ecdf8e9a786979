//! The periodic tick of each CPU: round robin at the end of a slice; CPU 0's also expires
//! timeouts (through the wheel).

use pecan_hal::Hal;

use crate::kernel::Kernel;
use crate::thread::State;

impl<H: Hal> Kernel<H> {
    /// One timer tick of this CPU.
    pub fn tick(&mut self) {
        self.enter();
        crate::counters::bump(&mut self.counters.exceptions);
        if self.cpu == 0 {
            // CPU 0 keeps the time: one wheel, whose expiries wake threads on their CPUs.
            let now = self.wheel.now + 1;
            let mut due = alloc::vec::Vec::new();
            self.wheel.advance(&mut self.threads, now, |_, h| due.push(h));
            for h in due {
                self.timeout_expired(h);
            }
        }
        if let Some(c) = self.percpu[self.cpu].sched.current.get()
            && self.threads.get(c).is_some_and(|t| t.state == State::Ready)
        {
            self.percpu[self.cpu].sched.slice_left = self.percpu[self.cpu].sched.slice_left.saturating_sub(1);
            if self.percpu[self.cpu].sched.slice_left == 0 {
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
