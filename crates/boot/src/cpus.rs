//! The CPUs the firmware describes: each one's hardware id (x86_64 local APIC id, AArch64
//! MPIDR affinity), the boot CPU first.

/// Most CPUs the kernel brings up; more in the firmware's tables are ignored (with a
/// warning at boot).
pub const MAX_CPUS: usize = 16;

/// The hardware ids of the CPUs found, the boot CPU first. Index `i` of the list is the
/// kernel's CPU number `i` once that CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuList {
    ids: [u64; MAX_CPUS],
    len: usize,
    /// How many the firmware described beyond `MAX_CPUS`.
    pub dropped: usize,
}

impl Default for CpuList {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuList {
    /// No CPU.
    pub const fn new() -> Self {
        CpuList { ids: [0; MAX_CPUS], len: 0, dropped: 0 }
    }

    /// Only the boot CPU, with hardware id `id`.
    pub const fn boot_only(id: u64) -> Self {
        let mut l = Self::new();
        l.ids[0] = id;
        l.len = 1;
        l
    }

    /// Adds a CPU (a duplicate id is ignored: firmware lists each CPU once).
    pub fn push(&mut self, id: u64) {
        if self.ids().contains(&id) {
            return;
        }
        if self.len == MAX_CPUS {
            self.dropped += 1;
            return;
        }
        self.ids[self.len] = id;
        self.len += 1;
    }

    /// Moves the CPU with hardware id `boot` to index 0 (adding it if the tables did not
    /// list it): the boot CPU is always CPU 0.
    pub fn put_first(&mut self, boot: u64) {
        match self.ids().iter().position(|&i| i == boot) {
            Some(at) => self.ids[..=at].rotate_right(1),
            None => {
                if self.len == MAX_CPUS {
                    self.len -= 1;
                    self.dropped += 1;
                }
                self.ids.copy_within(0..self.len, 1);
                self.ids[0] = boot;
                self.len += 1;
            }
        }
    }

    /// The hardware ids, the boot CPU first (once `put_first` ran).
    pub fn ids(&self) -> &[u64] {
        &self.ids[..self.len]
    }

    /// Number of CPUs listed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_first_and_limits() {
        let mut l = CpuList::new();
        for id in [0, 1, 2, 3] {
            l.push(id);
        }
        l.push(2);
        assert_eq!(l.ids(), &[0, 1, 2, 3]);
        l.put_first(2);
        assert_eq!(l.ids(), &[2, 0, 1, 3]);
        l.put_first(9);
        assert_eq!(l.ids(), &[9, 2, 0, 1, 3]);
        let mut big = CpuList::new();
        for id in 0..20 {
            big.push(id);
        }
        assert_eq!((big.len(), big.dropped), (MAX_CPUS, 4));
        big.put_first(100);
        assert_eq!((big.ids()[0], big.len(), big.dropped), (100, MAX_CPUS, 5));
        assert_eq!(CpuList::boot_only(7).ids(), &[7]);
    }
}
