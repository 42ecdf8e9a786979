//! The multiprocessor boot self-tests: every CPU found is running with its own tick
//! (`test=smp`), IPIs reach every CPU and are acknowledged (`test=ipi`), a TLB shootdown
//! leaves no CPU with a stale translation (`test=shootdown`), and every CPU can run
//! shootdowns at the same time without a deadlock (`test=shootdown-storm`).

use pecan_boot::BootInfo;
use pecan_hal::{
    Attrs, CpuSet, Flush, Ipi, IpiTarget, MemType, PhysAddr, PhysMem, RemoteOp, Timer, VirtAddr,
};
use pecan_mm::PageTable;

use crate::machine::Machine;
use crate::memory::FramePool;

/// How long a CPU may take to answer (TCG runs the CPUs in turn).
const PATIENCE_NS: u64 = 1_000_000_000;

/// Spins until `done` or `PATIENCE_NS` passed; whether `done` became true.
fn wait<M: Machine>(m: &mut M, mut done: impl FnMut(&mut M) -> bool) -> bool {
    let start = m.timer().now_ns();
    while m.timer().now_ns() - start < PATIENCE_NS {
        if done(m) {
            return true;
        }
        core::hint::spin_loop();
    }
    done(m)
}

/// Waits for CPU `cpu`'s answer to `ticket`, serving what other CPUs want from this one
/// meanwhile (interrupts are masked here).
fn answer<M: Machine>(m: &mut M, cpu: usize, ticket: u64) -> Option<u64> {
    wait(m, |m| {
        m.serve_ipis();
        m.remote_result(cpu, ticket).is_some()
    });
    m.remote_result(cpu, ticket)
}

/// Has CPU `cpu` read the word at `va` through its own TLB.
fn remote_read<M: Machine>(m: &mut M, cpu: usize, va: VirtAddr) -> Option<u64> {
    let t = m.remote_post(cpu, RemoteOp::Read(va))?;
    answer(m, cpu, t)
}

/// `test=smp`: as many CPUs run as the firmware described (up to the kernel's limit),
/// and each secondary's own timer ticks.
pub fn smp<M: Machine>(m: &mut M, info: &BootInfo) -> bool {
    let n = m.cpus_online();
    let found = info.cpu_ids.len().min(pecan_boot::cpus::MAX_CPUS);
    log::info!("smp: {n} of {found} CPU(s) online");
    if n != found || n != info.cpus {
        log::error!("smp: {found} CPUs found, {n} running, boot info says {}", info.cpus);
        return false;
    }
    let before: [u64; pecan_boot::cpus::MAX_CPUS] = core::array::from_fn(|c| m.cpu_ticks(c));
    m.enable_interrupts();
    let ok = wait(m, |m| (1..n).all(|c| m.cpu_ticks(c) >= before[c] + 5));
    m.disable_interrupts();
    for (c, b) in before.iter().enumerate().take(n) {
        log::info!("smp: CPU {c} ticked {} times", m.cpu_ticks(c) - b);
    }
    if ok {
        log::info!("smp: ok");
    } else {
        log::error!("smp: a secondary CPU's timer does not tick");
    }
    ok
}

/// `test=ipi`: a wake-up IPI to each secondary CPU, then one to all of them at once;
/// each must be taken and counted by its target.
pub fn ipi<M: Machine>(m: &mut M) -> bool {
    let n = m.cpus_online();
    if n < 2 {
        log::info!("ipi: one CPU, no IPI to send: ok");
        return true;
    }
    let mut sent = 0;
    for c in 1..n {
        let before = m.ipis_received(c);
        m.send_ipi(IpiTarget::Cpu(c), Ipi::Wake);
        sent += 1;
        if !wait(m, |m| m.ipis_received(c) > before) {
            log::error!("ipi: CPU {c} did not take its IPI");
            return false;
        }
    }
    let before: [u64; pecan_boot::cpus::MAX_CPUS] = core::array::from_fn(|c| m.ipis_received(c));
    m.send_ipi(IpiTarget::Others, Ipi::Wake);
    sent += n - 1;
    if !wait(m, |m| (1..n).all(|c| m.ipis_received(c) > before[c])) {
        log::error!("ipi: a broadcast IPI was not taken by every CPU");
        return false;
    }
    log::info!("ipi: ok ({sent} IPIs to {} CPUs, each acknowledged)", n - 1);
    true
}

