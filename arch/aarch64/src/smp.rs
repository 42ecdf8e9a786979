//! The secondary CPUs: bring-up by PSCI `CPU_ON`, their stacks, their idle loop,
//! inter-processor interrupts (GIC SGIs) and the self-tests' remote reads.
//!
//! CPU `i` is the `i`-th MPIDR of the boot CPU's list (the device tree's `/cpus`, the boot
//! CPU first). Each secondary gets a 64 KiB kernel stack at `STACKS_BASE + i * 128 KiB`
//! (128 KiB aligned with the 64 KiB below it unmapped: the vectors' overflow check holds
//! as on the boot stack), memory from the boot memory map (marked `Kernel`), sized by the
//! CPU count. They start one at a time at `entry.S`'s `secondary_entry` through the
//! conduit the device tree's `/psci` names (`hvc` or `smc`), at the boot CPU's level
//! (EL2 or EL1), and run [`pecan_aarch64_secondary`]: per-CPU data, their redistributor
//! and CPU interface, their own generic timer; they report in and idle in `wfi` with IRQs
//! unmasked at EL1, taking their ticks and SGIs in `trap.rs` without the kernel lock.
//!
//! A TLB shootdown needs no IPI here: every invalidation the kernel issues is `TLBI ...IS`
//! followed by `DSB ISH`, which completes on every CPU of the inner-shareable domain
//! (`mmu.rs`), so `Hal::shootdown` is the HAL's default (the MMU's broadcast flush).

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use aarch64_cpu::registers::Readable;
use pecan_boot::dtb::PsciConduit;
use pecan_boot::{CpuList, MemoryMap};
use pecan_hal::smp::{Flush, Ipi, IpiTarget, Kick, Mailbox, RemoteOp};
use pecan_hal::{Mmu as _, PAGE_SIZE, VirtAddr};

use crate::kmap::{self, KERNEL_RW};
use crate::layout::{KERNEL_STACK_SHIFT, SCRATCH_BASE, SCRATCH_SIZE, STACKS_BASE};
use crate::percpu::{self, MAX_CPUS};
use crate::physmem::PhysMap;

/// The SGIs the kernel uses (INTIDs 0..16 are SGIs).
pub const SGI_WAKE: u32 = 0;
/// The remote-call SGI (boot self-tests).
pub const SGI_CALL: u32 = 1;

/// PSCI 0.2+ `CPU_ON` (SMC64).
const PSCI_CPU_ON: u64 = 0xc400_0003;

/// Bytes of a kernel stack, and of a CPU's slot of address space (stack + unmapped half).
const STACK_SIZE: u64 = 1 << KERNEL_STACK_SHIFT;
const SLOT: u64 = 2 * STACK_SIZE;

unsafe extern "C" {
    static mut secondary_params: [u64; 4];
    fn secondary_entry();
}

static ONLINE: AtomicUsize = AtomicUsize::new(1);
/// Each CPU's MPIDR affinity (as the device tree's `reg`).
static MPIDR: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static IPIS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static CALLS: [Mailbox; MAX_CPUS] = [const { Mailbox::new() }; MAX_CPUS];
/// Kick requests to each CPU (`Hal::kick`).
static KICKS: [Kick; MAX_CPUS] = [const { Kick::new() }; MAX_CPUS];
/// Requests to each CPU to save the FP/SIMD state live in its registers (`fp_flush`).
static FP_FLUSH: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// The top of CPU `cpu`'s kernel stack.
fn stack_top(cpu: usize) -> u64 {
    STACKS_BASE + cpu as u64 * SLOT + STACK_SIZE
}

/// Waits up to `ns` nanoseconds (by the virtual counter) for `done`.
fn wait_for(ns: u64, done: impl Fn() -> bool) -> bool {
    let freq = aarch64_cpu::registers::CNTFRQ_EL0.get();
    let start = crate::timer::counter();
    let limit = (ns as u128 * freq as u128 / 1_000_000_000) as u64;
    while crate::timer::counter() - start < limit {
        if done() {
            return true;
        }
        core::hint::spin_loop();
    }
    done()
}

