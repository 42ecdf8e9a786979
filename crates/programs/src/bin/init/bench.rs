//! The benchmarks (`init=bench`, run by `just bench` under `-icount shift=0`, where the
//! cycle counter advances once per guest instruction). Each prints `BENCH <name> <value>`:
//! guest instructions per operation, measured as 10,000 iterations between two counter
//! reads (the loop's own instructions included) divided by 10,000, like seL4's figures.
//!
//! `bench=quick` runs the short smoke version CI uses; `bench=smp` (`smp-quick`) the
//! cross-core rows instead (`bench_smp.rs`, with `-smp 2`).

use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::layout::{BootInfo, ROOT_PHYS_BASE};
use pecan_abi::{Control, MsgTag, Sys, Timeout};
use pecan_system::bootinfo::cmdline_get;
use pecan_system::rootthread;
use pecan_system::slots::SLOTS;
use pecan_system::spawn::{Child, Spec, spawn};
use pecan_user::arch::{Regs, cycles, syscall};
use pecan_user::thread::{stack_top_of, utcb_of};
use pecan_user::{Factory, Gate, Machine, Task, Thread, ipc, println};

const N: u64 = 10_000;
/// Priority of the measured threads: above everything else in the system.
pub(crate) const PRIO: u64 = 240;

pub(crate) fn print_milli(name: &str, milli: u64) {
    println!("BENCH {name} {}.{:03}", milli / 1000, milli % 1000);
}

/// Starts a `benchsrv` task replying with `words` words (or yielding, `mode` 1).
pub(crate) fn server(bi: &BootInfo, words: u64, mode: u64) -> (Child, Gate) {
    let m = bi.modules().iter().find(|m| m.name() == b"benchsrv").expect("benchsrv module");
    // SAFETY: the module is root memory mapped by the window, only read.
    let file =
        unsafe { core::slice::from_raw_parts((ROOT_PHYS_BASE + m.base) as *const u8, m.size as usize) };
    let spec = Spec {
        name: "benchsrv",
        file_pa: m.base,
        file,
        args: &[words, mode],
        prio: PRIO,
        caps: &[],
        quota: 64 * 1024,
        machine: false,
        share_text: true,
    };
    let c = spawn(&spec).expect("benchsrv");
    let g = Factory::at(std_slots::FACTORY).create_gate(SLOTS.alloc(), Some(c.thread), 1).expect("gate");
    (c, g)
}

/// Calls `gate` with `words` words `n` times; returns instructions per round trip (×1000).
/// Never inlined: every measurement runs the very same loop (inlined copies could differ in
/// register allocation, and so in instructions per iteration).
#[inline(never)]
pub(crate) fn round_trips(gate: Gate, words: usize, n: u64) -> u64 {
    let control = Control::new(Sys::Call, Timeout::NEVER, Timeout::NEVER).0;
    let tag = MsgTag::new(0, words, 0).0;
    let mut r = Regs::default();
    // Warm up (fault in stacks and UTCBs, settle the first switches).
    for _ in 0..16 {
        r.r0 = control;
        r.r1 = gate.sel();
        r.r2 = tag;
        syscall(&mut r);
    }
    let t0 = cycles();
    for _ in 0..n {
        r.r0 = control;
        r.r1 = gate.sel();
        r.r2 = tag;
        syscall(&mut r);
    }
    let t1 = cycles();
    (t1 - t0) * 1000 / n
}

/// The intra-address-space server: a root thread running the same loop as `benchsrv`.
pub(crate) extern "C" fn intra_server(words: u64) -> ! {
    let tag = MsgTag::new(0, words as usize, 0).0;
    let mut r = Regs { r0: Control::new(Sys::Wait, Timeout::NEVER, Timeout::NEVER).0, ..Regs::default() };
    syscall(&mut r);
    let rw = Control::new(Sys::ReplyWait, Timeout::NEVER, Timeout::NEVER).0;
    loop {
        r.r0 = rw;
        r.r1 = 0;
        r.r2 = tag;
        syscall(&mut r);
    }
}

/// A root thread that yields forever.
extern "C" fn yielder(_: u64) -> ! {
    let y = Control::new(Sys::Yield, Timeout::NEVER, Timeout::NEVER).0;
    loop {
        let mut r = Regs { r0: y, ..Regs::default() };
        syscall(&mut r);
    }
}

