//! The PMU cycle counter, for user-space measurements: `pecan_user::cycles()` reads
//! PMCCNTR_EL0 at EL0 (one tick per guest instruction under QEMU's `-icount shift=0`).
//!
//! When the CPU has a PMU (ID_AA64DFR0_EL1.PMUVer neither 0 nor 0xf) the boot path starts
//! the cycle counter (PMCR_EL0.E, 64-bit with LC, reset once; PMCNTENSET_EL0.C), counting
//! at EL0 and EL1 (PMCCFILTR_EL0 = 0; EL2 is empty), and lets EL0 read it
//! (PMUSERENR_EL0.EN and CR: reads only, no control). Without a PMU nothing changes and a
//! user read of PMCCNTR_EL0 is an undefined instruction.

use aarch64_cpu::registers::{ID_AA64DFR0_EL1, Readable};

/// PMCR_EL0: E (enable), C (reset the cycle counter), LC (64-bit overflow).
const PMCR: u64 = (1 << 0) | (1 << 2) | (1 << 6);
/// PMCNTENSET_EL0.C: the cycle counter on.
const PMCNTEN_C: u64 = 1 << 31;
/// PMUSERENR_EL0: EN (EL0 access) and CR (EL0 reads of the cycle counter).
const PMUSERENR: u64 = (1 << 0) | (1 << 2);

/// Whether this CPU has a PMU.
pub fn present() -> bool {
    !matches!(ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::PMUVer), 0 | 0xf)
}

/// Starts the cycle counter and lets user space read it (if there is a PMU).
pub fn start() -> bool {
    if !present() {
        return false;
    }
    // SAFETY: PMU configuration only: counting and EL0 read access to the counters, no
    // interrupts; nothing else depends on these registers.
    unsafe {
        core::arch::asm!(
            "msr pmccfiltr_el0, xzr",
            "msr pmcr_el0, {pmcr}",
            "msr pmcntenset_el0, {en}",
            "msr pmuserenr_el0, {user}",
            "isb",
            pmcr = in(reg) PMCR,
            en = in(reg) PMCNTEN_C,
            user = in(reg) PMUSERENR,
            options(nostack, nomem)
        )
    };
    true
}
