//! Bad system calls and messages from user space, each answered by its defined error:
//! undefined system-call numbers, reserved control-word bits and timeout encodings,
//! malformed and overlong tags, malformed typed items and flexpages, kernel-half addresses
//! as UTCBs and flexpages.

use core::time::Duration;
use pecan_abi::layout::USER_TOP;
use pecan_abi::{CapRights, Control, Error, Fpage, MemRights, MsgTag, Phase, Status, Sys, Timeout};
use pecan_system::frames::{FRAMES, window_fpage};
use pecan_system::slots::SLOTS;
use pecan_system::worker;
use pecan_user::{Gate, Task};

use crate::env::{Env, Worker, code, fail, raw, st};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("bad-undefined-syscall", undefined_syscall),
    ("bad-reserved-control-bits", reserved_control_bits),
    ("bad-malformed-tag", malformed_tag),
    ("bad-overlong-message", overlong_message),
    ("bad-malformed-item", malformed_item),
    ("bad-malformed-flexpage", malformed_flexpage),
    ("bad-kernel-half-utcb", kernel_half_utcb),
    ("bad-kernel-half-flexpage", kernel_half_flexpage),
];

fn ctl(sys: Sys) -> u64 {
    Control::new(sys, Timeout::ZERO, Timeout::ZERO).0
}

/// A gate bound to a thread that never waits, so a send that got through would time out.
fn idle_gate(env: &Env<'_>) -> (pecan_system::rootthread::RootThread, Gate) {
    let t = env.helper(100, || {});
    let g = env.gate(t.thread, 1);
    (t, g)
}

fn undefined_syscall(env: &Env<'_>) -> Result<(), Fail> {
    let (t, g) = idle_gate(env);
    let bad = (9..=255u64)
        .find(|&n| raw(n, g.sel(), MsgTag::new(1, 0, 0).0, &[]) != st(Error::UnknownSyscall, Phase::Send));
    // Null with garbage in every other register is fine.
    let null = raw(Sys::Null as u64 | 0x1234_5678 << 16, u64::MAX, u64::MAX, &[u64::MAX; 8]);
    let _ = t.thread.any().destroy();
    let _ = g.any().destroy();
    check!(bad.is_none(), "system call {bad:?} was not refused as undefined");
    check!(null == Status::OK.0, "null system call: {null:#x}");
    Ok(())
}

fn reserved_control_bits(env: &Env<'_>) -> Result<(), Fail> {
    let (t, g) = idle_gate(env);
    let inval = st(Error::InvalidArgument, Phase::Send);
    let r = (|| {
        for bit in (8..16).chain(48..64) {
            for sys in [Sys::Null, Sys::Send, Sys::Yield] {
                let s = raw(ctl(sys) | 1 << bit, g.sel(), MsgTag::new(1, 0, 0).0, &[]);
                check!(s == inval, "{sys:?} with bit {bit}: {s:#x}");
            }
        }
        // Reserved timeout encodings, on the phase that reads them.
        for bad in [0x8000u16, 0x8001, 0xc000, 0xfffe] {
            let b = Timeout::from_raw(bad);
            let z = Timeout::ZERO;
            for (sys, snd, rcv, cap, phase) in [
                (Sys::Send, b, z, g.sel(), Phase::Send),
                (Sys::Call, b, z, g.sel(), Phase::Send),
                (Sys::Call, z, b, g.sel(), Phase::Send),
                (Sys::ReplyWait, z, b, 0, Phase::Send),
                (Sys::Wait, z, b, 0, Phase::Receive),
                (Sys::Recv, z, b, 0, Phase::Receive),
            ] {
                let s = raw(Control::new(sys, snd, rcv).0, cap, MsgTag::new(1, 0, 0).0, &[]);
                let want = st(Error::InvalidArgument, phase);
                check!(s == want, "{sys:?} with timeout {bad:#x}: {s:#x}, expected {want:#x}");
            }
        }
        Ok(())
    })();
    let _ = t.thread.any().destroy();
    let _ = g.any().destroy();
    r
}

