//! `pecan_kernel::Platform` for x86_64: what the kernel needs to run user space.

use pecan_hal::PhysAddr;
use pecan_kernel::Platform;

use crate::hal::X86;

impl Platform for X86 {
    fn phys_to_virt(&self, pa: PhysAddr) -> *mut u8 {
        crate::paging::phys_to_virt(pa.0)
    }

    fn user_irq_lines(&self) -> &[u32] {
        crate::ioapic::user_lines()
    }

    fn uart_base(&self) -> u64 {
        // COM1 is reached by port I/O (an I/O-port capability), not through memory.
        0
    }

    fn arch_id(&self) -> u64 {
        pecan_abi::layout::ARCH_X86_64
    }
}
