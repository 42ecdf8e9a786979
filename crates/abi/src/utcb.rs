//! The user-level thread control block: message, buffer and thread control registers.
//!
//! One UTCB per thread, 1 KiB at the start of a page the kernel maps at the thread's UTCB
//! address. Message registers are copied to the receiver; buffer registers describe what
//! the receiver accepts; thread control registers are private and never copied.

use crate::MR_COUNT;
use crate::timeout::Timeout;

/// Number of buffer registers.
pub const BR_COUNT: usize = 32;
/// Number of thread control registers.
pub const TCR_COUNT: usize = 32;

/// BR0: the memory receive window (a flexpage; nil accepts no memory mappings).
pub const BR_MEM_WINDOW: usize = 0;
/// BR1: the object receive window (an object flexpage; nil accepts no capabilities).
pub const BR_OBJ_WINDOW: usize = 1;
/// BR2: the number of string receive buffers that follow (0..=`MAX_STRING_BUFFERS`).
pub const BR_STRING_COUNT: usize = 2;
/// BR3..: string receive buffers, two registers each (a string descriptor).
pub const BR_STRINGS: usize = 3;
/// The largest number of string receive buffers.
pub const MAX_STRING_BUFFERS: usize = (BR_COUNT - BR_STRINGS) / 2;

/// TCR0: the status word of the last system call (kept by the user library).
pub const TCR_ERROR: usize = 0;
/// TCR1: the gate label of the last message received (kept by the user library).
pub const TCR_LABEL: usize = 1;
/// TCR2: the UTCB's own user address (written by the kernel when the thread is created; on
/// x86_64 the user library reads it FS-relative, since the thread's FS base is its UTCB).
pub const TCR_SELF: usize = 2;
/// TCR3: the thread's transfer timeouts for long IPC (`docs/long-ipc.md`), read by the
/// kernel when a transfer with string items starts: 0 (the initial value) means never on
/// both sides; otherwise [`xfer_timeouts`]' encoding.
pub const TCR_XFER_TIMEOUTS: usize = 3;
/// TCR8..: free for the thread's own use (thread-local words).
pub const TCR_USER: usize = 8;

/// The UTCB as user space sees it.
#[repr(C, align(1024))]
#[derive(Clone, Debug)]
pub struct Utcb {
    /// Message registers; words `0..REG_MRS` of a message travel in machine registers
    /// instead, so `mr[0..REG_MRS]` are scratch.
    pub mr: [u64; MR_COUNT],
    /// Buffer registers (receive windows and string buffers).
    pub br: [u64; BR_COUNT],
    /// Thread control registers.
    pub tcr: [u64; TCR_COUNT],
}

/// Word offsets of the three register files inside the UTCB.
pub mod offset {
    use super::*;
    /// First message register.
    pub const MR: usize = 0;
    /// First buffer register.
    pub const BR: usize = MR_COUNT;
    /// First thread control register.
    pub const TCR: usize = MR_COUNT + BR_COUNT;
    /// Words in a UTCB.
    pub const WORDS: usize = TCR + TCR_COUNT;
}

/// Bytes in a UTCB.
pub const UTCB_SIZE: usize = offset::WORDS * 8;

impl Default for Utcb {
    fn default() -> Self {
        Utcb { mr: [0; MR_COUNT], br: [0; BR_COUNT], tcr: [0; TCR_COUNT] }
    }
}

const _: () = assert!(core::mem::size_of::<Utcb>() == UTCB_SIZE);
const _: () = assert!(UTCB_SIZE == 1024);

/// The [`TCR_XFER_TIMEOUTS`] word: bit 32 set, the timeout the thread allows as a sender in
/// bits 15..0 and as a receiver in bits 31..16. A transfer may wait for pagers until the
/// earlier of the sender's send-side and the receiver's receive-side timeout, counted from
/// its start.
pub const fn xfer_timeouts(send: Timeout, recv: Timeout) -> u64 {
    1 << 32 | (recv.raw() as u64) << 16 | send.raw() as u64
}

/// Decodes a [`TCR_XFER_TIMEOUTS`] word: `(send side, receive side)`; both never for 0.
pub const fn decode_xfer_timeouts(w: u64) -> (Timeout, Timeout) {
    if w & 1 << 32 == 0 {
        return (Timeout::NEVER, Timeout::NEVER);
    }
    (Timeout::from_raw(w as u16), Timeout::from_raw((w >> 16) as u16))
}
