//! Pecan's arch-neutral core: all policy of the kernel.
//!
//! Objects named by capabilities (tasks, threads, IPC gates, IRQs, factories), synchronous
//! IPC with typed items, the dispatcher with lazy ready queues and direct process switch,
//! the timeout wheel, and the mapping database for memory and capabilities — written
//! against the `pecan_hal::Hal` traits, in plain safe Rust, tested on the host with
//! `pecan-sim`. The arch calls the entry points on [`Kernel`]: [`Kernel::syscall`] (which
//! tries the IPC fast path, [`Kernel::fastpath`], first),
//! [`Kernel::tick`], [`Kernel::interrupt`], [`Kernel::user_fault`], then
//! [`Kernel::prepare_return`] before restoring [`Kernel::current_context`].
#![no_std]

extern crate alloc;

pub mod boot;
pub mod counters;
pub mod delete;
pub mod fastpath;
pub mod fault;
pub mod handoff;
pub mod invoke;
pub mod ipc;
pub mod irq;
pub mod kernel;
pub mod layout;
pub mod list;
pub mod mdb;
pub mod obj;
pub mod percpu;
pub mod sched;
pub mod thread;
pub mod time;
pub mod timeout;
pub mod vm;

pub use kernel::{Config, Kernel, RootRegion};
pub use obj::Handle;
pub use thread::State;
