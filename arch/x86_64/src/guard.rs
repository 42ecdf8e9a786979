//! The checks every return to user mode passes (pure, tested on the host): what the CPU
//! would trust from a saved frame is made safe, and a frame the CPU cannot return to
//! safely becomes a fault of the thread instead.
//!
//! - `SYSRET` to a non-canonical rip raises #GP *in ring 0* on Intel CPUs, with the user's
//!   rsp already loaded: a user who can choose rip (SET_REGS, an exception handler's reply,
//!   a `SYSCALL` as the last instruction below 2^47) could take over the kernel. `IRETQ`
//!   checks rip before it changes privilege, so it faults in ring 0 as well. A rip outside
//!   user space (`>= USER_TOP`: non-canonical or the kernel half) is therefore never
//!   returned to: the thread takes a #GP (`PRIVILEGED`, code 13, the address in `addr`),
//!   exactly what running there would give it.
//! - A non-canonical rsp is not checked by `SYSRET`; rather than rely on every CPU's
//!   `IRETQ` to leave it alone, the thread takes the #SS (code 12) its first stack access
//!   would raise.
//! - rflags: only the flags user code may own survive (arithmetic flags, TF, DF, AC, ID);
//!   IF and bit 1 are forced on, IOPL, NT, RF, VM, VIF, VIP forced off.
//! - cs and ss are forced to the user selectors (`IRETQ` loads them from the frame).

use pecan_abi::layout::USER_TOP;
use pecan_abi::proto::exception::KIND_PRIVILEGED;
use pecan_hal::FaultInfo;

use crate::context::{TrapFrame, VECTOR_SYSCALL};
use crate::exception::{GP, SS};
use crate::layout::{USER_CS, USER_DS};

/// rflags bits user code may set: CF, PF, AF, ZF, SF, TF, DF, OF, AC, ID.
pub const USER_FLAGS: u64 =
    1 | 1 << 2 | 1 << 4 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 10 | 1 << 11 | 1 << 18 | 1 << 21;
/// rflags bits always set in user mode: IF and the reserved bit 1.
pub const FORCED_FLAGS: u64 = 1 << 9 | 1 << 1;

/// How to return to user mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `SYSRET`: the thread entered with `SYSCALL`, so rcx and r11 are dead (the ABI says
    /// so) and may carry rip and rflags.
    Sysret,
    /// `IRETQ`: every register is restored (interrupted or faulted threads, new threads).
    Iret,
}

/// Whether `a` is a canonical 48-bit address.
pub const fn canonical(a: u64) -> bool {
    (((a << 16) as i64) >> 16) as u64 == a
}

/// Makes `f` safe to return to and says how, or gives the fault the thread takes instead.
pub fn check(f: &mut TrapFrame) -> Result<Exit, FaultInfo> {
    f.cs = USER_CS as u64;
    f.ss = USER_DS as u64;
    f.rflags = (f.rflags & USER_FLAGS) | FORCED_FLAGS;
    if f.rip >= USER_TOP {
        return Err(FaultInfo::Exception { kind: KIND_PRIVILEGED, code: GP, addr: f.rip });
    }
    if !canonical(f.rsp) {
        return Err(FaultInfo::Exception { kind: KIND_PRIVILEGED, code: SS, addr: f.rsp });
    }
    Ok(if f.vector == VECTOR_SYSCALL { Exit::Sysret } else { Exit::Iret })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rip: u64, rsp: u64, vector: u64) -> TrapFrame {
        TrapFrame { rip, rsp, vector, ..TrapFrame::default() }
    }

    #[test]
    fn canonical_addresses() {
        assert!(canonical(0));
        assert!(canonical(0x0000_7fff_ffff_ffff));
        assert!(canonical(0xffff_8000_0000_0000));
        assert!(canonical(u64::MAX));
        assert!(!canonical(0x0000_8000_0000_0000));
        assert!(!canonical(0xffff_7fff_ffff_ffff));
        assert!(!canonical(0x1234_0000_0000_0000));
    }

    #[test]
    fn syscall_frames_use_sysret() {
        let mut f = frame(0x40_1000, 0x7fff_0000, VECTOR_SYSCALL);
        assert_eq!(check(&mut f), Ok(Exit::Sysret));
        let mut f = frame(0x40_1000, 0x7fff_0000, 0x20);
        assert_eq!(check(&mut f), Ok(Exit::Iret));
        let mut f = frame(0x40_1000, 0x7fff_0000, 14);
        assert_eq!(check(&mut f), Ok(Exit::Iret));
    }

    #[test]
    fn rip_outside_user_space_is_a_fault() {
        for rip in [USER_TOP, 0x8000_0000_0000_0000, 0xffff_8000_0000_0000, u64::MAX, 0x1234_5678_9abc_def0] {
            for v in [VECTOR_SYSCALL, 0x20] {
                let mut f = frame(rip, 0x1000, v);
                assert_eq!(
                    check(&mut f),
                    Err(FaultInfo::Exception { kind: KIND_PRIVILEGED, code: GP, addr: rip }),
                    "rip {rip:#x}"
                );
            }
        }
        let mut f = frame(USER_TOP - 1, 0x1000, VECTOR_SYSCALL);
        assert_eq!(check(&mut f), Ok(Exit::Sysret));
    }

    #[test]
    fn non_canonical_rsp_is_a_fault() {
        let mut f = frame(0x40_1000, 0x0000_8000_0000_0000, 0x20);
        assert_eq!(
            check(&mut f),
            Err(FaultInfo::Exception { kind: KIND_PRIVILEGED, code: SS, addr: 0x0000_8000_0000_0000 })
        );
        // The kernel half is canonical: the first push page-faults in user mode.
        let mut f = frame(0x40_1000, 0xffff_8000_0000_0000, VECTOR_SYSCALL);
        assert_eq!(check(&mut f), Ok(Exit::Sysret));
    }

    #[test]
    fn flags_and_selectors_are_sanitized() {
        let mut f = frame(0x40_1000, 0x1000, 0x20);
        f.rflags = u64::MAX;
        f.cs = 0x08;
        f.ss = 0x10;
        check(&mut f).unwrap();
        assert_eq!(f.rflags, USER_FLAGS | FORCED_FLAGS);
        assert_eq!(f.rflags & (3 << 12), 0, "IOPL 0");
        assert_eq!(f.rflags & (1 << 14), 0, "NT clear");
        assert_eq!(f.rflags & (1 << 17), 0, "VM clear");
        assert_eq!(f.rflags & (1 << 16), 0, "RF clear");
        assert_eq!((f.cs, f.ss), (USER_CS as u64, USER_DS as u64));
        f.rflags = 0;
        check(&mut f).unwrap();
        assert_eq!(f.rflags, 0x202, "IF and bit 1 forced");
    }
}
