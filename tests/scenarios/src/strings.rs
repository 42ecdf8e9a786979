//! String items (long IPC) across address spaces, simple and compound; messages the receiver
//! has no room for (`MessageOverflow`); string items and buffers pointing into the kernel
//! half or unmapped memory (`BadAddress`) and overlong ones (`MalformedMessage`).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use pecan_abi::item::STRING_MAX;
use pecan_abi::layout::USER_TOP;
use pecan_abi::{Error, MemRights, MsgTag, Phase, StringDesc, Sys};
use pecan_system::frames::{FRAMES, window_fpage};
use pecan_system::worker;
use pecan_user::{Gate, Msg, Timeouts, ipc};

use crate::env::{Env, T, fail, raw, st, status};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("ipc-string-item", string_item),
    ("ipc-string-receiver-faults", string_receiver_faults),
    ("smp-string-across-cpus", string_across_cpus),
    ("ipc-message-overflow", message_overflow),
    ("bad-string-address", bad_string_address),
];

/// Page-aligned bytes shared with helpers of this task.
#[repr(align(4096))]
struct Buf(UnsafeCell<[u8; 12288]>);

// SAFETY: the scenario thread writes `SRC` before any helper runs; `DST` is written by the
// kernel on behalf of the helper and read by the scenario thread after the helper reported.
unsafe impl Sync for Buf {}

static SRC: Buf = Buf(UnsafeCell::new([0; 12288]));
static DST: Buf = Buf(UnsafeCell::new([0; 12288]));

/// The source bytes, filled with a pattern; their address.
fn src() -> u64 {
    let p = SRC.0.get() as *mut u8;
    for i in 0..12288 {
        // SAFETY: our static, written only here by the scenario thread.
        unsafe { p.add(i).write_volatile((i * 7 % 251) as u8) };
    }
    p as u64
}

/// The sum of the pattern bytes `from..from + len`.
fn sum(from: u64, len: u64) -> u64 {
    (from..from + len).map(|i| i * 7 % 251).sum()
}

/// Sends a message with one raw item `[w0, w1]` through `g`; returns the status.
fn send_raw_item(g: Gate, w0: u64, w1: u64) -> u64 {
    let control = pecan_abi::Control::new(Sys::Send, pecan_abi::Timeout::NEVER, pecan_abi::Timeout::NEVER).0;
    raw(control, g.sel(), MsgTag::new(1, 0, 1).0, &[w0, w1])
}

/// The `[status, length, sum, offset]` a `RECV_STRING` worker reports for `msg`, and the
/// status of the call that sent it.
fn to_string_worker(env: &Env<'_>, msg: &Msg) -> Result<(u64, [u64; 4]), Fail> {
    to_worker(env, msg, false)
}

/// [`to_string_worker`], with the worker's buffer untouched if `lazy` (its pages come by
/// page faults in the middle of the kernel's copy).
fn to_worker(env: &Env<'_>, msg: &Msg, lazy: bool) -> Result<(u64, [u64; 4]), Fail> {
    to_worker_on(env, msg, lazy, None)
}

/// [`to_worker`] with the worker's thread moved to CPU `cpu` first, if given.
fn to_worker_on(env: &Env<'_>, msg: &Msg, lazy: bool, cpu: Option<u64>) -> Result<(u64, [u64; 4]), Fail> {
    let w = env.worker(&[worker::RECV_STRING, lazy as u64], &[], 120);
    if let Some(cpu) = cpu {
        w.child.thread.set_affinity(cpu).map_err(fail("set_affinity"))?;
    }
    let g = env.gate(w.child.thread, 1);
    let c = ipc::call(g, msg, T);
    let rep = env.report(&w, Duration::from_secs(2));
    env.release();
    env.kill(&w);
    let _ = g.any().destroy();
    let rep = rep.map_err(fail("report"))?;
    Ok((status(&c), [rep.word(0), rep.word(1), rep.word(2), rep.word(3)]))
}

fn string_item(env: &Env<'_>) -> Result<(), Fail> {
    let s = src();
    // 5000 bytes from an odd offset, across page boundaries.
    let (c, got) = to_string_worker(env, &Msg::new(1).string(s + 100, 5000, false))?;
    check!(c == 0 && got == [0, 5000, sum(100, 5000), 0], "simple: call {c:#x}, worker {got:?}");
    // A compound string gathered from two places.
    let m = Msg::new(1).string(s, 1000, true).string(s + 3000, 2000, false);
    let (c, got) = to_string_worker(env, &m)?;
    let want = sum(0, 1000) + sum(3000, 2000);
    check!(c == 0 && got == [0, 3000, want, 0], "compound: call {c:#x}, worker {got:?}");
    Ok(())
}

/// Long IPC: the receiver's buffer has no pages yet; each page fault of the copy goes to
/// the receiver's pager while the transfer waits, then the copy resumes.
fn string_receiver_faults(env: &Env<'_>) -> Result<(), Fail> {
    let s = src();
    let (c, got) = to_worker(env, &Msg::new(1).string(s + 8, 8000, false), true)?;
    check!(c == 0 && got == [0, 8000, sum(8, 8000), 0], "lazy buffer: call {c:#x}, worker {got:?}");
    Ok(())
}

