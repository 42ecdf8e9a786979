//! `pecan_hal::Hal` for x86_64: the machine as the core sees it.

use pecan_hal::{CopyFault, CpuSet, Flush, Hal, Ipi, IpiTarget, PhysAddr, Timer, VirtAddr};
use x86_64::instructions::port::Port;

use crate::context::Context;
use crate::ioapic::X86Irq;
use crate::mmu::X86Mmu;
use crate::paging::PhysmapMem;
use crate::pte::X86Pte;
use crate::serial::SerialConsole;

/// The local APIC timer's tick and the TSC clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApicTimer;

impl Timer for ApicTimer {
    fn tick_hz(&self) -> u64 {
        crate::lapic::TICK_HZ
    }

    fn now_ns(&self) -> u64 {
        crate::lapic::now_ns()
    }
}

/// The x86_64 machine. Every part is a handle on per-CPU or global hardware state, so
/// the value is free to create (the trap and panic paths make their own).
#[derive(Clone, Copy, Debug, Default)]
pub struct X86 {
    mem: PhysmapMem,
    mmu: X86Mmu,
    timer: ApicTimer,
    irq: X86Irq,
    console: SerialConsole,
}

impl X86 {
    /// A handle on the machine.
    pub const fn new() -> Self {
        X86 { mem: PhysmapMem, mmu: X86Mmu, timer: ApicTimer, irq: X86Irq, console: SerialConsole }
    }
}

impl Hal for X86 {
    type Context = Context;
    type Pte = X86Pte;
    type Mem = PhysmapMem;
    type Mmu = X86Mmu;
    type Timer = ApicTimer;
    type Irq = X86Irq;
    type Console = SerialConsole;

    fn mem(&mut self) -> &mut PhysmapMem {
        &mut self.mem
    }
    fn mmu(&mut self) -> &mut X86Mmu {
        &mut self.mmu
    }
    fn timer(&mut self) -> &mut ApicTimer {
        &mut self.timer
    }
    fn irq(&mut self) -> &mut X86Irq {
        &mut self.irq
    }
    fn console(&mut self) -> &mut SerialConsole {
        &mut self.console
    }
    fn cpu_id(&self) -> usize {
        crate::percpu::cpu_id()
    }
    fn exit(&mut self, code: u32) -> ! {
        crate::exit::qemu_exit(code)
    }
    fn cpus_online(&self) -> usize {
        crate::smp::online()
    }
    fn send_ipi(&mut self, to: IpiTarget, kind: Ipi) {
        crate::smp::send(to, kind)
    }
    fn shootdown(&mut self, targets: CpuSet, flush: Flush) {
        crate::smp::shootdown(targets, flush)
    }
    fn kick(&mut self, cpu: usize) {
        crate::smp::kick(cpu)
    }
    const HANDOFF: bool = true;
    fn handoff(&mut self, cpu: usize, ctx: *mut Context, space: Option<pecan_hal::handoff::Space>) -> bool {
        crate::handoff::ring(cpu, ctx, space)
    }

    const WINDOW_BASE: u64 = crate::copy::WINDOW_BASE;

    fn copy_virt(&mut self, dst: VirtAddr, src: VirtAddr, len: usize) -> Result<(), CopyFault> {
        // SAFETY: the core passes only addresses it checked (the trait's contract).
        unsafe { crate::copy::copy(dst.0, src.0, len as u64) }
    }
    fn kernel_va(&self, pa: PhysAddr) -> VirtAddr {
        VirtAddr(crate::layout::phys_to_virt(pa.0))
    }
    fn preempt_pending(&mut self) -> bool {
        crate::copy::preempt_pending()
    }

    const HAS_IO_PORTS: bool = true;

    fn port_in(&mut self, port: u16, width: u8) -> Option<u32> {
        // SAFETY: the core performs port I/O only for a holder of an I/O-port capability
        // covering `port`; reading a port has no effect on kernel memory.
        unsafe {
            Some(match width {
                1 => Port::<u8>::new(port).read() as u32,
                2 => Port::<u16>::new(port).read() as u32,
                4 => Port::<u32>::new(port).read(),
                _ => return None,
            })
        }
    }

    fn port_out(&mut self, port: u16, width: u8, value: u32) -> bool {
        // SAFETY: as in `port_in`; what a device does with the write is the capability
        // holder's business.
        unsafe {
            match width {
                1 => Port::<u8>::new(port).write(value as u8),
                2 => Port::<u16>::new(port).write(value as u16),
                4 => Port::<u32>::new(port).write(value),
                _ => return false,
            }
        }
        true
    }
}
