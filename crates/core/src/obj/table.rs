//! A fixed-capacity object table with a generation per slot.
//!
//! Objects are named by a [`Handle`]: a slot index and the slot's generation when the
//! object was created. Freeing a slot advances its generation, so every handle (and every
//! capability holding one) to the old object becomes stale and is refused, never
//! dereferenced: seed 001's thread-ID version check, for every object type. Storage is
//! reserved once, so an object never moves (the arch's entry code may keep pointers to a
//! thread's saved registers).
//!
//! A live object's generation is odd, a free slot's even (it holds a [`Vacant`] stand-in,
//! never handed out): so one comparison with an odd handle generation says both "this
//! object" and "alive", and a lookup is an index, a bounds check and that comparison
//! (seed 001, "Avoid Table Lookups": TCB = area + number, then "Validate Thread ID").

extern crate alloc;
use alloc::vec::Vec;

/// A slot index plus the generation of the object in it. `#[repr(C)]`: `idx` at 0,
/// `generation` at 4 (`layout.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(C)]
pub struct Handle {
    /// Slot index.
    pub idx: u32,
    /// Generation.
    pub generation: u32,
}

impl Handle {
    /// A handle no object ever has (its generation is even).
    pub const NONE: Handle = Handle { idx: u32::MAX, generation: 0 };
}

/// An optional handle with a fixed layout (an arch's assembly fast path reads it): a
/// [`Handle`], [`Handle::NONE`] (generation 0, which no object has) for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct OptHandle(Handle);

impl OptHandle {
    /// No handle.
    pub const NONE: OptHandle = OptHandle(Handle::NONE);

    /// The handle, if there is one.
    #[inline(always)]
    pub const fn get(self) -> Option<Handle> {
        if self.0.generation == 0 { None } else { Some(self.0) }
    }
}

impl Default for OptHandle {
    fn default() -> Self {
        OptHandle::NONE
    }
}

impl From<Option<Handle>> for OptHandle {
    #[inline(always)]
    fn from(h: Option<Handle>) -> Self {
        match h {
            Some(h) => OptHandle(h),
            None => OptHandle::NONE,
        }
    }
}

impl From<Handle> for OptHandle {
    #[inline(always)]
    fn from(h: Handle) -> Self {
        OptHandle(h)
    }
}

/// A value that stands in a free slot (it is never handed out).
pub trait Vacant {
    /// The stand-in.
    fn vacant() -> Self;
}

/// A slot: `#[repr(C)]` so the generation the fast path checks sits just before the
/// object's first fields (`Tcb` puts its hot fields there). Odd generation: live.
///
/// While the slot is live `next_free` holds the slot's own index, so the slot starts with
/// the live object's [`Handle`] (`#[repr(C)]`: index, then generation): an arch's
/// assembly fast path checks a handle against its slot with one 8-byte comparison
/// ([`Table::SLOT_HANDLE`]); a free slot's generation is even, never a handle's.
#[repr(C)]
struct Slot<T> {
    next_free: u32,
    generation: u32,
    value: T,
}

impl<T> Slot<T> {
    #[inline(always)]
    fn live(&self) -> bool {
        self.generation & 1 == 1
    }
}

const NONE: u32 = u32::MAX;

/// A table of at most `capacity` objects of type `T`.
///
/// `#[repr(C)]`, starting with the address of slot 0 and the number of slots (kept equal
/// to the vector's), so an arch's assembly fast path can index it (`layout.rs`).
#[repr(C)]
pub struct Table<T> {
    base: usize,
    slot_count: usize,
    slots: Vec<Slot<T>>,
    capacity: usize,
    free_head: u32,
    live: usize,
    growable: bool,
}

impl<T> Table<T> {
    /// Offset of the address of slot 0.
    pub const BASE_OFFSET: usize = core::mem::offset_of!(Self, base);
    /// Offset of the number of slots (a `usize`).
    pub const LEN_OFFSET: usize = core::mem::offset_of!(Self, slot_count);
    /// Bytes from one slot to the next.
    pub const SLOT_SIZE: usize = core::mem::size_of::<Slot<T>>();
    /// Offset of a slot's generation (a `u32`) in the slot.
    pub const SLOT_GENERATION: usize = core::mem::offset_of!(Slot<T>, generation);
    /// Offset in a slot of the 8 bytes equal to the live object's [`Handle`] (index and
    /// generation; a free slot's never equal a handle's).
    pub const SLOT_HANDLE: usize = core::mem::offset_of!(Slot<T>, next_free);
    /// Offset of the object in its slot.
    pub const SLOT_VALUE: usize = core::mem::offset_of!(Slot<T>, value);

