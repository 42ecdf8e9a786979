//! A client of the user-level pager `pagerd`: its worker thread has `pagerd` as pager and
//! touches `args[0]` pages of the demand region, more than `pagerd`'s pool holds, so pages
//! are evicted (recursively unmapped) and faulted in again. It checks every page holds
//! what it wrote while mapped, and reports the pager's figures to its parent.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_system::names;
use pecan_system::slots::SLOTS;
use pecan_user::thread::{stack_top_of, utcb_of};
use pecan_user::{Factory, Gate, Msg, Task, Thread, Timeouts, ipc, println};

pecan_user::entry!(main);

const DEMAND: u64 = 0x0000_3000_0000_0000;
const STATS: u64 = 0x5354_4154;

static PAGES: AtomicU64 = AtomicU64::new(0);
static BAD: AtomicU64 = AtomicU64::new(0);
static DONE_GATE: AtomicU64 = AtomicU64::new(0);

extern "C" fn worker(_: u64) -> ! {
    let n = PAGES.load(Ordering::Relaxed);
    let mut bad = 0;
    // Twice over: the second pass faults again on every page evicted in the first.
    for round in 0..2u64 {
        for i in 0..n {
            let p = (DEMAND + i * 4096) as *mut u64;
            let v = (round << 32) | i;
            // SAFETY: the demand region is backed by our pager on first touch.
            unsafe {
                p.write_volatile(v);
                p.add(511).write_volatile(!v);
                if p.read_volatile() != v || p.add(511).read_volatile() != !v {
                    bad += 1;
                }
            }
        }
    }
    BAD.store(bad, Ordering::Relaxed);
    let _ = ipc::call(Gate::at(DONE_GATE.load(Ordering::Relaxed)), &Msg::new(0), Timeouts::NEVER);
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}

fn main(info: u64) -> ! {
    let si = pecan_system::bootinfo::start_info(info).expect("start info");
    PAGES.store(si.args[0], Ordering::Relaxed);
    let pager = names::wait_for(Gate::at(std_slots::NAMES), b"pager", SLOTS.alloc(), Duration::from_secs(5))
        .expect("pager");
    let me = Thread::at(std_slots::THREAD);
    let f = Factory::at(std_slots::FACTORY);
    let done = f.create_gate(SLOTS.alloc(), Some(me), 7).expect("gate");
    DONE_GATE.store(done.sel(), Ordering::Relaxed);
    let w = f.create_thread(SLOTS.alloc(), Task::at(std_slots::TASK), utcb_of(1)).expect("thread");
    w.configure(pager.sel(), pager.sel()).expect("configure");
    w.set_regs(worker as *const () as u64, stack_top_of(1), 0).expect("regs");
    w.start().expect("start");
    let r = ipc::recv(done.any(), Timeouts::NEVER).expect("worker");
    let _ = r;
    let _ = ipc::reply(&Msg::new(0));
    let stats = ipc::call(pager, &Msg::new(STATS), Timeouts::NEVER).expect("stats");
    let (faults, evictions, bad) = (stats.word(0), stats.word(1), BAD.load(Ordering::Relaxed));
    println!(
        "pagedemo: touched {} pages twice; pagerd resolved {faults} faults with {evictions} evictions; {bad} bad pages",
        si.args[0]
    );
    let _ = pecan_programs::report(Gate::at(std_slots::PARENT), &[faults, evictions, (bad == 0) as u64]);
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}
