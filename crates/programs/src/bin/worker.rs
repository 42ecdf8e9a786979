//! The test scenarios' worker: one command per task (`pecan_system::worker`), in its own
//! address space, paged by `init`.
#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::{Fpage, Item, MemRights, Status};
use pecan_system::worker::*;
use pecan_user::{Gate, IpcError, Msg, Received, Timeouts, ipc};

pecan_user::entry!(main);

fn report(words: &[u64]) -> Option<pecan_user::Received> {
    ipc::call(Gate::at(std_slots::PARENT), &Msg::new(0).words(words), Timeouts::NEVER).ok()
}

/// The status word of an IPC result (0: success).
fn status<T>(r: &Result<T, IpcError>) -> u64 {
    match r {
        Ok(_) => Status::OK.0,
        Err(e) => Status::error(e.error, e.phase).0,
    }
}

/// The `RECV_STRING` buffer (page aligned; its pages are touched before it is offered).
#[repr(align(4096))]
struct StringBuf(UnsafeCell<[u8; STRING_BUF as usize]>);

// SAFETY: only the worker's one thread touches it.
unsafe impl Sync for StringBuf {}

static STRING: StringBuf = StringBuf(UnsafeCell::new([0; STRING_BUF as usize]));

fn main(info: u64) -> ! {
    let si = pecan_system::bootinfo::start_info(info).expect("start info");
    let a = si.args;
    match a[0] {
        ECHO => pecan_user::server::serve(|req| {
            let mut m = Msg::new(req.label());
            for i in 0..req.len() {
                m.push(req.word(i) + 1);
            }
            m.push(req.gate_label);
            Some(m)
        }),
        CALL => {
            let (mut good, mut last) = (0, 0);
            for i in 0..a[1] {
                match ipc::call(Gate::at(TARGET_SLOT), &Msg::new(1).word(i), Timeouts::NEVER) {
                    Ok(r) if r.word(0) == i + 1 => good += 1,
                    Ok(_) => {}
                    Err(e) => last = e.error as u64,
                }
            }
            report(&[good, last]);
        }
        NULL_DEREF => {
            // SAFETY: deliberately faulting: nothing is mapped at 0.
            let v = unsafe { core::ptr::read_volatile(core::ptr::null::<u64>()) };
            report(&[v]);
        }
        ILLEGAL => illegal(),
        PRIVILEGED => privileged(),
        TOUCH => {
            let mut good = 0;
            for p in 0..a[2] {
                let at = (a[1] + p * 4096) as *mut u64;
                // SAFETY: the parent gave us this memory (or the pager backs it).
                unsafe {
                    at.write_volatile(p ^ 0x5a5a);
                    good += (at.read_volatile() == p ^ 0x5a5a) as u64;
                }
            }
            report(&[good]);
        }
        READ_TWICE => {
            // SAFETY: the parent mapped this address for us (or wants us to fault).
            let first = unsafe { (a[1] as *const u64).read_volatile() };
            report(&[first]);
            // SAFETY: as above; the parent may have unmapped it meanwhile (then we fault).
            let second = unsafe { (a[1] as *const u64).read_volatile() };
            report(&[second]);
        }
        FPU => {
            let ok = fpu_check(a[1], a[2]);
            report(&[ok as u64]);
        }
        SEND_PAGE => {
            let fp = Fpage::memory(a[1], 12, MemRights::RW);
            let m = if a[2] == 0 { Msg::new(2).map(fp) } else { Msg::new(2).grant(fp) };
            // SAFETY: touch the page first so it is mapped in our address space.
            unsafe { (a[1] as *mut u64).write_volatile(0xfeed_f00d) };
            let st = match ipc::call(Gate::at(TARGET_SLOT), &m, Timeouts::NEVER) {
                Ok(_) => 0,
                Err(e) => e.error as u64,
            };
            report(&[st]);
        }
        WAIT => loop {
            let _ = ipc::wait(Timeouts::NEVER);
        },
        RECV => loop {
            let r = ipc::wait(Timeouts::NEVER);
            let st = status(&r);
            let m = r.ok();
            let w = |f: fn(&Received) -> u64| m.as_ref().map_or(0, f);
            report(&[st, w(|m| m.label()), w(|m| m.gate_label), w(|m| m.len() as u64), w(|m| m.word(0))]);
            let _ = ipc::reply(&Msg::new(0).word(w(|m| m.word(0)) + 1));
        },
        RECV_PAGE => {
            let order = if a[2] == 0 { 12 } else { a[2] as u8 };
            ipc::accept_memory(Fpage::memory(a[1], order, MemRights::RW));
            let r = ipc::wait(Timeouts::NEVER);
            let _ = ipc::reply(&Msg::new(0));
            let (landed, got_order) = match r.as_ref().ok().and_then(|m| m.item(0)) {
                Some(Item::Map { fpage, .. } | Item::Grant { fpage, .. }) => {
                    (fpage.0 & !0xfff, (fpage.0 >> 6) & 0x3f)
                }
                _ => (0, 0),
            };
            // SAFETY: the page just arrived there (or the pager backs the address).
            let v = if landed != 0 { unsafe { (landed as *const u64).read_volatile() } } else { 0 };
            report(&[status(&r), landed, v, got_order]);
            // SAFETY: as above; the parent may have revoked it meanwhile (then we fault).
            let again = unsafe { (a[1] as *const u64).read_volatile() };
            report(&[again]);
        }
        RECV_CAP => {
            ipc::accept_caps(a[1], 0);
            let r = ipc::wait(Timeouts::NEVER);
            let _ = ipc::reply(&Msg::new(0));
            let slot = match r.as_ref().ok().and_then(|m| m.item(0)) {
                Some(Item::Map { fpage, .. } | Item::Grant { fpage, .. }) => fpage.0 >> 12,
                _ => 0,
            };
            let c = ipc::call(Gate::at(slot), &Msg::new(3).word(41), Timeouts::NEVER);
            let w0 = c.as_ref().map_or(0, |m| m.word(0));
            report(&[status(&r), slot, status(&c), w0]);
        }
        RECV_STRING => {
            let base = STRING.0.get() as u64;
            for off in (0..STRING_BUF).step_by(4096).filter(|_| a[1] == 0) {
                // SAFETY: our own buffer; touching it makes the pager map its pages.
                unsafe { ((base + off) as *mut u8).write_volatile(0) };
            }
            ipc::accept_strings(&[(base, STRING_BUF)]);
            let r = ipc::wait(Timeouts::NEVER);
            let _ = ipc::reply(&Msg::new(0));
            let (len, at) = match r.as_ref().ok().and_then(|m| m.item(0)) {
                Some(Item::String(d)) => (d.len.min(STRING_BUF), d.addr.wrapping_sub(base)),
                _ => (0, u64::MAX),
            };
            let mut sum = 0u64;
            for i in 0..len {
                // SAFETY: within our buffer, written by the kernel before the wait returned.
                sum += unsafe { ((base + i) as *const u8).read_volatile() } as u64;
            }
            report(&[status(&r), len, sum, at]);
        }
        DESTROY_SELF => {
            let me = if a[1] == 0 { std_slots::THREAD } else { std_slots::TASK };
            let r = pecan_user::AnyCap::at(me).destroy();
            report(&[status(&r)]);
        }
        SPIN => loop {
            // SAFETY: the parent shares this word with us.
            unsafe {
                let p = a[1] as *mut u64;
                p.write_volatile(p.read_volatile() + 1);
            }
        },
        _ => {}
    }
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}

