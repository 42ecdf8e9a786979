//! Kernel objects and the capabilities that name them.

pub mod cap;
pub mod factory;
pub mod gate;
pub mod irq;
pub mod table;
pub mod task;

pub use cap::{Cap, CapSpace, ObjRef};
pub use table::{Handle, OptHandle, Table};