/// Every message-carrying operation with `tag` must give `MalformedMessage`.
fn refused_everywhere(g: Gate, tag: u64, what: &str) -> Result<(), Fail> {
    let want = st(Error::MalformedMessage, Phase::Send);
    for sys in [Sys::Send, Sys::Call, Sys::Reply, Sys::ReplyWait, Sys::Invoke] {
        let s = raw(ctl(sys), g.sel(), tag, &[]);
        check!(s == want, "{what}, {sys:?}: {s:#x}");
    }
    Ok(())
}

fn malformed_tag(env: &Env<'_>) -> Result<(), Fail> {
    let (t, g) = idle_gate(env);
    let r = (|| {
        // Flags 13..15 are reserved (12 is the kernel's CROSS_CPU, ignored on send).
        for flag in [0b0010u8, 0b0100, 0b1000, 0b1110] {
            refused_everywhere(
                g,
                MsgTag::new(1, 1, 0).with_flags(flag).0,
                &alloc::format!("flags {flag:#b}"),
            )?;
        }
        let s = raw(ctl(Sys::Send), g.sel(), MsgTag::new(1, 1, 0).with_flags(1).0, &[]);
        check!(s == st(Error::Timeout, Phase::Send), "CROSS_CPU set by a sender: {s:#x}");
        Ok(())
    })();
    let _ = t.thread.any().destroy();
    let _ = g.any().destroy();
    r
}

fn overlong_message(env: &Env<'_>) -> Result<(), Fail> {
    let (t, g) = idle_gate(env);
    let r = (|| {
        for (words, items) in [(65, 0), (127, 0), (64, 1), (63, 1), (3, 31), (40, 13)] {
            refused_everywhere(
                g,
                MsgTag::new(1, words, items).0,
                &alloc::format!("{words} words + {items} items"),
            )?;
        }
        // Exactly 64 words (also as 2 words + 31 items) is fine: the receiver is not
        // waiting, so the send times out.
        for (words, items) in [(64, 0), (2, 31)] {
            let s = raw(ctl(Sys::Send), g.sel(), MsgTag::new(1, words, items).0, &[]);
            check!(s == st(Error::Timeout, Phase::Send), "{words} words + {items} items: {s:#x}");
        }
        Ok(())
    })();
    let _ = t.thread.any().destroy();
    let _ = g.any().destroy();
    r
}

/// Sends one raw item to a `RECV` worker; returns the sender's and the receiver's status.
fn item_to(env: &Env<'_>, w: &Worker, g: Gate, item: [u64; 2]) -> Result<(u64, u64), Fail> {
    let control = Control::new(Sys::Send, Timeout::NEVER, Timeout::NEVER).0;
    let sent = raw(control, g.sel(), MsgTag::new(1, 1, 1).0, &[5, item[0], item[1]]);
    let rep = env.report(w, Duration::from_secs(2)).map_err(fail("receiver's report"))?;
    env.release();
    Ok((sent, rep.word(0)))
}

/// Sends each item to a `RECV` worker, which must get the same error as the sender.
fn items_refused(env: &Env<'_>, items: &[([u64; 2], Error)]) -> Result<(), Fail> {
    let w = env.worker(&[worker::RECV], &[], 120);
    let g = env.gate(w.child.thread, 1);
    let r = (|| {
        for &(item, e) in items {
            let got = item_to(env, &w, g, item)?;
            let want = (st(e, Phase::Send), st(e, Phase::Receive));
            check!(got == want, "item {item:#x?}: (sender, receiver) = {got:#x?}, expected {want:#x?}");
        }
        Ok(())
    })();
    env.kill(&w);
    let _ = g.any().destroy();
    r
}

fn malformed_item(env: &Env<'_>) -> Result<(), Fail> {
    let fp = Fpage::memory(0x1000, 12, MemRights::R).0;
    let m = Error::MalformedMessage;
    items_refused(
        env,
        &[
            ([0, 0], m), // type 0
            ([4, 0], m), // undefined types
            ([0xf, 0], m),
            ([1 | 0x10, fp], m),                // map item, reserved bits
            ([2 | 0x800, fp], m),               // grant item, reserved bits
            ([3 | 0x20, 0x1000], m),            // string item, reserved bits
            ([3 | (5 << 20) << 16, 0x1000], m), // string longer than 4 MiB
        ],
    )
}

