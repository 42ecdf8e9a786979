//! Dividing physical memory at boot: a contiguous kernel heap, a pool of kernel frames
//! (page tables and UTCBs), and everything else for the root task.

extern crate alloc;
use alloc::vec::Vec;
use pecan_boot::MemoryMap;
use pecan_core::RootRegion;
use pecan_hal::PAGE_SIZE;

/// How memory was divided.
#[derive(Clone, Debug)]
pub struct Split {
    /// The kernel heap: physical base and size.
    pub heap: (u64, u64),
    /// Ranges of kernel frames.
    pub frames: Vec<(u64, u64)>,
    /// What the root task owns.
    pub root: Vec<RootRegion>,
}

const MIB: u64 = 1 << 20;

/// Bytes for the kernel heap out of `total` usable bytes.
pub fn heap_size(total: u64) -> u64 {
    (total / 16).clamp(8 * MIB, 64 * MIB) & !(PAGE_SIZE - 1)
}

/// Bytes of kernel frames out of `total` usable bytes.
pub fn frames_size(total: u64) -> u64 {
    (total / 8).clamp(16 * MIB, 128 * MIB) & !(PAGE_SIZE - 1)
}

/// The kernel heap `split` will choose (physical base and size), found without
/// allocating: the heap must be initialized before `split` can build its lists.
pub fn heap(map: &MemoryMap) -> Option<(u64, u64)> {
    let total = map.usable_bytes();
    let (heap_bytes, frame_bytes) = (heap_size(total), frames_size(total));
    if heap_bytes + frame_bytes + 16 * MIB > total {
        return None;
    }
    let largest = map.usable().max_by_key(|r| r.size)?;
    if largest.size < heap_bytes {
        return None;
    }
    Some((largest.base, heap_bytes))
}

/// Divides the usable memory of `map`: the heap from the start of the largest region
/// (the range [`heap`] returns), kernel frames next, the rest to the root task (plus
/// `devices`). Allocates: the heap must be initialized first.
pub fn split(map: &MemoryMap, devices: &[(u64, u64)]) -> Option<Split> {
    let heap = self::heap(map)?;
    let (largest, heap_bytes) = heap;
    let mut frame_bytes = frames_size(map.usable_bytes());
    let mut frames = Vec::new();
    let mut root = Vec::new();
    // Regions in address order; the largest one starts with the heap.
    for r in map.usable() {
        let (mut base, end) = (r.base, r.base + r.size);
        if r.base == largest {
            base += heap_bytes;
        }
        let take = frame_bytes.min(end - base);
        if take > 0 {
            frames.push((base, take));
            frame_bytes -= take;
            base += take;
        }
        if end > base {
            root.push(RootRegion { base, size: end - base, device: false });
        }
    }
    for &(base, size) in devices {
        if size > 0 {
            root.push(RootRegion {
                base: base & !(PAGE_SIZE - 1),
                size: size.next_multiple_of(PAGE_SIZE),
                device: true,
            });
        }
    }
    Some(Split { heap, frames, root })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pecan_boot::RegionKind;

    #[test]
    fn split_512_mib() {
        let mut m = MemoryMap::new();
        m.add(0x10_0000, 0x1f00_0000, RegionKind::Usable).unwrap();
        m.add(0x1000_0000, 0x10_0000, RegionKind::Kernel).unwrap();
        let s = split(&m, &[(0x900_0000, 0x1000)]).unwrap();
        let total = m.usable_bytes();
        assert_eq!(s.heap.1, (total / 16) & !(PAGE_SIZE - 1));
        let frames: u64 = s.frames.iter().map(|f| f.1).sum();
        assert_eq!(frames, (total / 8) & !(PAGE_SIZE - 1));
        let root: u64 = s.root.iter().filter(|r| !r.device).map(|r| r.size).sum();
        assert_eq!(s.heap.1 + frames + root, m.usable_bytes());
        assert!(s.root.iter().any(|r| r.device && r.base == 0x900_0000));
        // Nothing overlaps.
        let mut all: Vec<(u64, u64)> = s.frames.clone();
        all.push(s.heap);
        all.extend(s.root.iter().filter(|r| !r.device).map(|r| (r.base, r.size)));
        all.sort();
        for w in all.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0);
        }
    }

    #[test]
    fn too_small() {
        let mut m = MemoryMap::new();
        m.add(0, 16 * MIB, RegionKind::Usable).unwrap();
        assert!(split(&m, &[]).is_none());
    }
}
