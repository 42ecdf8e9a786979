//! The GDT and the TSS: kernel and user segments in the order `SYSCALL`/`SYSRET` need,
//! and the TSS with RSP0 (the stack for entries from user mode) and IST 1 (the
//! double-fault stack).

use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::registers::segmentation::SegmentSelector;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use x86_64::structures::tss::TaskStateSegment;

use crate::cell::SyncCell;
use crate::layout::{KERNEL_CS, KERNEL_DS, TSS_SEL, USER_CS, USER_DS};

/// Bytes of the double-fault stack.
const DF_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct Stack([u8; DF_STACK_SIZE]);

static DF_STACK: SyncCell<Stack> = SyncCell::new(Stack([0; DF_STACK_SIZE]));
static TSS: SyncCell<TaskStateSegment> = SyncCell::new(TaskStateSegment::new());
static GDT: SyncCell<GlobalDescriptorTable> = SyncCell::new(GlobalDescriptorTable::new());

/// Builds and loads the GDT and TSS on the boot CPU; `kernel_stack` is the top of the
/// stack traps from user mode start on (RSP0).
pub fn init(kernel_stack: u64) {
    // SAFETY: boot, one CPU, interrupts off: nothing else touches the TSS or the GDT, and
    // both are statics, so the addresses the CPU keeps stay valid.
    unsafe {
        let tss = &mut *TSS.get();
        tss.interrupt_stack_table[crate::idt::IST_DOUBLE_FAULT as usize - 1] =
            VirtAddr::new(DF_STACK.get() as u64 + DF_STACK_SIZE as u64);
        tss.privilege_stack_table[0] = VirtAddr::new(kernel_stack);
        let gdt = &mut *GDT.get();
        *gdt = GlobalDescriptorTable::new();
        let sels = [
            gdt.append(Descriptor::kernel_code_segment()),
            gdt.append(Descriptor::kernel_data_segment()),
            gdt.append(Descriptor::user_data_segment()),
            gdt.append(Descriptor::user_code_segment()),
            gdt.append(Descriptor::tss_segment_unchecked(TSS.get())),
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

/// Sets the stack the CPU switches to on an entry from user mode (the seL4-style entry
/// points it at the end of the current thread's saved registers).
pub fn set_kernel_stack(rsp0: u64) {
    // SAFETY: a single aligned 8-byte store into the static TSS of this (only) CPU; the CPU
    // reads it only on a privilege change, which cannot happen concurrently in the kernel.
    // `rsp0` is the end of a frame inside a TCB, a kernel (canonical) address: no check
    // (this runs on every thread switch, the IPC fast path's included).
    unsafe { (*TSS.get()).privilege_stack_table[0] = VirtAddr::new_unsafe(rsp0) };
}
