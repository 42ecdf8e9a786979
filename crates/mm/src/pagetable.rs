//! A 4-level page-table walker generic over the entry format.
//!
//! Level 3 is the root; level 0 holds 4 KiB pages; levels 1 and 2 may hold blocks. Tables
//! are allocated on demand from a [`FrameSource`] and freed with [`PageTable::free_tables`].
//! TLB maintenance is not done here: callers flush after changing a live table.

use core::marker::PhantomData;
use pecan_hal::{Attrs, PAGE_SIZE, PhysAddr, PhysMem, PteFormat, PteKind, VirtAddr};

use crate::frames::FrameSource;

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame for an intermediate table.
    NoMemory,
    /// Something is already mapped there.
    AlreadyMapped,
    /// The address or size is not aligned to the level.
    Misaligned,
}

/// Entries per table.
pub const ENTRIES: usize = 512;

/// Bytes covered by one entry at `level`.
pub const fn level_size(level: usize) -> u64 {
    PAGE_SIZE << (9 * level)
}

/// Index of `va` in the table at `level`.
pub const fn index(va: u64, level: usize) -> usize {
    ((va >> (12 + 9 * level)) & 0x1ff) as usize
}

/// A page table, named by its root frame.
#[derive(Debug)]
pub struct PageTable<P> {
    root: PhysAddr,
    _format: PhantomData<P>,
}

impl<P> Clone for PageTable<P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P> Copy for PageTable<P> {}

impl<P: PteFormat> PageTable<P> {
    /// The table rooted at `root` (a zeroed or already initialized frame).
    pub const fn new(root: PhysAddr) -> Self {
        PageTable { root, _format: PhantomData }
    }

    /// The root frame.
    pub const fn root(&self) -> PhysAddr {
        self.root
    }

    fn entry_addr(table: PhysAddr, va: u64, level: usize) -> PhysAddr {
        table.add(index(va, level) as u64 * 8)
    }

    /// Maps `va` to `pa` with a leaf at `level` (0: 4 KiB page). Intermediate tables are
    /// created with `user` set when the leaf is a user mapping.
    pub fn map(
        &self,
        mem: &mut impl PhysMem,
        frames: &mut impl FrameSource,
        va: VirtAddr,
        pa: PhysAddr,
        attrs: Attrs,
        level: usize,
    ) -> Result<(), MapError> {
        let size = level_size(level);
        if !va.0.is_multiple_of(size) || !pa.0.is_multiple_of(size) || level >= P::LEVELS - 1 {
            return Err(MapError::Misaligned);
        }
        let mut table = self.root;
        let mut l = P::LEVELS - 1;
        while l > level {
            let e = Self::entry_addr(table, va.0, l);
            table = match P::decode(mem.read_u64(e), l) {
                PteKind::Table(next) => next,
                PteKind::Leaf(..) => return Err(MapError::AlreadyMapped),
                PteKind::Invalid => {
                    let next = frames.alloc_frame(mem).ok_or(MapError::NoMemory)?;
                    mem.write_u64(e, P::table(next, attrs.user));
                    next
                }
            };
            l -= 1;
        }
        let e = Self::entry_addr(table, va.0, level);
        if !matches!(P::decode(mem.read_u64(e), level), PteKind::Invalid) {
            return Err(MapError::AlreadyMapped);
        }
        mem.write_u64(e, P::leaf(pa, attrs, level));
        Ok(())
    }

    /// Finds the leaf entry that maps `va`: its address, level and decoded value.
    fn find(&self, mem: &impl PhysMem, va: VirtAddr) -> Option<(PhysAddr, usize, PhysAddr, Attrs)> {
        let mut table = self.root;
        let mut l = P::LEVELS - 1;
        loop {
            let e = Self::entry_addr(table, va.0, l);
            match P::decode(mem.read_u64(e), l) {
                PteKind::Invalid => return None,
                PteKind::Leaf(pa, attrs) => return Some((e, l, pa, attrs)),
                PteKind::Table(next) if l > 0 => table = next,
                PteKind::Table(_) => return None,
            }
            l -= 1;
        }
    }

