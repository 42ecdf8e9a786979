//! The assembly files, with the constants they share with Rust (a descriptor or an offset
//! is defined once, in Rust code that is tested on the host).

use crate::context::FP_FPCR;
use crate::layout::{FDT_L2_INDEX, KERNEL_L3_TABLES};
use crate::pte::MAIR_EL1;
use crate::sysregs::*;

core::arch::global_asm!(
    include_str!("entry.S"),
    SCTLR_MMU_OFF = const SCTLR_MMU_OFF,
    SCTLR_MMU_ON = const SCTLR_MMU_ON,
    PAGE_TEXT = const PAGE_TEXT,
    PAGE_RODATA = const PAGE_RODATA,
    PAGE_DATA = const PAGE_DATA,
    TABLE_KERNEL = const TABLE_KERNEL,
    BLOCK_FDT = const BLOCK_FDT,
    BLOCK_IDENTITY = const BLOCK_IDENTITY,
    KERNEL_L3_TABLES = const KERNEL_L3_TABLES,
    FDT_L2_INDEX = const FDT_L2_INDEX,
    MAIR = const MAIR_EL1,
    TCR = const TCR_BASE,
    TCR_AS = const TCR_AS,
);

/// The entry block: frame.S (the macros the others use), then the tokens given in
/// brackets (fastpath.S with the assembly fast path, which defines the vector it puts in
/// the fast table, or nothing), vectors.S and user.S, with the operands they share plus
/// the ones given after the brackets (`FASTPATH_ASM` at least).
macro_rules! entry_block {
    ([$($fast:tt)*] $($ops:tt)*) => {
        core::arch::global_asm!(
            concat!(include_str!("frame.S"), $($fast)* include_str!("vectors.S"), include_str!("user.S")),
            REGS_SIZE = const crate::context::REGS_SIZE,
            REGS_ELR = const crate::context::REGS_ELR,
            REGS_SP = const crate::context::REGS_SP,
            REGS_SPSR = const crate::context::REGS_SPSR,
            CTX_TPIDR_EL0 = const crate::context::CTX_TPIDR_EL0,
            PERCPU_KSTACK_TOP = const crate::percpu::PERCPU_KSTACK_TOP,
            SPSR_USER_KEEP = const crate::context::SPSR_USER_KEEP,
            STACK_SHIFT = const crate::layout::KERNEL_STACK_SHIFT,
            FASTPATH = const cfg!(feature = "fastpath") as u64,
            $($ops)*
        );
    };
}
#[cfg(all(feature = "fastpath", feature = "fastpath-asm"))]
pub(crate) use entry_block;

// Without the assembly fast path; fastpath.rs makes the block with it.
#[cfg(not(all(feature = "fastpath", feature = "fastpath-asm")))]
entry_block!([] FASTPATH_ASM = const 0);

core::arch::global_asm!(include_str!("fpsimd.S"), FP_FPCR = const FP_FPCR);
