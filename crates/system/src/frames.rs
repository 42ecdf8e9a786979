//! The physical memory the root task owns, reached through its window
//! (`ROOT_PHYS_BASE + pa`): a frame allocator for the pager and the loader.

extern crate alloc;
use alloc::vec::Vec;
use pecan_abi::layout::{BootInfo, MEM_FREE, ROOT_PHYS_BASE};
use pecan_abi::{Fpage, MemRights};
use pecan_user::sync::Mutex;

/// Frame size.
pub const PAGE: u64 = 4096;

struct State {
    regions: Vec<(u64, u64)>,
    region: usize,
    next: u64,
    free: Vec<u64>,
    used: u64,
}

/// Free physical frames of the root task.
pub struct Frames {
    s: Mutex<Option<State>>,
}

/// The frames of the root task (shared by its threads).
pub static FRAMES: Frames = Frames { s: Mutex::new(None) };

/// The root window's address of physical `pa`.
pub const fn window(pa: u64) -> u64 {
    ROOT_PHYS_BASE + pa
}

/// A flexpage of the root window covering `2^order` bytes at physical `pa`.
pub const fn window_fpage(pa: u64, order: u8, rights: MemRights) -> Fpage {
    Fpage::memory(ROOT_PHYS_BASE + pa, order, rights)
}

impl Frames {
    /// Takes the free regions of the boot information.
    pub fn init(&self, bi: &BootInfo) {
        let regions =
            bi.mem().iter().filter(|m| m.kind == MEM_FREE).map(|m| (m.base, m.size)).collect::<Vec<_>>();
        let next = regions.first().map_or(0, |r| r.0);
        *self.s.lock() = Some(State { regions, region: 0, next, free: Vec::new(), used: 0 });
    }

    /// A zeroed frame (its physical address).
    pub fn alloc(&self) -> Option<u64> {
        let pa = {
            let mut g = self.s.lock();
            let s = g.as_mut()?;
            let pa = match s.free.pop() {
                Some(pa) => pa,
                None => loop {
                    let &(base, size) = s.regions.get(s.region)?;
                    if s.next + PAGE <= base + size {
                        s.next += PAGE;
                        break s.next - PAGE;
                    }
                    s.region += 1;
                    s.next = s.regions.get(s.region).map_or(0, |r| r.0);
                },
            };
            s.used += 1;
            pa
        };
        // SAFETY: the frame is ours (just allocated) and the window maps it.
        unsafe { core::ptr::write_bytes(window(pa) as *mut u8, 0, PAGE as usize) };
        Some(pa)
    }

    /// Returns a frame.
    pub fn free(&self, pa: u64) {
        if let Some(s) = self.s.lock().as_mut() {
            s.free.push(pa);
            s.used -= 1;
        }
    }

    /// Frames handed out and not returned.
    pub fn used(&self) -> u64 {
        self.s.lock().as_ref().map_or(0, |s| s.used)
    }

    /// `n` physically contiguous zeroed frames aligned to `n` pages (`n` a power of two),
    /// taken from the untouched part of the free regions.
    pub fn alloc_contiguous(&self, n: u64) -> Option<u64> {
        let pa = {
            let mut g = self.s.lock();
            let s = g.as_mut()?;
            loop {
                let &(base, size) = s.regions.get(s.region)?;
                let start = s.next.next_multiple_of(n * PAGE);
                if start + n * PAGE <= base + size {
                    // The frames skipped for alignment go to the free list.
                    let mut skip = s.next;
                    while skip < start {
                        s.free.push(skip);
                        skip += PAGE;
                    }
                    s.next = start + n * PAGE;
                    s.used += n;
                    break start;
                }
                s.region += 1;
                s.next = s.regions.get(s.region).map_or(0, |r| r.0);
            }
        };
        // SAFETY: the frames are ours and the window maps them.
        unsafe { core::ptr::write_bytes(window(pa) as *mut u8, 0, (n * PAGE) as usize) };
        Some(pa)
    }
}