/// A PSCI call through `conduit` (SMC Calling Convention: function id and arguments in
/// x0..x3, result in x0; x0..x17 may change).
fn psci(conduit: PsciConduit, f: u64, a: u64, b: u64, c: u64) -> i64 {
    let r: u64;
    // SAFETY: a firmware call the device tree says is there; PSCI changes no memory the
    // kernel owns, and every register the convention lets it change is clobbered here.
    unsafe {
        match conduit {
            PsciConduit::Hvc => core::arch::asm!(
                "hvc #0",
                inout("x0") f => r, inout("x1") a => _, inout("x2") b => _, inout("x3") c => _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                out("x15") _, out("x16") _, out("x17") _,
                options(nostack)
            ),
            PsciConduit::Smc => core::arch::asm!(
                "smc #0",
                inout("x0") f => r, inout("x1") a => _, inout("x2") b => _, inout("x3") c => _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                out("x15") _, out("x16") _, out("x17") _,
                options(nostack)
            ),
        }
    }
    r as i64
}

/// Starts every CPU of `cpus` after the first (the boot CPU), one at a time, through
/// `conduit`; returns how many CPUs run. A CPU that does not report within a second is
/// left alone (logged), and so are the ones after it (indices stay dense).
pub fn start_secondaries(cpus: &CpuList, conduit: Option<PsciConduit>, memory: &mut MemoryMap) -> usize {
    MPIDR[0].store(cpus.ids().first().copied().unwrap_or(0), Ordering::Relaxed);
    if cpus.dropped > 0 {
        log::warn!("smp: {} more CPUs than the kernel supports ({MAX_CPUS}) are left off", cpus.dropped);
    }
    let n = cpus.len().min(MAX_CPUS);
    if n <= 1 {
        return 1;
    }
    let Some(conduit) = conduit else {
        log::warn!("smp: the device tree has no PSCI node: one CPU");
        return 1;
    };
    let Some(base) = memory.take((n as u64 - 1) * STACK_SIZE, PAGE_SIZE, 0) else {
        log::warn!("smp: no memory for the secondary CPUs' stacks: one CPU");
        return 1;
    };
    let root = crate::mmu::kernel_root();
    for cpu in 1..n {
        let pa = base + (cpu as u64 - 1) * STACK_SIZE;
        if let Err(e) =
            kmap::map_range(&mut PhysMap, root, stack_top(cpu) - STACK_SIZE, pa, STACK_SIZE, KERNEL_RW)
        {
            panic!("cannot map CPU {cpu}'s kernel stack: {e:?}");
        }
    }
    let entry = crate::boot::image_pa_of(secondary_entry as *const () as u64);
    for (cpu, &mpidr) in cpus.ids().iter().enumerate().take(n).skip(1) {
        if ONLINE.load(Ordering::Acquire) != cpu {
            break;
        }
        MPIDR[cpu].store(mpidr, Ordering::Relaxed);
        write_params(stack_top(cpu));
        let r = psci(conduit, PSCI_CPU_ON, mpidr, entry, cpu as u64);
        if r != 0 {
            log::warn!("smp: PSCI CPU_ON for CPU {cpu} (MPIDR {mpidr:#x}) failed: {r}");
            break;
        }
        if !wait_for(1_000_000_000, || ONLINE.load(Ordering::Acquire) > cpu) {
            log::warn!("smp: CPU {cpu} (MPIDR {mpidr:#x}) did not start");
        }
    }
    ONLINE.load(Ordering::Acquire)
}

