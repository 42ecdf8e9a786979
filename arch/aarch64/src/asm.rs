//! The assembly files, with the constants they share with Rust (a descriptor or an offset
//! is defined once, in Rust code that is tested on the host).

use crate::context::{REGS_ELR, REGS_SIZE, REGS_SP};
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

core::arch::global_asm!(
    include_str!("vectors.S"),
    REGS_SIZE = const REGS_SIZE,
    REGS_ELR = const REGS_ELR,
    REGS_SP = const REGS_SP,
    STACK_SHIFT = const crate::layout::KERNEL_STACK_SHIFT,
);
