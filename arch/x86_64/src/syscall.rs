//! `SYSCALL` set-up (IA32_STAR, LSTAR, FMASK, EFER.SCE) and the Rust side of `syscall.S`.

use pecan_kernel::Event;
use x86_64::VirtAddr;
use x86_64::registers::model_specific::{Efer, EferFlags, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::registers::segmentation::SegmentSelector;

use crate::context::{TRAP_FRAME_SIZE, VECTOR_SYSCALL};
use crate::layout::{KERNEL_CS, KERNEL_DS, USER_CS, USER_DS};
use crate::percpu::{PERCPU_FRAME_END, PERCPU_KERNEL_STACK, PERCPU_USER_RSP};
use crate::{fpu, resume};

core::arch::global_asm!(
    include_str!("syscall.S"),
    user_rsp = const PERCPU_USER_RSP,
    frame_end = const PERCPU_FRAME_END,
    kernel_stack = const PERCPU_KERNEL_STACK,
    user_ds = const USER_DS,
    user_cs = const USER_CS,
    vector_syscall = const VECTOR_SYSCALL,
    route = sym route,
    fastpath_asm = const crate::fastpath::ON as u8,
);

#[cfg(feature = "fastpath")]
unsafe extern "C" {
    /// The platform's system-call route (`fastpath` feature): called by `syscall.S` on the
    /// kernel stack once the registers are in the thread's context; it runs the kernel's
    /// fast path, else its general path, and leaves through [`resume::resume`]. Never
    /// returns.
    #[link_name = "pecan_x86_64_syscall"]
    fn route() -> !;
}
#[cfg(not(feature = "fastpath"))]
use self::pecan_syscall as route;

// The pushes in syscall.S fill exactly one frame.
const _: () = assert!(TRAP_FRAME_SIZE == 22 * 8);

unsafe extern "C" {
    fn pecan_syscall_entry();
}

/// rflags bits `SYSCALL` clears: IF (the kernel runs with interrupts off), TF (no single
/// step into the kernel), DF (Rust assumes it clear), AC (no SMAP bypass), NT (an `iretq`
/// with NT set faults) and IOPL.
pub fn entry_mask() -> RFlags {
    RFlags::INTERRUPT_FLAG
        | RFlags::TRAP_FLAG
        | RFlags::DIRECTION_FLAG
        | RFlags::ALIGNMENT_CHECK
        | RFlags::NESTED_TASK
        | RFlags::IOPL_HIGH
        | RFlags::IOPL_LOW
}

/// Enables `SYSCALL`/`SYSRET` on this CPU: kernel CS/SS on entry, the user selectors
/// (GDT in `SYSRET` order: user data, then user code) on exit, `pecan_syscall_entry`.
pub fn init() {
    Star::write(
        SegmentSelector(USER_CS),
        SegmentSelector(USER_DS),
        SegmentSelector(KERNEL_CS),
        SegmentSelector(KERNEL_DS),
    )
    .expect("GDT in SYSRET order");
    LStar::write(VirtAddr::new(pecan_syscall_entry as *const () as u64));
    SFMask::write(entry_mask());
    // SAFETY: the entry point, STAR and FMASK are set above, so a `SYSCALL` from user mode
    // lands in `pecan_syscall_entry` with interrupts off.
    unsafe { Efer::update(|f| f.insert(EferFlags::SYSTEM_CALL_EXTENSIONS)) };
}

/// Called by `syscall.S` on the kernel stack once the registers are in the thread's
/// context (without the `fastpath` feature: with it, the platform's route is called).
#[unsafe(no_mangle)]
extern "C" fn pecan_syscall() -> ! {
    fpu::save_on_entry();
    resume::resume(resume::dispatch(Event::Syscall))
}
