//! Capabilities and per-task capability spaces.

extern crate alloc;
use alloc::vec::Vec;
use pecan_abi::object::ObjType;
use pecan_abi::{CapRights, Error};

use crate::mdb::NodeId;
use crate::obj::table::Handle;

/// What a capability names. `#[repr(C, u8)]` with fixed discriminants: an arch's
/// assembly fast path reads the tag byte and a gate's handle (`layout.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C, u8)]
pub enum ObjRef {
    /// A task.
    Task(Handle) = 0,
    /// A thread.
    Thread(Handle) = 1,
    /// An IPC gate.
    Gate(Handle) = 2,
    /// An IRQ object.
    Irq(Handle) = 3,
    /// A factory.
    Factory(Handle) = 4,
    /// The kernel console (one per kernel).
    Console = 5,
    /// The machine (one per kernel).
    Machine = 6,
    /// I/O ports `first .. first + count` (x86_64).
    IoPorts {
        /// First port.
        first: u16,
        /// Number of ports (up to 65536).
        count: u32,
    } = 7,
}

impl ObjRef {
    /// The ABI object type.
    pub fn obj_type(&self) -> ObjType {
        match self {
            ObjRef::Task(_) => ObjType::Task,
            ObjRef::Thread(_) => ObjType::Thread,
            ObjRef::Gate(_) => ObjType::Gate,
            ObjRef::Irq(_) => ObjType::Irq,
            ObjRef::Factory(_) => ObjType::Factory,
            ObjRef::Console => ObjType::Console,
            ObjRef::Machine => ObjType::Machine,
            ObjRef::IoPorts { .. } => ObjType::IoPorts,
        }
    }
}

/// A capability: an object and the rights this holder has on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Cap {
    /// The object.
    pub obj: ObjRef,
    /// The rights.
    pub rights: CapRights,
}

/// An occupied capability slot: the capability and its node in the mapping database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct CapSlot {
    /// The capability.
    pub cap: Cap,
    /// Its node in the mapping database (derivation tree).
    pub node: NodeId,
}

/// One slot of a capability space: an `Option<CapSlot>` with a fixed layout
/// (`#[repr(C, u8)]`: the tag byte, then the slot), which an arch's assembly fast path
/// reads (`layout.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, u8)]
pub enum Entry {
    /// No capability.
    Empty = 0,
    /// A capability.
    Full(CapSlot) = 1,
}

impl Entry {
    /// The slot, if occupied.
    #[inline(always)]
    pub fn as_ref(&self) -> Option<&CapSlot> {
        match self {
            Entry::Full(s) => Some(s),
            Entry::Empty => None,
        }
    }

    fn is_none(&self) -> bool {
        matches!(self, Entry::Empty)
    }

    fn take(&mut self) -> Option<CapSlot> {
        match core::mem::replace(self, Entry::Empty) {
            Entry::Full(s) => Some(s),
            Entry::Empty => None,
        }
    }
}

/// A task's capability space: `2^order` slots, indexed by selector. Slot 0 is the nil
/// selector and is never occupied.
///
/// `#[repr(C)]`, starting with the address of slot 0 and the number of slots (the
/// vector's, which never changes), so an arch's assembly fast path can index it.
#[repr(C)]
pub struct CapSpace {
    base: usize,
    slot_count: usize,
    slots: Vec<Entry>,
    used: usize,
}

impl CapSpace {
    /// Offset of the address of slot 0.
    pub const BASE_OFFSET: usize = core::mem::offset_of!(Self, base);
    /// Offset of the number of slots (a `usize`).
    pub const LEN_OFFSET: usize = core::mem::offset_of!(Self, slot_count);

    /// The address of slot 0 and the number of slots, as the fast path's assembly reads
    /// them (for the layout tests).
    pub fn raw_parts(&self) -> (usize, usize) {
        (self.base, self.slot_count)
    }

    /// Bytes a capability space of `2^order` slots costs.
    pub fn cost(order: u8) -> u64 {
        (core::mem::size_of::<Entry>() as u64) << order
    }

    /// A space with no slots at all (a free table slot's stand-in; allocates nothing).
    pub fn empty() -> Self {
        let slots = Vec::new();
        CapSpace { base: slots.as_ptr() as usize, slot_count: 0, slots, used: 0 }
    }

    /// An empty space of `2^order` slots, or `None` if the memory is not there.
    pub fn new(order: u8) -> Option<Self> {
        let n = 1usize << order;
        let mut slots = Vec::new();
        slots.try_reserve_exact(n).ok()?;
        slots.resize(n, Entry::Empty);
        Some(CapSpace { base: slots.as_ptr() as usize, slot_count: n, slots, used: 0 })
    }

    /// Number of slots.
    pub fn size(&self) -> u64 {
        self.slots.len() as u64
    }

    /// The slot `sel`: `InvalidCap` if out of range, nil or empty.
    #[inline(always)]
    pub fn get(&self, sel: u64) -> Result<&CapSlot, Error> {
        if sel == 0 {
            return Err(Error::InvalidCap);
        }
        match self.slots.get(sel as usize) {
            Some(Entry::Full(s)) => Ok(s),
            _ => Err(Error::InvalidCap),
        }
    }

    /// The occupied slot `sel` (the nil selector's slot is never occupied), for the fast
    /// path: `get` without its error codes.
    #[inline(always)]
    pub fn slot(&self, sel: u64) -> Option<&CapSlot> {
        self.slots.get(sel as usize)?.as_ref()
    }

    /// Whether `sel` is a slot of this space other than nil.
    pub fn in_range(&self, sel: u64) -> bool {
        sel != 0 && sel < self.size()
    }

    /// Whether `sel` is in range and empty.
    pub fn is_free(&self, sel: u64) -> bool {
        self.in_range(sel) && self.slots[sel as usize].is_none()
    }

    /// Puts `slot` into `sel` (which must be in range and empty).
    pub fn set(&mut self, sel: u64, slot: CapSlot) {
        debug_assert!(self.is_free(sel));
        if let Some(s) = self.slots.get_mut(sel as usize) {
            self.used += s.is_none() as usize;
            *s = Entry::Full(slot);
        }
    }

    /// Empties `sel` and returns what was there.
    pub fn take(&mut self, sel: u64) -> Option<CapSlot> {
        if sel == 0 {
            return None;
        }
        let taken = self.slots.get_mut(sel as usize).and_then(|s| s.take());
        self.used -= taken.is_some() as usize;
        taken
    }

    /// Number of occupied slots.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Changes the rights of the capability in `sel`.
    pub fn set_rights(&mut self, sel: u64, rights: CapRights) {
        if let Some(Entry::Full(s)) = self.slots.get_mut(sel as usize) {
            s.cap.rights = rights;
        }
    }

    /// Occupied slots with their selectors.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &CapSlot)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|s| (i as u64, s)))
    }
}
