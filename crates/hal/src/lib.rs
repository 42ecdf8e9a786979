//! The hardware abstraction layer: traits the arch-neutral core is written against.
//!
//! An architecture provides one type implementing [`Hal`]; its associated types name the
//! per-ISA pieces (user register file, page-table entry format, physical memory access,
//! MMU and TLB, timer, interrupt controller, console). The core is generic over `H: Hal`;
//! `pecan-sim` provides a simulated implementation for host tests.
#![no_std]

pub mod addr;
pub mod console;
pub mod context;
pub mod copy;
pub mod handoff;
pub mod irq;
pub mod mem;
pub mod mmu;
pub mod pte;
pub mod smp;
pub mod timer;

pub use addr::{PAGE_SIZE, PhysAddr, VirtAddr};
pub use console::Console;
pub use context::{FaultInfo, UserContext};
pub use copy::CopyFault;
pub use irq::InterruptController;
pub use mem::PhysMem;
pub use mmu::{Asid, Mmu};
pub use pte::{Attrs, MemType, PteFormat, PteKind};
pub use smp::{CpuSet, Flush, Ipi, IpiTarget, RemoteOp};
pub use timer::Timer;

/// One architecture (or the simulator), as the core sees it.
///
/// The core holds one value of this type per CPU and reaches the pieces through the
/// accessors; every method is safe: an implementation keeps its `unsafe` inside.
pub trait Hal {
    /// The saved user register file of a thread.
    type Context: UserContext;
    /// The page-table entry format.
    type Pte: PteFormat;
    /// Access to physical memory (through the kernel's direct map).
    type Mem: PhysMem;
    /// Address-space switch and TLB maintenance.
    type Mmu: Mmu;
    /// The tick source.
    type Timer: Timer;
    /// The interrupt controller.
    type Irq: InterruptController;
    /// The kernel console.
    type Console: Console;

    /// Physical memory.
    fn mem(&mut self) -> &mut Self::Mem;
    /// The MMU of this CPU.
    fn mmu(&mut self) -> &mut Self::Mmu;
    /// The timer of this CPU.
    fn timer(&mut self) -> &mut Self::Timer;
    /// The interrupt controller.
    fn irq(&mut self) -> &mut Self::Irq;
    /// The console.
    fn console(&mut self) -> &mut Self::Console;
    /// The index of the CPU this code runs on (0 is the boot CPU).
    fn cpu_id(&self) -> usize;
    /// Stops the machine with `code` (0: success). Under QEMU, exits QEMU.
    fn exit(&mut self, code: u32) -> !;

    /// Long IPC ([`copy`]): the base of the kernel-only window region of every user
    /// address space, aligned to 1 GiB, outside user space, in the part of the tree each
    /// address space owns (x86_64: a kernel-half PML4 slot the kernel leaves empty;
    /// AArch64: the top of TTBR0's range, above the 47-bit user space). The core builds
    /// its tables with kernel-only table entries (x86_64 U/S = 0, AArch64 APTable) and
    /// gives CPU `c` the level-1 slots `2c` and `2c + 1`.
    const WINDOW_BASE: u64;
    /// Long IPC: copies `len` bytes from virtual address `src` to `dst` of the loaded
    /// address space (user pages, the window, or the direct map), with the arch's fault
    /// fix-up: a page fault ends the copy with [`CopyFault`] instead of a kernel fault.
    /// The core passes only addresses it checked: user addresses below the user top,
    /// window addresses it mapped, direct-map addresses of frames it owns.
    fn copy_virt(&mut self, dst: VirtAddr, src: VirtAddr, len: usize) -> Result<(), CopyFault>;
    /// Long IPC: the kernel's virtual address of physical `pa` (the direct map), for
    /// [`Hal::copy_virt`] to and from kernel frames.
    fn kernel_va(&self, pa: PhysAddr) -> VirtAddr;
    /// Long IPC: whether an interrupt is pending (the copy stops between two chunks and
    /// lets it in). Interrupts stay disabled in the kernel; this is the event model's
    /// "interrupts enabled during the transfer".
    fn preempt_pending(&mut self) -> bool;
    /// Number of CPUs running the kernel (indices `0..cpus_online()`).
    fn cpus_online(&self) -> usize {
        1
    }
    /// Sends an inter-processor interrupt (x86_64 local APIC ICR, AArch64 GIC SGI). Does
    /// nothing on one CPU or for a target that is not running.
    fn send_ipi(&mut self, _to: IpiTarget, _kind: Ipi) {}
    /// Makes CPU `cpu` (not this one) leave user mode and returns once it has: the
    /// registers of the thread it ran are saved in that thread's context, and the CPU has
    /// unloaded its user address space (it loads one again only through the core, whose
    /// lock the caller holds). The core calls it before it changes or frees what a thread
    /// running there uses (suspension, deletion, new registers, its task's page tables).
    /// The default is for one CPU: nothing.
    fn kick(&mut self, _cpu: usize) {}
    /// Whether [`Hal::handoff`] is implemented: the core (its `crosscore` feature) then
    /// hands a thread it wakes for an idle CPU straight to that CPU.
    const HANDOFF: bool = false;
    /// Hands the thread of `ctx`, which the core just made the running thread of idle CPU
    /// `cpu` (not this one, its state locked by the caller), to that CPU: it loads `space`
    /// if given and returns to `ctx` from its idle loop without entering the core
    /// ([`handoff::Doorbell`], docs/smp.md "Handoff"). Returns whether an IPI was sent (a
    /// polling CPU needs none). The default, for one CPU, does nothing.
    fn handoff(&mut self, _cpu: usize, _ctx: *mut Self::Context, _space: Option<handoff::Space>) -> bool {
        false
    }
    /// Makes `flush` take effect on this CPU and on every running CPU of `targets` (the
    /// ones that may hold the translations: all of them for a kernel page, those an
    /// address space ran on for a user page), and returns only once each has (x86_64:
    /// queue, IPI, wait for every acknowledgement; AArch64: `TLBI ... IS` broadcast and
    /// `DSB ISH`, which reaches every CPU whatever `targets` says). After it, the unmapped
    /// frames may be reused. The default is for one CPU: the local flush.
    fn shootdown(&mut self, _targets: CpuSet, flush: Flush) {
        let m = self.mmu();
        match flush {
            Flush::Page { asid, va } => m.flush_page(asid, va),
            Flush::Asid(asid) => m.flush_asid(asid),
            Flush::All => m.flush_all(),
            Flush::KernelPage(va) => m.flush_kernel_page(va),
        }
    }

    /// Whether the machine has an I/O-port space (x86_64).
    const HAS_IO_PORTS: bool = false;
    /// Reads `width` (1, 2 or 4) bytes from I/O port `port`; `None` without port I/O.
    fn port_in(&mut self, _port: u16, _width: u8) -> Option<u32> {
        None
    }
    /// Writes `width` (1, 2 or 4) bytes to I/O port `port`; false without port I/O.
    fn port_out(&mut self, _port: u16, _width: u8, _value: u32) -> bool {
        false
    }
}