fn malformed_flexpage(env: &Env<'_>) -> Result<(), Fail> {
    let b = Error::BadFlexpage;
    let bad = [
        Fpage::memory(0x1000, 13, MemRights::R).0,     // misaligned
        Fpage::memory(0, 11, MemRights::R).0,          // order below a page
        Fpage::memory(0, 48, MemRights::R).0,          // order beyond user space
        Fpage::memory(0x1000, 12, MemRights::R).0 | 8, // reserved bit
        0x30 | (12 << 6),                              // kind 3
        Fpage::object(3, 1, CapRights::ALL).0,         // misaligned slots
        Fpage::object(0, 25, CapRights::ALL).0,        // too many slots
    ];
    // In map items.
    let items: alloc::vec::Vec<_> = bad.iter().map(|&f| ([1, f], b)).collect();
    items_refused(env, &items)?;
    // To task methods.
    let tk = env.factory().create_task(SLOTS.alloc(), 4).map_err(fail("create_task"))?;
    let r = (|| {
        for f in bad {
            check!(
                code(&tk.map(Fpage(f), 0)) == Some((b, Phase::Send)),
                "MAP of {f:#x}: {:?}",
                code(&tk.map(Fpage(f), 0))
            );
            check!(code(&tk.unmap(Fpage(f), false)) == Some((b, Phase::Send)), "UNMAP of {f:#x}");
            check!(code(&tk.lookup(Fpage(f))) == Some((b, Phase::Send)), "LOOKUP of {f:#x}");
        }
        // A destination not aligned to the flexpage.
        let two = Fpage::memory(pecan_abi::layout::ROOT_PHYS_BASE, 13, MemRights::R);
        check!(code(&tk.map(two, 0x1000)) == Some((b, Phase::Send)), "misaligned destination");
        Ok(())
    })();
    let _ = tk.any().destroy();
    env.free_slot(tk.sel());
    r
}

const KERNEL_HALF: [u64; 4] = [USER_TOP, 0xffff_8000_0000_0000, 0xffff_0000_0000_0000, 0xffff_ffff_ffff_f000];

fn kernel_half_utcb(env: &Env<'_>) -> Result<(), Fail> {
    let tk = env.factory().create_task(SLOTS.alloc(), 4).map_err(fail("create_task"))?;
    let s = SLOTS.alloc();
    let r = (|| {
        for va in KERNEL_HALF.into_iter().chain([0, 0x1000_0000_0800]) {
            let c = code(&env.factory().create_thread(s, tk, va));
            check!(c == Some((Error::InvalidArgument, Phase::Send)), "UTCB at {va:#x}: {c:?}");
        }
        // A UTCB where one is already (the root thread's own).
        let own = pecan_abi::layout::ROOT_UTCB;
        let c = code(&env.factory().create_thread(s, Task::at(pecan_abi::caps::std_slots::TASK), own));
        check!(c == Some((Error::SlotOccupied, Phase::Send)), "UTCB over another: {c:?}");
        Ok(())
    })();
    let _ = tk.any().destroy();
    env.free_slot(tk.sel());
    SLOTS.free(s);
    r
}

fn kernel_half_flexpage(env: &Env<'_>) -> Result<(), Fail> {
    let tk = env.factory().create_task(SLOTS.alloc(), 4).map_err(fail("create_task"))?;
    let pa = FRAMES.alloc().ok_or("no frame")?;
    let b = Some((Error::BadFlexpage, Phase::Send));
    let r = (|| {
        for va in KERNEL_HALF {
            let fp = Fpage::memory(va, 12, MemRights::RW);
            check!(code(&tk.map(fp, 0x1000)) == b, "MAP from {va:#x}");
            check!(code(&tk.map(window_fpage(pa, 12, MemRights::RW), va)) == b, "MAP to {va:#x}");
            check!(code(&tk.unmap(fp, false)) == b, "UNMAP of {va:#x}");
        }
        Ok(())
    })();
    let _ = tk.any().destroy();
    env.free_slot(tk.sel());
    FRAMES.free(pa);
    r?;
    // In map items.
    let items: alloc::vec::Vec<_> = KERNEL_HALF
        .iter()
        .map(|&va| ([1, Fpage::memory(va, 12, MemRights::RW).0], Error::BadFlexpage))
        .collect();
    items_refused(env, &items)
}
