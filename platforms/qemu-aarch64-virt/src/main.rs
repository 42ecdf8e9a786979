//! The Pecan kernel for QEMU's AArch64 `virt` machine: the Rust entry points the boot
//! assembly calls (U-Boot / QEMU `-kernel`, and Limine), and the panic handler.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, Ordering};

use pecan_aarch64::Aarch64;
use pecan_aarch64::boot::Board;
use pecan_kernel::ExitCode;

/// QEMU `virt`: the PL011 at 0x0900_0000 (used only when the device tree is unusable),
/// and the kernel's tick rate.
const BOARD: Board = Board { fallback_uart: 0x0900_0000, tick_hz: 1000 };

/// Called by `entry.S` after the MMU is on: x0 = device-tree PA, x1 = image PA, x2 = the
/// EL the loader entered at.
#[unsafe(no_mangle)]
extern "C" fn pecan_aarch64_boot_dtb(dtb_pa: u64, image_pa: u64, entry_el: u64) -> ! {
    let (mut m, info) = pecan_aarch64::boot::from_dtb(dtb_pa, image_pa, entry_el, &BOARD);
    if let Some(name) = info.cmdline.get("arch-test") {
        pecan_aarch64::archtest::run(&mut m, name);
    }
    pecan_kernel::start(&mut m, &info)
}

/// Called by `entry.S`'s `limine_entry` on the boot stack.
#[unsafe(no_mangle)]
extern "C" fn pecan_aarch64_boot_limine() -> ! {
    let (mut m, info) = pecan_aarch64::limine_boot::from_limine(&BOARD);
    pecan_kernel::start(&mut m, &info)
}

/// Prints `panicked at FILE:LINE:COL:` and the message straight to the console (not through
/// the logger, whose lock the panicking code may hold), then exits with `ExitCode::Panic`.
/// A panic inside the panic handler exits at once.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    static PANICKING: AtomicBool = AtomicBool::new(false);
    pecan_aarch64::cpu::disable_irq();
    if PANICKING.swap(true, Ordering::Relaxed) {
        pecan_aarch64::semihosting::exit(ExitCode::Panic as u32);
    }
    let w = pecan_aarch64::console::write_bytes;
    match info.location() {
        Some(l) => pecan_kernel::console::write_fmt(
            w,
            format_args!("\npanicked at {}:{}:{}:\n{}\n", l.file(), l.line(), l.column(), info.message()),
        ),
        None => pecan_kernel::console::write_fmt(w, format_args!("\npanicked:\n{}\n", info.message())),
    }
    let mut m = Aarch64::current();
    pecan_kernel::exit::exit(&mut m, ExitCode::Panic)
}
