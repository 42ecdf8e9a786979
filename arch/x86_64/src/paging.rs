//! The kernel's own page tables: the direct map of RAM at `PHYSMAP_BASE`, the kernel image
//! at its link address with per-section permissions (text RX, rodata R, data RW; the page
//! below the boot stack left unmapped as a guard), and uncached device pages. Built with
//! the generic walker from a pool of frames inside the image, then loaded; the loader's
//! tables (and U-Boot's identity map with them) are gone from then on. Kernel mappings
//! are global.

use core::sync::atomic::{AtomicU64, Ordering};

use pecan_hal::{Attrs, MemType, PAGE_SIZE, PhysAddr, PhysMem, VirtAddr};
use pecan_mm::{BumpAllocator, FrameSource, MapError, PageTable};
use spin::Mutex;

use crate::cell::SyncCell;
use crate::layout::{KERNEL_BASE, PHYSMAP_BASE};
use crate::pte::X86Pte;

/// Physical memory is at `PHYS_OFFSET + pa` (the loader's HHDM offset until the switch).
static PHYS_OFFSET: AtomicU64 = AtomicU64::new(PHYSMAP_BASE);
/// The kernel image's virtual minus physical address.
static KERNEL_DELTA: AtomicU64 = AtomicU64::new(KERNEL_BASE);
/// The kernel's root table.
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

/// Frames for the kernel's own tables.
pub const POOL_PAGES: usize = 64;

#[repr(C, align(4096))]
struct Pool([u8; POOL_PAGES * PAGE_SIZE as usize]);

static POOL: SyncCell<Pool> = SyncCell::new(Pool([0; POOL_PAGES * PAGE_SIZE as usize]));
static FRAMES: Mutex<BumpAllocator> = Mutex::new(BumpAllocator::new(0, 0));

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __boot_stack_guard: u8;
    static __boot_stack_top: u8;
    static __kernel_end: u8;
}

const SIZE_2M: u64 = 1 << 21;
const SIZE_1G: u64 = 1 << 30;

/// Kernel-only, global, no-execute, writable normal memory (the direct map).
const RW_DATA: Attrs =
    Attrs { read: true, write: true, exec: false, user: false, global: true, mem: MemType::Normal };

/// Records where the loader put the kernel and where physical memory is mapped now.
pub fn set_loader_layout(kernel_delta: u64, phys_offset: u64) {
    KERNEL_DELTA.store(kernel_delta, Ordering::Relaxed);
    PHYS_OFFSET.store(phys_offset, Ordering::Relaxed);
}

/// The physical address of a kernel-image virtual address.
pub fn kernel_virt_to_phys(va: u64) -> u64 {
    va - KERNEL_DELTA.load(Ordering::Relaxed)
}

/// The kernel image's physical range `[start, end)`, including .bss and the boot stack.
pub fn kernel_image() -> (u64, u64) {
    (
        kernel_virt_to_phys(&raw const __kernel_start as u64),
        kernel_virt_to_phys(&raw const __kernel_end as u64),
    )
}

/// The unmapped guard page below the boot stack (virtual).
pub fn stack_guard() -> core::ops::Range<u64> {
    let g = &raw const __boot_stack_guard as u64;
    g..g + PAGE_SIZE
}

/// The top of the boot stack (the boot CPU's kernel stack).
pub fn boot_stack_top() -> u64 {
    &raw const __boot_stack_top as u64
}

/// The kernel's root table.
pub fn kernel_root() -> PhysAddr {
    PhysAddr(KERNEL_ROOT.load(Ordering::Relaxed))
}

/// Physical memory through the direct map.
#[derive(Clone, Copy, Debug, Default)]
pub struct PhysmapMem;

fn at(pa: u64) -> *mut u8 {
    (PHYS_OFFSET.load(Ordering::Relaxed) + pa) as *mut u8
}

/// The kernel's virtual address of physical address `pa` (the direct map).
pub fn phys_to_virt(pa: u64) -> *mut u8 {
    at(pa)
}

