//! The long-IPC benchmark (`init=bench bench=long`, issue 6; seed 001's "486 IPC costs"
//! redone): the inter-address-space round trip (call + 0-word reply) against message
//! length, for untyped words in registers (up to `REG_MRS` words), untyped words through
//! the UTCB (up to 63), and one string item of 0 B .. 64 KiB copied by whatever mechanism
//! the kernel is built with (temporary mapping by default; copy-in/copy-out with
//! `long-ipc-copy`: `cargo xtask bench` builds both). Prints `BENCH <name> <value>` in
//! guest instructions per round trip, and the kernel's TLB flushes and page-table writes
//! per round trip when the kernel counts events.

use core::cell::UnsafeCell;
use pecan_abi::caps::std_slots;
use pecan_abi::layout::BootInfo;
use pecan_abi::{Control, MsgTag, REG_MRS, StringDesc, Sys, Timeout};
use pecan_user::arch::{Regs, cycles, syscall};
use pecan_user::{Gate, Machine, Thread, println, utcb};

use crate::bench::{PRIO, print_milli, round_trips, server};

/// String lengths of the sweep (bytes).
pub const STRING_LENGTHS: [u64; 9] = [0, 8, 64, 256, 1024, 4096, 16384, 32768, 65536];
/// Untyped-word counts of the sweep (8 bytes each; beyond `REG_MRS` through the UTCB).
pub const WORD_COUNTS: [u64; 5] = [0, 1, 8, 32, 63];

/// The sender's string (touched before measuring, so no page faults are counted).
#[repr(align(4096))]
struct Buf(UnsafeCell<[u8; 65536]>);

// SAFETY: only this thread writes it (once), the kernel reads it.
unsafe impl Sync for Buf {}

static SRC: Buf = Buf(UnsafeCell::new([0; 65536]));

/// Calls `gate` with one string item of `len` bytes `n` times; instructions per round
/// trip (×1000). Never inlined, like `round_trips`.
#[inline(never)]
fn string_round_trips(gate: Gate, len: u64, n: u64) -> u64 {
    let control = Control::new(Sys::Call, Timeout::NEVER, Timeout::NEVER).0;
    let tag = MsgTag::new(0, 0, 1).0;
    let [w0, w1] = StringDesc { addr: SRC.0.get() as u64, len, continued: false }.encode();
    let mut r = Regs::default();
    let set = |r: &mut Regs| {
        if REG_MRS >= 2 {
            r.mr[0] = w0;
            r.mr[1] = w1;
        } else {
            utcb::set_mr(0, w0);
            utcb::set_mr(1, w1);
        }
    };
    for _ in 0..4 {
        r.r0 = control;
        r.r1 = gate.sel();
        r.r2 = tag;
        set(&mut r);
        syscall(&mut r);
    }
    assert!(r.r0 & 0xff == 0, "string call failed: status {:#x}", r.r0);
    let t0 = cycles();
    for _ in 0..n {
        r.r0 = control;
        r.r1 = gate.sel();
        r.r2 = tag;
        set(&mut r);
        syscall(&mut r);
    }
    let t1 = cycles();
    (t1 - t0) * 1000 / n
}

/// Iterations for a string of `len` bytes (fewer for long ones: the figure is exact).
fn iterations(len: u64, quick: bool) -> u64 {
    let n = if len >= 16384 { 200 } else { 2000 };
    if quick { n / 10 } else { n }
}

/// Runs the sweep (`mode`: `long`, `long-quick` the smoke version, `long-profile` only
/// 0-byte strings, for instruction profiles of the kernel); returns init's exit status (0).
pub fn run(bi: &BootInfo, mode: &[u8]) -> u64 {
    let quick = mode == b"long-quick";
    Thread::at(std_slots::THREAD).set_priority(PRIO, 0).expect("priority");
    if mode == b"long-profile" {
        let (_c, g) = server(bi, 0, 2);
        print_milli("long_string_0_bytes_roundtrip_inter", string_round_trips(g, 0, 1000));
        println!("bench: done");
        return 0;
    }
    let machine = Machine::at(std_slots::MACHINE);
    let p = SRC.0.get() as *mut u8;
    for i in 0..65536 {
        // SAFETY: our static, written only here.
        unsafe { p.add(i).write_volatile(i as u8) };
    }
    // Untyped words (registers, then the UTCB).
    for w in WORD_COUNTS {
        let (c, g) = server(bi, w, 0);
        let n = if quick { 200 } else { 2000 };
        print_milli(
            &alloc::format!("long_words_{}_bytes_roundtrip_inter", w * 8),
            round_trips(g, w as usize, n),
        );
        let _ = pecan_system::spawn::destroy(&c);
    }
    // One string item, through the kernel's mechanism.
    let (c, g) = server(bi, 0, 2);
    let lengths: &[u64] = if quick { &[0, 4096, 65536] } else { &STRING_LENGTHS };
    for &len in lengths {
        let n = iterations(len, quick);
        machine.reset_counters().ok();
        let v = string_round_trips(g, len, n);
        let k = machine.counters().unwrap_or_default();
        print_milli(&alloc::format!("long_string_{len}_bytes_roundtrip_inter"), v);
        if k[0] > 0 {
            // Kernel events per round trip (the counters build of the same kernel).
            let per = |x: u64| x * 1000 / n;
            print_milli(&alloc::format!("long_string_{len}_bytes_tlb_flushes_per_roundtrip"), per(k[6]));
            print_milli(&alloc::format!("long_string_{len}_bytes_pte_writes_per_roundtrip"), per(k[7]));
        }
    }
    let _ = pecan_system::spawn::destroy(&c);
    println!("bench: done");
    0
}