/// A thread that waits forever without touching its stack (many share one).
extern "C" fn idle_waiter(_: u64) -> ! {
    let w = Control::new(Sys::Wait, Timeout::NEVER, Timeout::NEVER).0;
    loop {
        let mut r = Regs { r0: w, ..Regs::default() };
        syscall(&mut r);
    }
}

/// A thread that sleeps for an hour at a time (a pending timeout).
extern "C" fn long_sleeper(_: u64) -> ! {
    let s = Control::new(Sys::Recv, Timeout::NEVER, Timeout::from_micros(3_600_000_000)).0;
    loop {
        let mut r = Regs { r0: s, ..Regs::default() };
        syscall(&mut r);
    }
}

/// Executes an FP/SIMD instruction: the calling thread owns the FP/SIMD state after it.
fn uses_fp() {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: copies d0 onto itself; the thread's FP/SIMD state is its own.
    unsafe {
        core::arch::asm!("fmov d0, d0", options(nostack, nomem, preserves_flags))
    };
    #[cfg(target_arch = "x86_64")]
    // SAFETY: copies xmm0 onto itself.
    unsafe {
        core::arch::asm!("movaps xmm0, xmm0", options(nostack, nomem, preserves_flags))
    };
}

/// Yields `n` times against another thread at the same priority; instructions per
/// switch (×1000).
#[inline(never)]
fn yields(n: u64) -> u64 {
    let y = Control::new(Sys::Yield, Timeout::NEVER, Timeout::NEVER).0;
    let mut r = Regs::default();
    for _ in 0..16 {
        r.r0 = y;
        syscall(&mut r);
    }
    let t0 = cycles();
    for _ in 0..n {
        r.r0 = y;
        syscall(&mut r);
    }
    let t1 = cycles();
    // Each iteration is two yields and two switches (to the other thread and back).
    (t1 - t0) * 1000 / (2 * n)
}

/// Starts `count` more threads in the root task running `entry`, sharing one stack page
/// (they only make system calls), at a low priority.
fn many_threads(count: u64, entry: extern "C" fn(u64) -> !, first_index: u64) -> u64 {
    let f = Factory::at(std_slots::FACTORY);
    let stack = rootthread::create(entry, 0, 2).expect("stack owner");
    stack.thread.start().ok();
    let sp = stack_top_of(stack.index);
    let mut made = 0;
    for i in 0..count {
        let index = first_index + i;
        let Ok(t) = f.create_thread(SLOTS.alloc(), Task::at(std_slots::TASK), utcb_of(index)) else { break };
        if t.set_regs(entry as *const () as u64, sp, 0).is_err()
            || t.set_priority(2, 0).is_err()
            || t.start().is_err()
        {
            break;
        }
        made += 1;
    }
    // Let them all reach their wait (they are of low priority: sleep so they run).
    ipc::sleep(Duration::from_millis(20));
    made + 1
}

