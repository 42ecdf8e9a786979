//! The assembly files, with the constants they share with Rust (a descriptor or an offset
//! is defined once, in Rust code that is tested on the host).

use crate::context::{CTX_TPIDR_EL0, FP_FPCR, REGS_ELR, REGS_SIZE, REGS_SP, REGS_SPSR, SPSR_USER_KEEP};
use crate::layout::{FDT_L2_INDEX, KERNEL_L3_TABLES};
use crate::percpu::PERCPU_KSTACK_TOP;
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

// One block: frame.S defines the macros the other two use.
core::arch::global_asm!(
    concat!(include_str!("frame.S"), include_str!("vectors.S"), include_str!("user.S")),
    REGS_SIZE = const REGS_SIZE,
    REGS_ELR = const REGS_ELR,
    REGS_SP = const REGS_SP,
    REGS_SPSR = const REGS_SPSR,
    CTX_TPIDR_EL0 = const CTX_TPIDR_EL0,
    PERCPU_KSTACK_TOP = const PERCPU_KSTACK_TOP,
    SPSR_USER_KEEP = const SPSR_USER_KEEP,
    STACK_SHIFT = const crate::layout::KERNEL_STACK_SHIFT,
    FASTPATH = const cfg!(feature = "fastpath") as u64,
    FASTPATH_ASM = const cfg!(feature = "fastpath-asm") as u64,
);

core::arch::global_asm!(include_str!("fpsimd.S"), FP_FPCR = const FP_FPCR);
