//! The raw system call, per architecture: one inlined instruction with the register
//! protocol of `docs/abi.md`. On the host (unit tests of the pure parts) calling it panics.

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub use x86_64::{cycles, syscall, utcb_base};

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod aarch64;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use aarch64::{cycles, syscall, utcb_base};

#[cfg(not(target_os = "none"))]
mod host;
#[cfg(not(target_os = "none"))]
pub use host::{cycles, syscall, utcb_base};

/// The registers of a system call: control word, capability selector, tag and the
/// message registers that travel in machine registers. On return: status, gate label,
/// tag and the received message registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regs {
    /// Control word in, status out.
    pub r0: u64,
    /// Capability selector in, gate label out.
    pub r1: u64,
    /// Message tag in and out.
    pub r2: u64,
    /// Message registers 0..REG_MRS.
    pub mr: [u64; pecan_abi::REG_MRS],
}