/// Writes what `secondary_entry` reads with its MMU off, and cleans it to the point of
/// coherency (an access with the MMU off is not cacheable).
fn write_params(stack: u64) {
    let (mair, tcr, ttbr1): (u64, u64, u64);
    // SAFETY: reads of this CPU's translation registers only.
    unsafe {
        core::arch::asm!(
            "mrs {0}, mair_el1", "mrs {1}, tcr_el1", "mrs {2}, ttbr1_el1",
            out(reg) mair, out(reg) tcr, out(reg) ttbr1, options(nomem, nostack, preserves_flags)
        )
    };
    let p = &raw mut secondary_params;
    // SAFETY: only the boot CPU writes the block, before `CPU_ON` for one CPU at a time;
    // that CPU reads it before it reports in, which the boot CPU waits for. The block is
    // one 64-byte-aligned cache line (entry.S), cleaned and invalidated by `dc civac`.
    unsafe {
        (*p) = [mair, tcr, ttbr1, stack];
        core::arch::asm!("dc civac, {}", "dsb sy", in(reg) p, options(nostack, preserves_flags));
    }
}

/// The secondary CPUs' Rust entry (`entry.S`), on the CPU's kernel stack with the MMU on.
#[unsafe(no_mangle)]
extern "C" fn pecan_aarch64_secondary(cpu: u64) -> ! {
    let cpu = cpu as usize;
    // SAFETY: once, on this CPU, before anything reads its per-CPU data.
    unsafe { percpu::init(cpu, stack_top(cpu)) };
    crate::cpu::unmask_aborts();
    let Some(state) = crate::machine::state() else { panic!("a secondary CPU before the boot state") };
    // No user space here yet: TTBR0 gets the empty table (the identity map goes away).
    let mut mmu = state.mmu;
    mmu.deactivate();
    crate::mmu::flush_all_local();
    let mut gic = state.gic.init_secondary();
    for line in [state.timer_intid, SGI_WAKE, SGI_CALL] {
        pecan_hal::InterruptController::unmask(&mut gic, line);
    }
    crate::timer::start_secondary();
    crate::timer::allow_user_counter();
    crate::pmu::start();
    ONLINE.fetch_add(1, Ordering::Release);
    // Until the kernel runs (or for ever, in a boot self-test): `wfi` with IRQs unmasked,
    // ticks and IPIs handled in the kernel-mode vectors without the kernel.
    while !crate::user::started() {
        crate::cpu::wait_for_interrupt();
    }
    // Then this CPU runs threads: the kernel's idle loop, whose interrupts are events.
    crate::user::enter_secondary()
}

/// CPUs running the kernel.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// IPIs CPU `cpu` took.
pub fn ipis(cpu: usize) -> u64 {
    IPIS.get(cpu).map_or(0, |t| t.load(Ordering::Relaxed))
}

/// Sends `kind` to `to` (nothing for a CPU that does not run; a shootdown needs no IPI).
/// A `Wake` first withdraws a context handed to its target (`handoff.rs`): the sender
/// changed that CPU's state, the kernel decides again what runs there.
pub fn send(to: IpiTarget, kind: Ipi) {
    if kind == Ipi::Wake {
        crate::handoff::DOORBELLS.withdraw(to, percpu::index(), online());
    }
    send_raw(to, kind)
}

/// [`send`] without the withdrawal (`Hal::handoff`'s SGI).
pub fn send_raw(to: IpiTarget, kind: Ipi) {
    let Some(s) = crate::machine::state() else { return };
    let intid = match kind {
        Ipi::Wake | Ipi::Shootdown => SGI_WAKE,
        Ipi::Call => SGI_CALL,
    };
    match to {
        IpiTarget::Cpu(c) if c < online() => s.gic.send_sgi(intid, Some(MPIDR[c].load(Ordering::Relaxed))),
        IpiTarget::Others if online() > 1 => s.gic.send_sgi(intid, None),
        _ => {}
    }
}

/// Handles SGI `intid` on this CPU (interrupts masked); the caller ends it.
pub fn on_ipi(intid: u32) {
    let me = percpu::index();
    if intid == SGI_CALL {
        CALLS[me].serve(remote_op);
        serve_fp(me);
    } else {
        KICKS[me].serve(leave_user);
    }
    IPIS[me].fetch_add(1, Ordering::Relaxed);
}

