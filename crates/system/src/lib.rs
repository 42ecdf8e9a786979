//! User-level system services the root task and other programs share: access to the boot
//! information, the physical memory the root task owns, capability-slot allocation, ELF
//! loading, the pager that backs other tasks' memory on demand (seed 002: "pagers resolve
//! page faults by IPC"), starting tasks from boot modules, the name service protocol and
//! a shared-memory ring buffer.
#![no_std]

extern crate alloc;

pub mod bootinfo;
pub mod elfimage;
pub mod frames;
pub mod names;
pub mod pager;
pub mod ring;
pub mod rootthread;
pub mod slots;
pub mod spawn;
pub mod worker;
