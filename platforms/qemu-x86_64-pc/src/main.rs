//! The Pecan kernel for QEMU's x86_64 `pc` machine.
//!
//! U-Boot's `bootelf -p` enters the physical stub of `pecan_x86_64::boot` (the ELF's
//! e_entry), which calls [`pecan_uboot_main`] in the higher half; a Limine loader enters
//! through the entry-point request in [`limine`]. Both finish arch initialization, build
//! the `BootInfo` and boot the arch-neutral kernel, which starts `init` from the boot
//! archive built into the image; the kernel then lives in [`KERNEL`] and the arch's entry
//! paths hand it every event through [`handle`], except system calls with the `fastpath`
//! feature, which `SYSCALL` brings straight to [`pecan_x86_64_syscall`].
#![no_std]
#![no_main]

mod limine;

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use pecan_kernel::lock::KernelLock;
use pecan_kernel::{Event, ExitCode, Resume};
use pecan_x86_64::{Context, X86};

/// The boot archive (`init` and the programs it starts), built by `cargo xtask` and copied
/// here by `build.rs`; empty in a kernel built without it.
static BOOTFS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bootfs.bin"));

/// The running kernel (one CPU runs it; the lock keeps it that way), written once by `run`
/// before user mode is entered (and so before any event can arrive: every event comes from
/// user mode or from the idle loop, which only the first return to user mode leads to).
/// No `Option`: the system-call route does not pay for a check that cannot fail.
/// Exported as `pecan_kernel_lock`: the assembly fast path (`fastpath-asm`) takes its lock
/// and reads the kernel inside it (`pecan_x86_64::fastpath::KernelStatic` is its type).
#[unsafe(export_name = "pecan_kernel_lock")]
static KERNEL: pecan_x86_64::fastpath::KernelStatic = KernelLock::new(MaybeUninit::uninit());

/// Set once `KERNEL` holds the kernel.
static BUILT: AtomicBool = AtomicBool::new(false);

/// The arch's event handler: runs the kernel on one event and says where to go.
fn handle(ev: Event) -> Resume<Context> {
    if !BUILT.load(Ordering::Acquire) {
        panic!("event {ev:?} before the kernel was built");
    }
    let mut slot = KERNEL.lock_serving(pecan_x86_64::smp::serve);
    // A space handed to this CPU is loaded before the core looks (it believes it loaded).
    // The system-call route needs no such step: a CPU with a handoff pending is idle, so no
    // system call comes from it before it took the handoff (and with it the space).
    pecan_x86_64::handoff::settle();
    // SAFETY: `BUILT` says `run` wrote the kernel; it is never taken out.
    let k = unsafe { slot.assume_init_mut() };
    pecan_kernel::run::handle(k, ev)
}

/// The `SYSCALL` route (`syscall.S`, `fastpath` feature): a system call from ring 3, its
/// registers saved in the running thread's context, on this CPU's kernel stack. The FPU
/// state of its owner is saved (the lazy FPU's entry work), then the core's fast path,
/// else its general path, under the kernel lock; then the return to user mode (its checks,
/// and the per-thread work only when the thread changes), lock released. Never returns.
#[unsafe(no_mangle)]
extern "C" fn pecan_x86_64_syscall() -> ! {
    pecan_x86_64::fpu::save_on_entry();
    let r = {
        let mut slot = KERNEL.lock_serving(pecan_x86_64::smp::serve);
        let mut k = slot.as_mut_ptr();
        // SAFETY: an empty instruction sequence: it only hides where the pointer came
        // from, so the fast path addresses the kernel's fields from one base register
        // instead of rebuilding each static address. It touches no memory.
        #[allow(clippy::pointers_in_nomem_asm_block)]
        unsafe {
            core::arch::asm!("/* {0} */", inout(reg) k, options(nomem, nostack, preserves_flags))
        };
        // SAFETY: a system call comes from user mode, which `run` enters only after
        // writing the kernel (see `KERNEL`); it is never taken out; the lock is held.
        pecan_kernel::run::syscall(unsafe { &mut *k })
    };
    match r {
        // SAFETY: the kernel answered with its current thread's context, alive in its
        // TCB; the lock is released, so nothing else references it until the next entry.
        Resume::User(c) => unsafe { pecan_x86_64::resume::resume_user(c) },
        r => pecan_x86_64::resume::resume(r),
    }
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
        let mut slot = KERNEL.lock_serving(pecan_x86_64::smp::serve);
        // Every CPU's word in use, each CPU's fast path told its own (`percpu-lock`).
        slot.spread(k.cpus, pecan_x86_64::percpu::set_lock_word);
        let k = slot.write(k);
        BUILT.store(true, Ordering::Release);
        pecan_kernel::run::first(k)
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