/// Runs the benchmarks; returns the exit code.
pub fn run(bi: &BootInfo) -> u64 {
    let mode = cmdline_get(bi.cmdline(), "bench");
    if mode == Some(b"profile") || mode == Some(b"profile-threads") {
        // Only the inter-address-space round trip, for instruction profiles of the kernel
        // (QEMU -d exec): little else runs (with `profile-threads`, after 100 more threads).
        Thread::at(std_slots::THREAD).set_priority(PRIO, 0).expect("priority");
        let (_srv, gate) = server(bi, 0, 0);
        if mode == Some(b"profile-threads") {
            many_threads(100, idle_waiter, 1000);
        }
        print_milli("ipc_roundtrip_inter", round_trips(gate, 0, 1000));
        println!("bench: done");
        return 0;
    }
    if mode == Some(b"smp") || mode == Some(b"smp-quick") {
        return crate::bench_smp::run(bi, mode == Some(b"smp-quick"));
    }
    if let Some(m) = mode.filter(|m| m.starts_with(b"long")) {
        return crate::bench_long::run(bi, m);
    }
    let quick = mode == Some(b"quick");
    let n = if quick { 1000 } else { N };
    let me = Thread::at(std_slots::THREAD);
    me.set_priority(PRIO, 0).expect("priority");
    let machine = Machine::at(std_slots::MACHINE);

    // The floor: a null system call.
    let null = {
        let c = Control::new(Sys::Null, Timeout::NEVER, Timeout::NEVER).0;
        let mut r = Regs::default();
        let t0 = cycles();
        for _ in 0..n {
            r.r0 = c;
            syscall(&mut r);
        }
        (cycles() - t0) * 1000 / n
    };
    print_milli("null_syscall_roundtrip", null);

    // Address-space switch: yield ping-pong within one task and across two.
    let y = rootthread::start(yielder, 0, PRIO).expect("yielder");
    let intra_switch = yields(n);
    y.thread.suspend().ok();
    let (ych, _) = server(bi, 0, 1);
    // Let it fault its pages in (its pager runs below the measured priority).
    ipc::sleep(Duration::from_millis(20));
    let inter_switch = yields(n);
    ych.thread.suspend().ok();
    print_milli("yield_switch_intra", intra_switch);
    print_milli("yield_switch_inter", inter_switch);
    print_milli("as_switch", inter_switch.saturating_sub(intra_switch));

    // IPC round trips, 0 words: within one task and across two.
    let intra = rootthread::start(intra_server, 0, PRIO).expect("intra server");
    let intra_gate =
        Factory::at(std_slots::FACTORY).create_gate(SLOTS.alloc(), Some(intra.thread), 1).expect("gate");
    let rt_intra = round_trips(intra_gate, 0, n);
    let (srv, gate) = server(bi, 0, 0);
    machine.reset_counters().ok();
    let rt_inter = round_trips(gate, 0, n);
    let k = machine.counters().unwrap_or_default();
    print_milli("ipc_roundtrip_intra", rt_intra);
    print_milli("ipc_oneway_intra", rt_intra / 2);
    print_milli("ipc_roundtrip_inter", rt_inter);
    print_milli("ipc_oneway_inter", rt_inter / 2);
    // Kernel events per round trip, if the kernel counts them (its `counters` feature,
    // which `cargo xtask bench` turns on for a separate run: counting costs instructions).
    if k[0] > 0 {
        let per = |x: u64| x * 1000 / (n + 16);
        print_milli("tlb_flushes_per_roundtrip_inter", per(k[6]));
        print_milli("as_switches_per_roundtrip_inter", per(k[5]));
        print_milli("syscalls_per_roundtrip_inter", per(k[0]));
        print_milli("exceptions_per_roundtrip_inter", per(k[12]));
        print_milli("fastpath_per_roundtrip_inter", per(k[11]));
    }
    let floor = null + inter_switch.saturating_sub(intra_switch);
    if let Some(ratio) = (rt_inter / 2 * 1000).checked_div(floor) {
        print_milli("oneway_to_floor_ratio", ratio);
    }

    // Message length: registers, then the UTCB.
    let lengths: &[u64] = if quick { &[0, 8, 16] } else { &[0, 1, 2, 4, 8, 9, 16, 32, 63] };
    for &w in lengths {
        let (c, g) = server(bi, w, 0);
        let v = round_trips(g, w as usize, n);
        print_milli(&alloc::format!("ipc_roundtrip_inter_words_{w}"), v);
        print_milli(&alloc::format!("ipc_roundtrip_intra_words_{w}"), round_trips(intra_gate, w as usize, n));
        let _ = pecan_system::spawn::destroy(&c);
    }

    // Scaling: the same 0-word round trip with more threads alive, then with pending timeouts.
    // From here on init owns the FP/SIMD registers (spawning copies with them; made
    // certain here), so each switch to or from it changes the FP trap (CPACR_EL1 on
    // AArch64): the baseline is measured in that state too.
    uses_fp();
    let base = round_trips(gate, 0, n);
    print_milli("ipc_roundtrip_inter_caller_owns_fp", base);
    print_milli("scaling_threads_2_ipc_roundtrip_inter", base);
    if !quick {
        let steps: &[(u64, u64)] = &[(100, 2), (1_000, 100), (10_000, 1_000)];
        let mut index = 1000;
        for &(total, before) in steps {
            let made = many_threads(total - before, idle_waiter, index);
            index += made;
            print_milli(
                &alloc::format!("scaling_threads_{total}_ipc_roundtrip_inter"),
                round_trips(gate, 0, n),
            );
        }
        let made = many_threads(10_000, long_sleeper, index);
        println!("bench: {made} threads sleeping with pending timeouts");
        print_milli("scaling_timeouts_10000_ipc_roundtrip_inter", round_trips(gate, 0, n));
    }
    let _ = srv;
    println!("bench: done");
    0
}
