//! Physical memory through the kernel's direct map (`pecan_hal::PhysMem`).

use core::sync::atomic::{AtomicU64, Ordering};

use pecan_hal::{PhysAddr, PhysMem};

use crate::layout::PHYSMAP_BASE;

/// Where physical address 0 appears in the kernel's address space: [`PHYSMAP_BASE`] after
/// the U-Boot path, Limine's HHDM offset after the Limine path.
static OFFSET: AtomicU64 = AtomicU64::new(PHYSMAP_BASE);

/// Sets the direct map's offset (the Limine path, before anything uses it).
pub fn set_offset(offset: u64) {
    OFFSET.store(offset, Ordering::Relaxed);
}

/// The direct map's offset.
pub fn offset() -> u64 {
    OFFSET.load(Ordering::Relaxed)
}

/// The kernel virtual address of `pa` in the direct map.
pub fn va(pa: u64) -> u64 {
    offset() + pa
}

/// RAM through the direct map, which covers every RAM region of the boot memory map.
#[derive(Clone, Copy, Debug, Default)]
pub struct PhysMap;

impl PhysMem for PhysMap {
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        // SAFETY: the core only passes addresses of RAM it owns, which the direct map covers.
        unsafe { core::ptr::read_volatile(va(pa.0) as *const u64) }
    }
    fn write_u64(&mut self, pa: PhysAddr, value: u64) {
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile(va(pa.0) as *mut u64, value) }
    }
    fn read_bytes(&self, pa: PhysAddr, buf: &mut [u8]) {
        // SAFETY: as above; `buf` is kernel memory that does not overlap the source.
        unsafe { core::ptr::copy_nonoverlapping(va(pa.0) as *const u8, buf.as_mut_ptr(), buf.len()) }
    }
    fn write_bytes(&mut self, pa: PhysAddr, buf: &[u8]) {
        // SAFETY: as above.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), va(pa.0) as *mut u8, buf.len()) }
    }
    fn copy(&mut self, dst: PhysAddr, src: PhysAddr, len: usize) {
        // SAFETY: both ranges are RAM the caller owns; the trait says they do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(va(src.0) as *const u8, va(dst.0) as *mut u8, len) }
    }
    fn zero(&mut self, pa: PhysAddr, len: usize) {
        // SAFETY: as above.
        unsafe { core::ptr::write_bytes(va(pa.0) as *mut u8, 0, len) }
    }
}

/// The kernel image's own frames through its link-address mapping: the early boot uses
/// it to edit page tables (which come from the image) before the direct map exists.
#[derive(Clone, Copy, Debug)]
pub struct ImageMem {
    /// Physical address of the image's first byte.
    pub image_pa: u64,
}

impl ImageMem {
    fn va(&self, pa: u64) -> u64 {
        let off = pa.wrapping_sub(self.image_pa);
        assert!(off < crate::layout::KERNEL_MAX_SIZE, "early page-table access outside the image: {pa:#x}");
        crate::layout::KERNEL_BASE + off
    }
}

impl PhysMem for ImageMem {
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        // SAFETY: `va` checked that `pa` is inside the image, which is mapped at KERNEL_BASE.
        unsafe { core::ptr::read_volatile(self.va(pa.0) as *const u64) }
    }
    fn write_u64(&mut self, pa: PhysAddr, value: u64) {
        // SAFETY: as above; the early boot only writes its page tables (RW data pages).
        unsafe { core::ptr::write_volatile(self.va(pa.0) as *mut u64, value) }
    }
    fn read_bytes(&self, pa: PhysAddr, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: as above, byte by byte (each byte's address is checked).
            *b = unsafe { core::ptr::read_volatile(self.va(pa.0 + i as u64) as *const u8) };
        }
    }
    fn write_bytes(&mut self, pa: PhysAddr, buf: &[u8]) {
        for (i, b) in buf.iter().enumerate() {
            // SAFETY: as above.
            unsafe { core::ptr::write_volatile(self.va(pa.0 + i as u64) as *mut u8, *b) };
        }
    }
    fn copy(&mut self, dst: PhysAddr, src: PhysAddr, len: usize) {
        for i in 0..len as u64 {
            let mut b = [0u8];
            self.read_bytes(src.add(i), &mut b);
            self.write_bytes(dst.add(i), &b);
        }
    }
    fn zero(&mut self, pa: PhysAddr, len: usize) {
        let (start, end) = (self.va(pa.0), self.va(pa.0 + len as u64 - 1));
        // SAFETY: both ends are inside the image; the range is a table frame being set up.
        unsafe { core::ptr::write_bytes(start as *mut u8, 0, (end - start + 1) as usize) }
    }
}
