//! Ping-pong: argument 0 runs the server (registered as "pingpong"), argument 1 the client,
//! which calls it `args[1]` times in another address space and reports to its parent.
#![no_std]
#![no_main]

use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_programs::pingpong;
use pecan_system::bootinfo::start_info;
use pecan_system::names;
use pecan_system::slots::SLOTS;
use pecan_user::{Factory, Gate, Thread, println};

pecan_user::entry!(main);

struct Server;

impl pingpong::Server for Server {
    fn ping(&mut self, x: u64) -> u64 {
        x + 1
    }
    fn sum8(&mut self, w: [u64; 8]) -> u64 {
        w.iter().sum()
    }
}

fn main(info: u64) -> ! {
    let si = start_info(info).expect("start info");
    let names_gate = Gate::at(std_slots::NAMES);
    if si.args[0] == 0 {
        let me = Thread::at(std_slots::THREAD);
        let gate = Factory::at(std_slots::FACTORY).create_gate(SLOTS.alloc(), Some(me), 1).expect("gate");
        names::register(names_gate, b"pingpong", gate).expect("register");
        println!("pingpong: server ready");
        pecan_user::server::serve(|req| pingpong::dispatch(&mut Server, req))
    }
    let n = si.args[1].max(1);
    let server =
        names::wait_for(names_gate, b"pingpong", SLOTS.alloc(), Duration::from_secs(5)).expect("lookup");
    let client = pingpong::Client::new(server);
    let mut x = 0;
    for _ in 0..n {
        x = client.ping(x).expect("ping");
    }
    let s = client.sum8([1, 2, 3, 4, 5, 6, 7, 8]).expect("sum8");
    println!("pingpong: client made {n} calls (last answer {x}), sum8 = {s}");
    let ok = x == n && s == 36;
    let _ = pecan_programs::report(Gate::at(std_slots::PARENT), &[n + 1, ok as u64]);
    loop {
        pecan_user::ipc::sleep(Duration::from_secs(1000));
    }
}
