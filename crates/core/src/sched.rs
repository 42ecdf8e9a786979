//! The dispatcher (seed 001, "Dispatching"): 256 fixed priorities, a ready list per
//! priority with round robin inside it, a bitmap of the non-empty priorities so the
//! highest active one is found in a few instructions, and lazy ready queues.
//!
//! With the `lazy-queues` feature a thread that blocks in IPC stays in its ready list; the
//! dispatcher drops it when it meets it ("delete lazily from ready list"). Without it, a
//! thread leaves its list as soon as it blocks. Either way the lists hold at least every
//! ready thread, and the thread chosen is the same: the first ready thread of the highest
//! priority that has one.

use crate::list::{List, Which};
use crate::obj::table::{Handle, OptHandle, Table};
use crate::thread::{State, Tcb};

/// Priority of a new thread.
pub const DEFAULT_PRIO: u8 = 100;
/// Time slice of a new thread, in ticks.
pub const DEFAULT_TIMESLICE: u32 = 10;
/// Whether blocked threads stay in ready lists until met (cargo feature `lazy-queues`).
pub const LAZY: bool = cfg!(feature = "lazy-queues");

/// The ready lists of one CPU. `#[repr(C)]`: the fields the IPC fast path reads first,
/// the 7 KiB of lists last (so the others stay within short load offsets).
#[repr(C)]
pub struct Scheduler {
    /// The thread running (or about to run) on this CPU.
    pub current: OptHandle,
    /// A thread of higher priority than the current one became ready.
    pub need_resched: bool,
    /// Ticks left of the running time slice (which call and reply donate along).
    pub slice_left: u32,
    /// The highest priority whose list is not empty, 0 if none: [`Scheduler::highest`]
    /// kept up to date, so the fast path reads one byte.
    pub(crate) top: u8,
    /// How many threads the lists hold: the assembly cross-CPU fast path's test that this
    /// CPU idles once its running thread blocks (nothing queued but, perhaps, that thread).
    pub(crate) queued: u32,
    bitmap: [u64; 4],
    lists: [List; 256],
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler {
    /// Empty ready lists.
    pub const fn new() -> Self {
        Scheduler {
            current: OptHandle::NONE,
            need_resched: false,
            slice_left: 0,
            top: 0,
            queued: 0,
            bitmap: [0; 4],
            lists: [List::new(); 256],
        }
    }

    fn mark(&mut self, p: u8) {
        self.bitmap[p as usize / 64] |= 1 << (p % 64);
        self.top = self.top.max(p);
    }

    fn unmark_if_empty(&mut self, p: u8) {
        if self.lists[p as usize].is_empty() {
            self.bitmap[p as usize / 64] &= !(1 << (p % 64));
            if p == self.top {
                self.top = self.highest().unwrap_or(0);
            }
        }
    }

    /// The highest priority whose list is not empty, or 0 if none: a thread of priority
    /// `p` is outranked by nothing ready iff `p >= top()`.
    #[inline(always)]
    pub fn top(&self) -> u8 {
        self.top
    }

    /// The highest priority whose list is not empty.
    #[inline(always)]
    pub fn highest(&self) -> Option<u8> {
        for i in (0..4).rev() {
            if self.bitmap[i] != 0 {
                return Some((i * 64 + 63 - self.bitmap[i].leading_zeros() as usize) as u8);
            }
        }
        None
    }

    /// Puts a ready thread at the end of its list (if it is not in one already: with lazy
    /// queues it may still be there from before it blocked, and keeps its place).
    pub fn enqueue<C>(&mut self, threads: &mut Table<Tcb<C>>, h: Handle) {
        let Some(t) = threads.get(h) else { return };
        if t.ready_links.is_linked() {
            return;
        }
        let p = t.prio;
        self.lists[p as usize].push_back(threads, h, Which::Ready);
        self.queued += 1;
        self.mark(p);
    }

    /// Puts a ready thread at the head of its list (it runs next among its priority).
    pub fn enqueue_front<C>(&mut self, threads: &mut Table<Tcb<C>>, h: Handle) {
        let Some(t) = threads.get(h) else { return };
        let p = t.prio;
        if t.ready_links.is_linked() {
            self.unlink(threads, p, h);
        }
        self.lists[p as usize].push_front(threads, h, Which::Ready);
        self.queued += 1;
        self.mark(p);
    }

    /// Takes a thread out of its ready list (it blocked without lazy queues, was deleted,
    /// or changes priority).
    pub fn dequeue<C>(&mut self, threads: &mut Table<Tcb<C>>, h: Handle) {
        let Some(t) = threads.get(h) else { return };
        if !t.ready_links.is_linked() {
            return;
        }
        let p = t.prio;
        self.unlink(threads, p, h);
        self.unmark_if_empty(p);
    }

    /// Takes `h` out of list `p` (the count follows what the list did).
    fn unlink<C>(&mut self, threads: &mut Table<Tcb<C>>, p: u8, h: Handle) {
        let list = &mut self.lists[p as usize];
        let before = list.len;
        list.remove(threads, h, Which::Ready);
        self.queued -= before - list.len;
    }

    /// A thread stopped being ready: without lazy queues it leaves its list now.
    pub fn blocked<C>(&mut self, threads: &mut Table<Tcb<C>>, h: Handle) {
        if !LAZY {
            self.dequeue(threads, h);
        }
    }

    /// Moves the thread to the end of its list (round robin at the end of a time slice).
    pub fn rotate<C>(&mut self, threads: &mut Table<Tcb<C>>, h: Handle) {
        self.dequeue(threads, h);
        self.enqueue(threads, h);
    }

    /// The dispatcher: the first ready thread of the highest priority, dropping the
    /// non-ready threads it meets on the way (lazy queues). `None`: nothing to run (idle).
    pub fn pick<C>(&mut self, threads: &mut Table<Tcb<C>>) -> Option<Handle> {
        loop {
            let p = self.highest()?;
            let h = self.lists[p as usize].head()?;
            match threads.get(h) {
                Some(t) if t.state == State::Ready && t.prio == p => return Some(h),
                _ => {
                    self.unlink(threads, p, h);
                    self.unmark_if_empty(p);
                }
            }
        }
    }

    /// Every thread in the ready lists (for invariant checks).
    pub fn queued<C>(&self, threads: &Table<Tcb<C>>) -> alloc::vec::Vec<Handle> {
        let mut v = alloc::vec::Vec::new();
        for l in self.lists.iter().filter(|l| !l.is_empty()) {
            v.extend(l.collect(threads, Which::Ready));
        }
        v
    }

    /// Whether the bitmap agrees with the lists (and the cached top with the bitmap, the
    /// count with the lists' lengths).
    pub fn bitmap_consistent(&self) -> bool {
        if self.top != self.highest().unwrap_or(0) {
            return false;
        }
        if self.lists.iter().map(|l| l.len).sum::<u32>() != self.queued {
            return false;
        }
        (0..256).all(|p| {
            let bit = self.bitmap[p / 64] & (1 << (p % 64)) != 0;
            bit != self.lists[p].is_empty()
        })
    }
}
