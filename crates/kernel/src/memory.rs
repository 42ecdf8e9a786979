//! The physical frame pool: every usable frame of the boot memory map.

use pecan_boot::{BootInfo, RegionKind};
use pecan_hal::{PAGE_SIZE, PhysAddr};
use pecan_mm::{FrameSource, FreeList};

use crate::machine::Machine;

/// All free physical frames.
pub struct FramePool {
    free: FreeList,
    total: usize,
}

impl FramePool {
    /// A pool of every usable frame in `info.memory`.
    pub fn new<M: Machine>(m: &mut M, info: &BootInfo) -> Self {
        let mut free = FreeList::new();
        for r in info.memory.usable() {
            free.add_region(m.mem(), r.base, r.size);
        }
        let total = free.len();
        FramePool { free, total }
    }

    /// Frames in the pool at boot.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Frames free now.
    pub fn free(&self) -> usize {
        self.free.len()
    }

    /// A zeroed frame.
    pub fn alloc<M: Machine>(&mut self, m: &mut M) -> Option<PhysAddr> {
        self.free.alloc_frame(m.mem())
    }

    /// Returns a frame.
    pub fn release<M: Machine>(&mut self, m: &mut M, pa: PhysAddr) {
        self.free.free_frame(m.mem(), pa)
    }

    /// The free list itself (to hand to page-table code as a `FrameSource`).
    pub fn list(&mut self) -> &mut FreeList {
        &mut self.free
    }

    /// Logs the memory map and the pool size (the line starts with `memory:`).
    pub fn log_summary(&self, info: &BootInfo) {
        for r in info.memory.regions() {
            log::info!("  {:#014x}..{:#014x} {:?}", r.base, r.end(), r.kind);
        }
        let kernel: u64 =
            info.memory.regions().iter().filter(|r| r.kind == RegionKind::Kernel).map(|r| r.size).sum();
        log::info!(
            "memory: {} MiB usable in {} frames, kernel {} KiB, {} regions",
            (self.total as u64 * PAGE_SIZE) >> 20,
            self.total,
            kernel >> 10,
            info.memory.regions().len()
        );
    }
}
