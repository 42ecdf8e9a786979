//! Pecan's kernel/user ABI: the types user space and the kernel agree on, bit for bit.
//!
//! Everything here is `no_std`, allocation-free and stable: a value's encoding is part of
//! the ABI and is documented in `docs/abi.md`. Decoding never panics: every function that
//! takes a raw word from user space returns a typed error for a malformed one.
#![no_std]

pub mod caps;
pub mod error;
pub mod fpage;
pub mod item;
pub mod layout;
pub mod object;
pub mod proto;
pub mod syscall;
pub mod tag;
pub mod timeout;
pub mod utcb;

pub use error::{Error, Fault, Phase, Status};
pub use fpage::{CapRights, Fpage, FpageKind, MemRights};
pub use item::{Item, StringDesc};
pub use syscall::{Control, Sys};
pub use tag::MsgTag;
pub use timeout::Timeout;
pub use utcb::Utcb;

/// Number of message registers that travel in machine registers on every architecture.
///
/// Words `0..REG_MRS` of a message are passed in registers (see `docs/abi.md` for which
/// ones per architecture); words `REG_MRS..` live in the UTCB's message registers. Without
/// the `reg-transfer` feature (an ablation of seed 003's "short messages via registers")
/// it is 0 and every word goes through the UTCB.
pub const REG_MRS: usize = if cfg!(feature = "reg-transfer") { MAX_REG_MRS } else { 0 };

/// Message registers the architectures reserve machine registers for (`REG_MRS` with
/// `reg-transfer`).
pub const MAX_REG_MRS: usize = 8;

/// Number of message registers in the UTCB (and the largest message, in words).
pub const MR_COUNT: usize = 64;
