//! Long IPC support (`docs/long-ipc.md`): a copy between two virtual addresses of the
//! loaded address space that reports page faults instead of taking them, the kernel-only
//! window where the temporary mapping lives, and a check for pending interrupts between
//! the chunks of a preemptible copy.

/// Why [`crate::Hal::copy_virt`] stopped: a page fault at `addr` (no translation, or no
/// write permission for a write). Bytes before the faulting one may have been copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyFault {
    /// The faulting virtual address.
    pub addr: u64,
    /// The fault was on a write (the destination); otherwise a read (the source).
    pub write: bool,
}

/// Bytes one window slot maps: one level-1 entry (a 2 MiB region on both ISAs).
pub const WINDOW_SLOT_SIZE: u64 = 2 << 20;
/// Window slots per CPU: a destination area of two slots (4 MiB) lets a copy run across
/// one slot boundary (seed 001: "select dest area (4+4 M)").
pub const WINDOW_SLOTS_PER_CPU: u64 = 2;
