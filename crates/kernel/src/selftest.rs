//! Boot self-tests, selected with `test=NAME` on the kernel command line. Each prints what
//! it checks and returns the exit code; the QEMU test matrix (`tests/matrix/10-boot.toml`)
//! checks the log and the code.

use pecan_boot::{BootInfo, RegionKind};
use pecan_hal::{Attrs, MemType, PAGE_SIZE, PhysMem, Timer, VirtAddr};
use pecan_mm::PageTable;

use crate::exit::ExitCode;
use crate::machine::Machine;
use crate::memory::FramePool;

/// The address `test=fault` reads: in the kernel half, mapped by nothing.
pub const FAULT_ADDR: u64 = 0xffff_dead_0000_0000;

/// Runs the self-test `name`.
pub fn run<M: Machine>(m: &mut M, pool: &mut FramePool, info: &BootInfo, name: &str) -> ExitCode {
    let ok = match name {
        "boot" => boot(m),
        "timer" => timer(m),
        "frames" => frames(m, pool, info),
        "paging" => paging(m, pool),
        "breakpoint" => breakpoint(m),
        "fault" => m.provoke_fault(FAULT_ADDR),
        "panic" => panic!("deliberate panic (test=panic)"),
        "corrupt-bootinfo" => m.corrupt_bootinfo(),
        "smp" => crate::smptest::smp(m, info),
        "ipi" => crate::smptest::ipi(m),
        "shootdown" => crate::smptest::shootdown(m, pool),
        "shootdown-storm" => crate::smptest::shootdown_storm(m),
        other => {
            log::error!("unknown test {other:?}");
            false
        }
    };
    if ok { ExitCode::Success } else { ExitCode::TestFailure }
}

/// Waits until `n` more ticks have happened; false if the timer seems stuck.
fn wait_ticks<M: Machine>(m: &mut M, n: u64) -> bool {
    let start = m.ticks();
    // Generous bound: an interrupt that never comes must not hang the test forever.
    let mut spins = 0u64;
    while m.ticks() < start + n {
        m.wait_for_interrupt();
        spins += 1;
        if spins > 1_000_000 {
            log::error!("timer: no tick after {spins} waits");
            return false;
        }
    }
    true
}

fn boot<M: Machine>(m: &mut M) -> bool {
    m.enable_interrupts();
    for i in 1..=3 {
        if !wait_ticks(m, 1) {
            return false;
        }
        log::info!("tick {i}");
    }
    m.disable_interrupts();
    true
}

fn timer<M: Machine>(m: &mut M) -> bool {
    let hz = m.timer().tick_hz();
    m.enable_interrupts();
    // Start on a tick boundary.
    if !wait_ticks(m, 1) {
        return false;
    }
    let (t0, k0) = (m.timer().now_ns(), m.ticks());
    let n = hz / 10; // 100 ms worth of ticks
    if !wait_ticks(m, n) {
        return false;
    }
    let (t1, k1) = (m.timer().now_ns(), m.ticks());
    m.disable_interrupts();
    let elapsed = t1.saturating_sub(t0);
    let expected = (k1 - k0) * 1_000_000_000 / hz;
    log::info!(
        "timer: {} ticks at {hz} Hz in {} us (expected {} us)",
        k1 - k0,
        elapsed / 1000,
        expected / 1000
    );
    // The clock and the tick must agree within a factor of two (TCG timing is loose).
    let ok = t1 > t0 && elapsed >= expected / 2 && elapsed <= expected * 2;
    if ok {
        log::info!("timer: ok");
    }
    ok
}

fn frames<M: Machine>(m: &mut M, pool: &mut FramePool, info: &BootInfo) -> bool {
    let total = pool.free();
    let mut taken = 0usize;
    let mut head: Option<u64> = None;
    // Take every frame, chain them through their first word, check each is usable RAM.
    while let Some(pa) = pool.alloc(m) {
        let inside = info
            .memory
            .regions()
            .iter()
            .any(|r| r.kind == RegionKind::Usable && r.base <= pa.0 && pa.0 + PAGE_SIZE <= r.end());
        if !inside || !pa.is_page_aligned() {
            log::error!("frames: {pa:?} is not in a usable region");
            return false;
        }
        m.mem().write_u64(pa, head.unwrap_or(u64::MAX));
        m.mem().write_u64(pa.add(8), !pa.0);
        head = Some(pa.0);
        taken += 1;
    }
    if taken != total {
        log::error!("frames: took {taken} of {total}");
        return false;
    }
    // Walk the chain, checking the pattern, and give every frame back.
    let mut back = 0usize;
    while let Some(h) = head {
        let pa = pecan_hal::PhysAddr(h);
        let next = m.mem().read_u64(pa);
        if m.mem().read_u64(pa.add(8)) != !h {
            log::error!("frames: pattern lost at {h:#x}");
            return false;
        }
        pool.release(m, pa);
        back += 1;
        head = (next != u64::MAX).then_some(next);
    }
    let ok = back == total && pool.free() == total;
    if ok {
        log::info!("frames: ok ({total} frames, {} MiB)", (total as u64 * PAGE_SIZE) >> 20);
    }
    ok
}

fn paging<M: Machine>(m: &mut M, pool: &mut FramePool) -> bool {
    let (base, len) = m.scratch_range();
    let pt = PageTable::<M::Pte>::new(m.kernel_root());
    let attrs =
        Attrs { read: true, write: true, exec: false, user: false, global: true, mem: MemType::Normal };
    let pages = (len / PAGE_SIZE).min(8);
    let mut frames = [pecan_hal::PhysAddr(0); 8];
    for (i, slot) in frames.iter_mut().enumerate().take(pages as usize) {
        let Some(f) = pool.alloc(m) else { return false };
        *slot = f;
        let va = VirtAddr(base.0 + i as u64 * PAGE_SIZE);
        if pt.lookup(m.mem(), va).is_some() {
            log::error!("paging: scratch {va:?} is already mapped");
            return false;
        }
        // Split borrows: the walker needs memory and a frame source at once.
        let mut list = core::mem::take(pool.list());
        let r = pt.map(m.mem(), &mut list, va, f, attrs, 0);
        *pool.list() = list;
        if let Err(e) = r {
            log::error!("paging: map {va:?}: {e:?}");
            return false;
        }
        m.probe_write(va, 0x5eed_0000 + i as u64);
    }
    for (i, &frame) in frames.iter().enumerate().take(pages as usize) {
        let va = VirtAddr(base.0 + i as u64 * PAGE_SIZE);
        // The value written through the new mapping is in the frame, read through the physmap.
        if m.mem().read_u64(frame) != 0x5eed_0000 + i as u64 || m.probe_read(va) != 0x5eed_0000 + i as u64 {
            log::error!("paging: page {i} does not hold what was written");
            return false;
        }
        if pt.lookup(m.mem(), va).map(|(pa, _)| pa) != Some(frame) {
            return false;
        }
        if pt.unmap(m.mem(), va).is_none() {
            return false;
        }
        m.flush_kernel_page(va);
        if pt.lookup(m.mem(), va).is_some() {
            return false;
        }
        pool.release(m, frame);
    }
    log::info!("paging: ok ({pages} pages mapped, written, read back and unmapped)");
    true
}

fn breakpoint<M: Machine>(m: &mut M) -> bool {
    let a = m.breakpoint();
    let b = m.breakpoint();
    let ok = b == a + 1 && a >= 1;
    if ok {
        log::info!("breakpoint: resumed ({b} traps)");
    }
    ok
}
