//! Capability-slot allocation for a task.

extern crate alloc;
use alloc::vec::Vec;
use pecan_abi::caps::std_slots::FIRST_FREE;
use pecan_user::sync::Mutex;

struct State {
    next: u64,
    free: Vec<u64>,
}

/// Free capability slots of this task.
pub struct Slots {
    s: Mutex<State>,
}

/// The slots of the running task.
pub static SLOTS: Slots = Slots { s: Mutex::new(State { next: FIRST_FREE, free: Vec::new() }) };

impl Slots {
    /// A free slot.
    pub fn alloc(&self) -> u64 {
        let mut s = self.s.lock();
        match s.free.pop() {
            Some(x) => x,
            None => {
                s.next += 1;
                s.next - 1
            }
        }
    }

    /// `2^order` consecutive free slots aligned to their number (for object flexpages).
    pub fn alloc_aligned(&self, order: u8) -> u64 {
        let mut s = self.s.lock();
        let n = 1u64 << order;
        let base = s.next.next_multiple_of(n);
        for x in s.next..base {
            s.free.push(x);
        }
        s.next = base + n;
        base
    }

    /// Returns a slot (it must be empty).
    pub fn free(&self, slot: u64) {
        self.s.lock().free.push(slot);
    }
}
