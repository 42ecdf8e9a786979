//! Trap dispatch: the Rust side of `vectors.S`.
//!
//! From user mode ([`pecan_user_trap`]): timer ticks, device interrupts and the thread's
//! faults become kernel events; #NM loads the thread's FPU state; anything the thread
//! cannot have caused (NMI, #DF, #MC) gets the kernel fault report.
//!
//! From kernel mode (`pecan_trap`): an interrupt that wakes the idle loop becomes a kernel
//! event; otherwise timer ticks and kernel breakpoints are counted (the boot self-tests),
//! interrupts acknowledged, and every other exception turned into a fault report that ends
//! the machine with `ExitCode::KernelFault`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use pecan_kernel::{Event, ExitCode, Resume};

use crate::context::TrapFrame;
use crate::layout::{
    KERNEL_DS, MAX_IRQ_LINES, VECTOR_IPI_CALL, VECTOR_IPI_WAKE, VECTOR_IRQ_BASE, VECTOR_PIC_BASE,
    VECTOR_SPURIOUS, VECTOR_TIMER,
};
use crate::percpu::PERCPU_KERNEL_STACK;
use crate::{exception, fault, fpu, ioapic, lapic, percpu, resume, smp};

core::arch::global_asm!(
    include_str!("vectors.S"),
    kernel_stack = const PERCPU_KERNEL_STACK,
    kernel_ds = const KERNEL_DS,
);

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);
static FAULTING: AtomicBool = AtomicBool::new(false);

/// Timer interrupts this CPU took since it started.
pub fn ticks() -> u64 {
    smp::ticks(percpu::cpu_id())
}

/// Kernel-mode breakpoints taken since boot.
pub fn breakpoints() -> u64 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

/// What an interrupt vector means.
enum Interrupt {
    Timer,
    Line(u32),
    /// An inter-processor interrupt (`smp.rs` handles it, then EOI; no kernel event).
    Ipi(u8),
    /// The APIC's spurious vector or a (masked) 8259 line: nothing to do, no EOI.
    Ignored,
}

fn interrupt(v: u64) -> Option<Interrupt> {
    let irqs = VECTOR_IRQ_BASE as u64..VECTOR_IRQ_BASE as u64 + MAX_IRQ_LINES as u64;
    if v == VECTOR_TIMER as u64 {
        Some(Interrupt::Timer)
    } else if (VECTOR_IPI_WAKE as u64..=VECTOR_IPI_CALL as u64).contains(&v) {
        Some(Interrupt::Ipi(v as u8))
    } else if irqs.contains(&v) {
        Some(Interrupt::Line((v - VECTOR_IRQ_BASE as u64) as u32))
    } else if v == VECTOR_SPURIOUS as u64
        || (VECTOR_PIC_BASE as u64..VECTOR_PIC_BASE as u64 + 16).contains(&v)
    {
        Some(Interrupt::Ignored)
    } else {
        None
    }
}

/// Reports interrupt `i` to the kernel and acknowledges it (after the kernel has masked a
/// device line, so a level-triggered line cannot fire again at once); returns where to go.
fn report(i: Interrupt) -> Option<Resume<crate::context::Context>> {
    match i {
        Interrupt::Timer => {
            smp::count_tick();
            let r = resume::dispatch(Event::Timer);
            lapic::eoi();
            Some(r)
        }
        Interrupt::Line(line) => {
            let r = resume::dispatch(Event::Irq(line));
            lapic::eoi();
            Some(r)
        }
        Interrupt::Ipi(v) if v == VECTOR_IPI_WAKE && resume::started() => {
            // Something to run here, a migration or a stop: the kernel reschedules.
            smp::on_ipi(v);
            lapic::eoi();
            Some(resume::dispatch(Event::Wake))
        }
        Interrupt::Ipi(v) => {
            smp::on_ipi(v);
            lapic::eoi();
            None
        }
        Interrupt::Ignored => None,
    }
}

/// Called by `vectors.S` on the kernel stack for a trap from user mode; `f` is the
/// thread's saved frame (its context), or the IST stack's frame for a double fault.
#[unsafe(no_mangle)]
extern "C" fn pecan_user_trap(f: *mut TrapFrame) -> ! {
    // SAFETY: `vectors.S` passes the frame it just completed; nothing else refers to it
    // while this runs with interrupts off. The copy ends the borrow.
    let frame = unsafe { *f };
    let v = frame.vector;
    let current = resume::current();
    if v == exception::NM {
        // SAFETY: a #NM from user mode comes from the running thread, whose context is
        // alive.
        unsafe { fpu::take(current) };
        resume::resume(Resume::User(current));
    }
    if let Some(i) = interrupt(v) {
        fpu::save_on_entry();
        let r = report(i).unwrap_or(Resume::User(current));
        resume::resume(r);
    }
    match exception::user_fault(v, frame.error, crate::cpu::cr2()) {
        Some(fault) => {
            fpu::save_on_entry();
            resume::resume(resume::dispatch(Event::Fault(fault)))
        }
        None => kernel_fault(&frame),
    }
}

/// Called by `vectors.S` with the saved registers of interrupted kernel code.
#[unsafe(no_mangle)]
extern "C" fn pecan_trap(f: &mut TrapFrame) {
    let v = f.vector;
    // SAFETY: this CPU's block, interrupts disabled.
    let idle = unsafe { (*percpu::this()).idle };
    match interrupt(v) {
        // The idle loop woke up: the interrupt is an event, and the kernel says where to
        // go (this never returns to the loop's frame).
        // A `Wake` that rang this CPU's doorbell (`handoff.rs`): the handed thread runs,
        // without the kernel (a kick it carries is answered first).
        Some(Interrupt::Ipi(VECTOR_IPI_WAKE)) if idle && resume::started() => {
            smp::on_ipi(VECTOR_IPI_WAKE);
            lapic::eoi();
            if let Some(c) = crate::handoff::take() {
                // SAFETY: the doorbell holds only contexts the core handed over.
                unsafe { resume::resume_handed(c) }
            }
            resume::resume(resume::dispatch(Event::Wake))
        }
        Some(i @ (Interrupt::Timer | Interrupt::Line(_) | Interrupt::Ipi(VECTOR_IPI_WAKE))) if idle => {
            let r = report(i).unwrap_or(Resume::Idle);
            resume::resume(r)
        }
        Some(Interrupt::Timer) => {
            smp::count_tick();
            lapic::eoi();
        }
        // Another IPI never needs the kernel: handled here, also in the idle loop, which it
        // leaves waiting.
        Some(Interrupt::Ipi(v)) => {
            smp::on_ipi(v);
            lapic::eoi();
        }
        Some(Interrupt::Line(line)) => {
            // Interrupts are only enabled in the kernel by the idle loop and the boot
            // self-tests, where nobody handles device lines: silence the line.
            ioapic::mask_line(line);
            lapic::eoi();
            log::warn!("irq {line}: no handler, masked");
        }
        Some(Interrupt::Ignored) => {}
        // int3 leaves rip after itself: count it and resume.
        None if v == exception::BP => {
            BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
        }
        // A page fault inside long IPC's copy returns the fault (`copy.rs`'s protocol).
        None if v == fault::VECTOR_PF => match crate::copy::copy_fixup(f.rip) {
            Some(pad) => {
                f.rip = pad;
                f.rax = crate::cpu::cr2();
                f.rdx = f.error | 1 << 63;
            }
            None => kernel_fault(f),
        },
        None => kernel_fault(f),
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
