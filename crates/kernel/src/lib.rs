//! The arch-neutral kernel runtime that both platforms run after their early boot: the
//! logger, the banner and memory summary, the frame pool, the boot self-tests, and the
//! exit protocol. Written against [`Machine`], which each arch implements on top of `Hal`.
#![no_std]

pub mod console;
pub mod exit;
pub mod machine;
pub mod memory;
pub mod selftest;

pub use exit::ExitCode;
pub use machine::Machine;

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