// SAFETY (for every access below): the core and the kernel pass only addresses of frames
// they own, and the direct map covers all RAM; accesses are volatile so that page tables
// the MMU reads are really written.
impl PhysMem for PhysmapMem {
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        // SAFETY: see above.
        unsafe { at(pa.0).cast::<u64>().read_volatile() }
    }
    fn write_u64(&mut self, pa: PhysAddr, value: u64) {
        // SAFETY: see above.
        unsafe { at(pa.0).cast::<u64>().write_volatile(value) }
    }
    fn read_bytes(&self, pa: PhysAddr, buf: &mut [u8]) {
        // SAFETY: see above; `buf` is ours and does not overlap the source.
        unsafe { core::ptr::copy_nonoverlapping(at(pa.0), buf.as_mut_ptr(), buf.len()) }
    }
    fn write_bytes(&mut self, pa: PhysAddr, buf: &[u8]) {
        // SAFETY: see above.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), at(pa.0), buf.len()) }
    }
    fn copy(&mut self, dst: PhysAddr, src: PhysAddr, len: usize) {
        // SAFETY: see above; the caller guarantees the ranges do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(at(src.0), at(dst.0), len) }
    }
    fn zero(&mut self, pa: PhysAddr, len: usize) {
        // SAFETY: see above.
        unsafe { core::ptr::write_bytes(at(pa.0), 0, len) }
    }
}

/// Memory while the tables are built: the table frames (in the kernel image) are reached
/// through the image's own mapping, so the build does not depend on what the loader's
/// direct map covers.
struct BuildMem;

impl BuildMem {
    fn at(pa: PhysAddr) -> *mut u64 {
        let (start, end) = kernel_image();
        assert!(pa.0 >= start && pa.0 + 8 <= end, "boot page tables outside the kernel image");
        (pa.0 + KERNEL_DELTA.load(Ordering::Relaxed)) as *mut u64
    }
}

impl PhysMem for BuildMem {
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        // SAFETY: a pool frame inside the mapped kernel image (checked by `at`).
        unsafe { Self::at(pa).read_volatile() }
    }
    fn write_u64(&mut self, pa: PhysAddr, value: u64) {
        // SAFETY: as above.
        unsafe { Self::at(pa).write_volatile(value) }
    }
    fn read_bytes(&self, _: PhysAddr, _: &mut [u8]) {
        unreachable!("the page-table walker only reads words")
    }
    fn write_bytes(&mut self, _: PhysAddr, _: &[u8]) {
        unreachable!("the page-table walker only writes words")
    }
    fn copy(&mut self, _: PhysAddr, _: PhysAddr, _: usize) {
        unreachable!("the page-table walker does not copy")
    }
    fn zero(&mut self, pa: PhysAddr, len: usize) {
        for off in (0..len as u64).step_by(8) {
            self.write_u64(pa.add(off), 0);
        }
    }
}

/// Physical ranges to put in the direct map, widened to 2 MiB and merged.
pub struct Ranges {
    r: [(u64, u64); 64],
    n: usize,
}

impl Default for Ranges {
    fn default() -> Self {
        Self::new()
    }
}

impl Ranges {
    /// No ranges.
    pub const fn new() -> Self {
        Ranges { r: [(0, 0); 64], n: 0 }
    }

    /// Adds `[start, end)`.
    pub fn add(&mut self, start: u64, end: u64) {
        if end <= start {
            return;
        }
        let (s, e) = (start & !(SIZE_2M - 1), end.next_multiple_of(SIZE_2M));
        assert!(self.n < self.r.len(), "too many RAM ranges for the direct map");
        self.r[self.n] = (s, e);
        self.n += 1;
        self.r[..self.n].sort_unstable();
        let mut w = 0;
        for i in 0..self.n {
            let (s, e) = self.r[i];
            if w > 0 && s <= self.r[w - 1].1 {
                self.r[w - 1].1 = self.r[w - 1].1.max(e);
            } else {
                self.r[w] = (s, e);
                w += 1;
            }
        }
        self.n = w;
    }

    /// The merged ranges.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.r[..self.n].iter().copied()
    }
}

