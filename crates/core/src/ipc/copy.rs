//! The three ways long IPC moves one chunk of a string (`docs/long-ipc.md`), chosen at
//! build time:
//! - temporary mapping (the default, seed 001): one copy, in the sender's address space,
//!   from its user address to the receiver's buffer mapped in the window;
//! - copy-in/copy-out (feature `long-ipc-copy`, the baseline): into a kernel buffer in the
//!   sender's address space, then out of it in the receiver's;
//! - direct map (feature `long-ipc-physmap`): one copy between the frames both page tables
//!   give, through the kernel's map of physical memory.
//!
//! Every variant copies with `Hal::copy_virt`, so they differ in mechanism, not in the
//! copy loop. A page fault stops the chunk and names the side and the user address.

extern crate alloc;
use pecan_abi::Error;
use pecan_abi::layout::USER_TOP;
use pecan_hal::{Hal, PAGE_SIZE, PhysAddr, VirtAddr};
use pecan_mm::{FrameSource, PageTable};

use crate::ipc::longipc::Xfer;
use crate::ipc::string::CHUNK;
use crate::kernel::Kernel;
use crate::obj::Handle;

/// How long IPC copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// Through the temporary mapping (seed 001).
    TempMapping,
    /// Copy in to a kernel buffer, switch spaces, copy out.
    KernelBuffer,
    /// Through the direct map of physical memory.
    DirectMap,
}

/// The mechanism this kernel is built with.
pub const MECHANISM: Mechanism = if cfg!(feature = "long-ipc-copy") {
    Mechanism::KernelBuffer
} else if cfg!(feature = "long-ipc-physmap") {
    Mechanism::DirectMap
} else {
    Mechanism::TempMapping
};

/// Pages of the copy-in/copy-out kernel buffer (one round copies at most this much).
pub const KBUF_PAGES: usize = 16;
/// Bytes of the kernel buffer.
pub const KBUF_SIZE: u64 = KBUF_PAGES as u64 * PAGE_SIZE;

/// What one step of copying did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Copied {
    /// Progress; the string's position moved on by this many bytes (0 for a copy-in).
    Moved(u64),
    /// A page fault at user address `addr` of the receiver (`dst`) or the sender.
    Fault {
        /// In the receiver's buffer.
        dst: bool,
        /// The user address.
        addr: u64,
    },
    /// The transfer cannot go on.
    Failed(Error),
}

/// The kernel buffer of copy-in/copy-out: its frames (taken from the kernel's frames on
/// first use and kept) and the transfer whose data it holds.
#[derive(Default, Debug)]
pub struct KernelBuffer {
    /// The frames.
    pub frames: alloc::vec::Vec<PhysAddr>,
    /// The sender whose round is in it.
    pub owner: Option<Handle>,
}

impl<H: Hal> Kernel<H> {
    /// The physical address behind user address `va` of `task`, if mapped for user access
    /// (and writable when `write`).
    pub fn user_pa(&mut self, task: Handle, va: u64, write: bool) -> Option<PhysAddr> {
        if va >= USER_TOP {
            return None;
        }
        let root = self.tasks.get(task)?.root;
        let (pa, a) = PageTable::<H::Pte>::new(root).lookup(self.hal.mem(), VirtAddr(va))?;
        (a.user && a.read && (!write || a.write)).then_some(pa)
    }

    /// Loads `task`'s address space if it is not loaded.
    fn ensure_active(&mut self, task: Handle) {
        if self.percpu[self.cpu].active_task.get() != Some(task) {
            self.activate(task);
        }
    }

    /// Copies the next chunk of the current string of transfer `x` from `s` (in task
    /// `s_task`) to `x.receiver` (in `r_task`).
    pub(crate) fn copy_chunk(&mut self, s: Handle, s_task: Handle, r_task: Handle, x: &mut Xfer) -> Copied {
        match MECHANISM {
            Mechanism::TempMapping => self.copy_mapped(s, s_task, r_task, x),
            Mechanism::KernelBuffer => self.copy_buffered(s, s_task, r_task, x),
            Mechanism::DirectMap => self.copy_direct(s_task, r_task, x),
        }
    }

