//! The Pecan kernel for QEMU's x86_64 `pc` machine.
//!
//! U-Boot's `bootelf -p` enters the physical stub of `pecan_x86_64::boot` (the ELF's
//! e_entry), which calls [`pecan_uboot_main`] in the higher half; a Limine loader enters
//! through the entry-point request in [`limine`]. Both finish arch initialization, build
//! the `BootInfo` and boot the arch-neutral kernel, which starts `init` from the boot
//! archive built into the image; the kernel then lives in [`KERNEL`] and the arch's entry
//! paths hand it every event through [`handle`].
#![no_std]
#![no_main]

mod limine;

use core::sync::atomic::{AtomicBool, Ordering};

use pecan_core::Kernel;
use pecan_kernel::{Event, ExitCode, Resume};
use pecan_x86_64::{Context, X86};
use spin::Mutex;

/// The boot archive (`init` and the programs it starts), built by `cargo xtask` and copied
/// here by `build.rs`; empty in a kernel built without it.
static BOOTFS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bootfs.bin"));

/// The running kernel (one CPU runs it; the lock keeps it that way).
static KERNEL: Mutex<Option<Kernel<X86>>> = Mutex::new(None);

/// The arch's event handler: runs the kernel on one event and says where to go.
fn handle(ev: Event) -> Resume<Context> {
    let mut k = KERNEL.lock();
    let k = k.as_mut().expect("an event before the kernel was built");
    pecan_kernel::run::handle(k, ev)
}

/// The Rust entry from U-Boot's stub: `argc`/`argv` are `bootelf`'s arguments (physical
/// pointers), `uboot_sp` is U-Boot's stack pointer at the call.
#[unsafe(no_mangle)]
extern "C" fn pecan_uboot_main(argc: usize, argv: u64, uboot_sp: u64) -> ! {
    let (m, info) = pecan_x86_64::boot::from_uboot(argc, argv, uboot_sp);
    run(m, &info)
}

/// Runs an x86_64 self-test if `arch-test=NAME` asks for one, else the kernel: the boot
/// self-test named by `test=NAME`, or `init` in user mode.
fn run(mut m: X86, info: &pecan_boot::BootInfo) -> ! {
    if let Some(name) = info.cmdline.get("arch-test") {
        pecan_x86_64::archtest::run(&mut m, name);
    }
    let k = pecan_kernel::boot(m, info, BOOTFS);
    let first = {
        let mut g = KERNEL.lock();
        pecan_kernel::run::first(g.insert(k))
    };
    pecan_x86_64::resume::start(handle, first)
}

static PANICKING: AtomicBool = AtomicBool::new(false);

/// Prints `panicked at <file>:<line>:<col>:` and the message straight to the console (not
/// through the logger), then exits with `ExitCode::Panic`.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: `cli` only keeps interrupts out while the machine stops.
    unsafe { core::arch::asm!("cli", options(nomem, nostack)) };
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A panic while panicking: stop without printing more.
        pecan_x86_64::exit::qemu_exit(ExitCode::Panic as u32);
    }
    let w = pecan_x86_64::serial::write_bytes;
    match info.location() {
        Some(l) => pecan_kernel::console::write_fmt(
            w,
            format_args!("\npanicked at {}:{}:{}:\n{}\n", l.file(), l.line(), l.column(), info.message()),
        ),
        None => pecan_kernel::console::write_fmt(w, format_args!("\npanicked:\n{}\n", info.message())),
    }
    pecan_kernel::exit::exit(&mut X86::new(), ExitCode::Panic)
}
