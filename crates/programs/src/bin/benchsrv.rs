//! The benchmark server: answers every call with the same number of words, as fast as the
//! raw system-call interface allows (`args[0]` words in every reply). Started by
//! `init=bench` in its own address space; it waits on the gate `init` binds to it. With
//! `args[1] = 1` it yields in a loop instead (the address-space-switch benchmark); with
//! `args[1] = 2` it offers a 64 KiB string buffer (touched first) to every call (the
//! long-IPC benchmark, `init/bench_long.rs`).
#![no_std]
#![no_main]

use pecan_abi::{Control, MsgTag, Sys, Timeout};
use pecan_user::arch::{Regs, syscall};

pecan_user::entry!(main);

/// The string buffer of mode 2.
#[repr(align(4096))]
struct Buf(core::cell::UnsafeCell<[u8; 65536]>);

// SAFETY: only the kernel writes it (on our behalf), and this single thread.
unsafe impl Sync for Buf {}

static STRING: Buf = Buf(core::cell::UnsafeCell::new([0; 65536]));

fn main(info: u64) -> ! {
    let si = pecan_system::bootinfo::start_info(info);
    let words = si.map_or(0, |si| si.args[0]) as usize;
    if si.is_some_and(|si| si.args[1] == 1) {
        let y = Control::new(Sys::Yield, Timeout::NEVER, Timeout::NEVER).0;
        loop {
            let mut r = Regs { r0: y, ..Regs::default() };
            syscall(&mut r);
        }
    }
    if si.is_some_and(|si| si.args[1] == 2) {
        let base = STRING.0.get() as u64;
        for off in (0..65536).step_by(4096) {
            // SAFETY: our buffer; touching it makes the pager map its pages now.
            unsafe { ((base + off) as *mut u8).write_volatile(0) };
        }
        // The buffer registers stay set across every wait.
        pecan_user::ipc::accept_strings(&[(base, 65536)]);
    }
    let wait = Control::new(Sys::Wait, Timeout::NEVER, Timeout::NEVER).0;
    let reply_wait = Control::new(Sys::ReplyWait, Timeout::NEVER, Timeout::NEVER).0;
    let tag = MsgTag::new(0, words, 0).0;
    let mut r = Regs { r0: wait, ..Regs::default() };
    syscall(&mut r);
    loop {
        r.r0 = reply_wait;
        r.r1 = 0;
        r.r2 = tag;
        syscall(&mut r);
    }
}
