//! AArch64 support for Pecan: boot from U-Boot `booti` (or QEMU `-kernel`) and Limine,
//! the kernel's page tables, exception vectors and trap entry, user mode (entry from and
//! return to EL0, lazy FP/SIMD switching, the idle loop), PL011 console, GICv3, generic
//! timer, semihosting exit, and the `Hal` / `Machine` / `Platform` implementations.
//!
//! The pure parts (descriptor format, register file, syndrome decoding, address-space
//! layout, timer arithmetic, GIC line bookkeeping) build and are tested on the host;
//! everything that touches the machine is compiled only for the bare-metal target.
#![no_std]

pub mod context;
pub mod esr;
pub mod gic;
pub mod layout;
pub mod pte;
pub mod semihosting;
pub mod sysregs;
pub mod timer;
pub mod userfault;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod archtest;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod asm;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod boot;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod console;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod copy;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod cpu;
#[cfg(all(target_arch = "aarch64", target_os = "none", feature = "fastpath", feature = "fastpath-asm"))]
mod fastpath;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod fpu;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod handoff;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod kmap;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod limine_boot;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod machine;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod mmu;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod percpu;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod physmem;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod platform;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod pmu;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod smp;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod trap;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod user;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod usertest;

pub use context::Context;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use machine::Aarch64;
pub use pte::Aarch64Pte;