    /// Temporary mapping: one copy into the window.
    fn copy_mapped(&mut self, s: Handle, s_task: Handle, r_task: Handle, x: &mut Xfer) -> Copied {
        let Some(g) = x.seg(CHUNK) else { return Copied::Moved(0) };
        self.ensure_active(s_task);
        let w = match self.window_map(s, s_task, r_task, g.dst, g.len) {
            Ok(w) => w,
            Err(e) => return Copied::Failed(e),
        };
        match self.hal.copy_virt(VirtAddr(w), VirtAddr(g.src), g.len as usize) {
            Ok(()) => Copied::Moved(g.len),
            // Only the window is written, only the sender's string read.
            Err(f) if f.write => Copied::Fault { dst: true, addr: g.dst + (f.addr.wrapping_sub(w)) },
            Err(f) => Copied::Fault { dst: false, addr: f.addr },
        }
    }

    /// The kernel buffer's frames, allocated on first use.
    fn kbuf_frames(&mut self) -> Result<(), Error> {
        while self.long.kbuf.frames.len() < KBUF_PAGES {
            let f = self.frames.alloc_frame(self.hal.mem()).ok_or(Error::OutOfMemory)?;
            self.long.kbuf.frames.push(f);
        }
        Ok(())
    }

    /// The kernel address of byte `off` of the kernel buffer and the bytes left in its page.
    fn kbuf_at(&self, off: u64) -> (VirtAddr, u64) {
        let pa = self.long.kbuf.frames[(off / PAGE_SIZE) as usize].add(off % PAGE_SIZE);
        (self.hal.kernel_va(pa), PAGE_SIZE - off % PAGE_SIZE)
    }

    /// Copy-in/copy-out: a round of up to [`KBUF_SIZE`] bytes is copied into the kernel
    /// buffer in the sender's space, then out of it in the receiver's. A round whose buffer
    /// another transfer took meanwhile starts again from what was copied out.
    fn copy_buffered(&mut self, s: Handle, s_task: Handle, r_task: Handle, x: &mut Xfer) -> Copied {
        if let Err(e) = self.kbuf_frames() {
            return Copied::Failed(e);
        }
        let pos = x.pos();
        if self.long.kbuf.owner != Some(s) {
            self.long.kbuf.owner = Some(s);
            x.kround = pos;
            x.kin = 0;
        }
        let round = KBUF_SIZE.min(x.total() - x.kround);
        if x.kin < round {
            // Copy in.
            let Some(g) = x.seg_at(x.kround + x.kin, CHUNK) else { return Copied::Moved(0) };
            let (k, left) = self.kbuf_at(x.kin);
            let len = g.len.min(left).min(round - x.kin);
            self.ensure_active(s_task);
            return match self.hal.copy_virt(k, VirtAddr(g.src), len as usize) {
                Ok(()) => {
                    x.kin += len;
                    Copied::Moved(0)
                }
                Err(f) => Copied::Fault { dst: false, addr: f.addr },
            };
        }
        // Copy out.
        let Some(g) = x.seg(CHUNK) else { return Copied::Moved(0) };
        let (k, left) = self.kbuf_at(pos - x.kround);
        let len = g.len.min(left).min(x.kround + round - pos);
        self.ensure_active(r_task);
        match self.hal.copy_virt(VirtAddr(g.dst), k, len as usize) {
            Ok(()) => {
                if pos + len == x.kround + round {
                    x.kround = pos + len;
                    x.kin = 0;
                }
                Copied::Moved(len)
            }
            Err(f) => Copied::Fault { dst: true, addr: f.addr },
        }
    }

    /// Direct map: both page tables walked for every page, one copy between the frames.
    fn copy_direct(&mut self, s_task: Handle, r_task: Handle, x: &mut Xfer) -> Copied {
        let Some(g) = x.seg(CHUNK) else { return Copied::Moved(0) };
        let len = g.len.min(PAGE_SIZE - g.src % PAGE_SIZE).min(PAGE_SIZE - g.dst % PAGE_SIZE);
        let Some(spa) = self.user_pa(s_task, g.src, false) else {
            return Copied::Fault { dst: false, addr: g.src };
        };
        let Some(dpa) = self.user_pa(r_task, g.dst, true) else {
            return Copied::Fault { dst: true, addr: g.dst };
        };
        let (d, s) = (self.hal.kernel_va(dpa), self.hal.kernel_va(spa));
        match self.hal.copy_virt(d, s, len as usize) {
            Ok(()) => Copied::Moved(len),
            Err(_) => Copied::Failed(Error::BadAddress),
        }
    }
}