const OLD: u64 = 0x01d0_01d0_01d0_01d0;
const NEW: u64 = 0x0e30_0e30_0e30_0e30;

/// `test=shootdown`: a kernel page that every CPU has read (so its TLB holds the
/// translation) is moved to another frame with a local flush only — a CPU that still
/// reads the old frame shows the test can see a stale translation — then the shootdown;
/// afterwards every CPU must read the new frame.
pub fn shootdown<M: Machine>(m: &mut M, pool: &mut FramePool) -> bool {
    let n = m.cpus_online();
    let (base, _) = m.scratch_range();
    let va = VirtAddr(base.0);
    let pt = PageTable::<M::Pte>::new(m.kernel_root());
    let attrs =
        Attrs { read: true, write: true, exec: false, user: false, global: true, mem: MemType::Normal };
    let (Some(old), Some(new)) = (pool.alloc(m), pool.alloc(m)) else { return false };
    m.mem().write_u64(old, OLD);
    m.mem().write_u64(new, NEW);
    let map = |m: &mut M, pool: &mut FramePool, f: PhysAddr| {
        let mut list = core::mem::take(pool.list());
        let r = pt.map(m.mem(), &mut list, va, f, attrs, 0);
        *pool.list() = list;
        r.is_ok()
    };
    if !map(m, pool, old) || m.probe_read(va) != OLD {
        log::error!("shootdown: cannot map the scratch page");
        return false;
    }
    for c in 1..n {
        if remote_read(m, c, va) != Some(OLD) {
            log::error!("shootdown: CPU {c} does not read the page before the change");
            return false;
        }
    }
    // Break, local flush only, make: the other CPUs may still hold the old translation.
    pt.unmap(m.mem(), va);
    m.flush_kernel_page(va);
    if !map(m, pool, new) || m.probe_read(va) != NEW {
        log::error!("shootdown: the boot CPU does not see its own change");
        return false;
    }
    let stale = (1..n).filter(|&c| remote_read(m, c, va) == Some(OLD)).count();
    log::info!("shootdown: after a local flush, {stale} of {} other CPU(s) still read the old frame", n - 1);
    m.shootdown(CpuSet::first(n), Flush::KernelPage(va));
    let mut ok = true;
    for c in 1..n {
        match remote_read(m, c, va) {
            Some(NEW) => {}
            Some(OLD) => {
                log::error!("shootdown: CPU {c} used a stale translation after the shootdown");
                ok = false;
            }
            other => {
                log::error!("shootdown: CPU {c} read {other:x?}");
                ok = false;
            }
        }
    }
    pt.unmap(m.mem(), va);
    m.shootdown(CpuSet::first(n), Flush::KernelPage(va));
    pool.release(m, old);
    pool.release(m, new);
    if ok {
        log::info!("shootdown: ok ({} CPUs read the new frame, none the old)", n - 1);
    }
    ok
}

/// Shootdowns each CPU runs in `test=shootdown-storm`.
const STORM_ROUNDS: u64 = 200;

/// `test=shootdown-storm`: every CPU runs `STORM_ROUNDS` shootdowns at once (the
/// secondaries inside their IPI handlers, interrupts masked, the boot CPU in this loop):
/// each initiator waits for the others while they wait for it, which completes only if
/// every waiting CPU serves the requests addressed to it.
pub fn shootdown_storm<M: Machine>(m: &mut M) -> bool {
    let n = m.cpus_online();
    let (base, len) = m.scratch_range();
    let va = VirtAddr(base.0 + len - pecan_hal::PAGE_SIZE);
    let mut tickets = [0u64; pecan_boot::cpus::MAX_CPUS];
    for (c, t) in tickets.iter_mut().enumerate().take(n).skip(1) {
        let Some(ticket) = m.remote_post(c, RemoteOp::Shootdowns(STORM_ROUNDS)) else { return false };
        *t = ticket;
    }
    for _ in 0..STORM_ROUNDS {
        m.shootdown(CpuSet::first(n), Flush::KernelPage(va));
    }
    for (c, &t) in tickets.iter().enumerate().take(n).skip(1) {
        match answer(m, c, t) {
            Some(STORM_ROUNDS) => {}
            other => {
                log::error!("shootdown-storm: CPU {c} answered {other:?}");
                return false;
            }
        }
    }
    log::info!("shootdown-storm: ok ({n} CPUs ran {STORM_ROUNDS} shootdowns each at once)");
    true
}
