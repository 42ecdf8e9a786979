//! The secondary CPUs: bring-up by INIT-SIPI-SIPI through the local APIC, their stacks,
//! their idle loop, inter-processor interrupts and the TLB shootdown.
//!
//! CPU `i` is the `i`-th local APIC id of the boot CPU's list (the MADT's, the boot CPU
//! first). Each secondary gets a 128 KiB slot of kernel address space at
//! `STACKS_BASE + i * STACK_SLOT`: a guard page, its 64 KiB kernel stack, a guard page,
//! its 16 KiB double-fault stack; the memory comes from the boot memory map (marked
//! `Kernel`), sized by the CPU count. The CPUs start one at a time through the real-mode
//! trampoline (`boot/ap_trampoline.S`) copied to `TRAMPOLINE_PA`, then run
//! [`pecan_x86_ap_main`]: the kernel's page tables, CPU features, their own GDT/TSS, the
//! IDT, their per-CPU block, `SYSCALL`, the local APIC and its timer; they report in and
//! idle with interrupts on (`sti; hlt`), taking their own ticks and IPIs without the
//! kernel lock.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use pecan_boot::{CpuList, MemoryMap};
use pecan_hal::smp::{CpuSet, Flush, Ipi, IpiTarget, Kick, Mailbox, RemoteOp, Shootdown};
use pecan_hal::{Mmu as _, PAGE_SIZE, PhysMem as _};

use crate::layout::{
    SCRATCH_BASE, SCRATCH_PAGES, STACK_SLOT, STACKS_BASE, VECTOR_IPI_CALL, VECTOR_IPI_SHOOTDOWN,
    VECTOR_IPI_WAKE,
};
use crate::mmu::X86Mmu;
use crate::paging::{self, PhysmapMem};
use crate::percpu::MAX_CPUS;
use crate::{cpu, gdt, idt, lapic, percpu, resume, syscall};

/// Where the trampoline runs (a start-up IPI names a page below 1 MiB).
pub const TRAMPOLINE_PA: u64 = 0x8000;
/// The parameter block, in the trampoline's page.
const PARAM_PA: u64 = TRAMPOLINE_PA + 0xf00;
/// The switch page tables: PML4, PDPT, PD (identity map of the first 2 MiB).
const SWITCH_PML4: u64 = 0x9000;
const SWITCH_PDPT: u64 = 0xa000;
const SWITCH_PD: u64 = 0xb000;

core::arch::global_asm!(
    include_str!("boot/ap_trampoline.S"),
    tramp = const TRAMPOLINE_PA,
    param = const PARAM_PA,
);

unsafe extern "C" {
    static pecan_ap_trampoline: u8;
    static pecan_ap_trampoline_end: u8;
}

/// A slot: guard, kernel stack, guard, double-fault stack (pages).
const KSTACK_PAGES: u64 = 16;
const DF_PAGES: u64 = (gdt::DF_STACK_SIZE as u64) / PAGE_SIZE;
/// Physical memory per secondary CPU.
const SLOT_BYTES: u64 = (KSTACK_PAGES + DF_PAGES) * PAGE_SIZE;

/// CPUs running the kernel (the boot CPU and every secondary that reported in).
static ONLINE: AtomicUsize = AtomicUsize::new(1);
/// Set by the starting CPU once it runs Rust on its own stack.
static REPORTED: AtomicBool = AtomicBool::new(false);
/// Local APIC id of each CPU index.
static APIC_IDS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
/// Ticks and IPIs each CPU took.
static TICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static IPIS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The shootdown rendezvous and the self-tests' remote-call boxes.
static SHOOTDOWN: Shootdown = Shootdown::new();
static CALLS: [Mailbox; MAX_CPUS] = [const { Mailbox::new() }; MAX_CPUS];
/// Kick requests to each CPU (`Hal::kick`).
static KICKS: [Kick; MAX_CPUS] = [const { Kick::new() }; MAX_CPUS];

