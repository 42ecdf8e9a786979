//! The timeout wheel (seed 003, "Timeouts/queues"): `n` unordered lists; a thread whose
//! timeout expires at tick `t` goes into list `t mod n`; each tick inspects one list, on
//! average `k/n` entries for `k` pending timeouts. Deletion is lazy: a thread that wakes
//! early stays in its list and is dropped when the tick meets it; only when it blocks
//! again with a new timeout is it moved (O(1), the lists are doubly linked).

use crate::list::{List, Which};
use crate::obj::table::{Handle, Table};
use crate::thread::Tcb;

/// Number of lists (a power of two): one second of ticks at 1 kHz.
pub const WHEEL_SIZE: usize = 1024;

/// The wheel.
pub struct Wheel {
    lists: alloc::vec::Vec<List>,
    /// The tick the wheel has processed up to (inclusive).
    pub now: u64,
    /// Entries inspected by ticks so far (for tests of the k/n cost).
    pub inspected: u64,
}

impl Default for Wheel {
    fn default() -> Self {
        Self::new()
    }
}

impl Wheel {
    /// An empty wheel at tick 0.
    pub fn new() -> Self {
        Wheel { lists: alloc::vec![List::new(); WHEEL_SIZE], now: 0, inspected: 0 }
    }

    /// Arms a timeout for thread `h` at tick `at` (> now), for its current block epoch.
    pub fn arm<C>(&mut self, threads: &mut Table<Tcb<C>>, h: Handle, at: u64) {
        let Some(t) = threads.get(h) else { return };
        if t.timer_links.is_linked() {
            let old = (t.timeout_at as usize) % WHEEL_SIZE;
            self.lists[old].remove(threads, h, Which::Timer);
        }
        let Some(t) = threads.get_mut(h) else { return };
        t.timeout_at = at;
        t.timeout_epoch = t.block_epoch;
        self.lists[(at as usize) % WHEEL_SIZE].push_back(threads, h, Which::Timer);
    }

    /// Removes a thread's entry now (used when a thread is deleted).
    pub fn disarm<C>(&mut self, threads: &mut Table<Tcb<C>>, h: Handle) {
        let Some(t) = threads.get(h) else { return };
        if t.timer_links.is_linked() {
            let l = (t.timeout_at as usize) % WHEEL_SIZE;
            self.lists[l].remove(threads, h, Which::Timer);
        }
    }

    /// Advances to `tick`: for each tick passed, inspects its list and calls `expire` for
    /// every live entry that is due. Stale entries (the thread woke or blocked again) are
    /// dropped; entries for a later round stay.
    pub fn advance<C>(
        &mut self,
        threads: &mut Table<Tcb<C>>,
        tick: u64,
        mut expire: impl FnMut(&mut Table<Tcb<C>>, Handle),
    ) {
        while self.now < tick {
            self.now += 1;
            let idx = (self.now as usize) % WHEEL_SIZE;
            let mut cur = self.lists[idx].head();
            while let Some(h) = cur {
                self.inspected += 1;
                cur = List::next(threads, h, Which::Timer);
                let Some(t) = threads.get(h) else { break };
                let live = t.timeout_epoch == t.block_epoch;
                if !live {
                    self.lists[idx].remove(threads, h, Which::Timer);
                } else if t.timeout_at <= self.now {
                    self.lists[idx].remove(threads, h, Which::Timer);
                    expire(threads, h);
                }
            }
        }
    }

    /// Entries in the wheel, live or stale (for tests).
    pub fn entries(&self) -> usize {
        self.lists.iter().map(|l| l.len()).sum()
    }
}
