//! Kernel event counters: the costly events an instruction count hides.
//!
//! Compiled in only with the `counters` feature (tests and `cargo xtask bench`): every
//! increment goes through [`bump`], which is nothing without it, so the default kernel
//! pays no instruction for them. Without the feature `Machine::COUNTERS` reads zeros.

/// Whether the counters are compiled in (cargo feature `counters`).
pub const ON: bool = cfg!(feature = "counters");

/// Adds one to `c` (nothing without the `counters` feature).
#[inline(always)]
pub fn bump(c: &mut u64) {
    if ON {
        *c += 1;
    }
}

/// Counts since boot (or the last reset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
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
    /// System calls done entirely by the fast path (`fastpath.rs`).
    pub fastpath: u64,
    /// Kernel entries the core saw: system calls, timer ticks, device interrupts, user
    /// faults (an arch's private traps, such as the lazy FP/SIMD switch, are not counted).
    pub exceptions: u64,
    /// `Wake` IPIs sent (a thread became ready on another CPU and outranks what runs
    /// there) and kicks (each a `Wake` IPI too).
    pub ipis: u64,
    /// Threads moved to another CPU's ready lists.
    pub migrations: u64,
    /// Threads handed straight to an idle CPU (`handoff.rs`), which resumed them without
    /// entering the core.
    pub remote_handoffs: u64,
}

/// Number of words `Machine::COUNTERS` returns.
pub const WORDS: usize = pecan_abi::object::machine::COUNTER_WORDS;

impl Counters {
    /// The counters as words, in the order `docs/abi.md` lists them.
    pub fn words(&self) -> [u64; WORDS] {
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
            self.exceptions,
            self.ipis,
            self.migrations,
            self.remote_handoffs,
        ]
    }
}
