//! Pecan's user library: the system calls as small inlined stubs per architecture, and a
//! safe API on top of them — capability handles, a message builder and reader with typed
//! items, call / reply-and-wait, timeouts as `Duration`s, kernel-object invocations, a
//! server loop and light-weight RPC stubs generated from one interface description.
//!
//! Everything a program needs to talk to the kernel is here; `docs/abi.md` describes the
//! same interface at the register level.
#![no_std]

pub mod arch;
pub mod cap;
pub mod ipc;
pub mod msg;
pub mod object;
pub mod print;
pub mod rpc;
pub mod server;
pub mod sync;
pub mod thread;
pub mod utcb;

#[cfg(feature = "rt")]
pub mod rt;

pub use cap::{AnyCap, CapSel, Console, Factory, Gate, IoPorts, Irq, Machine, Task, Thread};
pub use ipc::{IpcError, Timeouts};
pub use msg::{Msg, Received};
pub use pecan_abi as abi;
