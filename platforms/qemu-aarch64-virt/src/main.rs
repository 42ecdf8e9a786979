//! The Pecan kernel for QEMU's AArch64 `virt` machine: the Rust entry points the boot
//! assembly calls (U-Boot / QEMU `-kernel`, and Limine), the running kernel and its event
//! handler, and the panic handler.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use pecan_aarch64::boot::Board;
use pecan_aarch64::{Aarch64, Context};
use pecan_boot::BootInfo;
use pecan_core::Kernel;
use pecan_kernel::lock::KernelLock;
use pecan_kernel::{Event, ExitCode, Resume};

/// QEMU `virt`: the PL011 at 0x0900_0000 (used only when the device tree is unusable),
/// the kernel's tick rate, and the interrupt lines user drivers may have besides the
/// UART's: the PL031 RTC (SPI 2 = INTID 34) and two SPIs no `virt` device uses.
const BOARD: Board = Board { fallback_uart: 0x0900_0000, tick_hz: 1000, user_spis: &[34, 250, 251] };

/// The boot archive with the user programs (`init` first), built by `cargo xtask`.
static BOOTFS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bootfs.bin"));

/// The running kernel, written once by `run` before user mode is entered (and so before
/// any event can arrive: every event comes from user mode or from idle, which only user
/// mode's entry leads to). Only the event handlers take the lock, with interrupts masked.
/// No `Option`: the SVC route does not pay for a check that cannot fail.
/// Exported as `pecan_kernel_lock` for the assembly fast path (`fastpath.S`).
#[unsafe(export_name = "pecan_kernel_lock")]
static KERNEL: KernelLock<MaybeUninit<Kernel<Aarch64>>> = KernelLock::new(MaybeUninit::uninit());

/// Set once `KERNEL` holds the kernel.
static BUILT: AtomicBool = AtomicBool::new(false);

/// Called by `entry.S` after the MMU is on: x0 = device-tree PA, x1 = image PA, x2 = the
/// EL the loader entered at.
#[unsafe(no_mangle)]
extern "C" fn pecan_aarch64_boot_dtb(dtb_pa: u64, image_pa: u64, entry_el: u64) -> ! {
    let (m, info) = pecan_aarch64::boot::from_dtb(dtb_pa, image_pa, entry_el, &BOARD);
    run(m, &info)
}

/// Called by `entry.S`'s `limine_entry` on the boot stack.
#[unsafe(no_mangle)]
extern "C" fn pecan_aarch64_boot_limine() -> ! {
    let (m, info) = pecan_aarch64::limine_boot::from_limine(&BOARD);
    run(m, &info)
}

/// Runs an AArch64 self-test if `arch-test=NAME` asks for one; else boots the kernel
/// (`test=NAME` self-tests stop inside `pecan_kernel::boot`) and enters user mode.
fn run(mut m: Aarch64, info: &BootInfo) -> ! {
    if let Some(name) = info.cmdline.get("arch-test") {
        pecan_aarch64::archtest::run(&mut m, info, name);
    }
    let k = pecan_kernel::boot(m, info, BOOTFS);
    let first = {
        let mut slot = KERNEL.lock_serving(pecan_aarch64::smp::serve);
        // Every CPU's word in use, each CPU's fast path told its own (`percpu-lock`).
        slot.spread(k.cpus, pecan_aarch64::percpu::set_lock_word);
        let k = slot.write(k);
        BUILT.store(true, Ordering::Release);
        pecan_kernel::run::first(k)
    };
    pecan_aarch64::user::enter_with_svc_route(handle, first)
}

/// The arch's event handler: the core handles `ev` and says where to go next.
fn handle(ev: Event) -> Resume<Context> {
    if !BUILT.load(Ordering::Acquire) {
        panic!("event {ev:?} before the kernel was built");
    }
    let mut slot = KERNEL.lock_serving(pecan_aarch64::smp::serve);
    // A thread handed to this CPU but not taken yet (an interrupt came first): the core
    // counts its space loaded here, so load it; the core then decides what runs.
    pecan_aarch64::handoff::settle();
    // SAFETY: `BUILT` says `run` wrote the kernel; it is never taken out.
    let k = unsafe { slot.assume_init_mut() };
    pecan_kernel::run::handle(k, ev)
}

/// The SVC route (`user.S`, `fastpath` feature): a system call from EL0, its registers
/// saved in the running thread's context. The core's fast path, else its general path,
/// under the kernel lock; then the arch's return work, lock released.
///
/// No doorbell to settle here (unlike `handle`): a thread is handed only to a CPU the core
/// sees running nothing, and such a CPU runs no user code until it took the doorbell in its
/// idle loop (or settled it in `handle`), so no system call comes from it meanwhile.
#[unsafe(no_mangle)]
extern "C" fn pecan_aarch64_svc(_ctx: *mut Context) -> *mut Context {
    let r = {
        let mut slot = KERNEL.lock_serving(pecan_aarch64::smp::serve);
        let mut k = slot.as_mut_ptr();
        // SAFETY: an empty instruction sequence: it only hides where the pointer came
        // from, so the fast path addresses the kernel's fields from one base register
        // instead of rebuilding each static address (two instructions each). It touches
        // no memory, so `nomem` holds.
        #[allow(clippy::pointers_in_nomem_asm_block)]
        unsafe {
            core::arch::asm!("/* {0} */", inout(reg) k, options(nomem, nostack, preserves_flags))
        };
        // SAFETY: a system call comes from user mode, which `run` enters only after
        // writing the kernel (see `KERNEL`); it is never taken out; the lock is held.
        pecan_kernel::run::syscall(unsafe { &mut *k })
    };
    pecan_aarch64::user::resume(r)
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
