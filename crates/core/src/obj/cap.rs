//! Capabilities and per-task capability spaces.

extern crate alloc;
use alloc::vec::Vec;
use pecan_abi::object::ObjType;
use pecan_abi::{CapRights, Error};

use crate::mdb::NodeId;
use crate::obj::table::Handle;

/// What a capability names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjRef {
    /// A task.
    Task(Handle),
    /// A thread.
    Thread(Handle),
    /// An IPC gate.
    Gate(Handle),
    /// An IRQ object.
    Irq(Handle),
    /// A factory.
    Factory(Handle),
    /// The kernel console (one per kernel).
    Console,
    /// The machine (one per kernel).
    Machine,
    /// I/O ports `first .. first + count` (x86_64).
    IoPorts {
        /// First port.
        first: u16,
        /// Number of ports (up to 65536).
        count: u32,
    },
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
pub struct Cap {
    /// The object.
    pub obj: ObjRef,
    /// The rights.
    pub rights: CapRights,
}

/// An occupied capability slot: the capability and its node in the mapping database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapSlot {
    /// The capability.
    pub cap: Cap,
    /// Its node in the mapping database (derivation tree).
    pub node: NodeId,
}

/// A task's capability space: `2^order` slots, indexed by selector. Slot 0 is the nil
/// selector and is never occupied.
pub struct CapSpace {
    slots: Vec<Option<CapSlot>>,
    used: usize,
}

impl CapSpace {
    /// Bytes a capability space of `2^order` slots costs.
    pub fn cost(order: u8) -> u64 {
        (core::mem::size_of::<Option<CapSlot>>() as u64) << order
    }

    /// A space with no slots at all (a free table slot's stand-in; allocates nothing).
    pub fn empty() -> Self {
        CapSpace { slots: Vec::new(), used: 0 }
    }

    /// An empty space of `2^order` slots, or `None` if the memory is not there.
    pub fn new(order: u8) -> Option<Self> {
        let n = 1usize << order;
        let mut slots = Vec::new();
        slots.try_reserve_exact(n).ok()?;
        slots.resize(n, None);
        Some(CapSpace { slots, used: 0 })
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
            Some(Some(s)) => Ok(s),
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
            *s = Some(slot);
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
        if let Some(Some(s)) = self.slots.get_mut(sel as usize) {
            s.cap.rights = rights;
        }
    }

    /// Occupied slots with their selectors.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &CapSlot)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|s| (i as u64, s)))
    }
}
