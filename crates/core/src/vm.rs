//! Memory and capability mappings (seed 002, flexpages): map, grant and recursive unmap,
//! recorded in the mapping database; page-table entries through the generic walker; TLB
//! maintenance collected in a must-use [`Flush`] and applied before returning to user.

extern crate alloc;
use alloc::vec::Vec;
use pecan_abi::layout::{ROOT_PHYS_BASE, USER_TOP};
use pecan_abi::{CapRights, Error, MemRights};
use pecan_hal::{
    Attrs, CpuSet, Flush as HalFlush, Hal, MemType, PAGE_SIZE, PhysAddr, PhysMem, PteFormat, PteKind,
    VirtAddr,
};
use pecan_mm::{MapError, PageTable};

use crate::kernel::Kernel;
use crate::mdb::{NODE_COST, NodeId, Resource};
use crate::obj::cap::CapSlot;
use crate::obj::task::VmEntry;
use crate::obj::{Cap, Handle};

/// TLB work owed after page-table entries were removed or weakened: the pages, per task.
/// It must be applied (with [`Kernel::apply_flush`]) before any thread of those tasks runs.
#[must_use = "stale translations survive until the flush is applied"]
#[derive(Default, Debug)]
pub struct Flush {
    pages: Vec<(Handle, u64)>,
}

impl Flush {
    /// Records that `task`'s translation of page `va` must go.
    pub fn page(&mut self, task: Handle, va: u64) {
        self.pages.push((task, va));
    }

    /// Adds another flush's work.
    pub fn merge(&mut self, other: Flush) {
        self.pages.extend(other.pages);
    }

    /// Number of pages to flush.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether there is nothing to flush.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
}

/// Above this many pages in one task, flushing the whole ASID is cheaper.
const FLUSH_ASID_THRESHOLD: usize = 32;

fn attrs(rights: u8, device: bool) -> Attrs {
    let r = MemRights(rights);
    Attrs {
        read: r.contains(MemRights::R) || r.contains(MemRights::X),
        write: r.contains(MemRights::W),
        exec: r.contains(MemRights::X),
        user: true,
        global: false,
        mem: if device { MemType::Device } else { MemType::Normal },
    }
}

impl<H: Hal> Kernel<H> {
    /// Carries out TLB maintenance for removed translations, on every CPU that may hold
    /// them (`Hal::shootdown`, which returns once each has flushed: only then may the
    /// frames be reused). Without tagging, only CPUs with the address space loaded can
    /// hold them (a switch drops the rest).
    pub fn apply_flush(&mut self, f: Flush) {
        let mut per_task: Vec<(Handle, usize)> = Vec::new();
        for (t, _) in &f.pages {
            match per_task.iter_mut().find(|(h, _)| h == t) {
                Some(e) => e.1 += 1,
                None => per_task.push((*t, 1)),
            }
        }
        for (task, n) in per_task {
            let Some(tk) = self.tasks.get(task) else { continue };
            let live = self.asids.current(&tk.asid);
            let targets = self.may_hold(task, live.is_some(), tk.ran_on);
            if targets.0 == 0 {
                continue;
            }
            let asid = live.unwrap_or_default();
            if n > FLUSH_ASID_THRESHOLD {
                self.hal.shootdown(targets, HalFlush::Asid(asid));
                crate::counters::bump(&mut self.counters.tlb_flushes);
            } else {
                for (t, va) in f.pages.iter().filter(|(t, _)| *t == task) {
                    let _ = t;
                    self.hal.shootdown(targets, HalFlush::Page { asid, va: VirtAddr(*va) });
                }
            }
        }
    }

    /// The CPUs whose TLBs may hold translations of `task`'s address space: with a live
    /// ASID (tagged entries survive switches) every CPU it ran on; untagged, the CPUs that
    /// have it loaded now (every switch drops untagged entries).
    fn may_hold(&self, task: Handle, tagged: bool, ran_on: CpuSet) -> CpuSet {
        let mut set = CpuSet(0);
        for cpu in 0..self.percpu.len().min(pecan_hal::smp::MAX_CPUS) {
            if self.percpu[cpu].active_task.get() == Some(task) || (tagged && ran_on.contains(cpu)) {
                set = set.with(cpu);
            }
        }
        set
    }

    /// The physical frame behind `va` in the root task's window, if `task` is the root task
    /// and `va` falls on memory the root task owns. Also says whether it is device memory.
    pub fn window_frame(&self, task: Handle, va: u64) -> Option<(PhysAddr, bool)> {
        if self.root_task != Some(task) || !(ROOT_PHYS_BASE..USER_TOP).contains(&va) {
            return None;
        }
        let pa = va - ROOT_PHYS_BASE;
        self.root_regions
            .iter()
            .find(|r| pa >= r.base && pa - r.base < r.size)
            .map(|r| (PhysAddr(pa & !(PAGE_SIZE - 1)), r.device))
    }