/// The top of CPU `cpu`'s kernel stack and of its double-fault stack.
fn slot_tops(cpu: usize) -> (u64, u64) {
    let slot = STACKS_BASE + cpu as u64 * STACK_SLOT;
    (slot + (1 + KSTACK_PAGES) * PAGE_SIZE, slot + (2 + KSTACK_PAGES + DF_PAGES) * PAGE_SIZE)
}

/// Waits up to `ns` nanoseconds (by the TSC) for `done`.
fn wait_for(ns: u64, done: impl Fn() -> bool) -> bool {
    let start = lapic::now_ns();
    while lapic::now_ns() - start < ns {
        if done() {
            return true;
        }
        core::hint::spin_loop();
    }
    done()
}

/// Starts every CPU of `cpus` after the first (the boot CPU), one at a time; returns how
/// many CPUs run. A CPU that does not report within a second is left alone (logged).
pub fn start_secondaries(cpus: &CpuList, memory: &mut MemoryMap) -> usize {
    APIC_IDS[0].store(lapic::id(), Ordering::Relaxed);
    if cpus.dropped > 0 {
        log::warn!("smp: {} more CPUs than the kernel supports ({MAX_CPUS}) are left off", cpus.dropped);
    }
    let n = cpus.len().min(MAX_CPUS);
    if n <= 1 {
        return 1;
    }
    let Some(base) = memory.take((n as u64 - 1) * SLOT_BYTES, PAGE_SIZE, 0x10_0000) else {
        log::warn!("smp: no memory for the secondary CPUs' stacks: one CPU");
        return 1;
    };
    for cpu in 1..n {
        let pa = base + (cpu as u64 - 1) * SLOT_BYTES;
        let (kstack, df) = slot_tops(cpu);
        paging::map_kernel_pages(kstack - KSTACK_PAGES * PAGE_SIZE, pa, KSTACK_PAGES);
        paging::map_kernel_pages(df - DF_PAGES * PAGE_SIZE, pa + KSTACK_PAGES * PAGE_SIZE, DF_PAGES);
    }
    install_trampoline();
    for (cpu, &id) in cpus.ids().iter().enumerate().take(n).skip(1) {
        if ONLINE.load(Ordering::Relaxed) != cpu {
            break; // indices must stay dense: stop at the first CPU that failed
        }
        start_one(cpu, id as u32);
    }
    ONLINE.load(Ordering::Acquire)
}

/// Copies the trampoline below 1 MiB and builds the switch tables next to it.
fn install_trampoline() {
    let start = &raw const pecan_ap_trampoline as u64;
    let len = &raw const pecan_ap_trampoline_end as u64 - start;
    assert!(len <= PARAM_PA - TRAMPOLINE_PA, "the AP trampoline outgrew its page");
    let mut mem = PhysmapMem;
    // SAFETY: the trampoline is `len` bytes of read-only data in the image; the target
    // page is below 1 MiB, which the memory map keeps from every allocator.
    let code = unsafe { core::slice::from_raw_parts(start as *const u8, len as usize) };
    mem.write_bytes(pecan_hal::PhysAddr(TRAMPOLINE_PA), code);
    for t in [SWITCH_PML4, SWITCH_PDPT, SWITCH_PD] {
        mem.zero(pecan_hal::PhysAddr(t), PAGE_SIZE as usize);
    }
    mem.write_u64(pecan_hal::PhysAddr(SWITCH_PML4), SWITCH_PDPT | 3);
    mem.write_u64(pecan_hal::PhysAddr(SWITCH_PDPT), SWITCH_PD | 3);
    mem.write_u64(pecan_hal::PhysAddr(SWITCH_PD), 0x83); // 2 MiB at 0: present, RW, large
    // The kernel half, as in every user root: the stacks and the image are mapped by now.
    X86Mmu.init_user_root(pecan_hal::PhysAddr(SWITCH_PML4));
}

