//! A normalized physical memory map: sorted, non-overlapping regions with one kind each.

use crate::BootError;

/// Most regions kept.
pub const MAX_REGIONS: usize = 64;

/// What a region of physical memory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RegionKind {
    /// Free RAM.
    Usable,
    /// RAM that holds the kernel image (and its stacks and BSS).
    Kernel,
    /// RAM that holds boot modules or loader data the kernel still needs (the DTB).
    Boot,
    /// Firmware tables (ACPI) that must not be handed out.
    Firmware,
    /// Anything else that must not be used.
    Reserved,
}

/// A region `[base, base + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
    /// Kind.
    pub kind: RegionKind,
}

impl Region {
    /// First byte past the region.
    pub const fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// A memory map of at most `MAX_REGIONS` regions.
#[derive(Clone, Debug)]
pub struct MemoryMap {
    regions: [Region; MAX_REGIONS],
    len: usize,
}

impl Default for MemoryMap {
    fn default() -> Self {
        MemoryMap { regions: [Region { base: 0, size: 0, kind: RegionKind::Reserved }; MAX_REGIONS], len: 0 }
    }
}

impl MemoryMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The regions, sorted by base.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.len]
    }

    /// Usable regions, page-aligned inward.
    pub fn usable(&self) -> impl Iterator<Item = Region> + '_ {
        self.regions().iter().filter(|r| r.kind == RegionKind::Usable).filter_map(|r| {
            let b = r.base.next_multiple_of(4096);
            let e = r.end() & !4095;
            (e > b).then_some(Region { base: b, size: e - b, kind: RegionKind::Usable })
        })
    }

    /// Total usable bytes.
    pub fn usable_bytes(&self) -> u64 {
        self.usable().map(|r| r.size).sum()
    }

    /// Marks `[base, base + size)` as `kind`. Where regions overlap, the more restrictive
    /// kind wins (`Usable` < `Kernel` < `Boot` < `Firmware` < `Reserved`) only inside the
    /// range being added: a non-usable kind carves out of usable RAM, usable RAM never
    /// overrides anything else.
    pub fn add(&mut self, base: u64, size: u64, kind: RegionKind) -> Result<(), BootError> {
        if size == 0 {
            return Ok(());
        }
        let end = base.saturating_add(size);
        // Split existing regions at the new boundaries, then drop or keep the overlap.
        let mut out = MemoryMap::new();
        for r in self.regions() {
            if r.end() <= base || r.base >= end {
                out.push(*r)?;
                continue;
            }
            // Parts of r outside [base, end) stay as they are.
            if r.base < base {
                out.push(Region { base: r.base, size: base - r.base, kind: r.kind })?;
            }
            if r.end() > end {
                out.push(Region { base: end, size: r.end() - end, kind: r.kind })?;
            }
            // The overlap keeps the stronger kind; record it separately.
            let ob = r.base.max(base);
            let oe = r.end().min(end);
            out.push(Region { base: ob, size: oe - ob, kind: r.kind.max(kind) })?;
        }
        // Parts of [base, end) not covered by any existing region get `kind`.
        let mut cursor = base;
        let covered: MemoryMap = out.clone();
        let mut gaps = MemoryMap::new();
        for r in covered.regions().iter().filter(|r| r.end() > base && r.base < end) {
            if r.base > cursor {
                gaps.push(Region { base: cursor, size: r.base - cursor, kind })?;
            }
            cursor = cursor.max(r.end());
        }
        if cursor < end {
            gaps.push(Region { base: cursor, size: end - cursor, kind })?;
        }
        for g in gaps.regions() {
            out.push(*g)?;
        }
        out.normalize();
        *self = out;
        Ok(())
    }

    /// Takes `size` bytes of usable RAM at or above `floor`, aligned to `align` (a power
    /// of two, at least 4 KiB), from the highest usable region that has room, and marks
    /// them `Kernel`; returns their base. `None` if no usable region has room.
    pub fn take(&mut self, size: u64, align: u64, floor: u64) -> Option<u64> {
        let base = self
            .usable()
            .filter_map(|r| {
                let top = r.end().checked_sub(size)? & !(align - 1);
                (top >= r.base.max(floor)).then_some(top)
            })
            .max()?;
        self.add(base, size, RegionKind::Kernel).ok()?;
        Some(base)
    }

    fn push(&mut self, r: Region) -> Result<(), BootError> {
        if r.size == 0 {
            return Ok(());
        }
        if self.len == MAX_REGIONS {
            return Err(BootError::TooManyRegions);
        }
        self.regions[self.len] = r;
        self.len += 1;
        Ok(())
    }

    /// Sorts by base and merges adjacent regions of the same kind.
    fn normalize(&mut self) {
        self.regions[..self.len].sort_unstable_by_key(|r| r.base);
        let mut w = 0;
        for i in 0..self.len {
            let r = self.regions[i];
            if w > 0 && self.regions[w - 1].kind == r.kind && self.regions[w - 1].end() == r.base {
                self.regions[w - 1].size += r.size;
            } else {
                self.regions[w] = r;
                w += 1;
            }
        }
        self.len = w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegionKind::*;

    #[test]
    fn carve_and_merge() {
        let mut m = MemoryMap::new();
        m.add(0, 0x1000_0000, Usable).unwrap();
        m.add(0x20_0000, 0x10_0000, Kernel).unwrap();
        m.add(0x0ff0_0000, 0x20_0000, Firmware).unwrap();
        m.add(0x30_0000, 0x1000, Usable).unwrap(); // already usable: no change
        let r = m.regions();
        assert_eq!(r.len(), 4);
        assert_eq!(r[0], Region { base: 0, size: 0x20_0000, kind: Usable });
        assert_eq!(r[1], Region { base: 0x20_0000, size: 0x10_0000, kind: Kernel });
        assert_eq!(r[2], Region { base: 0x30_0000, size: 0x0ff0_0000 - 0x30_0000, kind: Usable });
        assert_eq!(r[3], Region { base: 0x0ff0_0000, size: 0x20_0000, kind: Firmware });
        // Usable never overrides a reservation.
        m.add(0x20_0000, 0x1000, Usable).unwrap();
        assert_eq!(m.regions()[1].kind, Kernel);
        assert_eq!(m.usable_bytes(), 0x0ff0_0000 - 0x10_0000);
    }

    #[test]
    fn take_from_the_top() {
        let mut m = MemoryMap::new();
        m.add(0, 0x1000_0000, Usable).unwrap();
        m.add(0x0ff0_0000, 0x10_0000, Firmware).unwrap();
        let a = m.take(0x5000, 0x2_0000, 0x10_0000).unwrap();
        assert_eq!(a, 0x0fee_0000);
        assert_eq!(m.regions()[1], Region { base: a, size: 0x5000, kind: Kernel });
        assert_eq!(m.take(0x2000_0000, 4096, 0), None, "too big");
        assert_eq!(m.take(0x1000, 4096, 0x1000_0000), None, "nothing above the floor");
    }
}
