//! The arch-neutral kernel runtime that both platforms run after their early boot: the
//! logger, the banner and memory summary, the frame pool, the boot self-tests, and the
//! exit protocol. Written against [`Machine`], which each arch implements on top of `Hal`.
#![no_std]

extern crate alloc;

pub mod console;
pub mod exit;
pub mod heap;
pub mod kmem;
pub mod lock;
pub mod machine;
pub mod memory;
pub mod platform;
pub mod root;
pub mod run;
pub mod selftest;
pub mod smptest;

pub use exit::ExitCode;
pub use machine::Machine;
pub use platform::{Event, Platform, Resume};

use pecan_boot::BootInfo;

/// The kernel's version string.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs the kernel after the arch's early boot. The arch has already marked everything it
/// uses (kernel image, early page tables, stacks, DTB, ACPI tables) as non-usable in
/// `info.memory`, installed its trap vectors and started the periodic timer (interrupts
/// still disabled).
pub fn start<M: Machine>(m: &mut M, info: &BootInfo) -> ! {
    console::init(m.console_writer(), &info.cmdline);
    log::info!(
        "Pecan {} ({}) booting via {:?}, {} CPU(s), cmdline \"{}\"",
        VERSION,
        m.arch_name(),
        info.loader,
        info.cpus,
        info.cmdline.as_str()
    );
    log_cpus(info);
    let mut pool = memory::FramePool::new(m, info);
    pool.log_summary(info);
    match info.cmdline.get("test") {
        Some(name) => {
            let code = selftest::run(m, &mut pool, info, name);
            exit::exit(m, code)
        }
        None => {
            log::warn!("no init program yet: running the boot self-test");
            let code = selftest::run(m, &mut pool, info, "boot");
            exit::exit(m, code)
        }
    }
}

/// The boot log's CPU line: how many run of how many the firmware described.
fn log_cpus(info: &BootInfo) {
    log::info!("cpus: {} online ({} found)", info.cpus, info.cpu_ids.len().max(1));
}

/// Boots the whole kernel: with `test=NAME` on the command line runs that boot self-test
/// and stops the machine; otherwise builds the kernel and starts `init` from `archive` as
/// the root task. The platform keeps the kernel and hands events to [`run::handle`].
pub fn boot<M: Platform>(mut m: M, info: &BootInfo, archive: &[u8]) -> pecan_core::Kernel<M> {
    console::init(m.console_writer(), &info.cmdline);
    log::info!(
        "Pecan {} ({}) booting via {:?}, {} CPU(s), cmdline \"{}\"",
        VERSION,
        m.arch_name(),
        info.loader,
        info.cpus,
        info.cmdline.as_str()
    );
    log_cpus(info);
    if let Some(name) = info.cmdline.get("test") {
        let mut pool = memory::FramePool::new(&mut m, info);
        pool.log_summary(info);
        let code = selftest::run(&mut m, &mut pool, info, name);
        exit::exit(&mut m, code)
    }
    for r in info.memory.regions() {
        log::info!("  {:#014x}..{:#014x} {:?}", r.base, r.end(), r.kind);
    }
    log::info!("memory: {} MiB usable", info.memory.usable_bytes() >> 20);
    // Show the timer is alive before user space takes over (a few milliseconds).
    m.enable_interrupts();
    for i in 1..=3 {
        let t = m.ticks();
        let mut waits = 0u32;
        while m.ticks() == t && waits < 1_000_000 {
            m.wait_for_interrupt();
            waits += 1;
        }
        log::info!("tick {i}");
    }
    m.disable_interrupts();
    run::build(m, info, archive)
}
