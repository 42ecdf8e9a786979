//! Trap dispatch: the Rust side of `vectors.S`. Counts timer ticks and kernel breakpoints,
//! acknowledges interrupts, and turns every other kernel-mode exception into a fault
//! report that ends the machine with `ExitCode::KernelFault`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use pecan_kernel::ExitCode;

use crate::context::TrapFrame;
use crate::layout::{MAX_IRQ_LINES, VECTOR_IRQ_BASE, VECTOR_PIC_BASE, VECTOR_SPURIOUS, VECTOR_TIMER};
use crate::{fault, ioapic, lapic};

core::arch::global_asm!(include_str!("vectors.S"));

static TICKS: AtomicU64 = AtomicU64::new(0);
static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);
static FAULTING: AtomicBool = AtomicBool::new(false);

/// Timer interrupts taken since boot.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Kernel-mode breakpoints taken since boot.
pub fn breakpoints() -> u64 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

/// Called by `vectors.S` with the saved registers of the interrupted code.
#[unsafe(no_mangle)]
extern "C" fn pecan_trap(f: &mut TrapFrame) {
    let v = f.vector;
    match v {
        // int3 leaves rip after itself: count it and resume.
        3 if !f.from_user() => {
            BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
        }
        _ if v == VECTOR_TIMER as u64 => {
            TICKS.fetch_add(1, Ordering::Relaxed);
            lapic::eoi();
        }
        // The local APIC's spurious vector needs no EOI; the masked 8259s' spurious IRQs
        // 7 and 15 cannot reach the CPU (LINT0 is masked) but are harmless if they do.
        _ if v == VECTOR_SPURIOUS as u64 => {}
        _ if (VECTOR_PIC_BASE as u64..VECTOR_PIC_BASE as u64 + 16).contains(&v) => {}
        _ if (VECTOR_IRQ_BASE as u64..VECTOR_IRQ_BASE as u64 + MAX_IRQ_LINES as u64).contains(&v) => {
            // No user-level driver yet: silence the line.
            let line = (v - VECTOR_IRQ_BASE as u64) as u32;
            ioapic::mask_line(line);
            lapic::eoi();
            log::warn!("irq {line}: no handler, masked");
        }
        _ => kernel_fault(f),
    }
}

/// Prints the fault report for `f` and stops the machine.
fn kernel_fault(f: &TrapFrame) -> ! {
    if FAULTING.swap(true, Ordering::SeqCst) {
        // A fault while reporting one: stop without printing more.
        crate::exit::qemu_exit(ExitCode::KernelFault as u32);
    }
    let _ =
        fault::write_report(&mut crate::serial::Writer, f, crate::cpu::cr2(), crate::paging::stack_guard());
    pecan_kernel::exit::exit(&mut crate::hal::X86::new(), ExitCode::KernelFault)
}
