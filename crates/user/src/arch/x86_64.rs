//! x86_64 system calls.
//!
//! Register protocol (`SYSCALL`): rax = control word (out: status), rdi = capability
//! selector (out: gate label), rsi = tag (out: tag), rdx, r8, r9, r10, r12, r13, r14, r15 =
//! message registers 0..7 (in and out). rcx and r11 are destroyed by `SYSCALL`; rbx, rbp
//! and rsp are preserved, as are all vector registers. The thread's FS base points at its
//! UTCB.

use super::Regs;
use core::arch::asm;

/// Performs a system call.
#[inline(always)]
pub fn syscall(r: &mut Regs) {
    // `REG_MRS` is 8 with `reg-transfer` (the conversion is resolved at compile time) and 0
    // without: then the message-register registers are preserved like the others.
    match <&mut [u64; pecan_abi::MAX_REG_MRS]>::try_from(&mut r.mr[..]) {
        Ok(mr) => {
            // SAFETY: the kernel preserves every register not named here and touches no
            // user memory other than the UTCB, which Rust code only reaches through
            // volatile accesses.
            unsafe {
                asm!(
                    "syscall",
                    inlateout("rax") r.r0,
                    inlateout("rdi") r.r1,
                    inlateout("rsi") r.r2,
                    inlateout("rdx") mr[0],
                    inlateout("r8") mr[1],
                    inlateout("r9") mr[2],
                    inlateout("r10") mr[3],
                    inlateout("r12") mr[4],
                    inlateout("r13") mr[5],
                    inlateout("r14") mr[6],
                    inlateout("r15") mr[7],
                    out("rcx") _,
                    out("r11") _,
                    options(nostack),
                );
            }
        }
        Err(_) => {
            // SAFETY: as above, with only rax, rdi and rsi in the protocol.
            unsafe {
                asm!(
                    "syscall",
                    inlateout("rax") r.r0,
                    inlateout("rdi") r.r1,
                    inlateout("rsi") r.r2,
                    out("rcx") _,
                    out("r11") _,
                    options(nostack),
                );
            }
        }
    }
}

/// The address of the running thread's UTCB (the kernel stores it in the UTCB's `TCR_SELF`
/// word, which is read FS-relative).
#[inline(always)]
pub fn utcb_base() -> usize {
    const OFF: usize = (pecan_abi::utcb::offset::TCR + pecan_abi::utcb::TCR_SELF) * 8;
    let v: usize;
    // SAFETY: FS points at this thread's UTCB, which is always mapped.
    unsafe {
        asm!("mov {}, fs:[{off}]", out(reg) v, off = const OFF, options(nostack, readonly, preserves_flags))
    };
    v
}

/// The cycle counter (`rdtsc`; one tick per guest instruction under `-icount shift=0`).
#[inline(always)]
pub fn cycles() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc is allowed in user mode (CR4.TSD clear) and has no side effects.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nostack, nomem, preserves_flags)) };
    (hi as u64) << 32 | lo as u64
}
