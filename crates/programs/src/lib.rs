//! Interfaces shared by Pecan's programs: the RPC interfaces of the demo servers and the
//! report every demo program sends its parent when it is done.
#![no_std]

use pecan_user::{Gate, IpcError, Msg, Timeouts, ipc};

pecan_user::rpc_interface! {
    /// The ping-pong server.
    pub mod pingpong (proto = 0x5050_0000) {
        /// Returns `x + 1`.
        fn ping(x: u64) -> u64;
        /// Returns the sum of the eight words (a message that fills the registers).
        fn sum8(w: [u64; 8]) -> u64;
    }
}

/// Label of a "done" report to the parent: words are the program's figures.
pub const REPORT: u64 = 0x5245_5054;

/// Sends a report (up to 8 figures) to the parent gate.
pub fn report(parent: Gate, figures: &[u64]) -> Result<(), IpcError> {
    let m = Msg::new(REPORT).words(figures);
    ipc::call(parent, &m, Timeouts::NEVER).map(|_| ())
}
