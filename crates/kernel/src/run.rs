//! Building the running kernel after boot, and handling the events the arch reports.

use pecan_boot::BootInfo;
use pecan_core::{Config, Kernel};
use pecan_hal::PhysAddr;
use pecan_mm::FreeList;

use crate::kmem;
use crate::platform::{Event, Platform, Resume};

/// Sizes the object tables for a kernel heap of `heap` bytes, with threads of `tcb` bytes
/// (the TCB with the arch's saved registers).
pub fn config(heap: u64, frames: u64, irq_lines: u32, tcb: u64) -> Config {
    // Half of the heap for threads (the table is reserved at once: it never moves), the
    // rest for everything else; at most 32,768 (the benchmark runs 20,000 and more).
    let threads = ((heap / 2) / (tcb + 16)).clamp(64, 32768) as usize;
    Config {
        max_threads: threads,
        max_tasks: 1024,
        max_gates: threads,
        max_irqs: 256,
        max_factories: 256,
        max_nodes: ((heap / 4) / 96) as usize,
        root_quota: heap + frames,
        irq_lines,
    }
}

/// Builds the kernel on `m` and starts `init` from `archive` as the root task. Panics with
/// a clear message if memory is too small or `init` cannot be started.
pub fn build<M: Platform>(mut m: M, info: &BootInfo, archive: &[u8]) -> Kernel<M> {
    let uart = m.uart_base();
    let devices = [(uart, if uart != 0 { pecan_hal::PAGE_SIZE } else { 0 })];
    let heap = kmem::heap(&info.memory).expect("not enough memory for the kernel heap, frames and root task");
    // SAFETY: the heap range is usable RAM that `split` gives to nobody else, mapped by the
    // direct map, and this is the only initialization.
    unsafe { crate::heap::init_global(m.phys_to_virt(PhysAddr(heap.0)), heap.1 as usize) };
    let split = kmem::split(&info.memory, &devices)
        .expect("not enough memory for the kernel heap, frames and root task");
    let mut frames = FreeList::new();
    for &(base, size) in &split.frames {
        frames.add_region(m.mem(), base, size);
    }
    let frame_bytes: u64 = split.frames.iter().map(|f| f.1).sum();
    let lines = pecan_hal::InterruptController::lines(m.irq());
    let tcb = core::mem::size_of::<pecan_core::thread::Tcb<M::Context>>() as u64;
    let cfg = config(split.heap.1, frame_bytes, lines, tcb);
    log::info!(
        "kernel: heap {} MiB, {} MiB of kernel frames, up to {} threads; root owns {} MiB",
        split.heap.1 >> 20,
        frame_bytes >> 20,
        cfg.max_threads,
        split.root.iter().filter(|r| !r.device).map(|r| r.size).sum::<u64>() >> 20
    );
    let mut k = Kernel::new(m, cfg, frames).expect("kernel heap too small for the object tables");
    k.cpus = info.cpus;
    match crate::root::start(&mut k, &split.root, archive, info.cmdline.as_bytes(), info.cpus) {
        Ok(_) => log::info!("root task started"),
        Err(e) => panic!("cannot start the root task: {e:?}"),
    }
    k
}

/// Handles one event and says where the CPU goes next.
pub fn handle<M: Platform>(k: &mut Kernel<M>, ev: Event) -> Resume<M::Context> {
    match ev {
        Event::Syscall => return syscall(k),
        Event::Timer => k.tick(),
        Event::Irq(line) => k.interrupt(line),
        Event::Fault(f) => k.user_fault(f),
        Event::Wake => k.reschedule(),
    }
    finish(k)
}

/// A system call from the running thread (its registers saved in its context): the
/// core's fast path if it takes it, which leaves the next thread's address space loaded
/// and nothing else to do but resume it; else the general path. The arches' system-call
/// routes (AArch64's SVC route, x86_64's `SYSCALL` route, with the `fastpath` feature)
/// call this directly; [`handle`] does for `Event::Syscall`.
#[inline(always)]
pub fn syscall<M: Platform>(k: &mut Kernel<M>) -> Resume<M::Context> {
    if let Some(ctx) = k.fastpath() {
        // Null: the partner was handed to its own idle CPU, this one idles.
        return if ctx.is_null() { Resume::Idle } else { Resume::User(ctx) };
    }
    syscall_slow(k)
}

/// The general path of a system call (kept out of line, away from the fast path's code).
#[inline(never)]
fn syscall_slow<M: Platform>(k: &mut Kernel<M>) -> Resume<M::Context> {
    k.syscall_general();
    finish(k)
}

/// After an event: a requested exit, then the next thread's address space and context.
fn finish<M: Platform>(k: &mut Kernel<M>) -> Resume<M::Context> {
    if let Some(code) = k.exit_request {
        crate::exit::exit_raw(&mut k.hal, code);
    }
    // `prepare_return` returns the running thread: its registers, without a second lookup.
    match k.prepare_return().and_then(|h| k.threads.get_mut(h)) {
        Some(t) => Resume::User(&mut t.ctx as *mut M::Context),
        None => Resume::Idle,
    }
}

/// Where the CPU goes first after `build`.
pub fn first<M: Platform>(k: &mut Kernel<M>) -> Resume<M::Context> {
    match k.prepare_return() {
        Some(_) => match k.current_context() {
            Some(c) => Resume::User(c as *mut M::Context),
            None => Resume::Idle,
        },
        None => Resume::Idle,
    }
}