    /// Translates `va`: the physical address it maps to and the leaf's attributes.
    pub fn lookup(&self, mem: &impl PhysMem, va: VirtAddr) -> Option<(PhysAddr, Attrs)> {
        let (_, level, pa, attrs) = self.find(mem, va)?;
        let off = va.0 & (level_size(level) - 1);
        Some((pa.add(off), attrs))
    }

    /// Removes the leaf mapping `va` (a 4 KiB page: blocks are removed whole) and returns
    /// what it mapped. Tables stay allocated until `free_tables`.
    pub fn unmap(&self, mem: &mut impl PhysMem, va: VirtAddr) -> Option<(PhysAddr, Attrs)> {
        let (e, _, pa, attrs) = self.find(mem, va)?;
        mem.write_u64(e, P::INVALID);
        Some((pa, attrs))
    }

    /// Changes the attributes of the leaf mapping `va`; false if nothing is mapped.
    pub fn protect(&self, mem: &mut impl PhysMem, va: VirtAddr, attrs: Attrs) -> bool {
        match self.find(mem, va) {
            Some((e, level, pa, _)) => {
                mem.write_u64(e, P::leaf(pa, attrs, level));
                true
            }
            None => false,
        }
    }

    /// Frees every table below the root entries `first..last` (and not the root itself).
    /// Leaves are not touched: their frames belong to whoever mapped them. Returns the
    /// number of tables freed.
    pub fn free_tables(
        &self,
        mem: &mut impl PhysMem,
        frames: &mut impl FrameSource,
        first: usize,
        last: usize,
    ) -> usize {
        let mut freed = 0;
        for i in first..last.min(ENTRIES) {
            let e = self.root.add(i as u64 * 8);
            if let PteKind::Table(next) = P::decode(mem.read_u64(e), P::LEVELS - 1) {
                freed += Self::free_subtree(mem, frames, next, P::LEVELS - 2);
                mem.write_u64(e, P::INVALID);
            }
        }
        freed
    }

