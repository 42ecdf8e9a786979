//! CPU control: interrupt masking, waiting, identification.

use aarch64_cpu::registers::{DAIF, MPIDR_EL1, Readable, Writeable};

/// Lets IRQs in (clears PSTATE.I).
#[inline]
pub fn enable_irq() {
    // SAFETY: only unmasks IRQs; the vectors and the GIC are set up before anyone calls it.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack, preserves_flags)) };
}

/// Keeps IRQs out (sets PSTATE.I).
#[inline]
pub fn disable_irq() {
    // SAFETY: masking interrupts is always allowed at EL1.
    unsafe { core::arch::asm!("msr daifset, #2", options(nomem, nostack, preserves_flags)) };
}

/// Lets SErrors (asynchronous aborts) and debug exceptions in, so they are reported by
/// the vectors instead of staying pending forever.
pub fn unmask_aborts() {
    // SAFETY: the vectors are installed before Rust runs; they report an SError and stop.
    unsafe { core::arch::asm!("msr daifclr, #0xc", options(nomem, nostack, preserves_flags)) };
}

/// Waits for an interrupt and takes it, then restores the interrupt mask as it was. The
/// `wfi` runs with IRQs masked, so an interrupt arriving between the check and the wait is
/// not lost: it ends the wait and is taken when IRQs are unmasked right after.
pub fn wait_for_interrupt() {
    let daif = DAIF.get();
    disable_irq();
    aarch64_cpu::asm::wfi();
    enable_irq();
    // SAFETY: an `isb` only synchronizes the context: the pending IRQ is taken here.
    unsafe { core::arch::asm!("isb", options(nomem, nostack, preserves_flags)) };
    DAIF.set(daif);
}

/// Waits for an interrupt with IRQs masked, without taking it: `wfi` completes when an
/// interrupt is pending whatever PSTATE.I says (Arm ARM, "Wait for Interrupt"), and the
/// caller then acknowledges it at the GIC. Used by the idle loop; may also return early
/// for other wake-up events.
pub fn wait_masked() {
    disable_irq();
    aarch64_cpu::asm::wfi();
}

/// The affinity fields of MPIDR_EL1 (Aff3:Aff2:Aff1:Aff0), as GICv3 routing uses them.
pub fn affinity() -> u64 {
    let m = MPIDR_EL1.get();
    (m & 0xff_ffff) | ((m >> 32) & 0xff) << 24
}

/// MPIDR_EL1's affinity fields in their own places (Aff3 in bits 39:32, Aff2..Aff0 in
/// 23:0), as the device tree's `/cpus` `reg` and PSCI `CPU_ON` name a CPU.
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & 0xff_00ff_ffff
}
