//! Address-space switches and TLB maintenance.

use crate::addr::{PhysAddr, VirtAddr};

/// An address-space identifier (x86_64 PCID, AArch64 ASID); 0 means untagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Asid(pub u16);

/// The MMU of one CPU.
pub trait Mmu {
    /// How many ASIDs the hardware offers (0 or 1: no tagging; every switch flushes the
    /// non-global entries).
    fn asid_count(&self) -> usize;
    /// Prepares a new, zeroed root table for a user address space, writing through the
    /// kernel's own direct map (x86_64 copies the kernel half into it; AArch64 has nothing
    /// to do because TTBR1 holds the kernel).
    fn init_user_root(&mut self, root: PhysAddr);
    /// Switches to no user address space at all (kernel mappings only), so that the
    /// current user root can be freed.
    fn deactivate(&mut self);
    /// Makes `root` the current user address space, tagged with `asid`. When `flush` is
    /// set (the ASID was reused), the ASID's old translations are dropped first.
    fn activate(&mut self, root: PhysAddr, asid: Asid, flush: bool);
    /// Drops the translation of one user page of `asid`.
    fn flush_page(&mut self, asid: Asid, va: VirtAddr);
    /// Drops every translation tagged with `asid`.
    fn flush_asid(&mut self, asid: Asid);
    /// Drops every non-global translation.
    fn flush_all(&mut self);
    /// Drops the translation of one kernel page (a global one). The default drops
    /// everything non-global, enough for a machine without global translations.
    fn flush_kernel_page(&mut self, _va: VirtAddr) {
        self.flush_all();
    }
}
