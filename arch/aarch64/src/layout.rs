//! The kernel's virtual address space (TTBR1) and how ranges are cut into blocks.
//!
//! | range | what | Arm level-0 index |
//! |---|---|---|
//! | `PHYSMAP_BASE + pa` | all RAM, 1 GiB / 2 MiB blocks, RW, never executable | 0.. |
//! | `SCRATCH_BASE` | 8 pages nothing maps (the paging self-test) | 506 |
//! | `STACKS_BASE + i * 128 KiB` | CPU `i`'s kernel stack (secondary CPUs), 64 KiB | 504 |
//! | `DEVICE_BASE..` | device registers (PL011, GIC), Device-nGnRE, bump-allocated | 508 |
//! | `KERNEL_BASE + offset` | the kernel image, 4 KiB pages, W^X | 511 |
//! | `FDT_WINDOW` | the device tree as the loader left it, read-only (4 MiB) | 511 |
//!
//! User space lives in TTBR0 (`0x1000..0x8000_0000_0000`).

use pecan_boot::{MemoryMap, RegionKind};

/// Base of the direct map of physical memory (Arm level-0 index 0 of TTBR1).
pub const PHYSMAP_BASE: u64 = 0xffff_0000_0000_0000;
/// The kernel image's link address: the Image header's first byte.
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;
/// Where the early boot maps the 2 MiB blocks holding the device tree (U-Boot path).
pub const FDT_WINDOW: u64 = 0xffff_ffff_a000_0000;
/// Size of the device-tree window (two 2 MiB blocks: a tree of up to 2 MiB at any offset).
pub const FDT_WINDOW_SIZE: u64 = 4 << 20;
/// Base of the window device registers are mapped into.
pub const DEVICE_BASE: u64 = 0xffff_fe00_0000_0000;
/// Size of the device window.
pub const DEVICE_SIZE: u64 = 1 << 30;
/// The paging self-test's scratch range.
pub const SCRATCH_BASE: u64 = 0xffff_fd00_0000_0000;
/// The secondary CPUs' kernel stacks: CPU `i`'s 64 KiB at `STACKS_BASE + i * 128 KiB`,
/// the 64 KiB below each unmapped (`smp.rs`).
pub const STACKS_BASE: u64 = 0xffff_fc00_0000_0000;
/// Size of the scratch range.
pub const SCRATCH_SIZE: u64 = 8 * 4096;
/// Largest kernel image (text, data, BSS, stacks, boot tables) the early tables can map:
/// four level-3 tables.
pub const KERNEL_MAX_SIZE: u64 = 8 << 20;
/// Number of level-3 tables the early boot uses for the kernel image.
pub const KERNEL_L3_TABLES: usize = (KERNEL_MAX_SIZE >> 21) as usize;
/// Index of the device-tree window in the kernel's level-2 table.
pub const FDT_L2_INDEX: usize = ((FDT_WINDOW - KERNEL_BASE) >> 21) as usize;

const _: () = assert!(FDT_WINDOW.is_multiple_of(2 << 20) && FDT_L2_INDEX >= KERNEL_L3_TABLES);
const _: () = assert!(FDT_WINDOW + FDT_WINDOW_SIZE <= KERNEL_BASE + (1 << 30));

/// The physical ranges the direct map covers: maximal runs of adjacent regions of the boot
/// memory map that are RAM the kernel may touch (every kind but `Reserved`, which holds
/// firmware's `no-map` regions and whatever the loader asked to keep away).
pub fn direct_map_runs(m: &MemoryMap) -> impl Iterator<Item = (u64, u64)> + '_ {
    let mut regions = m.regions().iter().filter(|r| r.kind != RegionKind::Reserved).peekable();
    core::iter::from_fn(move || {
        let first = regions.next()?;
        let mut end = first.end();
        while let Some(next) = regions.next_if(|r| r.base == end) {
            end = next.end();
        }
        Some((first.base, end - first.base))
    })
}

/// Every kernel stack is `1 << KERNEL_STACK_SHIFT` bytes (64 KiB) at an address aligned to
/// twice that, with an unmapped guard page below it (see `vectors.S`: the overflow check).
pub const KERNEL_STACK_SHIFT: u32 = 16;

/// Whether a frame at `addr` lies inside its kernel stack (what the vectors test).
pub const fn in_kernel_stack(addr: u64) -> bool {
    addr & (1 << KERNEL_STACK_SHIFT) == 0
}

/// The level-0 (Arm ARM) index of `va`.
pub const fn l0_index(va: u64) -> usize {
    ((va >> 39) & 0x1ff) as usize
}

