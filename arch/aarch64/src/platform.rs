//! `pecan_kernel::Platform` for the AArch64 machine: what the kernel needs to run user
//! space beyond the core's `Hal` (the direct map, the user interrupt lines, the UART).

use pecan_hal::PhysAddr;
use pecan_kernel::Platform;

use crate::machine::Aarch64;

impl Platform for Aarch64 {
    fn phys_to_virt(&self, pa: PhysAddr) -> *mut u8 {
        crate::physmem::va(pa.0) as *mut u8
    }

    fn user_irq_lines(&self) -> &[u32] {
        match crate::machine::state() {
            Some(s) => &s.user_irqs[..s.user_irq_count],
            None => &[],
        }
    }

    fn uart_base(&self) -> u64 {
        crate::machine::state().map_or(0, |s| s.uart_pa)
    }

    fn arch_id(&self) -> u64 {
        pecan_abi::layout::ARCH_AARCH64
    }
}
