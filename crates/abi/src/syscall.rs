//! System-call numbers and the control word that carries them with the two timeouts.

use crate::error::Error;
use crate::timeout::Timeout;

/// System-call numbers (bits 7..0 of the control word).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sys {
    /// Does nothing and returns success: the floor of every benchmark.
    Null = 0,
    /// Send a message through a gate and return when it was delivered.
    Send = 1,
    /// Send through a gate, then wait for the reply from the thread that received it.
    Call = 2,
    /// Send a reply through the implicit reply capability, never blocking.
    Reply = 3,
    /// Open wait: receive a message from any gate bound to this thread.
    Wait = 4,
    /// Closed wait: receive only from the named gate or thread; the nil capability sleeps.
    Recv = 5,
    /// Reply through the reply capability, then open wait, in one system call.
    ReplyWait = 6,
    /// Invoke a method of a kernel object (factory, task, thread, gate, IRQ, ...).
    Invoke = 7,
    /// Give up the rest of the time slice.
    Yield = 8,
}

impl Sys {
    /// Decodes a system-call number.
    pub const fn from_u8(n: u8) -> Option<Sys> {
        Some(match n {
            0 => Sys::Null,
            1 => Sys::Send,
            2 => Sys::Call,
            3 => Sys::Reply,
            4 => Sys::Wait,
            5 => Sys::Recv,
            6 => Sys::ReplyWait,
            7 => Sys::Invoke,
            8 => Sys::Yield,
            _ => return None,
        })
    }

    /// Whether the operation has a send phase.
    pub const fn sends(self) -> bool {
        matches!(self, Sys::Send | Sys::Call | Sys::Reply | Sys::ReplyWait)
    }

    /// Whether the operation has a receive phase.
    pub const fn receives(self) -> bool {
        matches!(self, Sys::Call | Sys::Wait | Sys::Recv | Sys::ReplyWait)
    }
}

/// The control word of a system call: number in bits 7..0, send timeout in bits 31..16,
/// receive timeout in bits 47..32; bits 15..8 and 63..48 are reserved and must be zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Control(pub u64);

const RESERVED: u64 = 0xffff_0000_0000_ff00;

impl Control {
    /// Builds a control word.
    pub const fn new(sys: Sys, send: Timeout, recv: Timeout) -> Control {
        Control(sys as u64 | (send.raw() as u64) << 16 | (recv.raw() as u64) << 32)
    }

    /// The raw number (which may be undefined).
    pub const fn number(self) -> u8 {
        self.0 as u8
    }

    /// Decodes the system call; `UnknownSyscall` or `InvalidArgument` for a bad word.
    pub const fn sys(self) -> Result<Sys, Error> {
        if self.0 & RESERVED != 0 {
            return Err(Error::InvalidArgument);
        }
        match Sys::from_u8(self.number()) {
            Some(s) => Ok(s),
            None => Err(Error::UnknownSyscall),
        }
    }

    /// The send-phase timeout.
    pub const fn send_timeout(self) -> Timeout {
        Timeout::from_raw((self.0 >> 16) as u16)
    }

    /// The receive-phase timeout.
    pub const fn recv_timeout(self) -> Timeout {
        Timeout::from_raw((self.0 >> 32) as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_round_trip() {
        let c = Control::new(Sys::Call, Timeout::NEVER, Timeout::ZERO);
        assert_eq!(c.sys(), Ok(Sys::Call));
        assert_eq!(c.send_timeout(), Timeout::NEVER);
        assert_eq!(c.recv_timeout(), Timeout::ZERO);
        assert_eq!(Control(9).sys(), Err(Error::UnknownSyscall));
        assert_eq!(Control(0x100).sys(), Err(Error::InvalidArgument));
        assert_eq!(Control(1 << 60).sys(), Err(Error::InvalidArgument));
        for n in 0..=255u8 {
            if let Some(s) = Sys::from_u8(n) {
                assert_eq!(s as u8, n);
            }
        }
    }
}