fn map_or_die<M: PhysMem>(pt: &PageTable<X86Pte>, mem: &mut M, va: u64, pa: u64, attrs: Attrs, level: usize) {
    let r = pt.map(mem, &mut *FRAMES.lock(), VirtAddr(va), PhysAddr(pa), attrs, level);
    match r {
        Ok(()) => {}
        Err(MapError::NoMemory) => panic!("kernel page-table pool ({POOL_PAGES} pages) exhausted"),
        Err(e) => panic!("kernel mapping of {va:#x}: {e:?}"),
    }
}

/// Builds the kernel's tables (direct map of `ram`, the image, nothing else) and loads
/// them. `big_pages`: the CPU has 1 GiB pages.
pub fn build_and_switch(ram: &Ranges, big_pages: bool) {
    let pool = POOL.get() as u64;
    let pool_pa = kernel_virt_to_phys(pool);
    *FRAMES.lock() = BumpAllocator::new(pool_pa, pool_pa + POOL_PAGES as u64 * PAGE_SIZE);
    let mut mem = BuildMem;
    let root = FRAMES.lock().alloc_frame(&mut mem).expect("page-table pool");
    let pt = PageTable::<X86Pte>::new(root);

    for (start, end) in ram.iter() {
        let mut pa = start;
        while pa < end {
            let level = if big_pages && pa % SIZE_1G == 0 && pa + SIZE_1G <= end { 2 } else { 1 };
            map_or_die(&pt, &mut mem, PHYSMAP_BASE + pa, pa, RW_DATA, level);
            pa += if level == 2 { SIZE_1G } else { SIZE_2M };
        }
    }

    let text_end = &raw const __text_end as u64;
    let rodata_end = &raw const __rodata_end as u64;
    let guard = &raw const __boot_stack_guard as u64;
    let mut va = &raw const __kernel_start as u64;
    let end = &raw const __kernel_end as u64;
    while va < end {
        if va != guard {
            let attrs = Attrs { write: va >= rodata_end, exec: va < text_end, ..RW_DATA };
            map_or_die(&pt, &mut mem, va, kernel_virt_to_phys(va), attrs, 0);
        }
        va += PAGE_SIZE;
    }

    KERNEL_ROOT.store(root.0, Ordering::Relaxed);
    // SAFETY: the new root maps the running code, stack and data at the same virtual
    // addresses as the loader's tables did, and the direct map at PHYSMAP_BASE, which is
    // what PHYS_OFFSET says from now on; nothing refers to the identity map any more.
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) root.0, options(nostack, preserves_flags)) };
    PHYS_OFFSET.store(PHYSMAP_BASE, Ordering::Relaxed);
}

/// Maps `pages` pages of RAM at `pa` to kernel address `va`: read-write, no-execute,
/// global (the secondary CPUs' stacks). Only before user address spaces exist: a user
/// root copies the kernel half when it is made.
pub fn map_kernel_pages(va: u64, pa: u64, pages: u64) {
    let pt = PageTable::<X86Pte>::new(kernel_root());
    for i in 0..pages {
        map_or_die(&pt, &mut PhysmapMem, va + i * PAGE_SIZE, pa + i * PAGE_SIZE, RW_DATA, 0);
    }
}

/// Maps the 4 KiB device page holding `pa` uncached in the direct map (if the direct map
/// does not cover it already) and returns the virtual address of `pa`.
pub fn map_device(pa: u64) -> u64 {
    let page = pa & !(PAGE_SIZE - 1);
    let va = PHYSMAP_BASE + page;
    let pt = PageTable::<X86Pte>::new(kernel_root());
    let attrs = Attrs { mem: MemType::Device, ..RW_DATA };
    match pt.map(&mut PhysmapMem, &mut *FRAMES.lock(), VirtAddr(va), PhysAddr(page), attrs, 0) {
        Ok(()) | Err(MapError::AlreadyMapped) => {}
        Err(e) => panic!("device mapping of {pa:#x}: {e:?}"),
    }
    x86_64::instructions::tlb::flush(x86_64::VirtAddr::new(va));
    PHYSMAP_BASE + pa
}
