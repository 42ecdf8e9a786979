//! The kernel heap: a linked-list allocator over a contiguous range of the direct map,
//! behind a spin lock. Object tables, capability spaces and mapping records live here.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use spin::Mutex;

/// The kernel's global allocator.
pub struct KernelHeap(Mutex<linked_list_allocator::Heap>);

impl KernelHeap {
    /// An empty heap (every allocation fails until `init`).
    pub const fn empty() -> Self {
        KernelHeap(Mutex::new(linked_list_allocator::Heap::empty()))
    }

    /// Gives the heap `size` bytes at `base`.
    ///
    /// # Safety
    /// `[base, base + size)` must be mapped, writable, used by nothing else for the rest
    /// of the kernel's life, and `init` must be called once.
    pub unsafe fn init(&self, base: *mut u8, size: usize) {
        // SAFETY: the caller guarantees the range is ours and unused.
        unsafe { self.0.lock().init(base, size) }
    }

    /// Bytes in use and in total.
    pub fn usage(&self) -> (usize, usize) {
        let h = self.0.lock();
        (h.used(), h.size())
    }
}

// SAFETY: the linked-list heap hands out disjoint, correctly aligned blocks under its lock.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0.lock().allocate_first_fit(layout).map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `ptr` was returned by `alloc` with this layout.
            unsafe { self.0.lock().deallocate(p, layout) }
        }
    }
}

/// The heap every kernel binary uses.
#[cfg(target_os = "none")]
#[global_allocator]
pub static HEAP: KernelHeap = KernelHeap::empty();

/// Gives the global kernel heap its memory (no-op in host builds, which use the host's).
///
/// # Safety
/// As [`KernelHeap::init`].
pub unsafe fn init_global(base: *mut u8, size: usize) {
    #[cfg(target_os = "none")]
    // SAFETY: forwarded from the caller.
    unsafe {
        HEAP.init(base, size)
    }
    #[cfg(not(target_os = "none"))]
    let _ = (base, size);
}