/// A piece of a mapping: `va -> pa` with one leaf at `level` (0: 4 KiB, 1: 2 MiB,
/// 2: 1 GiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Virtual address.
    pub va: u64,
    /// Physical address.
    pub pa: u64,
    /// Leaf level.
    pub level: usize,
}

/// Cuts `[va, va + len)` -> `[pa, ...)` into the fewest leaves: the largest level up to
/// `max_level` at which both addresses are aligned and the rest is long enough. `va`, `pa`
/// and `len` are rounded out to 4 KiB.
pub fn chunks(va: u64, pa: u64, len: u64, max_level: usize) -> impl Iterator<Item = Chunk> {
    let off = pa & 0xfff;
    let (mut va, mut pa) = (va & !0xfff, pa & !0xfff);
    let end = (pa + len + off).next_multiple_of(4096);
    core::iter::from_fn(move || {
        if pa >= end {
            return None;
        }
        let level = (0..=max_level.min(2))
            .rev()
            .find(|&l| {
                let size = 4096u64 << (9 * l);
                va % size == 0 && pa % size == 0 && end - pa >= size
            })
            .unwrap_or(0);
        let c = Chunk { va, pa, level };
        let size = 4096u64 << (9 * level);
        va += size;
        pa += size;
        Some(c)
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn indices() {
        assert_eq!(l0_index(PHYSMAP_BASE), 0);
        assert_eq!(l0_index(KERNEL_BASE), 511);
        assert_eq!(l0_index(DEVICE_BASE), 508);
        assert_eq!(l0_index(SCRATCH_BASE), 506);
        assert_eq!(l0_index(STACKS_BASE), 504);
        assert_eq!(FDT_L2_INDEX, 256);
        // The self-test's fault address is in none of the kernel's ranges.
        assert_eq!(l0_index(0xffff_dead_0000_0000), 445);
    }

    #[test]
    fn ram_512m_at_1g() {
        let c: Vec<Chunk> = chunks(PHYSMAP_BASE + 0x4000_0000, 0x4000_0000, 0x2000_0000, 2).collect();
        assert_eq!(c.len(), 256);
        assert!(c.iter().all(|c| c.level == 1));
        let c: Vec<Chunk> = chunks(PHYSMAP_BASE + 0x4000_0000, 0x4000_0000, 0x8000_0000, 2).collect();
        assert_eq!(c.iter().map(|c| c.level).collect::<Vec<_>>(), [2, 2]);
    }

    #[test]
    fn stack_overflow_bit() {
        let base = KERNEL_BASE + 0x6_0000; // 128 KiB aligned
        assert!(in_kernel_stack(base) && in_kernel_stack(base + 0xfff0));
        assert!(!in_kernel_stack(base - 16) && !in_kernel_stack(base - 4096));
    }

    #[test]
    fn runs() {
        let mut m = MemoryMap::new();
        m.add(0x4000_0000, 0x2000_0000, RegionKind::Usable).unwrap();
        m.add(0x4040_0000, 0x20_0000, RegionKind::Kernel).unwrap();
        m.add(0x5fe0_0000, 0x2000, RegionKind::Boot).unwrap();
        m.add(0x4800_0000, 0x10_0000, RegionKind::Reserved).unwrap();
        m.add(0x8000_0000, 0x1000_0000, RegionKind::Usable).unwrap();
        let r: Vec<(u64, u64)> = direct_map_runs(&m).collect();
        assert_eq!(r, [(0x4000_0000, 0x800_0000), (0x4810_0000, 0x17f0_0000), (0x8000_0000, 0x1000_0000)]);
    }

    #[test]
    fn unaligned_edges() {
        let c: Vec<(u64, usize)> = chunks(0x1ff000, 0x1ff000, 0x202000, 2).map(|c| (c.pa, c.level)).collect();
        assert_eq!(c, [(0x1ff000, 0), (0x200000, 1), (0x400000, 0)]);
        // Sub-page offsets round out.
        let c: Vec<Chunk> = chunks(DEVICE_BASE, 0x0900_0010, 0x10, 2).collect();
        assert_eq!(c, [Chunk { va: DEVICE_BASE, pa: 0x0900_0000, level: 0 }]);
        // A cap on the level.
        assert!(chunks(0, 0, 0x4000_0000, 0).all(|c| c.level == 0));
        // Different alignment of va and pa forces small pages.
        assert!(chunks(0x1000, 0x20_0000, 0x40_0000, 2).all(|c| c.level == 0));
        assert_eq!(chunks(0, 0, 0, 2).count(), 0);
    }
}
