//! The AArch64 machine: `pecan_hal::Hal` for the core and `pecan_kernel::Machine` for the
//! kernel runtime and its self-tests.

use pecan_hal::{CopyFault, Hal, PhysAddr, VirtAddr};
use pecan_kernel::{Event, Machine};
use spin::Once;

use crate::console::Console;
use crate::context::Context;
use crate::gic::Gic;
use crate::layout::{SCRATCH_BASE, SCRATCH_SIZE};
use crate::mmu::Mmu;
use crate::physmem::PhysMap;
use crate::pte::Aarch64Pte;
use crate::timer::GenericTimer;

/// What the boot path learned and set up, for every later `Aarch64` handle.
#[derive(Clone, Copy, Debug)]
pub struct State {
    /// The tick.
    pub timer: GenericTimer,
    /// The interrupt controller.
    pub gic: Gic,
    /// The timer's INTID.
    pub timer_intid: u32,
    /// The MMU.
    pub mmu: Mmu,
    /// Kernel virtual address of the device tree the loader passed.
    pub dtb_va: u64,
    /// Its size.
    pub dtb_size: usize,
    /// Physical address of the PL011 (the console; a user driver may map it).
    pub uart_pa: u64,
    /// Interrupt lines user-level drivers may have (`pecan_kernel::Platform`).
    pub user_irqs: [u32; MAX_USER_IRQS],
    /// How many of `user_irqs` are valid.
    pub user_irq_count: usize,
}

/// Most interrupt lines offered to user space.
pub const MAX_USER_IRQS: usize = 8;

/// The recorded boot state, if the boot path got that far.
pub fn state() -> Option<&'static State> {
    STATE.get()
}

static STATE: Once<State> = Once::new();

/// Records the boot state (once).
pub fn set_state(s: State) {
    STATE.call_once(|| s);
}

/// A handle on this CPU's machine. Handles are cheap: the state lives in the hardware
/// and in `State`, so a trap handler can make one as well as the boot path.
#[derive(Debug)]
pub struct Aarch64 {
    mem: PhysMap,
    mmu: Mmu,
    timer: GenericTimer,
    gic: Gic,
    console: Console,
}

impl Aarch64 {
    /// A handle for the running CPU. Before the boot state is recorded (an early panic),
    /// only the console and `exit` do anything useful.
    pub fn current() -> Aarch64 {
        let (mmu, timer, gic) = match STATE.get() {
            Some(s) => (s.mmu, s.timer, s.gic),
            None => (Mmu::detect(), GenericTimer { freq: 0, hz: 0 }, Gic::unconfigured()),
        };
        Aarch64 { mem: PhysMap, mmu, timer, gic, console: Console }
    }
}

/// The IRQ handler for interrupts taken in kernel mode (`trap.rs`; only the boot
/// self-tests run with IRQs unmasked at EL1): acknowledges, dispatches and ends one.
pub fn irq() {
    let Some(s) = STATE.get() else { return };
    let (intid, iar) = s.gic.ack();
    if intid >= crate::gic::SPECIAL {
        return; // spurious: nothing to end
    }
    if intid == s.timer_intid {
        crate::timer::on_interrupt();
    } else if intid < crate::gic::FIRST_PPI {
        crate::smp::on_ipi(intid);
    } else {
        log::warn!("unexpected interrupt {intid}: masked");
        let mut g = s.gic;
        pecan_hal::InterruptController::mask(&mut g, intid);
    }
    s.gic.end(iar);
}

/// Acknowledges the pending interrupt, if any, as a kernel event (user mode and idle):
/// the timer's is handled (next deadline) and ended at once, giving `Event::Timer`; any
/// other line gives `Event::Irq(intid)` and the ICC_IAR1_EL1 value to pass to [`end_irq`]
/// once the core has masked the line. `None`: nothing for the kernel (spurious, or an IPI
/// handled here).
pub fn irq_event() -> Option<(Event, Option<u64>)> {
    let s = STATE.get()?;
    let (intid, iar) = s.gic.ack();
    if intid >= crate::gic::SPECIAL {
        return None;
    }
    if intid == s.timer_intid {
        crate::timer::on_interrupt();
        s.gic.end(iar);
        return Some((Event::Timer, None));
    }
    if intid < crate::gic::FIRST_PPI {
        // An IPI: handled here; `Wake` then makes the kernel reschedule, any other lets
        // the thread (or idle) go on.
        crate::smp::on_ipi(intid);
        s.gic.end(iar);
        return crate::smp::is_wake(intid).then_some((Event::Wake, None));
    }
    Some((Event::Irq(intid), Some(iar)))
}

/// Ends an interrupt [`irq_event`] acknowledged.
pub fn end_irq(iar: u64) {
    if let Some(s) = STATE.get() {
        s.gic.end(iar);
    }
}

impl Hal for Aarch64 {
    type Context = Context;
    type Pte = Aarch64Pte;
    type Mem = PhysMap;
    type Mmu = Mmu;
    type Timer = GenericTimer;
    type Irq = Gic;
    type Console = Console;

