//! The saved register file of a thread (`Hal::Context`) and of a kernel trap, and the
//! system-call register protocol.
//!
//! Both start with the same [`Regs`] block, which the exception-entry code
//! (`vectors.S`, `user.S`) fills: x0..x30, the interrupted stack pointer, ELR_EL1 and
//! SPSR_EL1. For a trap from EL1 the block is pushed on the kernel stack; while a thread
//! runs in user mode, SP_EL1 points just past the [`Regs`] block of its [`Context`], so
//! the same store sequence saves straight into the thread, seL4 style, and the entry code
//! then switches to the CPU's kernel stack found through TPIDR_EL1 ([`crate::percpu`]).
//! The FP/SIMD state is switched lazily (`fpu.rs`, `docs/arch-aarch64.md`).
//!
//! System-call protocol (`docs/abi.md`): x0 = control word in / status out, x1 =
//! capability selector in / gate label out, x2 = message tag in and out, MR0..MR7 in
//! x3..x10; every other register is preserved. A new thread finds its argument in x0.

use pecan_abi::REG_MRS;
use pecan_hal::UserContext;

/// The general-purpose part of a saved register file, in the order the entry code stores
/// it. The offsets below are used by the assembly.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regs {
    /// x0..x30 (x29 is the frame pointer, x30 the link register).
    pub x: [u64; 31],
    /// The interrupted stack pointer (SP_EL0 for a thread, the kernel SP for a kernel trap).
    pub sp: u64,
    /// The return address (ELR_EL1).
    pub elr: u64,
    /// The saved PSTATE (SPSR_EL1).
    pub spsr: u64,
}

/// Byte offset of `Regs::sp`.
pub const REGS_SP: usize = 31 * 8;
/// Byte offset of `Regs::elr`.
pub const REGS_ELR: usize = 32 * 8;
/// Byte offset of `Regs::spsr`.
pub const REGS_SPSR: usize = 33 * 8;
/// Size of `Regs` (a multiple of 16, as the stack requires).
pub const REGS_SIZE: usize = 34 * 8;

const _: () = assert!(core::mem::size_of::<Regs>() == REGS_SIZE && REGS_SIZE.is_multiple_of(16));
const _: () = assert!(core::mem::offset_of!(Regs, elr) == REGS_ELR);
const _: () = assert!(core::mem::offset_of!(Regs, spsr) == REGS_SPSR);
const _: () = assert!(core::mem::offset_of!(Regs, sp) == REGS_SP);

/// SPSR_EL1 mode field: EL0 with SP_EL0.
pub const SPSR_EL0T: u64 = 0b0000;
/// SPSR_EL1 mode field: EL1 with SP_EL1.
pub const SPSR_EL1H: u64 = 0b0101;
/// SPSR_EL1 D, A, I, F mask bits.
pub const SPSR_DAIF: u64 = 0b1111 << 6;
/// The SPSR_EL1 bits a return to user mode keeps: the condition flags N, Z, C, V. Every
/// other bit becomes 0: EL0t (M = 0b0000, AArch64), D, A, I, F unmasked, no illegal
/// state (IL), no single step (SS). A logical immediate, so `user.S` applies it with one
/// `and`.
pub const SPSR_USER_KEEP: u64 = 0xf000_0000;

/// The FP/SIMD state of a thread (saved and loaded lazily by `fpu.rs`).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FpState {
    /// q0..q31.
    pub q: [u128; 32],
    /// FPCR.
    pub fpcr: u64,
    /// FPSR.
    pub fpsr: u64,
}

/// A user thread's saved registers.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// General-purpose registers, SP_EL0, ELR_EL1 and SPSR_EL1.
    pub regs: Regs,
    /// The thread's TPIDR_EL0 (user thread pointer), preserved across switches.
    pub tpidr_el0: u64,
    /// 1 + the index of the CPU whose FP/SIMD registers hold this thread's live FP state
    /// (then `fp` is stale), or 0 when `fp` is up to date. A new context has 0, so a
    /// context that reuses a deleted thread's memory never inherits its registers.
    pub fp_cpu: u64,
    /// FP/SIMD registers (valid when `fp_cpu` is 0).
    pub fp: FpState,
}

/// Byte offset of `Context::tpidr_el0`.
pub const CTX_TPIDR_EL0: usize = REGS_SIZE;
/// Byte offset of `Context::fp_cpu`.
pub const CTX_FP_CPU: usize = REGS_SIZE + 8;
/// Byte offset of `Context::fp`.
pub const CTX_FP: usize = REGS_SIZE + 16;
/// Byte offset of `FpState::fpcr` (`fpsr` follows).
pub const FP_FPCR: usize = 32 * 16;

