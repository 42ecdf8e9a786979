//! `init`, the root task: it owns all memory, pages the tasks it starts, and runs the demo
//! (`init=demo`), the user-space test scenarios (`init=test`) or the benchmarks
//! (`init=bench`) as the kernel command line says.
#![no_std]
#![no_main]

extern crate alloc;

mod bench;
mod bench_long;
mod bench_smp;
mod demo;
mod threads;

use pecan_abi::caps::std_slots;
use pecan_system::bootinfo::{boot_info, cmdline_get};
use pecan_system::frames::FRAMES;
use pecan_user::{Machine, println};

pecan_user::entry!(main);

fn main(info: u64) -> ! {
    let Some(bi) = boot_info(info) else {
        println!("init: no boot information at {info:#x}");
        exit(90)
    };
    FRAMES.init(bi);
    let free: u64 = bi.mem().iter().filter(|m| m.kind == pecan_abi::layout::MEM_FREE).map(|m| m.size).sum();
    println!(
        "init: root task up: {} MiB free, {} modules, {} CPU(s)",
        free >> 20,
        bi.modules().len(),
        bi.cpus
    );
    threads::start_pager();
    let mode = cmdline_get(bi.cmdline(), "init").unwrap_or(b"demo");
    let code = match mode {
        b"demo" => demo::run(bi),
        b"bench" => bench::run(bi),
        b"test" => {
            let env = pecan_scenarios::Env { bi };
            let (_, failed) = pecan_scenarios::run(&env, cmdline_get(bi.cmdline(), "scenario"));
            if failed == 0 { 0 } else { 1 }
        }
        other => {
            println!("init: unknown mode {:?}", core::str::from_utf8(other).unwrap_or("?"));
            91
        }
    };
    exit(code)
}

/// Stops the machine with `code`.
pub fn exit(code: u64) -> ! {
    let _ = Machine::at(std_slots::MACHINE).exit(code);
    loop {
        pecan_user::ipc::sleep(core::time::Duration::from_secs(1));
    }
}