/// INIT, then start-up IPIs until CPU `cpu` (APIC id `id`) reports.
fn start_one(cpu: usize, id: u32) {
    let mut mem = PhysmapMem;
    let (kstack, _) = slot_tops(cpu);
    let mut param = |i: u64, v: u64| mem.write_u64(pecan_hal::PhysAddr(PARAM_PA + 8 * i), v);
    param(0, SWITCH_PML4);
    param(1, kstack);
    param(2, cpu as u64);
    param(3, pecan_x86_ap_main as *const () as u64);
    APIC_IDS[cpu].store(id, Ordering::Relaxed);
    REPORTED.store(false, Ordering::SeqCst);
    lapic::send_init(id);
    wait_for(10_000_000, || false);
    for _ in 0..2 {
        lapic::send_startup(id, (TRAMPOLINE_PA >> 12) as u8);
        if wait_for(1_000_000, || REPORTED.load(Ordering::Acquire)) {
            break;
        }
    }
    if !wait_for(1_000_000_000, || ONLINE.load(Ordering::Acquire) > cpu) {
        log::warn!("smp: CPU {cpu} (APIC id {id}) did not start");
    }
}

/// The secondary CPUs' Rust entry (from the trampoline, on the CPU's kernel stack).
extern "C" fn pecan_x86_ap_main(cpu: usize) -> ! {
    REPORTED.store(true, Ordering::Release);
    // SAFETY: the kernel root maps everything this CPU runs on (the image, its stack, the
    // direct map) at the same addresses as the switch tables.
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) paging::kernel_root().0, options(nostack)) };
    cpu::init();
    let (kstack, df) = slot_tops(cpu);
    let block = percpu::init(cpu, kstack);
    // SAFETY: this CPU's own block, just set up; once, interrupts off.
    unsafe { gdt::init(cpu, block, kstack, df) };
    idt::init();
    syscall::init();
    if X86Mmu.asid_count() != 0 {
        cpu::enable_pcid();
    }
    lapic::enable();
    lapic::start_timer_secondary();
    ONLINE.fetch_add(1, Ordering::Release);
    // Until the kernel runs (or for ever, in a boot self-test): interrupts on, `hlt`
    // until the next one (its tick, an IPI), which `trap.rs` handles without the kernel.
    while !resume::started() {
        x86_64::instructions::interrupts::enable_and_hlt();
    }
    // Then this CPU runs threads: the kernel's idle loop, whose interrupts are events.
    x86_64::instructions::interrupts::disable();
    resume::resume(pecan_kernel::Resume::Idle)
}

/// CPUs running the kernel.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// Counts a tick of this CPU.
pub fn count_tick() {
    TICKS[percpu::cpu_id()].fetch_add(1, Ordering::Relaxed);
}

/// Ticks CPU `cpu` took.
pub fn ticks(cpu: usize) -> u64 {
    TICKS.get(cpu).map_or(0, |t| t.load(Ordering::Relaxed))
}

/// IPIs CPU `cpu` took.
pub fn ipis(cpu: usize) -> u64 {
    IPIS.get(cpu).map_or(0, |t| t.load(Ordering::Relaxed))
}

fn vector(kind: Ipi) -> u8 {
    match kind {
        Ipi::Wake => VECTOR_IPI_WAKE,
        Ipi::Shootdown => VECTOR_IPI_SHOOTDOWN,
        Ipi::Call => VECTOR_IPI_CALL,
    }
}

/// Sends `kind` to `to` (nothing for a CPU that does not run). A `Wake` means the kernel
/// changed what the target runs: a thread handed to it is withdrawn first (`handoff.rs`).
pub fn send(to: IpiTarget, kind: Ipi) {
    if kind == Ipi::Wake {
        crate::handoff::DOORBELLS.withdraw(to, percpu::cpu_id(), online());
    }
    match to {
        IpiTarget::Cpu(c) if c < online() => {
            lapic::send_ipi(APIC_IDS[c].load(Ordering::Relaxed), vector(kind))
        }
        IpiTarget::Cpu(_) => {}
        IpiTarget::Others if online() > 1 => lapic::send_ipi_others(vector(kind)),
        IpiTarget::Others => {}
    }
}

/// Sends `kind` to CPU `cpu` as it is (the handoff's own `Wake`).
pub fn send_raw(cpu: usize, kind: Ipi) {
    if cpu < online() {
        lapic::send_ipi(APIC_IDS[cpu].load(Ordering::Relaxed), vector(kind))
    }
}

