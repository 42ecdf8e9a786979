//! The benchmark server: answers every call with the same number of words, as fast as the
//! raw system-call interface allows (`args[0]` words in every reply). Started by
//! `init=bench` in its own address space; it waits on the gate `init` binds to it. With
//! `args[1] = 1` it yields in a loop instead (the address-space-switch benchmark).
#![no_std]
#![no_main]

use pecan_abi::{Control, MsgTag, Sys, Timeout};
use pecan_user::arch::{Regs, syscall};

pecan_user::entry!(main);

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