    fn mem(&mut self) -> &mut PhysMap {
        &mut self.mem
    }
    fn mmu(&mut self) -> &mut Mmu {
        &mut self.mmu
    }
    fn timer(&mut self) -> &mut GenericTimer {
        &mut self.timer
    }
    fn irq(&mut self) -> &mut Gic {
        &mut self.gic
    }
    fn console(&mut self) -> &mut Console {
        &mut self.console
    }
    fn cpu_id(&self) -> usize {
        crate::percpu::index()
    }
    fn exit(&mut self, code: u32) -> ! {
        crate::semihosting::exit(code)
    }

    const WINDOW_BASE: u64 = crate::copy::WINDOW_BASE;

    fn copy_virt(&mut self, dst: VirtAddr, src: VirtAddr, len: usize) -> Result<(), CopyFault> {
        // SAFETY: the core passes only addresses it checked (the trait's contract).
        unsafe { crate::copy::copy(dst.0, src.0, len as u64) }
    }
    fn kernel_va(&self, pa: PhysAddr) -> VirtAddr {
        VirtAddr(crate::physmem::va(pa.0))
    }
    fn preempt_pending(&mut self) -> bool {
        crate::copy::preempt_pending()
    }
    fn cpus_online(&self) -> usize {
        crate::smp::online()
    }
    fn send_ipi(&mut self, to: pecan_hal::IpiTarget, kind: pecan_hal::Ipi) {
        crate::smp::send(to, kind)
    }
    fn kick(&mut self, cpu: usize) {
        crate::smp::kick(cpu)
    }

    const HANDOFF: bool = crate::handoff::ON;

    fn handoff(&mut self, cpu: usize, ctx: *mut Context, space: Option<pecan_hal::handoff::Space>) -> bool {
        crate::handoff::ring(cpu, ctx, space)
    }
    // `shootdown`: the HAL's default, whose MMU operations are all `TLBI ... IS` +
    // `DSB ISH` broadcasts (smp.rs).
}

impl Machine for Aarch64 {
    fn arch_name(&self) -> &'static str {
        "aarch64"
    }
    fn console_writer(&self) -> fn(&[u8]) {
        crate::console::write_bytes
    }
    fn ticks(&self) -> u64 {
        crate::timer::ticks()
    }
    fn cpu_ticks(&self, cpu: usize) -> u64 {
        crate::timer::cpu_ticks(cpu)
    }
    fn ipis_received(&self, cpu: usize) -> u64 {
        crate::smp::ipis(cpu)
    }
    fn remote_post(&mut self, cpu: usize, op: pecan_hal::RemoteOp) -> Option<u64> {
        crate::smp::remote_post(cpu, op)
    }
    fn remote_result(&self, cpu: usize, ticket: u64) -> Option<u64> {
        crate::smp::remote_result(cpu, ticket)
    }
    fn serve_ipis(&mut self) {
        crate::smp::serve()
    }
    fn enable_interrupts(&mut self) {
        crate::cpu::enable_irq();
    }
    fn disable_interrupts(&mut self) {
        crate::cpu::disable_irq();
    }
    fn wait_for_interrupt(&mut self) {
        crate::cpu::wait_for_interrupt();
    }
    fn breakpoint(&mut self) -> u64 {
        // SAFETY: `brk` traps to the EL1 synchronous vector, which counts it and resumes
        // at the next instruction; nothing else changes.
        unsafe { core::arch::asm!("brk #0x1", options(nostack)) };
        crate::trap::breakpoints()
    }
    fn kernel_root(&self) -> PhysAddr {
        crate::mmu::kernel_root()
    }
    fn scratch_range(&self) -> (VirtAddr, u64) {
        (VirtAddr(SCRATCH_BASE), SCRATCH_SIZE)
    }
    fn probe_write(&mut self, va: VirtAddr, value: u64) {
        crate::mmu::sync_tables();
        // SAFETY: the self-test just mapped `va` as kernel RW memory (a fault here is the
        // finding the test reports, through the fault report).
        unsafe { core::ptr::write_volatile(va.0 as *mut u64, value) }
    }
    fn probe_read(&mut self, va: VirtAddr) -> u64 {
        crate::mmu::sync_tables();
        // SAFETY: as for `probe_write`.
        unsafe { core::ptr::read_volatile(va.0 as *const u64) }
    }
    fn flush_kernel_page(&mut self, va: VirtAddr) {
        crate::mmu::flush_kernel_page_local(va);
    }
    fn provoke_fault(&mut self, addr: u64) -> ! {
        // SAFETY: deliberately not: the read faults, and the fault report ends the kernel.
        let v = unsafe { core::ptr::read_volatile(addr as *const u64) };
        panic!("reading {addr:#x} did not fault (read {v:#x})")
    }
    fn corrupt_bootinfo(&mut self) -> ! {
        crate::boot::corrupt_bootinfo(STATE.get().map(|s| (s.dtb_va, s.dtb_size)))
    }
}
