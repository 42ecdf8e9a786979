//! IPC operations: send, call, reply, reply-and-wait, open and closed wait, sleep.
//!
//! After every IPC the library stores the status and the gate label in the UTCB's thread
//! control registers `TCR_ERROR` and `TCR_LABEL`, as `docs/abi.md` promises.

use core::time::Duration;
use pecan_abi::utcb::{TCR_ERROR, TCR_LABEL};
use pecan_abi::{Control, Error, Phase, Status, Sys, Timeout};

use crate::arch::{Regs, syscall};
use crate::cap::{AnyCap, CapSel, Gate};
use crate::msg::{Msg, Received};
use crate::utcb;

/// An IPC error: what went wrong and in which phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpcError {
    /// The error.
    pub error: Error,
    /// The phase it happened in.
    pub phase: Phase,
}

/// Timeouts of the send and receive phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Send phase.
    pub send: Timeout,
    /// Receive phase.
    pub recv: Timeout,
}

impl Timeouts {
    /// Block as long as it takes.
    pub const NEVER: Timeouts = Timeouts { send: Timeout::NEVER, recv: Timeout::NEVER };
    /// Never block.
    pub const POLL: Timeouts = Timeouts { send: Timeout::ZERO, recv: Timeout::ZERO };

    /// The same relative timeout for both phases.
    pub fn both(d: Duration) -> Self {
        let t = Timeout::from_duration(d);
        Timeouts { send: t, recv: t }
    }

    /// A send timeout and a receive timeout.
    pub fn new(send: Option<Duration>, recv: Option<Duration>) -> Self {
        let f = |d: Option<Duration>| d.map_or(Timeout::NEVER, Timeout::from_duration);
        Timeouts { send: f(send), recv: f(recv) }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::NEVER
    }
}

/// One raw IPC: `sys` on `cap` with `msg` (or nothing), returning the registers.
fn ipc(sys: Sys, cap: CapSel, msg: Option<&Msg>, t: Timeouts) -> Result<Regs, IpcError> {
    let mut r = Regs { r0: Control::new(sys, t.send, t.recv).0, r1: cap.0, ..Regs::default() };
    if let Some(m) = msg {
        m.load(&mut r);
    }
    syscall(&mut r);
    utcb::set_tcr(TCR_ERROR, r.r0);
    utcb::set_tcr(TCR_LABEL, r.r1);
    match Status(r.r0).result() {
        Ok(()) => Ok(r),
        Err((error, phase)) => Err(IpcError { error, phase }),
    }
}

/// Sends `msg` through `gate`.
pub fn send(gate: Gate, msg: &Msg, t: Timeouts) -> Result<(), IpcError> {
    ipc(Sys::Send, gate.0, Some(msg), t).map(|_| ())
}

/// Sends `msg` through `gate` and waits for the reply.
pub fn call(gate: Gate, msg: &Msg, t: Timeouts) -> Result<Received, IpcError> {
    ipc(Sys::Call, gate.0, Some(msg), t).map(|r| Received::from_regs(&r))
}

/// Replies to the last caller (never blocks).
pub fn reply(msg: &Msg) -> Result<(), IpcError> {
    ipc(Sys::Reply, CapSel::NIL, Some(msg), Timeouts::NEVER).map(|_| ())
}

/// Replies to the last caller and waits for the next message from any of this thread's gates.
pub fn reply_wait(msg: &Msg, t: Timeouts) -> Result<Received, IpcError> {
    ipc(Sys::ReplyWait, CapSel::NIL, Some(msg), t).map(|r| Received::from_regs(&r))
}

/// Waits for a message from any gate bound to this thread (or an attached IRQ).
pub fn wait(t: Timeouts) -> Result<Received, IpcError> {
    ipc(Sys::Wait, CapSel::NIL, None, t).map(|r| Received::from_regs(&r))
}

/// Waits for a message from one gate, thread or IRQ.
pub fn recv(from: AnyCap, t: Timeouts) -> Result<Received, IpcError> {
    ipc(Sys::Recv, from.0, None, t).map(|r| Received::from_regs(&r))
}

/// Sleeps for `d` (a receive from the nil capability with a timeout).
pub fn sleep(d: Duration) {
    let t = Timeouts { send: Timeout::NEVER, recv: Timeout::from_duration(d) };
    let _ = ipc(Sys::Recv, CapSel::NIL, None, t);
}

/// Gives up the rest of the time slice.
pub fn yield_now() {
    let _ = ipc(Sys::Yield, CapSel::NIL, None, Timeouts::NEVER);
}

/// The null system call (does nothing; the floor of every benchmark).
#[inline(always)]
pub fn null() {
    let mut r = Regs { r0: Sys::Null as u64, ..Regs::default() };
    syscall(&mut r);
}

/// Accepts capabilities sent with map or grant items into `2^order` slots starting at
/// `slot` (buffer register BR1), for every following receive.
pub fn accept_caps(slot: u64, order: u8) {
    utcb::set_br(
        pecan_abi::utcb::BR_OBJ_WINDOW,
        pecan_abi::Fpage::object(slot, order, pecan_abi::CapRights::ALL).0,
    );
}

/// Accepts memory sent with map or grant items into `window` (buffer register BR0).
pub fn accept_memory(window: pecan_abi::Fpage) {
    utcb::set_br(pecan_abi::utcb::BR_MEM_WINDOW, window.0);
}

/// Accepts strings into the given buffers `(address, length)` (buffer registers BR2..).
pub fn accept_strings(buffers: &[(u64, u64)]) {
    use pecan_abi::utcb::{BR_STRING_COUNT, BR_STRINGS, MAX_STRING_BUFFERS};
    let n = buffers.len().min(MAX_STRING_BUFFERS);
    for (i, &(addr, len)) in buffers[..n].iter().enumerate() {
        let d = pecan_abi::StringDesc { addr, len, continued: false }.encode();
        utcb::set_br(BR_STRINGS + 2 * i, d[0]);
        utcb::set_br(BR_STRINGS + 2 * i + 1, d[1]);
    }
    utcb::set_br(BR_STRING_COUNT, n as u64);
}
