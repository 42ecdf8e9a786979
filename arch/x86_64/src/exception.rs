//! User-mode exceptions as the core sees them: an x86 vector, error code and CR2 turned
//! into a `pecan_hal::FaultInfo` (pure, tested on the host).

use pecan_abi::proto::exception::{
    KIND_ALIGNMENT, KIND_ARITHMETIC, KIND_BREAKPOINT, KIND_ILLEGAL, KIND_OTHER, KIND_PRIVILEGED,
};
use pecan_hal::FaultInfo;

/// #DE, divide error.
pub const DE: u64 = 0;
/// #DB, debug.
pub const DB: u64 = 1;
/// The non-maskable interrupt.
pub const NMI: u64 = 2;
/// #BP, breakpoint (`int3`).
pub const BP: u64 = 3;
/// #UD, invalid opcode.
pub const UD: u64 = 6;
/// #NM, device not available (an x87/SSE instruction with CR0.TS set: the lazy FPU).
pub const NM: u64 = 7;
/// #DF, double fault.
pub const DF: u64 = 8;
/// #TS, invalid TSS.
pub const TS: u64 = 10;
/// #NP, segment not present.
pub const NP: u64 = 11;
/// #SS, stack-segment fault.
pub const SS: u64 = 12;
/// #GP, general protection.
pub const GP: u64 = 13;
/// #PF, page fault.
pub const PF: u64 = 14;
/// #MF, x87 floating-point error.
pub const MF: u64 = 16;
/// #AC, alignment check.
pub const AC: u64 = 17;
/// #MC, machine check.
pub const MC: u64 = 18;
/// #XM, SIMD floating-point error.
pub const XM: u64 = 19;

/// Page-fault error code: the access was a write.
const PF_WRITE: u64 = 1 << 1;
/// Page-fault error code: the access was an instruction fetch.
const PF_FETCH: u64 = 1 << 4;

/// The fault a user thread took with exception `vector` (error code `error`, CR2 `cr2`),
/// or `None` when the vector is not the thread's fault: interrupts, #NM (the lazy FPU
/// switch), and NMI, #DF and #MC, which are the machine's problem and get the kernel fault
/// report.
pub fn user_fault(vector: u64, error: u64, cr2: u64) -> Option<FaultInfo> {
    let kind = match vector {
        PF => {
            let access = if error & PF_FETCH != 0 {
                1
            } else if error & PF_WRITE != 0 {
                2
            } else {
                4
            };
            return Some(FaultInfo::Page { addr: cr2, access });
        }
        NM | NMI | DF | MC => return None,
        DE | MF | XM => KIND_ARITHMETIC,
        DB | BP => KIND_BREAKPOINT,
        UD => KIND_ILLEGAL,
        TS | NP | SS | GP => KIND_PRIVILEGED,
        AC => KIND_ALIGNMENT,
        0..32 => KIND_OTHER,
        _ => return None,
    };
    Some(FaultInfo::Exception { kind, code: vector, addr: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(v: u64) -> Option<u64> {
        match user_fault(v, 0, 0) {
            Some(FaultInfo::Exception { kind, code, addr }) => {
                assert_eq!((code, addr), (v, 0));
                Some(kind)
            }
            _ => None,
        }
    }

    #[test]
    fn page_faults_decode_the_access() {
        let pf = |e| user_fault(PF, e, 0x1234);
        assert_eq!(pf(0b00100), Some(FaultInfo::Page { addr: 0x1234, access: 4 }), "user read");
        assert_eq!(pf(0b00110), Some(FaultInfo::Page { addr: 0x1234, access: 2 }), "user write");
        assert_eq!(pf(0b10100), Some(FaultInfo::Page { addr: 0x1234, access: 1 }), "fetch");
        assert_eq!(pf(0b10101), Some(FaultInfo::Page { addr: 0x1234, access: 1 }), "NX fetch");
        assert_eq!(pf(0b00111), Some(FaultInfo::Page { addr: 0x1234, access: 2 }), "write to R/O");
    }

    #[test]
    fn exception_kinds() {
        assert_eq!(kind(DE), Some(KIND_ARITHMETIC));
        assert_eq!(kind(MF), Some(KIND_ARITHMETIC));
        assert_eq!(kind(XM), Some(KIND_ARITHMETIC));
        assert_eq!(kind(DB), Some(KIND_BREAKPOINT));
        assert_eq!(kind(BP), Some(KIND_BREAKPOINT));
        assert_eq!(kind(UD), Some(KIND_ILLEGAL));
        for v in [TS, NP, SS, GP] {
            assert_eq!(kind(v), Some(KIND_PRIVILEGED));
        }
        assert_eq!(kind(AC), Some(KIND_ALIGNMENT));
        for v in [4, 5, 9, 15, 20, 21, 31] {
            assert_eq!(kind(v), Some(KIND_OTHER));
        }
    }

    #[test]
    fn not_the_threads_fault() {
        for v in [NM, NMI, DF, MC, 32, 0x20, 0x30, 0xff, 0x100] {
            assert_eq!(user_fault(v, 0, 0), None, "vector {v}");
        }
    }
}
