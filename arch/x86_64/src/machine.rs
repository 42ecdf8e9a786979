//! `pecan_kernel::Machine` for x86_64: CPU control and the hooks of the boot self-tests.

use pecan_hal::{PAGE_SIZE, PhysAddr, RemoteOp, VirtAddr};
use pecan_kernel::Machine;
use x86_64::instructions::interrupts;

use crate::hal::X86;
use crate::layout::{SCRATCH_BASE, SCRATCH_PAGES};

impl Machine for X86 {
    fn arch_name(&self) -> &'static str {
        "x86_64"
    }

    fn console_writer(&self) -> fn(&[u8]) {
        crate::serial::write_bytes
    }

    fn ticks(&self) -> u64 {
        crate::trap::ticks()
    }

    fn cpu_ticks(&self, cpu: usize) -> u64 {
        crate::smp::ticks(cpu)
    }

    fn ipis_received(&self, cpu: usize) -> u64 {
        crate::smp::ipis(cpu)
    }

    fn remote_post(&mut self, cpu: usize, op: RemoteOp) -> Option<u64> {
        crate::smp::remote_post(cpu, op)
    }

    fn remote_result(&self, cpu: usize, ticket: u64) -> Option<u64> {
        crate::smp::remote_result(cpu, ticket)
    }

    fn serve_ipis(&mut self) {
        crate::smp::serve()
    }

    fn enable_interrupts(&mut self) {
        interrupts::enable();
    }

    fn disable_interrupts(&mut self) {
        interrupts::disable();
    }

    fn wait_for_interrupt(&mut self) {
        let was = interrupts::are_enabled();
        // `sti; hlt`: the interrupt that wakes us cannot slip in between.
        interrupts::enable_and_hlt();
        if !was {
            interrupts::disable();
        }
    }

    fn breakpoint(&mut self) -> u64 {
        // SAFETY: the #BP handler counts the trap and returns to the next instruction;
        // nothing else changes.
        unsafe { core::arch::asm!("int3", options(nomem, nostack)) };
        crate::trap::breakpoints()
    }

    fn kernel_root(&self) -> PhysAddr {
        crate::paging::kernel_root()
    }

    fn scratch_range(&self) -> (VirtAddr, u64) {
        (VirtAddr(SCRATCH_BASE), SCRATCH_PAGES * PAGE_SIZE)
    }

    fn probe_write(&mut self, va: VirtAddr, value: u64) {
        // SAFETY: the self-test mapped `va` writable before probing it; a wrong mapping
        // faults into the fault report rather than corrupting anything.
        unsafe { (va.0 as *mut u64).write_volatile(value) }
    }

    fn probe_read(&mut self, va: VirtAddr) -> u64 {
        // SAFETY: as in `probe_write`.
        unsafe { (va.0 as *const u64).read_volatile() }
    }

    fn flush_kernel_page(&mut self, va: VirtAddr) {
        x86_64::instructions::tlb::flush(x86_64::VirtAddr::new_truncate(va.0));
    }

    fn provoke_fault(&mut self, addr: u64) -> ! {
        log::info!("reading {addr:#x} in kernel mode: this must fault");
        // SAFETY: deliberately unsafe: the read faults and the trap handler ends the
        // machine with the fault report; it never returns here.
        let v = unsafe { (addr as *const u64).read_volatile() };
        panic!("read of unmapped {addr:#x} did not fault (got {v:#x})")
    }

    fn corrupt_bootinfo(&mut self) -> ! {
        crate::boot::corrupt_bootinfo()
    }
}
