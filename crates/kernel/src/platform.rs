//! What the kernel needs from a platform to run user space, beyond the boot self-tests.

use pecan_hal::{FaultInfo, PhysAddr};

use crate::machine::Machine;

/// A platform that runs user space.
pub trait Platform: Machine {
    /// The kernel's virtual address of physical address `pa` (the direct map).
    fn phys_to_virt(&self, pa: PhysAddr) -> *mut u8;
    /// Hardware interrupt lines user-level drivers may receive: line `i` becomes the root
    /// task's capability `ROOT_IRQ_BASE + i`.
    fn user_irq_lines(&self) -> &[u32];
    /// Physical address of the UART a user-level driver may drive (0: none).
    fn uart_base(&self) -> u64;
    /// `pecan_abi::layout::ARCH_X86_64` or `ARCH_AARCH64`.
    fn arch_id(&self) -> u64;
}

/// What brought the CPU into the kernel (decoded by the arch's trap code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The running thread made a system call (its registers are saved in its context).
    Syscall,
    /// The periodic timer fired.
    Timer,
    /// A device interrupt on a line.
    Irq(u32),
    /// The running thread faulted in user mode.
    Fault(FaultInfo),
    /// A `Wake` IPI: another CPU made a thread ready here, or wants this CPU's running
    /// thread to move or stop; the kernel reschedules.
    Wake,
}

/// Where the arch goes after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume<C> {
    /// Restore this user context and return to user mode.
    User(*mut C),
    /// Nothing to run: wait for an interrupt (with interrupts enabled), then report it.
    Idle,
}