    /// The address of slot 0 and the number of slots, as the fast path's assembly reads
    /// them (for the layout tests).
    pub fn raw_parts(&self) -> (usize, usize) {
        (self.base, self.slot_count)
    }

    /// The address of the object named by `h` (for the layout tests), if it is alive.
    pub fn addr_of(&self, h: Handle) -> Option<usize> {
        self.get(h).map(|v| v as *const T as usize)
    }

    /// An empty table that will hold at most `capacity` objects. Returns `None` if the
    /// memory for it cannot be reserved.
    pub fn with_capacity(capacity: usize) -> Option<Self> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(capacity).ok()?;
        let base = slots.as_ptr() as usize;
        Some(Table { base, slot_count: 0, slots, capacity, free_head: NONE, live: 0, growable: false })
    }

    /// An empty table that grows on demand up to `capacity` objects. Its objects may move
    /// when it grows: use it only for objects nobody keeps pointers to.
    pub fn growable(capacity: usize) -> Self {
        let slots = Vec::new();
        Table {
            base: slots.as_ptr() as usize,
            slot_count: 0,
            slots,
            capacity,
            free_head: NONE,
            live: 0,
            growable: true,
        }
    }

    /// Number of live objects.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the table holds no object.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The most objects the table can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether another object fits.
    pub fn has_room(&self) -> bool {
        self.free_head != NONE || self.slots.len() < self.capacity
    }

    /// Inserts `value`; `Err(value)` if the table is full.
    pub fn insert(&mut self, value: T) -> Result<Handle, T> {
        if self.free_head != NONE {
            let idx = self.free_head;
            let slot = &mut self.slots[idx as usize];
            self.free_head = slot.next_free;
            slot.next_free = idx;
            slot.value = value;
            // Even (free) to odd (live).
            slot.generation = slot.generation.wrapping_add(1);
            self.live += 1;
            return Ok(Handle { idx, generation: slot.generation });
        }
        if self.slots.len() >= self.capacity {
            return Err(value);
        }
        if self.growable && self.slots.len() == self.slots.capacity() && self.slots.try_reserve(1).is_err() {
            return Err(value);
        }
        let idx = self.slots.len() as u32;
        // A fixed table never reallocates: its capacity was reserved up front.
        self.slots.push(Slot { generation: 1, next_free: idx, value });
        self.base = self.slots.as_ptr() as usize;
        self.slot_count = self.slots.len();
        self.live += 1;
        Ok(Handle { idx, generation: 1 })
    }

    /// Removes the object named by `h` and returns it; the slot's generation advances.
    pub fn remove(&mut self, h: Handle) -> Option<T>
    where
        T: Vacant,
    {
        let slot = self.slots.get_mut(h.idx as usize)?;
        if slot.generation != h.generation || !slot.live() {
            return None;
        }
        let v = core::mem::replace(&mut slot.value, T::vacant());
        // Odd (live) to even (free).
        slot.generation = slot.generation.wrapping_add(1);
        slot.next_free = self.free_head;
        self.free_head = h.idx;
        self.live -= 1;
        Some(v)
    }

    /// The object named by `h`, if it is still alive.
    #[inline(always)]
    pub fn get(&self, h: Handle) -> Option<&T> {
        let slot = self.slots.get(h.idx as usize)?;
        // Equal to an odd handle generation: this object, alive.
        if slot.generation != h.generation || h.generation & 1 == 0 {
            return None;
        }
        Some(&slot.value)
    }

    /// The object named by `h`, mutably, if it is still alive.
    #[inline(always)]
    pub fn get_mut(&mut self, h: Handle) -> Option<&mut T> {
        let slot = self.slots.get_mut(h.idx as usize)?;
        if slot.generation != h.generation || h.generation & 1 == 0 {
            return None;
        }
        Some(&mut slot.value)
    }

    /// The objects named by `a` and `b`, both mutably, if both are alive and are not the
    /// same object.
    #[inline(always)]
    pub fn pair_mut(&mut self, a: Handle, b: Handle) -> Option<(&mut T, &mut T)> {
        let [x, y] = self.slots.get_disjoint_mut([a.idx as usize, b.idx as usize]).ok()?;
        if x.generation != a.generation
            || y.generation != b.generation
            || (a.generation & b.generation) & 1 == 0
        {
            return None;
        }
        Some((&mut x.value, &mut y.value))
    }

    /// Whether `h` names a live object.
    pub fn contains(&self, h: Handle) -> bool {
        self.get(h).is_some()
    }

    /// Every live object with its handle.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live())
            .map(|(i, s)| (Handle { idx: i as u32, generation: s.generation }, &s.value))
    }

    /// Handles of every live object.
    pub fn handles(&self) -> Vec<Handle> {
        self.iter().map(|(h, _)| h).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Vacant for &str {
        fn vacant() -> Self {
            ""
        }
    }

    impl Vacant for u64 {
        fn vacant() -> Self {
            0
        }
    }

    impl Vacant for i32 {
        fn vacant() -> Self {
            0
        }
    }

    #[test]
    fn even_generations_are_never_live() {
        let mut t = Table::with_capacity(2).unwrap();
        let a = t.insert(5u64).unwrap();
        assert_eq!(a.generation & 1, 1);
        t.remove(a);
        // The free slot's generation, even: no handle reaches the stand-in.
        assert_eq!(t.get(Handle { idx: a.idx, generation: a.generation + 1 }), None);
        assert_eq!(t.iter().count(), 0);
        let b = t.insert(6).unwrap();
        assert_eq!((b.idx, b.generation), (a.idx, a.generation + 2));
        assert_eq!(t.get(b), Some(&6));
    }

    #[test]
    fn a_live_slot_starts_with_its_handle() {
        let mut t = Table::with_capacity(4).unwrap();
        let a = t.insert(1u64).unwrap();
        let b = t.insert(2u64).unwrap();
        t.remove(a);
        let c = t.insert(3u64).unwrap();
        assert_eq!(c.idx, a.idx);
        for h in [b, c] {
            let s = &t.slots[h.idx as usize];
            assert_eq!((s.next_free, s.generation), (h.idx, h.generation));
        }
        t.remove(b);
        assert_eq!(t.slots[b.idx as usize].generation & 1, 0, "a free slot matches no handle");
    }

    #[test]
    fn generations_make_old_handles_stale() {
        let mut t = Table::with_capacity(2).unwrap();
        let a = t.insert("a").unwrap();
        let b = t.insert("b").unwrap();
        assert_eq!(t.insert("c"), Err("c"));
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.get(a), None);
        assert_eq!(t.remove(a), None);
        let c = t.insert("c").unwrap();
        assert_eq!(c.idx, a.idx);
        assert_ne!(c.generation, a.generation);
        assert_eq!(t.get(a), None, "stale handle never reaches the new object");
        assert_eq!(t.get(c), Some(&"c"));
        assert_eq!(t.get(b), Some(&"b"));
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(Handle { idx: 99, generation: 1 }), None);
    }

    #[test]
    fn pairs() {
        let mut t = Table::with_capacity(4).unwrap();
        let a = t.insert(1).unwrap();
        let b = t.insert(2).unwrap();
        let (x, y) = t.pair_mut(a, b).unwrap();
        core::mem::swap(x, y);
        assert_eq!((t.get(a), t.get(b)), (Some(&2), Some(&1)));
        assert!(t.pair_mut(a, a).is_none(), "the same object twice");
        t.remove(b);
        assert!(t.pair_mut(a, b).is_none(), "a stale handle");
        assert!(t.pair_mut(a, Handle { idx: 9, generation: 1 }).is_none(), "out of range");
    }

    #[test]
    fn never_moves() {
        let mut t = Table::with_capacity(100).unwrap();
        let first = t.insert(7u64).unwrap();
        let p = t.get(first).unwrap() as *const u64;
        for i in 0..99 {
            t.insert(i).unwrap();
        }
        assert_eq!(p, t.get(first).unwrap() as *const u64);
    }
}
