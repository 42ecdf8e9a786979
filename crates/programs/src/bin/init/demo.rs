//! The demo (`just run-x86`, `just run-arm`): a name service, a ping-pong server and client
//! in different address spaces, all paged by the root task; then a summary.

use core::time::Duration;
use pecan_abi::CapRights;
use pecan_abi::caps::std_slots;
use pecan_abi::layout::{BootInfo, ROOT_PHYS_BASE};
use pecan_system::pager;
use pecan_system::slots::SLOTS;
use pecan_system::spawn::{Child, Spec, spawn};
use pecan_user::{Factory, Thread, Timeouts, ipc, println};

/// Finds boot module `name`: its physical address and bytes.
pub fn module<'a>(bi: &'a BootInfo, name: &[u8]) -> Option<(u64, &'a [u8])> {
    let m = bi.modules().iter().find(|m| m.name() == name)?;
    // SAFETY: the module lies in root memory, mapped by the root window for the root
    // task's life, and is only read.
    let bytes =
        unsafe { core::slice::from_raw_parts((ROOT_PHYS_BASE + m.base) as *const u8, m.size as usize) };
    Some((m.base, bytes))
}

/// Starts module `name` with `args`, passing `caps`.
pub fn start(bi: &BootInfo, name: &str, args: &[u64], caps: &[(u64, u64, CapRights)], prio: u64) -> Child {
    let (pa, file) = module(bi, name.as_bytes()).unwrap_or_else(|| panic!("no module {name}"));
    let spec = Spec {
        name,
        file_pa: pa,
        file,
        args,
        prio,
        caps,
        quota: 256 * 1024,
        machine: false,
        share_text: true,
    };
    spawn(&spec).unwrap_or_else(|e| panic!("starting {name}: {e:?}"))
}

/// Runs the demo; returns the exit code.
pub fn run(bi: &BootInfo) -> u64 {
    let me = Thread::at(std_slots::THREAD);
    let f = Factory::at(std_slots::FACTORY);
    // Reports from the demo programs come through this gate, labelled per program.
    let reports = f.create_gate(SLOTS.alloc(), Some(me), 0).expect("report gate");

    let names = start(bi, "names", &[], &[], 150);
    let names_gate =
        f.create_gate(SLOTS.alloc(), Some(Thread::at(names.thread.sel())), 0).expect("names gate");
    let std_caps = [
        (names_gate.sel(), std_slots::NAMES, CapRights(CapRights::SEND.0 | CapRights::MAP.0)),
        (reports.sel(), std_slots::PARENT, CapRights::SEND),
    ];
    let server = start(bi, "pingpong", &[0], &std_caps, 120);
    let client = start(bi, "pingpong", &[1, 1000], &std_caps, 110);
    println!("init: demo started: names, pingpong server and client");

    let mut ok = true;
    let mut calls = 0;
    match ipc::wait(Timeouts::new(None, Some(Duration::from_secs(20)))) {
        Ok(r) => {
            calls = r.word(0);
            ok &= r.word(1) == 1;
            let _ = ipc::reply(&pecan_user::Msg::new(0));
        }
        Err(e) => {
            println!("init: no report from the ping-pong client: {e:?}");
            ok = false;
        }
    }
    let faults: u64 = [names.id, server.id, client.id].iter().map(|&id| pager::stats(id).0).sum();
    let counters = pecan_user::Machine::at(std_slots::MACHINE).counters().unwrap_or([0; 12]);
    println!(
        "init: demo summary: {calls} ping-pong calls, {} messages in the kernel, {faults} page faults handled",
        counters[1]
    );
    println!("init: demo {}", if ok { "passed" } else { "FAILED" });
    if ok { 0 } else { 1 }
}
