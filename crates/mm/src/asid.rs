//! ASID (AArch64) / PCID (x86_64) allocation by generations.
//!
//! Each address space remembers the ASID it was given and the generation it was given in.
//! Activating an address space whose generation is current reuses its ASID with no TLB
//! maintenance. Otherwise it gets the next free ASID; when they run out, the generation
//! advances, every ASID becomes free again and the whole TLB must be flushed once. An ASID
//! handed out in the first generation was never used before, so it needs no flush; in a
//! later one it is flushed when handed out (it may hold translations its previous owner
//! left, or that the walker fetched for it while that owner was still loaded after the
//! rollover's flush). With no tagging (`count <= 1`) every address space uses ASID 0 and
//! every switch flushes.

use pecan_hal::Asid;

/// The ASID an address space holds, and the generation it was allocated in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsidTag {
    asid: u16,
    generation: u64,
}

impl AsidTag {
    /// The generation the ASID was allocated in (0: never): it changes exactly when the
    /// address space gets a fresh ASID.
    pub const fn generation(&self) -> u64 {
        self.generation
    }
}

/// What activating an address space needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activation {
    /// The ASID to run with.
    pub asid: Asid,
    /// The ASID was recycled (or the hardware is untagged): drop its stale translations
    /// (`flush_asid`, or the flush the `Mmu::activate` of an untagged switch does).
    pub flush_asid: bool,
    /// The generation rolled over: drop every non-global translation (`flush_all`).
    pub flush_all: bool,
}

/// Hands out ASIDs `1..count`; ASID 0 is kept for "untagged".
///
/// `#[repr(C)]`: an arch's assembly fast path reads the generation
/// ([`AsidAllocator::GENERATION_OFFSET`]).
#[derive(Debug)]
#[repr(C)]
pub struct AsidAllocator {
    count: usize,
    next: u16,
    generation: u64,
}

impl AsidAllocator {
    /// Offset of the generation (a `u64`).
    pub const GENERATION_OFFSET: usize = core::mem::offset_of!(Self, generation);

    /// An allocator for hardware with `count` ASIDs (0 or 1: no tagging).
    pub const fn new(count: usize) -> Self {
        let count = if count > 65536 { 65536 } else { count };
        AsidAllocator { count, next: 1, generation: 1 }
    }

    /// Whether the hardware tags TLB entries.
    pub const fn tagged(&self) -> bool {
        self.count > 1
    }

    /// The current generation (advances on every rollover).
    pub const fn generation(&self) -> u64 {
        self.generation
    }

    /// Chooses the ASID for an address space about to run, updating its `tag`.
    #[inline]
    pub fn activate(&mut self, tag: &mut AsidTag) -> Activation {
        // A tag of the current generation holds a live ASID (untagged, no tag ever gets a
        // generation: they start at 0, the allocator at 1).
        if tag.generation == self.generation {
            return Activation { asid: Asid(tag.asid), flush_asid: false, flush_all: false };
        }
        self.allocate(tag)
    }

    /// `activate` for a tag without a live ASID: a new one (or untagged).
    #[inline(never)]
    fn allocate(&mut self, tag: &mut AsidTag) -> Activation {
        if !self.tagged() {
            // Untagged: the previous address space's translations must go on every switch.
            return Activation { asid: Asid(0), flush_asid: true, flush_all: false };
        }
        let mut flush_all = false;
        if self.next as usize >= self.count {
            self.generation += 1;
            self.next = 1;
            flush_all = true;
        }
        tag.asid = self.next;
        tag.generation = self.generation;
        self.next += 1;
        // A freshly allocated ASID may still have entries from the address space that held
        // it in an earlier generation; without a full flush, drop them. The first
        // generation hands out ASIDs nobody used yet: nothing to drop.
        Activation { asid: Asid(tag.asid), flush_asid: !flush_all && self.generation > 1, flush_all }
    }

    /// The ASID an address space currently holds, if its tag is still valid (to target
    /// TLB maintenance; an invalid tag has no live translations to flush).
    pub fn current(&self, tag: &AsidTag) -> Option<Asid> {
        (self.tagged() && tag.generation == self.generation && tag.asid != 0).then_some(Asid(tag.asid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_always_zero() {
        let mut a = AsidAllocator::new(0);
        let mut t = AsidTag::default();
        for _ in 0..3 {
            let act = a.activate(&mut t);
            assert_eq!(act.asid, Asid(0));
            assert!(!act.flush_all);
            assert!(act.flush_asid, "an untagged switch always drops the old translations");
        }
        assert_eq!(a.current(&t), None);
    }

    #[test]
    fn reuse_without_flush() {
        let mut a = AsidAllocator::new(16);
        let mut t = AsidTag::default();
        let first = a.activate(&mut t);
        assert_eq!(first.asid, Asid(1));
        assert!(!first.flush_asid, "a first-generation ASID was never used: no flush");
        for _ in 0..10 {
            let again = a.activate(&mut t);
            assert_eq!(again, Activation { asid: Asid(1), flush_asid: false, flush_all: false });
        }
        assert_eq!(a.current(&t), Some(Asid(1)));
    }

    #[test]
    fn first_generation_never_flushes_later_ones_do() {
        let n = 8;
        let mut a = AsidAllocator::new(n);
        let mut tags = [AsidTag::default(); 10];
        // Generation 1: ASIDs 1..8, all fresh.
        for t in tags.iter_mut().take(n - 1) {
            let act = a.activate(t);
            assert_eq!((act.flush_asid, act.flush_all), (false, false), "{act:?}");
        }
        assert_eq!(a.generation(), 1);
        // The rollover flushes everything once; the ASIDs handed out after it in the same
        // generation are each flushed (their previous owners may have left entries).
        let act = a.activate(&mut tags[n - 1]);
        assert_eq!((act.flush_asid, act.flush_all), (false, true));
        assert_eq!(a.generation(), 2);
        let act = a.activate(&mut tags[n]);
        assert_eq!((act.flush_asid, act.flush_all), (true, false));
        // Reactivating a current tag never flushes.
        let act = a.activate(&mut tags[n]);
        assert_eq!((act.flush_asid, act.flush_all), (false, false));
    }

    #[test]
    fn rollover_flushes_once_and_never_shares() {
        let n = 8;
        let mut a = AsidAllocator::new(n);
        let mut tags = [AsidTag::default(); 20];
        let mut rollovers = 0;
        for round in 0..5 {
            for i in 0..tags.len() {
                let act = a.activate(&mut tags[i]);
                rollovers += act.flush_all as usize;
                // No two address spaces of the current generation hold the same ASID.
                for (j, t) in tags.iter().enumerate() {
                    if j != i && a.current(t).is_some() {
                        assert_ne!(a.current(t), Some(act.asid), "round {round}");
                    }
                }
                assert!((1..n as u16).contains(&act.asid.0));
            }
        }
        // 100 activations, 7 ASIDs per generation: 14 rollovers.
        assert_eq!(rollovers, 100 / (n - 1));
    }
}
