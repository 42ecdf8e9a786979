//! Intrusive doubly-linked lists of objects, threaded through links inside the objects.
//!
//! A thread has one set of links per kind of list it can be in ([`Which`]): a wait list
//! (a receiver's send queue), a ready list, a timeout-wheel bucket; an IRQ object has
//! links for its thread's pending-IRQ list.
//! Insertion and removal are O(1) and allocate nothing.

use crate::obj::table::{Handle, Table};

/// An object that can be in lists of some kinds.
pub trait Linked {
    /// The links of kind `w`.
    fn links(&mut self, w: Which) -> &mut Links;
    /// The links of kind `w`, shared.
    fn links_ref(&self, w: Which) -> &Links;
}

/// Links of one list kind inside a TCB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Links {
    prev: Option<Handle>,
    next: Option<Handle>,
    pub(crate) linked: bool,
}

impl Links {
    /// Whether the thread is in a list of this kind.
    pub fn is_linked(&self) -> bool {
        self.linked
    }
}

/// Which set of links a list uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// Send queues.
    Wait,
    /// Ready queues.
    Ready,
    /// Timeout-wheel buckets.
    Timer,
    /// A thread's list of pending IRQ objects.
    Irq,
}

/// A list head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct List {
    head: Option<Handle>,
    tail: Option<Handle>,
    pub(crate) len: u32,
}

fn links<T: Linked>(t: &mut T, w: Which) -> &mut Links {
    t.links(w)
}

fn links_ref<T: Linked>(t: &T, w: Which) -> &Links {
    t.links_ref(w)
}

impl List {
    /// An empty list.
    pub const fn new() -> Self {
        List { head: None, tail: None, len: 0 }
    }

    /// The first thread.
    pub fn head(&self) -> Option<Handle> {
        self.head
    }

    /// Number of threads.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `h` (which must not be linked in a list of this kind).
    pub fn push_back<T: Linked>(&mut self, threads: &mut Table<T>, h: Handle, w: Which) {
        let tail = self.tail;
        if let Some(t) = threads.get_mut(h) {
            debug_assert!(!links(t, w).linked, "already in a {w:?} list");
            *links(t, w) = Links { prev: tail, next: None, linked: true };
        }
        match tail.and_then(|t| threads.get_mut(t)) {
            Some(t) => links(t, w).next = Some(h),
            None => self.head = Some(h),
        }
        self.tail = Some(h);
        self.len += 1;
    }

    /// Prepends `h` (which must not be linked in a list of this kind).
    pub fn push_front<T: Linked>(&mut self, threads: &mut Table<T>, h: Handle, w: Which) {
        let head = self.head;
        if let Some(t) = threads.get_mut(h) {
            debug_assert!(!links(t, w).linked, "already in a {w:?} list");
            *links(t, w) = Links { prev: None, next: head, linked: true };
        }
        match head.and_then(|t| threads.get_mut(t)) {
            Some(t) => links(t, w).prev = Some(h),
            None => self.tail = Some(h),
        }
        self.head = Some(h);
        self.len += 1;
    }

    /// Unlinks `h`, which must be in this list.
    pub fn remove<T: Linked>(&mut self, threads: &mut Table<T>, h: Handle, w: Which) {
        let Some(t) = threads.get_mut(h) else { return };
        let l = *links(t, w);
        if !l.linked {
            return;
        }
        *links(t, w) = Links::default();
        match l.prev.and_then(|p| threads.get_mut(p)) {
            Some(p) => links(p, w).next = l.next,
            None => self.head = l.next,
        }
        match l.next.and_then(|n| threads.get_mut(n)) {
            Some(n) => links(n, w).prev = l.prev,
            None => self.tail = l.prev,
        }
        self.len -= 1;
    }

    /// Removes and returns the first thread.
    pub fn pop_front<T: Linked>(&mut self, threads: &mut Table<T>, w: Which) -> Option<Handle> {
        let h = self.head?;
        self.remove(threads, h, w);
        Some(h)
    }

    /// The thread after `h`.
    pub fn next<T: Linked>(threads: &Table<T>, h: Handle, w: Which) -> Option<Handle> {
        threads.get(h).and_then(|t| links_ref(t, w).next)
    }

    /// The first thread for which `pred` holds.
    pub fn find<T: Linked>(
        &self,
        threads: &Table<T>,
        w: Which,
        mut pred: impl FnMut(&T) -> bool,
    ) -> Option<Handle> {
        let mut cur = self.head;
        while let Some(h) = cur {
            let t = threads.get(h)?;
            if pred(t) {
                return Some(h);
            }
            cur = links_ref(t, w).next;
        }
        None
    }

    /// Every thread in order (allocates; for deletion paths and invariant checks).
    pub fn collect<T: Linked>(&self, threads: &Table<T>, w: Which) -> alloc::vec::Vec<Handle> {
        let mut v = alloc::vec::Vec::with_capacity(self.len as usize);
        let mut cur = self.head;
        while let Some(h) = cur {
            v.push(h);
            cur = threads.get(h).and_then(|t| links_ref(t, w).next);
        }
        v
    }
}