    fn is_device(&self, pa: PhysAddr) -> bool {
        self.root_regions.iter().any(|r| r.device && pa.0 >= r.base && pa.0 - r.base < r.size)
    }

    /// The mapping of page `va` in `task`: its node, frame and rights. A page of the root
    /// task's window gets its (original) node the first time it is asked for.
    pub fn mem_node(&mut self, task: Handle, va: u64) -> Result<Option<(NodeId, PhysAddr, u8)>, Error> {
        let va = va & !(PAGE_SIZE - 1);
        let entry = self.tasks.get(task).ok_or(Error::InvalidCap)?.vm.get(&va).copied();
        match entry {
            Some(VmEntry::Node(n)) => Ok(self.mdb.get(n).and_then(|node| match node.res {
                Resource::Frame(pa) => Some((n, pa, node.rights)),
                Resource::Cap => None,
            })),
            Some(VmEntry::Utcb(_)) => Ok(None),
            None => {
                let Some((pa, _)) = self.window_frame(task, va) else { return Ok(None) };
                self.charge_task(task, NODE_COST)?;
                let n = match self.mdb.insert_root(task, va, Resource::Frame(pa), MemRights::RWX.0) {
                    Ok(n) => n,
                    Err(e) => {
                        self.uncharge_task(task, NODE_COST);
                        return Err(e);
                    }
                };
                if let Some(t) = self.tasks.get_mut(task) {
                    t.vm.insert(va, VmEntry::Node(n));
                }
                Ok(Some((n, pa, MemRights::RWX.0)))
            }
        }
    }

    /// Charges `bytes` to the factory `task` is charged to.
    pub(crate) fn charge_task(&mut self, task: Handle, bytes: u64) -> Result<(), Error> {
        let f = self.tasks.get(task).ok_or(Error::InvalidCap)?.charged_to;
        self.factories.get_mut(f).ok_or(Error::StaleCap)?.charge(bytes)
    }

    /// Returns `bytes` to the factory `task` is charged to.
    pub(crate) fn uncharge_task(&mut self, task: Handle, bytes: u64) {
        if let Some(f) = self.tasks.get(task).map(|t| t.charged_to)
            && let Some(f) = self.factories.get_mut(f)
        {
            f.uncharge(bytes);
        }
    }

    /// Writes the page-table entry mapping `va` to `pa` in `task`, allocating (and charging)
    /// page-table frames as needed.
    pub(crate) fn install_pte(
        &mut self,
        task: Handle,
        va: u64,
        pa: PhysAddr,
        attrs: Attrs,
    ) -> Result<(), Error> {
        let root = self.tasks.get(task).ok_or(Error::InvalidCap)?.root;
        let pt = PageTable::<H::Pte>::new(root);
        let before = self.frames.len();
        // Charge the tables this page needs (not the worst case: a task near its quota
        // can still map into tables it has), then settle with what was really used.
        let need = self.tables_needed(root, va);
        self.charge_task(task, need * PAGE_SIZE)?;
        let r = pt.map(self.hal.mem(), &mut self.frames, VirtAddr(va), pa, attrs, 0);
        let used = (before - self.frames.len()) as u64;
        self.uncharge_task(task, need.saturating_sub(used) * PAGE_SIZE);
        if used > need {
            // Not expected (the walk above saw the same tables); keep the books right.
            let _ = self.charge_task(task, (used - need) * PAGE_SIZE);
        }
        if let Some(t) = self.tasks.get_mut(task) {
            t.pt_frames += used;
        }
        crate::counters::bump(&mut self.counters.pte_writes);
        match r {
            Ok(()) => Ok(()),
            Err(MapError::NoMemory) => Err(Error::OutOfMemory),
            Err(MapError::AlreadyMapped) => Err(Error::SlotOccupied),
            Err(MapError::Misaligned) => Err(Error::BadFlexpage),
        }
    }

    /// How many page-table frames mapping a page at `va` under `root` would allocate: one
    /// per missing level between the root and the leaf table.
    fn tables_needed(&mut self, root: PhysAddr, va: u64) -> u64 {
        let mut table = root;
        for level in (1..H::Pte::LEVELS).rev() {
            let e = table.add(pecan_mm::pagetable::index(va, level) as u64 * 8);
            match H::Pte::decode(self.hal.mem().read_u64(e), level) {
                PteKind::Table(next) => table = next,
                _ => return level as u64,
            }
        }
        0
    }

