//! Physical frame sources: a boot-time bump allocator and an O(1) intrusive free list.

use pecan_hal::{PAGE_SIZE, PhysAddr, PhysMem};

/// Something that hands out and takes back 4 KiB frames.
pub trait FrameSource {
    /// A zeroed frame, or `None` when exhausted.
    fn alloc_frame(&mut self, mem: &mut impl PhysMem) -> Option<PhysAddr>;
    /// Returns a frame.
    fn free_frame(&mut self, mem: &mut impl PhysMem, pa: PhysAddr);
}

/// Hands out frames from `[next, end)` in order and never takes them back (for early
/// boot, before the kernel knows its memory map in full).
#[derive(Debug)]
pub struct BumpAllocator {
    next: u64,
    end: u64,
}

impl BumpAllocator {
    /// Frames from the page-aligned range `[start, end)`.
    pub const fn new(start: u64, end: u64) -> Self {
        let start = start.next_multiple_of(PAGE_SIZE);
        BumpAllocator { next: start, end: end & !(PAGE_SIZE - 1) }
    }

    /// The first address not yet handed out.
    pub const fn next(&self) -> u64 {
        self.next
    }
}

impl FrameSource for BumpAllocator {
    fn alloc_frame(&mut self, mem: &mut impl PhysMem) -> Option<PhysAddr> {
        if self.next >= self.end {
            return None;
        }
        let pa = PhysAddr(self.next);
        self.next += PAGE_SIZE;
        mem.zero(pa, PAGE_SIZE as usize);
        Some(pa)
    }

    fn free_frame(&mut self, _mem: &mut impl PhysMem, _pa: PhysAddr) {}
}

/// A LIFO list of free frames threaded through the frames themselves (word 0 of each free
/// frame holds the next one), so it needs no memory of its own. Allocation zeroes.
#[derive(Debug, Default)]
pub struct FreeList {
    head: Option<PhysAddr>,
    count: usize,
}

const END: u64 = u64::MAX;

impl FreeList {
    /// An empty list.
    pub const fn new() -> Self {
        FreeList { head: None, count: 0 }
    }

    /// Number of free frames.
    pub const fn len(&self) -> usize {
        self.count
    }

    /// Whether the list is empty.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds every whole frame of `[base, base + size)`.
    pub fn add_region(&mut self, mem: &mut impl PhysMem, base: u64, size: u64) {
        let start = base.next_multiple_of(PAGE_SIZE);
        let end = (base + size) & !(PAGE_SIZE - 1);
        let mut pa = end;
        while pa > start {
            pa -= PAGE_SIZE;
            self.push(mem, PhysAddr(pa));
        }
    }

    fn push(&mut self, mem: &mut impl PhysMem, pa: PhysAddr) {
        mem.write_u64(pa, self.head.map_or(END, |h| h.0));
        self.head = Some(pa);
        self.count += 1;
    }
}

impl FrameSource for FreeList {
    fn alloc_frame(&mut self, mem: &mut impl PhysMem) -> Option<PhysAddr> {
        let pa = self.head?;
        let next = mem.read_u64(pa);
        self.head = if next == END { None } else { Some(PhysAddr(next)) };
        self.count -= 1;
        mem.zero(pa, PAGE_SIZE as usize);
        Some(pa)
    }

    fn free_frame(&mut self, mem: &mut impl PhysMem, pa: PhysAddr) {
        self.push(mem, pa);
    }
}
