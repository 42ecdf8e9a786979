//! The cross-core benchmarks (`init=bench bench=smp`, booted with `-smp 2` by `cargo xtask
//! bench`): 0-word `Call`/`ReplyWait` round trips with the client on CPU 0 and the server
//! on CPU 1, next to the same pair with both on CPU 0, in the same boot.
//!
//! Under `-icount` every vCPU advances the one instruction counter, so the difference of
//! two counter reads is the instructions of both CPUs (an idle CPU in `hlt`/`wfi` executes
//! none). With the kernel's `counters` feature it also prints the kernel events per round
//! trip (IPIs sent, threads handed to an idle CPU, kernel entries, address-space switches, TLB flushes).

use pecan_abi::caps::std_slots;
use pecan_abi::layout::BootInfo;
use pecan_system::rootthread;
use pecan_system::slots::SLOTS;
use pecan_user::{Factory, Gate, Machine, Thread, println};

use crate::bench::{PRIO, print_milli, round_trips, server};

/// Round trips per measurement (the quick version: `QUICK`).
const N: u64 = 10_000;
const QUICK: u64 = 1_000;

/// Measures `gate`'s 0-word round trip and prints it as `ipc_roundtrip_<name>`; with the
/// kernel's counters on, the events per round trip as `<event>_per_roundtrip_<name>`.
fn measure(gate: Gate, n: u64, name: &str) {
    let machine = Machine::at(std_slots::MACHINE);
    machine.reset_counters().ok();
    let v = round_trips(gate, 0, n);
    let k = machine.counters().unwrap_or_default();
    print_milli(&alloc::format!("ipc_roundtrip_{name}"), v);
    if k[0] > 0 {
        // `round_trips` makes 16 warm-up calls before the measured ones.
        let per = |x: u64| x * 1000 / (n + 16);
        print_milli(&alloc::format!("ipis_per_roundtrip_{name}"), per(k[13]));
        print_milli(&alloc::format!("handoffs_per_roundtrip_{name}"), per(k[15]));
        print_milli(&alloc::format!("exceptions_per_roundtrip_{name}"), per(k[12]));
        print_milli(&alloc::format!("as_switches_per_roundtrip_{name}"), per(k[5]));
        print_milli(&alloc::format!("tlb_flushes_per_roundtrip_{name}"), per(k[6]));
        print_milli(&alloc::format!("fastpath_per_roundtrip_{name}"), per(k[11]));
    }
}

/// Runs the cross-core rows; returns the exit code (1 with fewer than two CPUs).
pub fn run(bi: &BootInfo, quick: bool) -> u64 {
    if bi.cpus < 2 {
        println!("bench: the cross-core rows need 2 CPUs, the kernel reports {}", bi.cpus);
        return 1;
    }
    let n = if quick { QUICK } else { N };
    let me = Thread::at(std_slots::THREAD);
    me.set_priority(PRIO, 0).expect("priority");
    me.set_affinity(0).expect("affinity");

    // Across two address spaces (the `benchsrv` task), server on CPU 0, then on CPU 1.
    let (srv, gate) = server(bi, 0, 0);
    measure(gate, n, "samecore_smp2");
    srv.thread.set_affinity(1).expect("server affinity");
    measure(gate, n, "crosscore");
    let _ = pecan_system::spawn::destroy(&srv);

    // Within one address space (a root thread as the server).
    let t = rootthread::start(crate::bench::intra_server, 0, PRIO).expect("intra server");
    let g = Factory::at(std_slots::FACTORY).create_gate(SLOTS.alloc(), Some(t.thread), 1).expect("gate");
    measure(g, n, "samecore_intra_smp2");
    t.thread.set_affinity(1).expect("server affinity");
    measure(g, n, "crosscore_intra");
    println!("bench: done");
    0
}