/// Whether `intid` is the `Wake` SGI (the kernel reschedules after it).
pub fn is_wake(intid: u32) -> bool {
    intid == SGI_WAKE
}

/// A kick's work on its target: the user address space goes (TTBR0 = the empty table).
fn leave_user() {
    if let Some(s) = crate::machine::state() {
        let mut mmu = s.mmu;
        mmu.deactivate();
    }
}

fn serve_fp(me: usize) {
    if FP_FLUSH[me].swap(false, Ordering::Acquire) {
        crate::fpu::release();
    }
}

/// `Hal::kick`: interrupts CPU `cpu` (`Wake`) and waits, serving this CPU's own requests,
/// until it has left user mode (nothing for this CPU or one that does not run). What was
/// handed to it is cancelled first: it loads and resumes nothing of it.
pub fn kick(cpu: usize) {
    if cpu >= online() || cpu == percpu::index() {
        return;
    }
    crate::handoff::DOORBELLS.cancel(cpu);
    KICKS[cpu].run(|| send(IpiTarget::Cpu(cpu), Ipi::Wake), serve);
}

/// Asks CPU `cpu` to save the FP/SIMD state of `ctx` that is live in its registers, and
/// waits until `ctx`'s `fp_cpu` no longer names it, serving this CPU's own requests
/// meanwhile (two CPUs may ask each other). Interrupts masked.
///
/// # Safety
/// `ctx` is the running thread's context, alive in its TCB.
pub unsafe fn fp_flush(cpu: usize, ctx: *mut crate::context::Context) {
    let mark = cpu as u64 + 1;
    FP_FLUSH[cpu].store(true, Ordering::Release);
    send(IpiTarget::Cpu(cpu), Ipi::Call);
    // SAFETY: `ctx` is the running thread's context (alive); `fp_cpu` is written by the
    // other CPU with a release fence before it.
    while unsafe { core::ptr::read_volatile(&raw const (*ctx).fp_cpu) } == mark {
        serve();
        core::hint::spin_loop();
    }
    core::sync::atomic::fence(Ordering::Acquire);
}

/// Runs a remote call on this CPU (its IPI handler, interrupts masked).
fn remote_op(op: Option<RemoteOp>) -> u64 {
    match op {
        // SAFETY: the self-test posts a kernel address it has just mapped (a wrong one
        // faults into the kernel fault report, on this CPU).
        Some(RemoteOp::Read(va)) => unsafe { (va.0 as *const u64).read_volatile() },
        Some(RemoteOp::Shootdowns(n)) => {
            // The last scratch page: nothing maps it, so the flushes only cost time.
            let va = VirtAddr(SCRATCH_BASE + SCRATCH_SIZE - PAGE_SIZE);
            let mut m = crate::machine::Aarch64::current();
            let all = pecan_hal::CpuSet::first(MAX_CPUS);
            (0..n).for_each(|_| pecan_hal::Hal::shootdown(&mut m, all, Flush::KernelPage(va)));
            n
        }
        None => 0,
    }
}

/// Posts `op` to CPU `cpu` and sends the `Call` SGI (self-tests); the ticket, or `None`
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

/// Serves a remote call waiting for this CPU (a spin loop with interrupts masked calls
/// it; shootdowns need no service here: TLBI ... IS completes without the target), then
/// yields: every loop that waits for another CPU calls this each round, and Rust's
/// `spin_loop` is an `isb` on AArch64, which does not end a vCPU's turn under QEMU's TCG,
/// where `yield` does (as x86's `pause`). Without it a CPU waiting for the kernel lock
/// spins, and is counted, for its whole turn (about a million instructions under
/// `-icount`), which made the `-smp 4` figures depend on where turns ended.
pub fn serve() {
    let me = percpu::index();
    CALLS[me].serve(remote_op);
    KICKS[me].serve(leave_user);
    serve_fp(me);
    // SAFETY: a hint with no effect on memory or registers.
    unsafe { core::arch::asm!("yield", options(nomem, nostack, preserves_flags)) };
}