    /// Removes the page-table entry of `va` in `task` (if any) and records the flush.
    pub(crate) fn remove_pte(&mut self, task: Handle, va: u64, flush: &mut Flush) {
        let Some(root) = self.tasks.get(task).map(|t| t.root) else { return };
        let pt = PageTable::<H::Pte>::new(root);
        if pt.unmap(self.hal.mem(), VirtAddr(va)).is_some() {
            crate::counters::bump(&mut self.counters.pte_writes);
            flush.page(task, va);
        }
    }

    /// Maps (or grants) `size` bytes at `src` in `from` to `dst` in `to` with at most
    /// `rights`. Pages not mapped in `from` are skipped, as in L4. A page already mapped
    /// at the destination is replaced (its derived mappings revoked), except the UTCB.
    #[allow(clippy::too_many_arguments)]
    pub fn map_memory(
        &mut self,
        from: Handle,
        src: u64,
        to: Handle,
        dst: u64,
        size: u64,
        rights: u8,
        grant: bool,
    ) -> Result<(), Error> {
        let mut flush = Flush::default();
        let mut result = Ok(());
        for sva in self.source_pages(from, src, size) {
            let dva = dst + (sva - src);
            if let Err(e) = self.map_page(from, sva, to, dva, rights, grant, &mut flush) {
                result = Err(e);
                break;
            }
        }
        self.apply_flush(flush);
        result
    }

    /// The pages of `[src, src + size)` that may be mapped in `from`, in order: those it
    /// has mappings for and, for the root task, those of its window. The work is what is
    /// there, never the size of the flexpage (which may be the whole address space).
    fn source_pages(&self, from: Handle, src: u64, size: u64) -> Vec<u64> {
        let end = src.saturating_add(size);
        let mut pages: Vec<u64> = match self.tasks.get(from) {
            Some(t) => t.vm.range(src..end).map(|(va, _)| *va).collect(),
            None => return Vec::new(),
        };
        if self.root_task == Some(from) {
            for r in &self.root_regions {
                let lo = (ROOT_PHYS_BASE + r.base).max(src);
                let hi = (ROOT_PHYS_BASE + r.base).saturating_add(r.size).min(end).min(USER_TOP);
                let mut va = lo & !(PAGE_SIZE - 1);
                while va < hi {
                    pages.push(va);
                    va += PAGE_SIZE;
                }
            }
            pages.sort_unstable();
            pages.dedup();
        }
        pages
    }

    #[allow(clippy::too_many_arguments)]
    fn map_page(
        &mut self,
        from: Handle,
        sva: u64,
        to: Handle,
        dva: u64,
        rights: u8,
        grant: bool,
        flush: &mut Flush,
    ) -> Result<(), Error> {
        let Some((node, frame, src_rights)) = self.mem_node(from, sva)? else { return Ok(()) };
        let r = rights & src_rights & 7;
        if r == 0 || (from == to && sva == dva) {
            return Ok(());
        }
        let existing = self.tasks.get(to).ok_or(Error::PartnerDeleted)?.vm.get(&dva).copied();
        match existing {
            Some(VmEntry::Utcb(_)) => return Ok(()),
            // The destination holds the mapping this page derives from: replacing it would
            // revoke the source itself. The receiver has the page already; nothing changes.
            Some(VmEntry::Node(n)) if self.mdb.is_ancestor_or_self(n, node) => return Ok(()),
            Some(VmEntry::Node(n)) => {
                let same = !grant && self.mdb.get(n).is_some_and(|x| x.parent == Some(node));
                if same {
                    // Mapping the same page again: only the rights change, and what was
                    // derived from it keeps no right it loses.
                    self.mdb.set_rights(n, r);
                    let root = self.tasks.get(to).map(|t| t.root).ok_or(Error::PartnerDeleted)?;
                    let dev = self.is_device(frame);
                    PageTable::<H::Pte>::new(root).protect(self.hal.mem(), VirtAddr(dva), attrs(r, dev));
                    flush.page(to, dva);
                    self.restrict_derived(n, r, flush);
                    return Ok(());
                }
                self.unmap_node(n, true, flush);
            }
            None => {}
        }
        let device = self.is_device(frame);
        let root_window = self.window_frame(from, sva).is_some();
        if grant && !root_window {
            // The sender's mapping moves to the receiver with its derived mappings.
            self.charge_task(to, NODE_COST)?;
            if let Err(e) = self.install_pte(to, dva, frame, attrs(r, device)) {
                self.uncharge_task(to, NODE_COST);
                return Err(e);
            }
            self.remove_pte(from, sva, flush);
            if let Some(t) = self.tasks.get_mut(from) {
                t.vm.remove(&sva);
            }
            self.uncharge_task(from, NODE_COST);
            self.mdb.move_to(node, to, dva);
            self.mdb.set_rights(node, r);
            if let Some(t) = self.tasks.get_mut(to) {
                t.vm.insert(dva, VmEntry::Node(node));
            }
            self.restrict_derived(node, r, flush);
            return Ok(());
        }
        self.charge_task(to, NODE_COST)?;
        let child = match self.mdb.insert_child(node, to, dva, r) {
            Ok(c) => c,
            Err(e) => {
                self.uncharge_task(to, NODE_COST);
                return Err(e);
            }
        };
        if let Err(e) = self.install_pte(to, dva, frame, attrs(r, device)) {
            self.mdb.remove_leaf(child);
            self.uncharge_task(to, NODE_COST);
            return Err(e);
        }
        if let Some(t) = self.tasks.get_mut(to) {
            t.vm.insert(dva, VmEntry::Node(child));
        }
        Ok(())
    }

