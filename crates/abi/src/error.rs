//! Error codes returned by system calls, each saying who is at fault and in which IPC phase.

/// A system-call error. The discriminants are the stable ABI encoding (the low byte of the
/// status word); 0 is reserved for success.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The partner was not ready within the timeout (including timeout 0).
    Timeout = 1,
    /// The operation was cancelled by a thread-control `cancel` or by the deletion of an
    /// object it waited on (the gate, the IRQ).
    Cancelled = 2,
    /// The partner thread was deleted while this thread was blocked on it.
    PartnerDeleted = 3,
    /// The capability selector is out of range or names an empty slot.
    InvalidCap = 4,
    /// The capability names an object that has been deleted (generation mismatch).
    StaleCap = 5,
    /// The capability lacks a right the operation needs.
    NoRights = 6,
    /// The object named does not support the operation.
    WrongType = 7,
    /// The receiver's message registers or buffers are too small for the message.
    MessageOverflow = 8,
    /// A flexpage is malformed, misaligned, out of range or not backed in the sender.
    BadFlexpage = 9,
    /// The message tag or a typed item is malformed (reserved bits, too many words).
    MalformedMessage = 10,
    /// A user pointer is unmapped, misaligned or in the kernel half.
    BadAddress = 11,
    /// The system-call number is not defined.
    UnknownSyscall = 12,
    /// An argument is out of its range (reserved bits set, bad priority, bad method).
    InvalidArgument = 13,
    /// The factory's kernel-memory quota is exhausted.
    QuotaExceeded = 14,
    /// The kernel itself is out of memory for the object.
    OutOfMemory = 15,
    /// A reply was attempted without a valid reply capability.
    NoReplyCap = 16,
    /// The destination capability slot is occupied or the address already mapped.
    SlotOccupied = 17,
    /// The object is already bound or attached (gate bound, IRQ attached).
    AlreadyBound = 18,
    /// The object is not bound or attached (send to an unbound gate, ack of a detached IRQ).
    NotBound = 19,
    /// A thread tried to receive from itself, call itself, or make its own thread inactive
    /// in a way that could never complete.
    Deadlock = 20,
    /// A long IPC (string items) did not finish within its transfer timeout: a page fault
    /// in a string was not resolved in time (or the timeout was 0). Both partners get it.
    TransferTimeout = 21,
}

/// Who caused an error: the caller (bad arguments), the sender or the receiver of a
/// message (when the error comes from the partner's side), the kernel, or nobody.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nobody is at fault: a timeout, a cancellation or a deletion.
    None,
    /// The invoking thread passed something bad.
    Caller,
    /// The sending side of the IPC is at fault (its message is malformed).
    Sender,
    /// The receiving side is at fault (its buffers are too small or missing).
    Receiver,
    /// The kernel ran out of a resource.
    Kernel,
}

/// The phase of an IPC in which an error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The send phase (or a non-IPC system call).
    Send,
    /// The receive phase.
    Receive,
}

impl Error {
    /// Every error, in encoding order (for tests and tables).
    pub const ALL: [Error; 21] = [
        Error::Timeout,
        Error::Cancelled,
        Error::PartnerDeleted,
        Error::InvalidCap,
        Error::StaleCap,
        Error::NoRights,
        Error::WrongType,
        Error::MessageOverflow,
        Error::BadFlexpage,
        Error::MalformedMessage,
        Error::BadAddress,
        Error::UnknownSyscall,
        Error::InvalidArgument,
        Error::QuotaExceeded,
        Error::OutOfMemory,
        Error::NoReplyCap,
        Error::SlotOccupied,
        Error::AlreadyBound,
        Error::NotBound,
        Error::Deadlock,
        Error::TransferTimeout,
    ];

    /// Decodes the low byte of a status word.
    pub const fn from_code(code: u8) -> Option<Error> {
        if code == 0 || code as usize > Self::ALL.len() { None } else { Some(Self::ALL[code as usize - 1]) }
    }

    /// Who is at fault for this error.
    pub const fn fault(self) -> Fault {
        match self {
            Error::Timeout | Error::Cancelled | Error::PartnerDeleted | Error::TransferTimeout => Fault::None,
            Error::MessageOverflow => Fault::Receiver,
            Error::BadFlexpage | Error::MalformedMessage => Fault::Sender,
            Error::OutOfMemory => Fault::Kernel,
            _ => Fault::Caller,
        }
    }
}

/// The status word a system call returns: 0 for success, otherwise the error code in
/// bits 7..0 and the phase in bit 8 (0 = send, 1 = receive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u64);

impl Status {
    /// Success.
    pub const OK: Status = Status(0);
    const RECEIVE_BIT: u64 = 1 << 8;

    /// Encodes an error in a phase.
    pub const fn error(e: Error, phase: Phase) -> Status {
        let p = match phase {
            Phase::Send => 0,
            Phase::Receive => Self::RECEIVE_BIT,
        };
        Status(e as u64 | p)
    }

    /// Decodes the status word: `Ok(())` or the error and its phase. An unknown code
    /// decodes as `InvalidArgument` so user code never has to handle a garbage value.
    pub const fn result(self) -> Result<(), (Error, Phase)> {
        if self.0 == 0 {
            return Ok(());
        }
        let phase = if self.0 & Self::RECEIVE_BIT != 0 { Phase::Receive } else { Phase::Send };
        match Error::from_code(self.0 as u8) {
            Some(e) => Err((e, phase)),
            None => Err((Error::InvalidArgument, phase)),
        }
    }

    /// The error, if any, without its phase.
    pub const fn err(self) -> Option<Error> {
        match self.result() {
            Ok(()) => None,
            Err((e, _)) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (i, e) in Error::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i + 1);
            assert_eq!(Error::from_code(*e as u8), Some(*e));
            for ph in [Phase::Send, Phase::Receive] {
                assert_eq!(Status::error(*e, ph).result(), Err((*e, ph)));
            }
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(200), None);
        assert_eq!(Status(0xff).result(), Err((Error::InvalidArgument, Phase::Send)));
    }

    #[test]
    fn fault_attribution() {
        assert_eq!(Error::MessageOverflow.fault(), Fault::Receiver);
        assert_eq!(Error::BadFlexpage.fault(), Fault::Sender);
        assert_eq!(Error::InvalidCap.fault(), Fault::Caller);
        assert_eq!(Error::Timeout.fault(), Fault::None);
        assert_eq!(Error::OutOfMemory.fault(), Fault::Kernel);
    }
}
