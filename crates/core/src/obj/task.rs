//! Tasks: an address space (page table, ASID, mapping records) and a capability space.

extern crate alloc;
use alloc::collections::BTreeMap;
use pecan_hal::PhysAddr;
use pecan_mm::AsidTag;

use crate::mdb::NodeId;
use crate::obj::cap::CapSpace;
use crate::obj::table::Handle;

/// What a user page of a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmEntry {
    /// A mapping recorded in the mapping database.
    Node(NodeId),
    /// The UTCB of one of the task's threads (kernel-owned, not mappable or unmappable by
    /// user space).
    Utcb(Handle),
}

/// A task. `#[repr(C)]`: an arch's assembly fast path reads `caps` (`layout.rs`).
#[repr(C)]
pub struct Task {
    /// Root of the page table.
    pub root: PhysAddr,
    /// The ASID/PCID the address space holds.
    pub asid: AsidTag,
    /// The capability space.
    pub caps: CapSpace,
    /// Every user page mapped in the address space, by page address.
    pub vm: BTreeMap<u64, VmEntry>,
    /// Page-table frames allocated for the address space (root included).
    pub pt_frames: u64,
    /// Threads running in the task.
    pub threads: u32,
    /// The factory the task (and its page tables and mappings) is charged to.
    pub charged_to: Handle,
    /// The root task: owns all physical memory through its window.
    pub is_root: bool,
    /// The CPUs that may have loaded the address space (bit `i`: CPU `i`): marked when the
    /// core activates it and when one of its threads is created on or moves to a CPU (the
    /// fast paths switch from a thread's cache). The CPUs whose TLBs may hold its
    /// translations (tagged by its ASID), which an unmap's shootdown must reach. Starts
    /// over when the task gets a fresh ASID (after a rollover: `Kernel::claim_space`).
    pub ran_on: pecan_hal::CpuSet,
    /// The level-1 table of the long-IPC window (`ipc/window.rs`; 0 until the task's first
    /// temporary mapping). Its two tables count in `pt_frames`.
    pub window: PhysAddr,
}

impl crate::obj::table::Vacant for Task {
    fn vacant() -> Self {
        Task {
            root: PhysAddr(0),
            asid: AsidTag::default(),
            caps: CapSpace::empty(),
            vm: BTreeMap::new(),
            pt_frames: 0,
            threads: 0,
            ran_on: pecan_hal::CpuSet(0),
            charged_to: Handle::NONE,
            is_root: false,
            window: PhysAddr(0),
        }
    }
}
