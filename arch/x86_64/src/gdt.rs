//! The GDT and the TSS of each CPU: kernel and user segments in the order
//! `SYSCALL`/`SYSRET` need, and the CPU's TSS (in its per-CPU block) with RSP0 (the stack
//! for entries from user mode) and IST 1 (its double-fault stack).

use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::registers::segmentation::SegmentSelector;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};

use crate::cell::SyncCell;
use crate::layout::{KERNEL_CS, KERNEL_DS, TSS_SEL, USER_CS, USER_DS};
use crate::percpu::{MAX_CPUS, PERCPU_TSS_RSP0, PerCpu};

/// Bytes of a double-fault stack.
pub const DF_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct Stack([u8; DF_STACK_SIZE]);

/// The boot CPU's double-fault stack (the others' are in their stack slots, `smp.rs`).
static DF_STACK: SyncCell<Stack> = SyncCell::new(Stack([0; DF_STACK_SIZE]));
static GDT: SyncCell<[GlobalDescriptorTable; MAX_CPUS]> =
    SyncCell::new([const { GlobalDescriptorTable::new() }; MAX_CPUS]);

/// The top of the boot CPU's double-fault stack.
pub fn boot_df_stack_top() -> u64 {
    DF_STACK.get() as u64 + DF_STACK_SIZE as u64
}

/// Builds and loads CPU `cpu`'s GDT and its TSS in `block`; `kernel_stack` is the top of
/// the stack traps from user mode start on (RSP0) until a thread runs, `df_stack` the top
/// of the double-fault stack (IST 1).
///
/// # Safety
/// `block` is CPU `cpu`'s per-CPU block (`percpu::init`), and this runs on that CPU, once,
/// with interrupts off.
pub unsafe fn init(cpu: usize, block: *mut PerCpu, kernel_stack: u64, df_stack: u64) {
    // SAFETY: each CPU builds only its own GDT and TSS (the caller's promise), once,
    // interrupts off; both are statics (the per-CPU block is static too), so the addresses
    // the CPU keeps stay valid.
    unsafe {
        let tss = &raw mut (*block).tss;
        (*tss).interrupt_stack_table[crate::idt::IST_DOUBLE_FAULT as usize - 1] = VirtAddr::new(df_stack);
        (*tss).privilege_stack_table[0] = VirtAddr::new(kernel_stack);
        let gdt = &mut (*GDT.get())[cpu];
        *gdt = GlobalDescriptorTable::new();
        let sels = [
            gdt.append(Descriptor::kernel_code_segment()),
            gdt.append(Descriptor::kernel_data_segment()),
            gdt.append(Descriptor::user_data_segment()),
            gdt.append(Descriptor::user_code_segment()),
            gdt.append(Descriptor::tss_segment_unchecked(tss)),
        ];
        let want = [KERNEL_CS, KERNEL_DS, USER_DS, USER_CS, TSS_SEL];
        for (s, w) in sels.iter().zip(want) {
            assert_eq!(s.0, w, "GDT layout");
        }
        gdt.load_unsafe();
        CS::set_reg(SegmentSelector(KERNEL_CS));
        SS::set_reg(SegmentSelector(KERNEL_DS));
        DS::set_reg(SegmentSelector(KERNEL_DS));
        ES::set_reg(SegmentSelector(KERNEL_DS));
        load_tss(SegmentSelector(TSS_SEL));
    }
}

/// Sets the stack this CPU switches to on an entry from user mode (the seL4-style entry
/// points it at the end of the current thread's saved registers).
#[inline]
pub fn set_kernel_stack(rsp0: u64) {
    // SAFETY: one aligned 8-byte store into this CPU's TSS (RSP0), through GS, which
    // points at this CPU's block in kernel mode; the CPU reads RSP0 only on a privilege
    // change, which cannot happen while the kernel runs with interrupts off.
    unsafe {
        core::arch::asm!(
            "mov gs:[{off}], {v}",
            v = in(reg) rsp0,
            off = const PERCPU_TSS_RSP0,
            options(nostack, preserves_flags)
        )
    };
}