    fn free_subtree(
        mem: &mut impl PhysMem,
        frames: &mut impl FrameSource,
        table: PhysAddr,
        level: usize,
    ) -> usize {
        let mut freed = 0;
        if level > 0 {
            for i in 0..ENTRIES {
                let e = table.add(i as u64 * 8);
                if let PteKind::Table(next) = P::decode(mem.read_u64(e), level) {
                    freed += Self::free_subtree(mem, frames, next, level - 1);
                }
            }
        }
        frames.free_frame(mem, table);
        freed + 1
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::frames::FreeList;
    use pecan_hal::MemType;
    use std::vec;
    use std::vec::Vec;

    /// A toy entry format: bit 0 valid, bit 1 table, bits 2..7 attributes, frame above.
    struct Toy;
    impl PteFormat for Toy {
        fn table(next: PhysAddr, user: bool) -> u64 {
            next.0 | 0b11 | (user as u64) << 5
        }
        fn leaf(pa: PhysAddr, a: Attrs, _level: usize) -> u64 {
            pa.0 | 1
                | (a.read as u64) << 2
                | (a.write as u64) << 3
                | (a.exec as u64) << 4
                | (a.user as u64) << 5
                | (a.global as u64) << 6
                | ((a.mem == MemType::Device) as u64) << 7
        }
        fn decode(raw: u64, level: usize) -> PteKind {
            if raw & 1 == 0 {
                return PteKind::Invalid;
            }
            let pa = PhysAddr(raw & !0xfff);
            if raw & 2 != 0 && level > 0 {
                return PteKind::Table(pa);
            }
            let bit = |n: u32| raw >> n & 1 != 0;
            let mem = if bit(7) { MemType::Device } else { MemType::Normal };
            PteKind::Leaf(
                pa,
                Attrs { read: bit(2), write: bit(3), exec: bit(4), user: bit(5), global: bit(6), mem },
            )
        }
    }

    struct Mem(Vec<u8>);
    impl PhysMem for Mem {
        fn read_u64(&self, pa: PhysAddr) -> u64 {
            let a = pa.0 as usize;
            u64::from_le_bytes(self.0[a..a + 8].try_into().unwrap())
        }
        fn write_u64(&mut self, pa: PhysAddr, v: u64) {
            let a = pa.0 as usize;
            self.0[a..a + 8].copy_from_slice(&v.to_le_bytes());
        }
        fn read_bytes(&self, pa: PhysAddr, buf: &mut [u8]) {
            buf.copy_from_slice(&self.0[pa.0 as usize..pa.0 as usize + buf.len()]);
        }
        fn write_bytes(&mut self, pa: PhysAddr, buf: &[u8]) {
            self.0[pa.0 as usize..pa.0 as usize + buf.len()].copy_from_slice(buf);
        }
        fn copy(&mut self, dst: PhysAddr, src: PhysAddr, len: usize) {
            self.0.copy_within(src.0 as usize..src.0 as usize + len, dst.0 as usize);
        }
        fn zero(&mut self, pa: PhysAddr, len: usize) {
            self.0[pa.0 as usize..pa.0 as usize + len].fill(0);
        }
    }

    const RW_USER: Attrs =
        Attrs { read: true, write: true, exec: false, user: true, global: false, mem: MemType::Normal };

    fn setup(frames: usize) -> (Mem, FreeList, PageTable<Toy>) {
        let mut mem = Mem(vec![0; (frames + 1) * 4096]);
        let mut fl = FreeList::new();
        fl.add_region(&mut mem, 4096, frames as u64 * 4096);
        (mem, fl, PageTable::new(PhysAddr(0)))
    }

    #[test]
    fn map_lookup_unmap() {
        let (mut mem, mut fl, pt) = setup(64);
        let before = fl.len();
        pt.map(&mut mem, &mut fl, VirtAddr(0x40_1000), PhysAddr(0x7000), RW_USER, 0).unwrap();
        assert_eq!(before - fl.len(), 3, "three intermediate tables");
        assert_eq!(pt.lookup(&mem, VirtAddr(0x40_1234)), Some((PhysAddr(0x7234), RW_USER)));
        assert_eq!(pt.lookup(&mem, VirtAddr(0x40_2000)), None);
        assert_eq!(
            pt.map(&mut mem, &mut fl, VirtAddr(0x40_1000), PhysAddr(0x8000), RW_USER, 0),
            Err(MapError::AlreadyMapped)
        );
        // A second page in the same leaf table needs no new table.
        pt.map(&mut mem, &mut fl, VirtAddr(0x40_2000), PhysAddr(0x8000), RW_USER, 0).unwrap();
        assert_eq!(before - fl.len(), 3);
        let ro = Attrs { write: false, ..RW_USER };
        assert!(pt.protect(&mut mem, VirtAddr(0x40_2000), ro));
        assert_eq!(pt.lookup(&mem, VirtAddr(0x40_2000)), Some((PhysAddr(0x8000), ro)));
        assert_eq!(pt.unmap(&mut mem, VirtAddr(0x40_1000)), Some((PhysAddr(0x7000), RW_USER)));
        assert_eq!(pt.lookup(&mem, VirtAddr(0x40_1000)), None);
        assert_eq!(pt.unmap(&mut mem, VirtAddr(0x40_1000)), None);
        assert_eq!(pt.free_tables(&mut mem, &mut fl, 0, 256), 3);
        assert_eq!(fl.len(), before, "every table frame returned");
    }

    #[test]
    fn blocks_and_errors() {
        let (mut mem, mut fl, pt) = setup(16);
        pt.map(&mut mem, &mut fl, VirtAddr(0x20_0000), PhysAddr(0x20_0000), RW_USER, 1).unwrap();
        assert_eq!(pt.lookup(&mem, VirtAddr(0x21_2345)), Some((PhysAddr(0x21_2345), RW_USER)));
        assert_eq!(
            pt.map(&mut mem, &mut fl, VirtAddr(0x20_1000), PhysAddr(0x1000), RW_USER, 0),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(
            pt.map(&mut mem, &mut fl, VirtAddr(0x1000), PhysAddr(0x1000), RW_USER, 1),
            Err(MapError::Misaligned)
        );
        assert_eq!(pt.unmap(&mut mem, VirtAddr(0x20_5000)), Some((PhysAddr(0x20_0000), RW_USER)));
    }

    #[test]
    fn out_of_frames() {
        let (mut mem, mut fl, pt) = setup(2);
        assert_eq!(
            pt.map(&mut mem, &mut fl, VirtAddr(0x1000), PhysAddr(0x1000), RW_USER, 0),
            Err(MapError::NoMemory)
        );
    }
}
