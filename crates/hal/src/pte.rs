//! Page-table entry formats: pure encode and decode, no memory access.

use crate::addr::PhysAddr;

/// Memory type of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MemType {
    /// Normal cacheable memory.
    #[default]
    Normal,
    /// Device memory (uncached, no speculation).
    Device,
}

/// Attributes of a leaf mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Attrs {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
    /// Accessible from user mode.
    pub user: bool,
    /// Global (not tagged with an ASID, survives address-space switches).
    pub global: bool,
    /// Memory type.
    pub mem: MemType,
}

/// A decoded page-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PteKind {
    /// Nothing mapped.
    Invalid,
    /// A pointer to the next-level table.
    Table(PhysAddr),
    /// A leaf: a page (level 0) or block (level 1, 2) mapping.
    Leaf(PhysAddr, Attrs),
}

/// A page-table entry format of a 4-level, 4 KiB-granule, 512-entry radix tree
/// (x86_64 4-level paging, AArch64 48-bit VMSA). Level 3 is the root, level 0 holds pages.
pub trait PteFormat {
    /// Levels in the tree.
    const LEVELS: usize = 4;
    /// The raw value of an invalid entry.
    const INVALID: u64 = 0;
    /// An entry pointing to a next-level table (`user`: the subtree may hold user pages).
    fn table(next: PhysAddr, user: bool) -> u64;
    /// A leaf entry at `level` (0: 4 KiB page, 1: 2 MiB block, 2: 1 GiB block).
    fn leaf(pa: PhysAddr, attrs: Attrs, level: usize) -> u64;
    /// Decodes an entry found at `level`.
    fn decode(raw: u64, level: usize) -> PteKind;
}