#[cfg(target_arch = "x86_64")]
fn illegal() {
    // SAFETY: raises #UD; the kernel turns it into an exception message to our handler.
    unsafe { core::arch::asm!("ud2") }
}

#[cfg(target_arch = "aarch64")]
fn illegal() {
    // SAFETY: a permanently undefined encoding; the kernel turns it into an exception message.
    unsafe { core::arch::asm!("udf #0") }
}

#[cfg(target_arch = "x86_64")]
fn privileged() {
    // SAFETY: `hlt` at CPL 3 raises #GP; the kernel turns it into an exception message.
    unsafe { core::arch::asm!("hlt") }
}

#[cfg(target_arch = "aarch64")]
fn privileged() {
    // SAFETY: writing DAIF is trapped at EL0 (SCTLR_EL1.UMA = 0); the kernel reports it.
    unsafe { core::arch::asm!("msr daifset, #2") }
}

/// Puts `v` into vector registers, yields `n` times, and checks it is still there.
#[cfg(target_arch = "x86_64")]
fn fpu_check(v: u64, n: u64) -> bool {
    let mut ok = true;
    for _ in 0..n {
        let out: u64;
        // SAFETY: keeps `v` in xmm7 across the Yield system call (control word 8) and reads
        // it back; the kernel preserves vector registers across system calls and switches.
        unsafe {
            core::arch::asm!(
                "movq xmm7, {v}",
                "mov eax, 8",
                "xor edi, edi",
                "xor esi, esi",
                "syscall",
                "movq {o}, xmm7",
                v = in(reg) v, o = out(reg) out,
                out("rax") _, out("rdi") _, out("rsi") _, out("rdx") _, out("r8") _, out("r9") _,
                out("r10") _, out("r12") _, out("r13") _, out("r14") _, out("r15") _,
                out("rcx") _, out("r11") _, out("xmm7") _,
            );
        }
        ok &= out == v;
    }
    ok
}

/// Puts `v` into vector registers, yields `n` times, and checks it is still there.
#[cfg(target_arch = "aarch64")]
fn fpu_check(v: u64, n: u64) -> bool {
    let mut ok = true;
    for _ in 0..n {
        let out: u64;
        // SAFETY: keeps `v` in d31 across the yield system call and reads it back; the
        // kernel preserves FP/SIMD registers across system calls and switches.
        unsafe {
            core::arch::asm!(
                "fmov d31, {v}",
                "mov x0, #8", // Yield
                "mov x1, #0",
                "mov x2, #0",
                "svc #0",
                "fmov {o}, d31",
                v = in(reg) v, o = out(reg) out,
                out("x0") _, out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
                out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("v31") _,
            );
        }
        ok &= out == v;
    }
    ok
}
