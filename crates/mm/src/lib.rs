//! Arch-neutral memory mechanisms shared by the core and the arch crates: a page-table
//! walker generic over the entry format, a frame free list and an ASID allocator.
//! Policy (who may map what) lives in the core; this crate only manipulates tables.
#![no_std]

pub mod asid;
pub mod frames;
pub mod pagetable;

pub use asid::{AsidAllocator, AsidTag};
pub use frames::{BumpAllocator, FrameSource, FreeList};
pub use pagetable::{MapError, PageTable};
