//! The cross-core benchmarks (`init=bench bench=smp`, booted with `-smp 2` by `cargo xtask
//! bench`): 0-word `Call`/`ReplyWait` round trips with the client on CPU 0 and the server
//! on CPU 1, next to the same pair with both on CPU 0, in the same boot; then one such
//! same-core pair per CPU, all running at once (`samecore_parallel<N>`, next to the same
//! code with one pair: `samecore_parallel1`), where the CPUs' kernel entries meet on any
//! lock they share.
//!
//! Under `-icount` every vCPU advances the one instruction counter, so the difference of
//! two counter reads is the instructions of both CPUs (an idle CPU in `hlt`/`wfi` executes
//! none). With the kernel's `counters` feature it also prints the kernel events per round
//! trip (IPIs sent, threads handed to an idle CPU, kernel entries, address-space switches, TLB flushes).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::layout::BootInfo;
use pecan_abi::object::machine::COUNTER_WORDS;
use pecan_abi::{Control, MsgTag, Sys, Timeout};
use pecan_system::rootthread;
use pecan_system::slots::SLOTS;
use pecan_user::arch::{Regs, cycles, syscall};
use pecan_user::ipc::{self, Timeouts};
use pecan_user::{Factory, Gate, Machine, Msg, Thread, println};

use crate::bench::{PRIO, print_milli, round_trips, server};

/// Round trips per measurement (the quick version: `QUICK`).
const N: u64 = 10_000;
const QUICK: u64 = 1_000;
/// Round trips per pair of the parallel rows (quick: `PAR_QUICK`).
const PAR_N: u64 = 4_000;
const PAR_QUICK: u64 = 500;
/// At most this many parallel pairs (one per CPU).
const MAX_PAIRS: usize = 16;

/// Measures `gate`'s 0-word round trip and prints it as `ipc_roundtrip_<name>`; with the
/// kernel's counters on, the events per round trip as `<event>_per_roundtrip_<name>`.
fn measure(gate: Gate, n: u64, name: &str) {
    let machine = Machine::at(std_slots::MACHINE);
    machine.reset_counters().ok();
    let v = round_trips(gate, 0, n);
    let k = machine.counters().unwrap_or_default();
    print_milli(&alloc::format!("ipc_roundtrip_{name}"), v);
    // `round_trips` makes 16 warm-up calls before the measured ones.
    events(&k, n + 16, name);
}

