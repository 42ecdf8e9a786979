//! Host builds: the pure parts of the library are unit-tested on the host; there is no
//! kernel to call.

use super::Regs;

/// Panics: there is no kernel on the host.
pub fn syscall(_r: &mut Regs) {
    panic!("pecan-user: system calls need the Pecan kernel")
}

/// Panics: there is no UTCB on the host.
pub fn utcb_base() -> usize {
    panic!("pecan-user: no UTCB on the host")
}

/// Panics: no cycle counter is read on the host.
pub fn cycles() -> u64 {
    panic!("pecan-user: no cycle counter on the host")
}
