//! The temporary mapping's window (seed 001, "temporary mapping"): a region of every
//! address space that only the kernel can reach (`Hal::WINDOW_BASE`, reached through table
//! entries made with `user = false`: x86_64 U/S = 0, AArch64 APTable "no EL0"). To copy a
//! string, the receiver's level-1 entry covering the destination (a 2 MiB area on both
//! ISAs) is copied into a slot of the sender's window: one page-table-entry write maps
//! the whole area, and the kernel copies once, from the sender's user address to the
//! window address, in the sender's address space.
//!
//! The window lives only while the kernel copies: it is established when the sender
//! copies (and again each time it resumes: the receiver's tables may have changed while
//! it was away) and closed whenever the copy stops ([`Kernel::window_close`]): the slots
//! are cleared and the sender's translations of them flushed (by ASID when tagged).
//! Each CPU has its own two slots, so windows of different CPUs never meet.

use pecan_abi::Error;
use pecan_hal::copy::{WINDOW_SLOT_SIZE, WINDOW_SLOTS_PER_CPU};
use pecan_hal::{Hal, Mmu, PAGE_SIZE, PhysAddr, PhysMem, PteFormat, PteKind};
use pecan_mm::FrameSource;
use pecan_mm::pagetable::index;

use crate::kernel::Kernel;
use crate::obj::Handle;

/// This CPU's window: the transfer it is established for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The sender whose transfer it maps (`None`: the slots are empty).
    pub owner: Option<Handle>,
    /// The address space holding the slots (the sender's task).
    pub task: Handle,
    /// The receiver's 2 MiB area in slot 0 (slot 1 holds the next one).
    pub area: u64,
    /// Slots written: 1, or 2 when the copy runs into the next area.
    pub slots: u64,
}

impl Default for Window {
    fn default() -> Self {
        Window { owner: None, task: Handle::NONE, area: 0, slots: 0 }
    }
}

impl<H: Hal> Kernel<H> {
    /// The window address of CPU `cpu`'s first slot.
    fn window_va(cpu: u64) -> u64 {
        H::WINDOW_BASE + cpu * WINDOW_SLOTS_PER_CPU * WINDOW_SLOT_SIZE
    }

    /// The index of CPU `cpu`'s first slot in the window's level-1 table.
    fn window_slot(cpu: u64) -> u64 {
        index(H::WINDOW_BASE, 1) as u64 + cpu * WINDOW_SLOTS_PER_CPU
    }

    /// The window's level-1 table in `task`, made (and charged to the task, as page
    /// tables are) on its first use: a level-2 and a level-1 table under a kernel-only
    /// root entry.
    fn window_table(&mut self, task: Handle) -> Result<PhysAddr, Error> {
        let t = self.tasks.get(task).ok_or(Error::PartnerDeleted)?;
        if t.window.0 != 0 {
            return Ok(t.window);
        }
        let root = t.root;
        self.charge_task(task, 2 * PAGE_SIZE)?;
        let Some(l2) = self.frames.alloc_frame(self.hal.mem()) else {
            self.uncharge_task(task, 2 * PAGE_SIZE);
            return Err(Error::OutOfMemory);
        };
        let Some(l1) = self.frames.alloc_frame(self.hal.mem()) else {
            self.frames.free_frame(self.hal.mem(), l2);
            self.uncharge_task(task, 2 * PAGE_SIZE);
            return Err(Error::OutOfMemory);
        };
        let mem = self.hal.mem();
        mem.write_u64(root.add(index(H::WINDOW_BASE, 3) as u64 * 8), H::Pte::table(l2, false));
        mem.write_u64(l2.add(index(H::WINDOW_BASE, 2) as u64 * 8), H::Pte::table(l1, false));
        crate::counters::bump(&mut self.counters.pte_writes);
        crate::counters::bump(&mut self.counters.pte_writes);
        if let Some(t) = self.tasks.get_mut(task) {
            t.window = l1;
            t.pt_frames += 2;
        }
        Ok(l1)
    }