/// Performs `f` on this CPU (`None`: everything, global entries included).
fn flush_local(f: Option<Flush>) {
    let mut m = X86Mmu;
    match f {
        Some(Flush::Page { asid, va }) => m.flush_page(asid, va),
        Some(Flush::Asid(asid)) => m.flush_asid(asid),
        Some(Flush::All) => m.flush_all(),
        Some(Flush::KernelPage(va)) => m.flush_kernel_page(va),
        None => crate::mmu::flush_everything(),
    }
}

/// `Hal::shootdown`: the local flush, then queue, IPI and wait for every other running
/// CPU of `targets`.
pub fn shootdown(targets: CpuSet, f: Flush) {
    let me = percpu::cpu_id();
    let targets = CpuSet(targets.0 & CpuSet::first(online()).0);
    SHOOTDOWN.run(me, targets, f, flush_local, |c| send(IpiTarget::Cpu(c), Ipi::Shootdown));
}

/// Handles an IPI vector on this CPU (any mode, interrupts off); true if `v` was one.
/// The caller sends the EOI.
pub fn on_ipi(v: u8) -> bool {
    let me = percpu::cpu_id();
    match v {
        VECTOR_IPI_WAKE => {
            KICKS[me].serve(leave_user);
        }
        VECTOR_IPI_SHOOTDOWN => {
            SHOOTDOWN.serve(me, flush_local);
        }
        VECTOR_IPI_CALL => {
            CALLS[me].serve(remote_op);
        }
        _ => return false,
    }
    IPIS[me].fetch_add(1, Ordering::Relaxed);
    true
}

/// Runs a remote call on this CPU (its IPI handler, interrupts masked).
fn remote_op(op: Option<RemoteOp>) -> u64 {
    match op {
        // SAFETY: the self-test posts a kernel address it has just mapped (a wrong one
        // faults into the kernel fault report, on this CPU).
        Some(RemoteOp::Read(va)) => unsafe { (va.0 as *const u64).read_volatile() },
        Some(RemoteOp::Shootdowns(n)) => {
            // The last scratch page: nothing maps it, so the flushes only cost time.
            let va = pecan_hal::VirtAddr(SCRATCH_BASE + (SCRATCH_PAGES - 1) * PAGE_SIZE);
            (0..n).for_each(|_| shootdown(CpuSet::first(MAX_CPUS), Flush::KernelPage(va)));
            n
        }
        None => 0,
    }
}

/// Posts `op` to CPU `cpu` and sends the `Call` IPI (self-tests); the ticket, or `None`
/// if the CPU does not run.
pub fn remote_post(cpu: usize, op: RemoteOp) -> Option<u64> {
    if cpu >= online() {
        return None;
    }
    let t = CALLS[cpu].post(op);
    send(IpiTarget::Cpu(cpu), Ipi::Call);
    Some(t)
}

/// CPU `cpu`'s answer to `ticket`, once it came.
pub fn remote_result(cpu: usize, ticket: u64) -> Option<u64> {
    CALLS.get(cpu)?.result(ticket)
}

/// Serves a shootdown or remote call waiting for this CPU (a spin loop with interrupts
/// masked calls it).
pub fn serve() {
    let me = percpu::cpu_id();
    SHOOTDOWN.serve(me, flush_local);
    CALLS[me].serve(remote_op);
    KICKS[me].serve(leave_user);
}

/// A kick's work on its target: the user address space goes (the kernel root is loaded).
fn leave_user() {
    X86Mmu.deactivate();
}

/// `Hal::kick`: interrupts CPU `cpu` (`Wake`) and waits, serving this CPU's own requests,
/// until it has left user mode (nothing for this CPU or one that does not run).
pub fn kick(cpu: usize) {
    if cpu >= online() || cpu == percpu::cpu_id() {
        return;
    }
    // Nothing handed to it is loaded or resumed any more: it unloads its user space.
    crate::handoff::DOORBELLS.cancel(cpu);
    KICKS[cpu].run(|| send(IpiTarget::Cpu(cpu), Ipi::Wake), serve);
}
