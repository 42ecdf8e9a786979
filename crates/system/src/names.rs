//! The name service protocol (seed 002, "Finding services"): human-readable names to gate
//! capabilities. A server registers a name with a map item of its gate; a client looks a
//! name up and receives the gate, mapped into the slot its receive window names.
//!
//! Requests (through the name service's gate): `REGISTER` with a `Name` (5 words) and one
//! map item of an object flexpage (the gate); `LOOKUP` with a `Name`. Replies: label `OK`
//! (a lookup's reply carries the gate as a map item), `NOT_FOUND`, `FULL` or `BAD`.

use core::time::Duration;
use pecan_abi::{CapRights, Fpage, Item};
use pecan_user::rpc::{Name, Wire};
use pecan_user::{Gate, IpcError, Msg, Received, Timeouts, ipc};

/// Register a name.
pub const REGISTER: u64 = 0x4e41_0001;
/// Look a name up.
pub const LOOKUP: u64 = 0x4e41_0002;
/// Reply: done.
pub const OK: u64 = 0;
/// Reply: no such name.
pub const NOT_FOUND: u64 = 1;
/// Reply: the table is full.
pub const FULL: u64 = 2;
/// Reply: malformed request.
pub const BAD: u64 = 3;

/// Why a name-service request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamesError {
    /// The IPC failed.
    Ipc(IpcError),
    /// The name service answered with this label.
    Refused(u64),
}

impl From<IpcError> for NamesError {
    fn from(e: IpcError) -> Self {
        NamesError::Ipc(e)
    }
}

/// Registers `gate` under `name` with the name service at `names`.
pub fn register(names: Gate, name: &[u8], gate: Gate) -> Result<(), NamesError> {
    let mut m = Msg::new(REGISTER);
    Name::new(name).put(&mut m);
    let m = m.map(Fpage::object(gate.sel(), 0, CapRights::ALL));
    let r = ipc::call(names, &m, Timeouts::NEVER)?;
    if r.label() == OK { Ok(()) } else { Err(NamesError::Refused(r.label())) }
}

/// Looks `name` up; the gate lands in slot `dst`.
pub fn lookup(names: Gate, name: &[u8], dst: u64) -> Result<Gate, NamesError> {
    ipc::accept_caps(dst, 0);
    let mut m = Msg::new(LOOKUP);
    Name::new(name).put(&mut m);
    let r = ipc::call(names, &m, Timeouts::NEVER)?;
    match (r.label(), r.item(0)) {
        (OK, Some(Item::Map { .. })) => Ok(Gate::at(dst)),
        (OK, _) => Err(NamesError::Refused(BAD)),
        (l, _) => Err(NamesError::Refused(l)),
    }
}

/// Looks `name` up until it is registered or `patience` has passed (polling every ms).
pub fn wait_for(names: Gate, name: &[u8], dst: u64, patience: Duration) -> Result<Gate, NamesError> {
    let mut waited = Duration::ZERO;
    loop {
        match lookup(names, name, dst) {
            Err(NamesError::Refused(NOT_FOUND)) if waited < patience => {
                ipc::sleep(Duration::from_millis(1));
                waited += Duration::from_millis(1);
            }
            other => return other,
        }
    }
}

/// Reads the name of a request.
pub fn request_name(req: &Received) -> Name {
    let mut at = 0;
    Name::take(req, &mut at)
}