    /// The raw level-1 entry of `root` covering `va` (0 if a table above it is missing).
    fn level1_entry(&mut self, root: PhysAddr, va: u64) -> u64 {
        let mut table = root;
        for level in [3, 2] {
            let raw = self.hal.mem().read_u64(table.add(index(va, level) as u64 * 8));
            match H::Pte::decode(raw, level) {
                PteKind::Table(next) => table = next,
                _ => return 0,
            }
        }
        self.hal.mem().read_u64(table.add(index(va, 1) as u64 * 8))
    }

    /// Maps the receiver's area holding `[dst, dst + len)` into the window of sender `s`
    /// (seed 001, "Start temp mapping": `myPDE.TMarea := destPDE.destarea`), unless it is
    /// there already; returns the window address of `dst`. `len` stays below a slot.
    pub(crate) fn window_map(
        &mut self,
        s: Handle,
        s_task: Handle,
        r_task: Handle,
        dst: u64,
        len: u64,
    ) -> Result<u64, Error> {
        let area = dst & !(WINDOW_SLOT_SIZE - 1);
        let need = if dst + len > area + WINDOW_SLOT_SIZE { 2 } else { 1 };
        let cpu = self.hal.cpu_id() as u64;
        let va = Self::window_va(cpu) + (dst - area);
        let w = self.long.window;
        if w.owner == Some(s) && w.task == s_task && w.area == area && w.slots >= need {
            return Ok(va);
        }
        if w.owner.is_some() {
            // Another area of a live window: its translations go before the slots change.
            self.window_close(true);
        }
        let l1 = self.window_table(s_task)?;
        let r_root = self.tasks.get(r_task).ok_or(Error::PartnerDeleted)?.root;
        for i in 0..need {
            let e = self.level1_entry(r_root, area + i * WINDOW_SLOT_SIZE);
            let slot = l1.add((Self::window_slot(cpu) + i) * 8);
            self.hal.mem().write_u64(slot, e);
            crate::counters::bump(&mut self.counters.pte_writes);
        }
        self.long.window = Window { owner: Some(s), task: s_task, area, slots: need };
        Ok(va)
    }

    /// Closes the window when the copy stops (done, failed, page fault, or an interrupt:
    /// seed 001, "Leave thread" and "Close temp mapping"): the slots are cleared and the
    /// sender's translations of them flushed, by ASID when address spaces are tagged, all
    /// of them otherwise. Nothing of it survives the copy, so the window never needs
    /// tracking across a switch and a copy that resumes always maps it afresh.
    ///
    /// `flush`: false only when the caller knows an untagged address-space switch
    /// follows before anything runs in this space (it drops the translations anyway);
    /// tagged spaces are always flushed by ASID, since their switches keep translations.
    pub(crate) fn window_close(&mut self, flush: bool) {
        let w = core::mem::take(&mut self.long.window);
        if w.owner.is_none() {
            return;
        }
        let Some(t) = self.tasks.get(w.task) else { return };
        let (l1, asid) = (t.window, self.asids.current(&t.asid));
        let cpu = self.hal.cpu_id() as u64;
        for i in 0..w.slots {
            self.hal.mem().write_u64(l1.add((Self::window_slot(cpu) + i) * 8), 0);
            crate::counters::bump(&mut self.counters.pte_writes);
        }
        match asid {
            Some(a) => self.hal.mmu().flush_asid(a),
            None if flush => self.hal.mmu().flush_all(),
            None => return,
        }
        crate::counters::bump(&mut self.counters.tlb_flushes);
    }

    /// Frees `task`'s window tables (its deletion).
    pub(crate) fn window_release(&mut self, task: Handle) {
        let Some(t) = self.tasks.get(task) else { return };
        let (root, l1) = (t.root, t.window);
        if l1.0 == 0 {
            return;
        }
        let re = root.add(index(H::WINDOW_BASE, 3) as u64 * 8);
        let raw = self.hal.mem().read_u64(re);
        if let PteKind::Table(l2) = H::Pte::decode(raw, 3) {
            self.frames.free_frame(self.hal.mem(), l2);
        }
        self.hal.mem().write_u64(re, 0);
        self.frames.free_frame(self.hal.mem(), l1);
        self.uncharge_task(task, 2 * PAGE_SIZE);
        if let Some(t) = self.tasks.get_mut(task) {
            t.window = PhysAddr(0);
            t.pt_frames -= 2;
        }
    }
}