    /// Limits every mapping derived from `node` to `rights` (its new rights), so that no
    /// derived mapping keeps a right its origin lost: page-table entries are weakened (and
    /// their translations flushed), capabilities lose the rights in their slots, and a
    /// derived memory mapping left with no right is unmapped.
    pub(crate) fn restrict_derived(&mut self, node: NodeId, rights: u8, flush: &mut Flush) {
        for d in self.mdb.descendants(node) {
            let Some(n) = self.mdb.get(d).copied() else { continue };
            let r = n.rights & rights;
            if r == n.rights {
                continue;
            }
            match n.res {
                Resource::Frame(_) if r == 0 => self.unmap_node(d, true, flush),
                Resource::Frame(pa) => {
                    self.mdb.set_rights(d, r);
                    let dev = self.is_device(pa);
                    if let Some(root) = self.tasks.get(n.task).map(|t| t.root) {
                        PageTable::<H::Pte>::new(root).protect(
                            self.hal.mem(),
                            VirtAddr(n.addr),
                            attrs(r, dev),
                        );
                        flush.page(n.task, n.addr);
                    }
                }
                Resource::Cap => {
                    self.mdb.set_rights(d, r);
                    if let Some(t) = self.tasks.get_mut(n.task) {
                        t.caps.set_rights(n.addr, CapRights(r));
                    }
                }
            }
        }
    }

    /// Revokes every mapping derived from `node`, in every task, and with `include_self`
    /// the mapping itself (unless it is an original of the root task's window).
    pub fn unmap_node(&mut self, node: NodeId, include_self: bool, flush: &mut Flush) {
        let mut victims = self.mdb.descendants(node);
        let original_window = self
            .mdb
            .get(node)
            .is_some_and(|n| n.parent.is_none() && self.window_frame(n.task, n.addr).is_some());
        if include_self && !original_window {
            victims.insert(0, node);
        }
        // Children before parents, so every removal is of a leaf.
        for &v in victims.iter().rev() {
            let Some(n) = self.mdb.get(v).copied() else { continue };
            match n.res {
                Resource::Frame(_) => {
                    self.remove_pte(n.task, n.addr, flush);
                    if let Some(t) = self.tasks.get_mut(n.task) {
                        t.vm.remove(&n.addr);
                    }
                }
                Resource::Cap => {
                    if let Some(t) = self.tasks.get_mut(n.task) {
                        t.caps.take(n.addr);
                    }
                }
            }
            self.mdb.remove_leaf(v);
            self.uncharge_task(n.task, NODE_COST);
        }
    }

    /// Unmaps `size` bytes at `base` in `task`: every mapping derived from them, and with
    /// `include_self` the task's own mappings too.
    pub fn unmap_memory(&mut self, task: Handle, base: u64, size: u64, include_self: bool) {
        let mut flush = Flush::default();
        let pages: Vec<NodeId> = match self.tasks.get(task) {
            Some(t) => {
                t.vm.range(base..base.saturating_add(size))
                    .filter_map(|(_, e)| match e {
                        VmEntry::Node(n) => Some(*n),
                        VmEntry::Utcb(_) => None,
                    })
                    .collect()
            }
            None => return,
        };
        for n in pages {
            self.unmap_node(n, include_self, &mut flush);
        }
        self.apply_flush(flush);
    }

