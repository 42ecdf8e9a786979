//! Kernel mappings made at boot, after the assembly's: the direct map of RAM and the
//! device window, in the kernel's TTBR1 tree, with tables from a pool inside the image
//! (so they are never in the frame pool and exist before any allocator does).

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use pecan_hal::{Attrs, MemType, PhysAddr, PhysMem, VirtAddr};
use pecan_mm::{FrameSource, MapError, PageTable};

use crate::layout::{DEVICE_BASE, DEVICE_SIZE, chunks};
use crate::pte::Aarch64Pte;

/// Tables in the boot pool: enough for the direct map of a few GiB in 2 MiB blocks with
/// 4 KiB edges, and the device window.
const POOL_TABLES: usize = 48;

#[repr(C, align(4096))]
struct Pool([[u64; 512]; POOL_TABLES]);

static mut POOL: Pool = Pool([[0; 512]; POOL_TABLES]);
static POOL_NEXT: AtomicUsize = AtomicUsize::new(0);
static DEVICE_NEXT: AtomicU64 = AtomicU64::new(DEVICE_BASE);

/// Kernel data, read-write, never executable, global.
pub const KERNEL_RW: Attrs =
    Attrs { read: true, write: true, exec: false, user: false, global: true, mem: MemType::Normal };
/// Device registers.
pub const DEVICE_RW: Attrs = Attrs { mem: MemType::Device, ..KERNEL_RW };

/// Hands out the pool's tables (zeroed through `mem`); they are never freed.
struct PoolFrames;

impl FrameSource for PoolFrames {
    fn alloc_frame(&mut self, mem: &mut impl PhysMem) -> Option<PhysAddr> {
        let i = POOL_NEXT.fetch_add(1, Ordering::Relaxed);
        if i >= POOL_TABLES {
            return None;
        }
        let va = (&raw const POOL) as u64 + (i * 4096) as u64;
        let pa = PhysAddr(crate::boot::image_pa_of(va));
        mem.zero(pa, 4096);
        Some(pa)
    }

    fn free_frame(&mut self, _mem: &mut impl PhysMem, _pa: PhysAddr) {}
}

/// Tables of the boot pool used so far.
pub fn pool_used() -> usize {
    POOL_NEXT.load(Ordering::Relaxed).min(POOL_TABLES)
}

/// Maps `[va, va + len)` to `[pa, ...)` in the kernel tree rooted at `root`, with the
/// largest blocks alignment allows. Pages already mapped to the same frame are left
/// alone (two devices in one page); anything else already there is an error.
pub fn map_range(
    mem: &mut impl PhysMem,
    root: PhysAddr,
    va: u64,
    pa: u64,
    len: u64,
    attrs: Attrs,
) -> Result<(), MapError> {
    let pt = PageTable::<Aarch64Pte>::new(root);
    for c in chunks(va, pa, len, 2) {
        match pt.lookup(mem, VirtAddr(c.va)) {
            Some((p, a)) if p.0 == c.pa && a == attrs => continue,
            Some(_) => return Err(MapError::AlreadyMapped),
            None => pt.map(mem, &mut PoolFrames, VirtAddr(c.va), PhysAddr(c.pa), attrs, c.level)?,
        }
    }
    crate::mmu::sync_tables();
    Ok(())
}

/// Maps `len` bytes of device registers at `pa` into the device window; returns the
/// virtual address of `pa`. The window address keeps `pa`'s offset within 2 MiB so large
/// register blocks get block mappings.
pub fn map_device(mem: &mut impl PhysMem, root: PhysAddr, pa: u64, len: u64) -> Result<u64, MapError> {
    const BLOCK: u64 = 2 << 20;
    let start = pa & !0xfff;
    let end = (pa + len).next_multiple_of(4096);
    let mut va = DEVICE_NEXT.load(Ordering::Relaxed).next_multiple_of(BLOCK) + (start % BLOCK);
    if va + (end - start) > DEVICE_BASE + DEVICE_SIZE {
        return Err(MapError::NoMemory);
    }
    map_range(mem, root, va, start, end - start, DEVICE_RW)?;
    DEVICE_NEXT.store(va + (end - start), Ordering::Relaxed);
    va += pa - start;
    Ok(va)
}