/// Prints the kernel events `k` per round trip of `rounds` (if the kernel counts them).
fn events(k: &[u64; COUNTER_WORDS], rounds: u64, name: &str) {
    if k[0] > 0 {
        let per = |x: u64| x * 1000 / rounds;
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

    // One same-core pair per CPU at once, after the same code with one pair.
    let par_n = if quick { PAR_QUICK } else { PAR_N };
    let pairs = bi.cpus.min(MAX_PAIRS as u64);
    parallel(bi, 1, par_n);
    parallel(bi, pairs, par_n);
    println!("bench: done");
    0
}

/// What the parallel pairs share (their clients are threads of this task).
struct Parallel {
    /// Pairs in this run.
    pairs: AtomicU64,
    /// Round trips per pair.
    n: AtomicU64,
    /// Each pair's gate (to its server).
    gates: [AtomicU64; MAX_PAIRS],
    /// Clients of pairs 1.. warmed up and waiting for `go`.
    ready: AtomicU64,
    /// Set by pair 0's client (the coordinator) when the measured interval starts.
    go: AtomicBool,
    /// Pairs that made all their round trips.
    done: AtomicU64,
    /// The coordinator's gate, through which the last other client to finish wakes it.
    finish: AtomicU64,
    /// Instructions (all CPUs) from each client's start to its last round trip, both
    /// counter reads on its own CPU.
    spans: [AtomicU64; MAX_PAIRS],
}

static PAR: Parallel = Parallel {
    pairs: AtomicU64::new(0),
    n: AtomicU64::new(0),
    gates: [const { AtomicU64::new(0) }; MAX_PAIRS],
    ready: AtomicU64::new(0),
    go: AtomicBool::new(false),
    done: AtomicU64::new(0),
    finish: AtomicU64::new(0),
    spans: [const { AtomicU64::new(0) }; MAX_PAIRS],
};

/// The row `samecore_parallel<pairs>`: pair `i` is a `benchsrv` task and a client thread,
/// both on CPU `i` (pair 0's client is this thread, the coordinator). Every client makes 16
/// warm-up calls and waits at a start barrier; the coordinator resets the kernel's counters
/// and reads the instruction counter when all are there, releases them, and reads it again
/// when the last pair has made its `n` round trips (at once if that pair is its own, else
/// after that pair's client woke it by IPC; a pair done early blocks, its CPU idles). Both
/// reads are made on CPU 0: AArch64's counters of two CPUs differ by a constant.
/// Prints the instructions of all CPUs over that interval divided by the round trips of
/// all pairs, the kernel events per round trip, and (a plain line) how much of the
/// interval each pair's own round trips spanned: near all of it when they overlapped.
fn parallel(bi: &BootInfo, pairs: u64, n: u64) {
    let name = alloc::format!("samecore_parallel{pairs}");
    let f = Factory::at(std_slots::FACTORY);
    let me = Thread::at(std_slots::THREAD);
    PAR.pairs.store(pairs, Ordering::Relaxed);
    PAR.n.store(n, Ordering::Relaxed);
    PAR.ready.store(0, Ordering::Relaxed);
    PAR.go.store(false, Ordering::Relaxed);
    PAR.done.store(0, Ordering::Relaxed);
    let finish = f.create_gate(SLOTS.alloc(), Some(me), 2).expect("finish gate");
    PAR.finish.store(finish.sel(), Ordering::Relaxed);

    // The servers: started here (their pages faulted in by a few calls from CPU 0, where
    // their pager runs), then moved to their CPUs. The clients of pairs 1.. are root
    // threads (their stacks mapped before they start: no faults).
    let mut servers = alloc::vec::Vec::new();
    for i in 0..pairs {
        let (srv, gate) = server(bi, 0, 0);
        round_trips(gate, 0, 1);
        srv.thread.set_affinity(i).expect("server affinity");
        PAR.gates[i as usize].store(gate.sel(), Ordering::Relaxed);
        servers.push(srv);
    }
    let mut clients = alloc::vec::Vec::new();
    for i in 1..pairs {
        let c = rootthread::create(par_client, i, PRIO).expect("client");
        c.thread.set_affinity(i).expect("client affinity");
        c.thread.start().expect("client start");
        clients.push(c);
    }

    let machine = Machine::at(std_slots::MACHINE);
    let (t0, last, end) = pair_round_trips(0);
    let t1 = if last {
        end
    } else {
        // Woken by the last client to finish (CPU 0 idles meanwhile).
        let _ = ipc::recv(finish.any(), Timeouts::NEVER);
        cycles()
    };
    let k = machine.counters().unwrap_or_default();
    let total = t1 - t0;
    print_milli(&alloc::format!("ipc_roundtrip_{name}"), total * 1000 / (pairs * n));
    events(&k, pairs * n, &name);
    let mut spans = alloc::string::String::new();
    for s in &PAR.spans[..pairs as usize] {
        spans += &alloc::format!(" {}", s.load(Ordering::Relaxed));
    }
    println!(
        "bench: {name}: {total} instructions from the start to the last pair's end; each pair's own:{spans}"
    );

    for c in clients {
        let _ = c.thread.suspend();
    }
    for s in &servers {
        let _ = pecan_system::spawn::destroy(s);
    }
    let _ = finish.any().destroy();
}

/// The client of parallel pair `i` (> 0): its round trips, then, if it is the last pair to
/// finish, a message that wakes the coordinator; then it waits forever.
extern "C" fn par_client(i: u64) -> ! {
    let (_, last, _) = pair_round_trips(i);
    if last {
        let finish = Gate::at(PAR.finish.load(Ordering::Relaxed));
        let _ = ipc::send(finish, &Msg::new(0), Timeouts::NEVER);
    }
    loop {
        let _ = ipc::wait(Timeouts::NEVER);
    }
}

/// Pair `i`'s client part: 16 warm-up calls, the start barrier, `n` 0-word calls (the
/// loop of `round_trips`). Returns the counter at its start (for pair 0: the start of the
/// interval), whether it was the last pair to finish, and the counter at its end.
#[inline(never)]
fn pair_round_trips(i: u64) -> (u64, bool, u64) {
    let gate = PAR.gates[i as usize].load(Ordering::Relaxed);
    let n = PAR.n.load(Ordering::Relaxed);
    let pairs = PAR.pairs.load(Ordering::Relaxed);
    let control = Control::new(Sys::Call, Timeout::NEVER, Timeout::NEVER).0;
    let tag = MsgTag::new(0, 0, 0).0;
    let mut r = Regs::default();
    for _ in 0..16 {
        r.r0 = control;
        r.r1 = gate;
        r.r2 = tag;
        syscall(&mut r);
    }
    let t0 = if i == 0 {
        // Before the interval: sleep, so that what else runs on CPU 0 can.
        while PAR.ready.load(Ordering::Acquire) < pairs - 1 {
            ipc::sleep(Duration::from_millis(1));
        }
        Machine::at(std_slots::MACHINE).reset_counters().ok();
        let t0 = cycles();
        PAR.go.store(true, Ordering::Release);
        t0
    } else {
        PAR.ready.fetch_add(1, Ordering::AcqRel);
        while !PAR.go.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
        cycles()
    };
    for _ in 0..n {
        r.r0 = control;
        r.r1 = gate;
        r.r2 = tag;
        syscall(&mut r);
    }
    let t1 = cycles();
    PAR.spans[i as usize].store(t1 - t0, Ordering::Relaxed);
    let last = PAR.done.fetch_add(1, Ordering::AcqRel) + 1 == pairs;
    (t0, last, t1)
}
