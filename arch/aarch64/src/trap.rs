//! The Rust side of exception entry: breakpoints, interrupts, and the fault report for
//! everything the kernel cannot handle.

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{ESR_EL1, FAR_EL1, Readable};
use pecan_kernel::ExitCode;
use pecan_kernel::console::write_fmt;

use crate::console::write_bytes;
use crate::context::Regs;
use crate::esr::{Esr, ec};

/// Vector numbers (`vectors.S`): group * 4 + kind.
pub mod vector {
    /// Current EL with SP_EL1, synchronous.
    pub const EL1_SYNC: u64 = 4;
    /// Current EL with SP_EL1, IRQ.
    pub const EL1_IRQ: u64 = 5;
}

const VECTOR_NAMES: [&str; 16] = [
    "synchronous, EL1 with SP_EL0",
    "IRQ, EL1 with SP_EL0",
    "FIQ, EL1 with SP_EL0",
    "SError, EL1 with SP_EL0",
    "synchronous exception in kernel mode",
    "IRQ in kernel mode",
    "FIQ in kernel mode",
    "SError in kernel mode",
    "synchronous exception from EL0 (AArch64)",
    "IRQ from EL0 (AArch64)",
    "FIQ from EL0 (AArch64)",
    "SError from EL0 (AArch64)",
    "synchronous exception from EL0 (AArch32)",
    "IRQ from EL0 (AArch32)",
    "FIQ from EL0 (AArch32)",
    "SError from EL0 (AArch32)",
];

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

/// Breakpoint traps taken in kernel mode so far.
pub fn breakpoints() -> u64 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

/// Called by `vectors.S` with the saved registers and the vector number.
#[unsafe(no_mangle)]
extern "C" fn pecan_aarch64_trap(frame: &mut Regs, vector: u64) {
    match vector {
        vector::EL1_SYNC => {
            let esr = Esr(ESR_EL1.get());
            if esr.class() == ec::BRK64 {
                BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
                frame.elr += 4;
                return;
            }
            // A data abort inside long IPC's copy returns the fault (`copy.rs`'s protocol).
            if esr.class() == ec::DABT_CURRENT
                && let Some(pad) = crate::copy::copy_fixup(frame.elr)
            {
                frame.x[0] = FAR_EL1.get();
                frame.x[1] = esr.0;
                frame.elr = pad;
                return;
            }
            fault(frame, vector, esr, None)
        }
        vector::EL1_IRQ => crate::machine::irq(),
        _ => fault(frame, vector, Esr(ESR_EL1.get()), None),
    }
}

/// Called by `vectors.S` on the overflow stack when an EL1 exception found its frame
/// below the kernel stack. x0, x1 and SP of the interrupted code are lost (x1 shows the
/// vector number, x0 and SP are 0 in the report).
#[unsafe(no_mangle)]
extern "C" fn pecan_aarch64_stack_overflow(frame: &mut Regs, vector: u64) -> ! {
    fault(frame, vector, Esr(ESR_EL1.get()), Some("kernel stack overflow"))
}

/// Prints the fault report and stops the machine with `ExitCode::KernelFault`.
pub(crate) fn fault(frame: &Regs, vector: u64, esr: Esr, what: Option<&str>) -> ! {
    let w = write_bytes;
    let what = what.unwrap_or(VECTOR_NAMES.get(vector as usize).copied().unwrap_or("unknown vector"));
    let far = FAR_EL1.get();
    write_fmt(w, format_args!("\nKERNEL FAULT: {what} (vector {vector})\n"));
    write_fmt(
        w,
        format_args!("  class: {} (EC {:#04x}), ESR {:#010x}\n", esr.class_name(), esr.class(), esr.0),
    );
    if esr.is_abort() {
        let (status, level) = esr.fault_status();
        let access = if esr.class() == ec::IABT_CURRENT || esr.class() == ec::IABT_LOWER {
            "instruction fetch"
        } else if esr.is_write() {
            "write"
        } else {
            "read"
        };
        match level {
            Some(l) => write_fmt(w, format_args!("  {status} at level {l} on a {access}\n")),
            None => write_fmt(w, format_args!("  {status} on a {access}\n")),
        }
    }
    write_fmt(w, format_args!("  address: {far:#x}\n"));
    write_fmt(
        w,
        format_args!("  ELR {:#018x}  SPSR {:#010x}  SP {:#018x}\n", frame.elr, frame.spsr, frame.sp),
    );
    for row in 0..11 {
        write_fmt(w, format_args!(" "));
        for i in (row * 3)..(row * 3 + 3).min(31) {
            write_fmt(w, format_args!(" x{i:<2} {:#018x}", frame.x[i]));
        }
        write_fmt(w, format_args!("\n"));
    }
    let mut m = crate::machine::Aarch64::current();
    pecan_kernel::exit::exit(&mut m, ExitCode::KernelFault)
}
