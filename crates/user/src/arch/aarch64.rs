//! AArch64 system calls.
//!
//! Register protocol (`SVC #0`): x0 = control word (out: status), x1 = capability selector
//! (out: gate label), x2 = tag (out: tag), x3..x10 = message registers 0..7 (in and out;
//! with `pecan-abi`'s `reg-transfer` only, else preserved).
//! Every other register, including the FP/SIMD registers, is preserved. TPIDR_EL0 holds the
//! address of the thread's UTCB.

use super::Regs;
use core::arch::asm;

/// Performs a system call.
#[inline(always)]
pub fn syscall(r: &mut Regs) {
    // `REG_MRS` is 8 with `reg-transfer` (the conversion is resolved at compile time) and 0
    // without: then x3..x10 are not part of the protocol and the kernel preserves them.
    match <&mut [u64; pecan_abi::MAX_REG_MRS]>::try_from(&mut r.mr[..]) {
        Ok(mr) => {
            // SAFETY: the kernel preserves every register not named here and touches no
            // user memory other than the UTCB, which Rust code only reaches through
            // volatile accesses.
            unsafe {
                asm!(
                    "svc #0",
                    inlateout("x0") r.r0,
                    inlateout("x1") r.r1,
                    inlateout("x2") r.r2,
                    inlateout("x3") mr[0],
                    inlateout("x4") mr[1],
                    inlateout("x5") mr[2],
                    inlateout("x6") mr[3],
                    inlateout("x7") mr[4],
                    inlateout("x8") mr[5],
                    inlateout("x9") mr[6],
                    inlateout("x10") mr[7],
                    options(nostack),
                );
            }
        }
        Err(_) => {
            // SAFETY: as above, with only x0..x2 in the protocol.
            unsafe {
                asm!(
                    "svc #0",
                    inlateout("x0") r.r0,
                    inlateout("x1") r.r1,
                    inlateout("x2") r.r2,
                    options(nostack),
                );
            }
        }
    }
}

/// The address of the running thread's UTCB (TPIDR_EL0).
#[inline(always)]
pub fn utcb_base() -> usize {
    let v: usize;
    // SAFETY: reading TPIDR_EL0 has no side effects.
    unsafe { asm!("mrs {}, tpidr_el0", out(reg) v, options(nostack, nomem, preserves_flags)) };
    v
}

/// The cycle counter (`PMCCNTR_EL0`, which the kernel makes readable at EL0; one tick per
/// guest instruction under `-icount shift=0`).
#[inline(always)]
pub fn cycles() -> u64 {
    let v: u64;
    // SAFETY: reading PMCCNTR_EL0 has no side effects; the kernel enables EL0 access.
    unsafe { asm!("mrs {}, pmccntr_el0", out(reg) v, options(nostack, nomem, preserves_flags)) };
    v
}