    /// Maps (or grants) `count` capabilities from slots at `src` in `from` to slots at `dst`
    /// in `to`, each with the rights it had limited to `rights`. Empty source slots are
    /// skipped; a capability without the MAP right is not passed on (`NoRights`).
    #[allow(clippy::too_many_arguments)]
    pub fn map_caps(
        &mut self,
        from: Handle,
        src: u64,
        to: Handle,
        dst: u64,
        count: u64,
        rights: u8,
        grant: bool,
    ) -> Result<(), Error> {
        let size = self.tasks.get(to).ok_or(Error::PartnerDeleted)?.caps.size();
        if dst == 0 || dst.checked_add(count).is_none_or(|end| end > size) {
            return Err(Error::MessageOverflow);
        }
        let mut flush = Flush::default();
        let mut result = Ok(());
        for i in 0..count {
            let Ok(slot) = self.tasks.get(from).ok_or(Error::PartnerDeleted)?.caps.get(src + i).copied()
            else {
                continue;
            };
            if !slot.cap.rights.contains(CapRights::MAP) {
                result = Err(Error::NoRights);
                break;
            }
            let r = CapRights(slot.cap.rights.0 & rights);
            if from == to && src + i == dst + i {
                continue;
            }
            if let Ok(existing) = self.tasks.get(to).ok_or(Error::PartnerDeleted)?.caps.get(dst + i).copied()
            {
                // Never replace the capability this one derives from (it would revoke the
                // source): the receiver has it already.
                if self.mdb.is_ancestor_or_self(existing.node, slot.node) {
                    continue;
                }
                self.unmap_node(existing.node, true, &mut flush);
            }
            let cap = Cap { obj: slot.cap.obj, rights: r };
            if grant {
                if let Err(e) = self.charge_task(to, NODE_COST) {
                    result = Err(e);
                    break;
                }
                if let Some(t) = self.tasks.get_mut(from) {
                    t.caps.take(src + i);
                }
                self.uncharge_task(from, NODE_COST);
                self.mdb.move_to(slot.node, to, dst + i);
                self.mdb.set_rights(slot.node, r.0);
                if let Some(t) = self.tasks.get_mut(to) {
                    t.caps.set(dst + i, CapSlot { cap, node: slot.node });
                }
                self.restrict_derived(slot.node, r.0, &mut flush);
                continue;
            }
            if let Err(e) = self.charge_task(to, NODE_COST) {
                result = Err(e);
                break;
            }
            match self.mdb.insert_child(slot.node, to, dst + i, r.0) {
                Ok(node) => {
                    if let Some(t) = self.tasks.get_mut(to) {
                        t.caps.set(dst + i, CapSlot { cap, node });
                    }
                }
                Err(e) => {
                    self.uncharge_task(to, NODE_COST);
                    result = Err(e);
                    break;
                }
            }
        }
        self.apply_flush(flush);
        result
    }

    /// Puts a new original capability into `task`'s slot `sel` (for objects just created).
    pub fn install_cap(&mut self, task: Handle, sel: u64, cap: Cap) -> Result<(), Error> {
        let t = self.tasks.get(task).ok_or(Error::InvalidCap)?;
        if !t.caps.in_range(sel) {
            return Err(Error::InvalidArgument);
        }
        if !t.caps.is_free(sel) {
            return Err(Error::SlotOccupied);
        }
        self.charge_task(task, NODE_COST)?;
        let node = match self.mdb.insert_root(task, sel, Resource::Cap, cap.rights.0) {
            Ok(n) => n,
            Err(e) => {
                self.uncharge_task(task, NODE_COST);
                return Err(e);
            }
        };
        if let Some(t) = self.tasks.get_mut(task) {
            t.caps.set(sel, CapSlot { cap, node });
        }
        Ok(())
    }

    /// Unmaps `count` capability slots at `base` in `task` (recursively).
    pub fn unmap_caps(&mut self, task: Handle, base: u64, count: u64, include_self: bool) {
        let mut flush = Flush::default();
        let nodes: Vec<NodeId> = match self.tasks.get(task) {
            Some(t) => {
                t.caps.iter().filter(|(s, _)| *s >= base && *s - base < count).map(|(_, c)| c.node).collect()
            }
            None => return,
        };
        for n in nodes {
            self.unmap_node(n, include_self, &mut flush);
        }
        self.apply_flush(flush);
    }

    /// Resolves a fault of the root task inside its physical window by mapping the frame
    /// (the root task is its own pager there, like sigma0). False if `va` is not in it.
    pub fn root_window_fault(&mut self, task: Handle, va: u64) -> bool {
        let Some((pa, device)) = self.window_frame(task, va) else { return false };
        let va = va & !(PAGE_SIZE - 1);
        if self.mem_node(task, va).is_err() {
            return false;
        }
        self.install_pte(task, va, pa, attrs(MemRights::RWX.0, device)).is_ok()
    }
}
