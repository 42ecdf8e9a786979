//! Kernel event counters: the costly events an instruction count hides.

/// Counts since boot (or the last reset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// System calls.
    pub syscalls: u64,
    /// IPC messages delivered.
    pub messages: u64,
    /// Call/reply handoffs.
    pub handoffs: u64,
    /// Handoffs done as direct process switches.
    pub direct_switches: u64,
    /// Preemptions.
    pub preemptions: u64,
    /// Address-space switches.
    pub as_switches: u64,
    /// TLB flushes (whole or per ASID).
    pub tlb_flushes: u64,
    /// Page-table entries written.
    pub pte_writes: u64,
    /// User faults turned into IPC.
    pub faults: u64,
    /// Interrupts delivered to IRQ objects.
    pub irqs: u64,
    /// System calls that returned an error.
    pub errors: u64,
    /// Fast-path IPCs (counted by the arch fast path).
    pub fastpath: u64,
}

impl Counters {
    /// The counters as words, in the order `docs/abi.md` lists them.
    pub fn words(&self) -> [u64; 12] {
        [
            self.syscalls,
            self.messages,
            self.handoffs,
            self.direct_switches,
            self.preemptions,
            self.as_switches,
            self.tlb_flushes,
            self.pte_writes,
            self.faults,
            self.irqs,
            self.errors,
            self.fastpath,
        ]
    }
}