const _: () = assert!(core::mem::offset_of!(Context, regs) == 0);
const _: () = assert!(core::mem::offset_of!(Context, tpidr_el0) == CTX_TPIDR_EL0);
const _: () = assert!(core::mem::offset_of!(Context, fp_cpu) == CTX_FP_CPU);
const _: () = assert!(core::mem::offset_of!(Context, fp) == CTX_FP);
const _: () = assert!(core::mem::offset_of!(FpState, fpcr) == FP_FPCR);
const _: () = assert!(core::mem::offset_of!(FpState, fpsr) == FP_FPCR + 8);

/// The first message register's machine register (x3).
pub const MR_BASE: usize = 3;

impl Context {
    /// Whether the saved PSTATE returns to EL0 with SP_EL0 and AArch64 (what a return to
    /// user must check after anyone changed the context).
    pub const fn returns_to_el0(&self) -> bool {
        self.regs.spsr & 0b1_1111 == SPSR_EL0T
    }

    /// Forces the saved PSTATE to EL0t with interrupts unmasked, keeping only the
    /// condition flags (the value user space may influence). `user.S` does the same on
    /// every return to user mode.
    pub fn sanitize_spsr(&mut self) {
        self.regs.spsr &= SPSR_USER_KEEP;
    }
}

impl UserContext for Context {
    fn new_user(ip: u64, sp: u64, arg: u64) -> Self {
        let mut c = Context::default();
        c.regs.elr = ip;
        c.regs.sp = sp;
        c.regs.x[0] = arg;
        c.regs.spsr = SPSR_EL0T;
        c
    }
    fn ip(&self) -> u64 {
        self.regs.elr
    }
    fn sp(&self) -> u64 {
        self.regs.sp
    }
    fn set_ip(&mut self, ip: u64) {
        self.regs.elr = ip;
    }
    fn set_sp(&mut self, sp: u64) {
        self.regs.sp = sp;
    }
    fn set_arg(&mut self, arg: u64) {
        self.regs.x[0] = arg;
    }
    fn set_tls(&mut self, tls: u64) {
        self.tpidr_el0 = tls;
    }
    fn tls(&self) -> u64 {
        self.tpidr_el0
    }
    fn sys_control(&self) -> u64 {
        self.regs.x[0]
    }
    fn sys_cap(&self) -> u64 {
        self.regs.x[1]
    }
    fn sys_tag(&self) -> u64 {
        self.regs.x[2]
    }
    fn mr(&self, i: usize) -> u64 {
        debug_assert!(i < REG_MRS);
        self.regs.x[MR_BASE + i]
    }
    fn set_mr(&mut self, i: usize, v: u64) {
        debug_assert!(i < REG_MRS);
        self.regs.x[MR_BASE + i] = v;
    }
    fn set_result(&mut self, status: u64, label: u64, tag: u64) {
        self.regs.x[0] = status;
        self.regs.x[1] = label;
        self.regs.x[2] = tag;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_thread() {
        let c = Context::new_user(0x40_0000, 0x7fff_f000, 42);
        assert_eq!((c.ip(), c.sp(), c.regs.x[0]), (0x40_0000, 0x7fff_f000, 42));
        assert!(c.returns_to_el0());
        assert_eq!(c.regs.spsr & SPSR_DAIF, 0, "interrupts enabled in user mode");
    }

    #[test]
    fn syscall_registers() {
        let mut c = Context::default();
        for (i, r) in c.regs.x.iter_mut().enumerate() {
            *r = 100 + i as u64;
        }
        assert_eq!((c.sys_control(), c.sys_cap(), c.sys_tag()), (100, 101, 102));
        for i in 0..REG_MRS {
            assert_eq!(c.mr(i), 103 + i as u64);
            c.set_mr(i, 1000 + i as u64);
        }
        // x3.. hold the REG_MRS message words (none without `reg-transfer`).
        for (i, &r) in c.regs.x[3..3 + REG_MRS].iter().enumerate() {
            assert_eq!(r, 1000 + i as u64);
        }
        c.set_result(7, 8, 9);
        assert_eq!(c.regs.x[..3], [7, 8, 9]);
        // Everything else is preserved.
        for (i, &r) in c.regs.x.iter().enumerate().skip(3 + REG_MRS) {
            assert_eq!(r, 100 + i as u64);
        }
        c.set_ip(0x1234);
        c.set_sp(0x5678);
        c.set_arg(3);
        assert_eq!((c.regs.elr, c.regs.sp, c.regs.x[0]), (0x1234, 0x5678, 3));
    }

    #[test]
    fn spsr_sanitized() {
        let mut c = Context::new_user(0, 0, 0);
        c.regs.spsr = 0xf000_03c5; // flags + DAIF + EL1h
        assert!(!c.returns_to_el0());
        c.sanitize_spsr();
        assert!(c.returns_to_el0());
        assert_eq!(c.regs.spsr, 0xf000_0000);
    }

    #[test]
    fn layout() {
        assert_eq!(core::mem::size_of::<Context>(), REGS_SIZE + 16 + 32 * 16 + 16);
        assert_eq!(core::mem::align_of::<Context>(), 16);
    }
}
