//! x86_64 support for Pecan: boot from U-Boot and Limine, the kernel's page tables, GDT,
//! IDT and trap entry, `SYSCALL` entry, the return to user mode and the idle loop, the lazy
//! FPU, 16550 console, ACPI and fw_cfg discovery, local APIC timer, IOAPIC, and the `Hal` /
//! `Machine` / `Platform` implementations. See `docs/arch-x86_64.md`.
//!
//! The pure parts (entry formats, register file, user-fault decoding, the return checks,
//! fault report, ACPI parsing, IDT gates) build and are tested on the host; everything
//! that touches the machine is compiled only for the bare-metal target.
#![no_std]

pub mod acpi;
pub mod context;
pub mod exception;
pub mod fault;
pub mod guard;
pub mod idt;
pub mod layout;
pub mod pte;

// Everything below touches the machine: built for the bare-metal target only.
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod archtest;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod boot;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod cell;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod copy;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod cpu;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod exit;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod fastpath;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod fpu;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod fwcfg;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod gdt;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod hal;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod handoff;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod ioapic;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod lapic;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod machine;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod mmu;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod paging;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod percpu;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod pic;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod pit;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod platform;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod resume;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod serial;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod smp;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod syscall;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod trap;

pub use context::{Context, TrapFrame};
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub use hal::X86;
pub use pte::X86Pte;