/// Long IPC with the receiver on another CPU than the sender and the receiver's pager (the
/// last CPU; on one CPU all on CPU 0): the copy, then a receiver whose buffer pages come by
/// page faults in the middle of the copy, each resolved by the pager on this CPU while the
/// transfer waits.
fn string_across_cpus(env: &Env<'_>) -> Result<(), Fail> {
    let s = src();
    let far = env.bi.cpus.max(1) - 1;
    env.me().set_affinity(0).map_err(fail("set_affinity(0)"))?;
    for lazy in [false, true] {
        let m = Msg::new(1).string(s + 8, 5000, true).string(s + 9000, 3000, false);
        let (c, got) = to_worker_on(env, &m, lazy, Some(far))?;
        let want = sum(8, 5000) + sum(9000, 3000);
        check!(c == 0 && got == [0, 8000, want, 0], "lazy {lazy}: call {c:#x}, worker {got:?}");
    }
    Ok(())
}

fn message_overflow(env: &Env<'_>) -> Result<(), Fail> {
    let s = src();
    let overflow = (st(Error::MessageOverflow, Phase::Send), st(Error::MessageOverflow, Phase::Receive));
    // A receiver without a memory receive window or string buffers.
    let w = env.worker(&[worker::RECV], &[], 120);
    let g = env.gate(w.child.thread, 1);
    let pa = FRAMES.alloc().ok_or("no frame")?;
    let r = (|| {
        let cases = [
            ("map item", Msg::new(1).map(window_fpage(pa, 12, MemRights::R))),
            ("string", Msg::new(1).string(s, 8, false)),
        ];
        for (what, m) in cases {
            let sent = status(&ipc::send(g, &m, Timeouts::NEVER));
            let rep = env.report(&w, Duration::from_secs(2)).map_err(fail("report"))?;
            env.release();
            check!((sent, rep.word(0)) == overflow, "{what}: sender {sent:#x}, receiver {:#x}", rep.word(0));
        }
        Ok(())
    })();
    env.kill(&w);
    let _ = g.any().destroy();
    FRAMES.free(pa);
    r?;
    // A string longer than the receiver's buffer.
    let (c, got) = to_string_worker(env, &Msg::new(1).string(s, worker::STRING_BUF + 1, false))?;
    check!((c, got[0]) == overflow, "long string: sender {c:#x}, receiver {:#x}", got[0]);
    Ok(())
}

/// A case of `bad_string_address`.
type Case = (&'static str, u64, [u64; 2], (u64, u64));

/// Where the string helper's buffer is (changed between cases).
static BUFFER_AT: AtomicU64 = AtomicU64::new(0);

fn bad_string_address(env: &Env<'_>) -> Result<(), Fail> {
    let s = src();
    let dst = DST.0.get() as u64;
    let back = env.gate(env.me(), 0xbac);
    let h = env.helper(100, move || {
        loop {
            ipc::accept_strings(&[(BUFFER_AT.load(Ordering::SeqCst), 4096)]);
            let r = ipc::wait(Timeouts::NEVER);
            let _ = ipc::send(back, &Msg::new(0).word(status(&r)), Timeouts::NEVER);
        }
    });
    let g = env.gate(h.thread, 1);
    let bad = (st(Error::BadAddress, Phase::Send), st(Error::BadAddress, Phase::Receive));
    let malformed = (st(Error::MalformedMessage, Phase::Send), st(Error::MalformedMessage, Phase::Receive));
    let item = |addr: u64, len: u64| StringDesc { addr, len, continued: false }.encode();
    // (what, the receiver's buffer, the item, (sender's, receiver's status)).
    let cases: [Case; 8] = [
        ("source in the kernel half", dst, item(0xffff_8000_0000_0000, 8), bad),
        ("source unmapped", dst, item(0x1000_0000_0000, 8), bad),
        ("source running into the kernel half", dst, item(USER_TOP - 4, 8), bad),
        ("source wrapping around", dst, item(u64::MAX - 2, 8), bad),
        ("buffer in the kernel half", 0xffff_8000_0000_0000, item(s, 8), bad),
        ("buffer unmapped", 0x1000_0000_0000, item(s, 8), bad),
        ("longer than any string", dst, [3 | (STRING_MAX + 1) << 16, s], malformed),
        ("good", dst, item(s + 1, 300), (0, 0)),
    ];
    let r = (|| {
        for (what, buffer, [w0, w1], want) in cases {
            BUFFER_AT.store(buffer, Ordering::SeqCst);
            let sent = send_raw_item(g, w0, w1);
            let got = ipc::recv(back.any(), T).map_err(fail("receiver silent"))?.word(0);
            check!((sent, got) == want, "{what}: sender {sent:#x}, receiver {got:#x}, expected {want:#x?}");
        }
        // SAFETY: the helper reported; the kernel wrote the good string into `DST`.
        let landed: u64 = (0..300).map(|i| unsafe { ((dst + i) as *const u8).read_volatile() } as u64).sum();
        check!(landed == sum(1, 300), "the good string arrived as {landed}, not {}", sum(1, 300));
        Ok(())
    })();
    let _ = h.thread.any().destroy();
    let _ = g.any().destroy();
    let _ = back.any().destroy();
    r
}
