//! A user-level pager (seed 002: pagers resolve page faults by IPC, and address spaces are
//! built recursively from the root's): it owns a small pool of frames the root task mapped
//! to it and backs its clients' faults with them. When the pool runs out it evicts the
//! oldest page by unmapping its own pool page with "derived mappings only": the kernel
//! revokes the client's mapping, which faults again when touched.
//!
//! Arguments: 0 where the pool is mapped, 1 its pages. Registers itself as "pager".
//! Faults in `DEMAND` are backed by evictable pages; others (a client thread's stack) by
//! pages that stay.
#![no_std]
#![no_main]

use pecan_abi::caps::std_slots;
use pecan_abi::{Fpage, Item, MemRights, proto};
use pecan_system::names;
use pecan_system::slots::SLOTS;
use pecan_user::{Factory, Gate, Msg, Task, Thread, println};

pecan_user::entry!(main);

/// The demand-paged region clients use.
pub const DEMAND: core::ops::Range<u64> = 0x0000_3000_0000_0000..0x0000_3000_1000_0000;
/// Label of a statistics request: reply words are faults and evictions.
pub const STATS: u64 = 0x5354_4154;
/// Pages kept for non-evictable faults.
const PINNED: u64 = 8;

fn main(info: u64) -> ! {
    let si = pecan_system::bootinfo::start_info(info).expect("start info");
    let (pool, pages) = (si.args[0], si.args[1]);
    let me = Thread::at(std_slots::THREAD);
    let gate = Factory::at(std_slots::FACTORY).create_gate(SLOTS.alloc(), Some(me), 1).expect("gate");
    names::register(Gate::at(std_slots::NAMES), b"pager", gate).expect("register");
    let own = Task::at(std_slots::TASK);
    let (mut faults, mut evictions) = (0u64, 0u64);
    let (mut next_pinned, mut next) = (0u64, PINNED);
    println!("pagerd: serving with a pool of {pages} pages ({PINNED} pinned)");
    pecan_user::server::serve(|req| match req.label() {
        proto::PAGE_FAULT => {
            let addr = req.word(0);
            faults += 1;
            let page = if DEMAND.contains(&addr) {
                if next == pages {
                    next = PINNED;
                }
                let p = pool + next * 4096;
                next += 1;
                // Take the page back from whoever has it (our own mapping stays).
                if own.lookup(Fpage::memory(p, 12, MemRights::NONE)).is_ok() {
                    let _ = own.unmap(Fpage::memory(p, 12, MemRights::RWX), false);
                }
                p
            } else if next_pinned < PINNED {
                next_pinned += 1;
                pool + (next_pinned - 1) * 4096
            } else {
                println!("pagerd: out of pinned pages for a fault at {addr:#x}");
                return None;
            };
            if DEMAND.contains(&addr) && faults > pages - PINNED {
                evictions += 1;
            }
            // SAFETY: the pool page is mapped in our address space; nobody else maps it now.
            unsafe { core::ptr::write_bytes(page as *mut u8, 0, 4096) };
            Some(
                Msg::new(0).item(Item::Map {
                    send_base: addr & !0xfff,
                    fpage: Fpage::memory(page, 12, MemRights::RW),
                }),
            )
        }
        STATS => Some(Msg::new(0).word(faults).word(evictions)),
        _ => Some(Msg::new(1)),
    })
}
