//! What a synchronous exception from EL0 means to the kernel: a system call, a first FP/SIMD
//! use (the lazy switch, handled by the arch alone), or a user fault for the core's fault
//! IPC. Pure (syndrome in, decision out), so every class is tested on the host.

use pecan_abi::proto::exception::{
    KIND_ALIGNMENT, KIND_ARITHMETIC, KIND_BREAKPOINT, KIND_ILLEGAL, KIND_OTHER, KIND_PRIVILEGED,
};
use pecan_hal::FaultInfo;

use crate::esr::{Esr, ec};

/// Page-fault access bits (`pecan_abi::MemRights` values).
const READ: u8 = 4;
const WRITE: u8 = 2;
const EXEC: u8 = 1;

/// Further exception classes that only EL0 code raises here.
mod ec_more {
    /// Branch target exception (BTI).
    pub const BTI: u64 = 0x0d;
    /// SVE instruction trapped (CPACR_EL1.ZEN).
    pub const SVE: u64 = 0x19;
    /// SME instruction trapped (CPACR_EL1.SMEN).
    pub const SME: u64 = 0x1d;
}

/// The kernel's reading of a synchronous exception from EL0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserSync {
    /// `svc` (any immediate): a system call.
    Syscall,
    /// An FP/SIMD instruction while CPACR_EL1 traps them: load this thread's FP state.
    FpAccess,
    /// A fault the thread's pager or exception handler hears about.
    Fault(FaultInfo),
}

/// Whether a fault status code (DFSC/IFSC) is about the translation (address size,
/// translation, access flag or permission fault, at any level, including level -1).
const fn is_translation_status(fsc: u64) -> bool {
    matches!(fsc, 0x00..=0x0f | 0x29 | 0x2b)
}

/// DFSC of an alignment fault.
const FSC_ALIGNMENT: u64 = 0x21;
/// ISS.FnV: FAR_EL1 is not valid.
const ISS_FNV: u64 = 1 << 10;
/// ISS.CM: a cache-maintenance instruction faulted (reported as a write).
const ISS_CM: u64 = 1 << 8;

/// Decodes a synchronous exception taken from EL0 with syndrome `esr` and fault address
/// `far` (FAR_EL1; read by the caller, ignored where the architecture leaves it UNKNOWN).
pub fn classify(esr: Esr, far: u64) -> UserSync {
    let exception = |kind, addr| UserSync::Fault(FaultInfo::Exception { kind, code: esr.0, addr });
    let iss = esr.iss();
    let fsc = iss & 0x3f;
    let far_valid = if iss & ISS_FNV != 0 { 0 } else { far };
    match esr.class() {
        ec::SVC64 => UserSync::Syscall,
        ec::FP_ACCESS => UserSync::FpAccess,
        ec::DABT_LOWER if is_translation_status(fsc) => {
            let access = if esr.is_write() || iss & ISS_CM != 0 { WRITE } else { READ };
            UserSync::Fault(FaultInfo::Page { addr: far, access })
        }
        ec::DABT_LOWER if fsc == FSC_ALIGNMENT => exception(KIND_ALIGNMENT, far_valid),
        ec::IABT_LOWER if is_translation_status(fsc) => {
            UserSync::Fault(FaultInfo::Page { addr: far, access: EXEC })
        }
        ec::DABT_LOWER | ec::IABT_LOWER => exception(KIND_OTHER, far_valid),
        ec::PC_ALIGN => exception(KIND_ALIGNMENT, far),
        ec::SP_ALIGN => exception(KIND_ALIGNMENT, 0),
        ec::UNKNOWN | ec::ILLEGAL_STATE | ec_more::SVE | ec_more::SME | ec::HVC64 | ec::SMC64 => {
            exception(KIND_ILLEGAL, 0)
        }
        ec::WFX | ec::SYSREG => exception(KIND_PRIVILEGED, 0),
        ec::FP64 => exception(KIND_ARITHMETIC, 0),
        ec::BRK64 | ec::BREAKPOINT_LOWER | ec::STEP_LOWER => exception(KIND_BREAKPOINT, 0),
        ec::WATCHPOINT_LOWER => exception(KIND_BREAKPOINT, far),
        ec_more::BTI => exception(KIND_ILLEGAL, 0),
        _ => exception(KIND_OTHER, 0),
    }
}

/// An SError (asynchronous abort) taken while a thread ran in user mode: charged to that
/// thread as an exception of kind "other" with the syndrome.
pub fn serror(esr: Esr) -> FaultInfo {
    FaultInfo::Exception { kind: KIND_OTHER, code: esr.0, addr: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esr(class: u64, iss: u64) -> Esr {
        Esr((class << 26) | (1 << 25) | iss)
    }

    fn kind_of(s: UserSync) -> (u64, u64) {
        match s {
            UserSync::Fault(FaultInfo::Exception { kind, addr, .. }) => (kind, addr),
            other => panic!("not an exception: {other:?}"),
        }
    }

    #[test]
    fn syscalls_and_fp() {
        assert_eq!(classify(Esr(0x5600_0000), 0xdead), UserSync::Syscall);
        assert_eq!(classify(esr(ec::SVC64, 0x1234), 0), UserSync::Syscall, "any immediate");
        assert_eq!(classify(esr(ec::FP_ACCESS, 0), 0), UserSync::FpAccess);
    }

    #[test]
    fn page_faults() {
        // Read of an unmapped page: translation fault, level 3.
        let r = classify(Esr(0x9200_0007), 0x1000);
        assert_eq!(r, UserSync::Fault(FaultInfo::Page { addr: 0x1000, access: READ }));
        // Write (WnR) to a read-only page: permission fault.
        let w = classify(Esr(0x9200_004f), 0x2000);
        assert_eq!(w, UserSync::Fault(FaultInfo::Page { addr: 0x2000, access: WRITE }));
        // Cache maintenance counts as a write.
        let cm = classify(esr(ec::DABT_LOWER, ISS_CM | 0x07), 0x3000);
        assert_eq!(cm, UserSync::Fault(FaultInfo::Page { addr: 0x3000, access: WRITE }));
        // Instruction fetch from a kernel address (permission fault) or a non-canonical
        // one (translation fault at level 0).
        let k = classify(Esr(0x8200_000f), 0xffff_ffff_8000_0000);
        assert_eq!(k, UserSync::Fault(FaultInfo::Page { addr: 0xffff_ffff_8000_0000, access: EXEC }));
        let n = classify(Esr(0x8200_0004), 0x0001_0000_0000_0000);
        assert_eq!(n, UserSync::Fault(FaultInfo::Page { addr: 0x0001_0000_0000_0000, access: EXEC }));
        // Access flag and address size faults are translation faults too.
        assert!(matches!(classify(esr(ec::DABT_LOWER, 0x0b), 8), UserSync::Fault(FaultInfo::Page { .. })));
        assert!(matches!(classify(esr(ec::DABT_LOWER, 0x00), 8), UserSync::Fault(FaultInfo::Page { .. })));
    }

    #[test]
    fn alignment() {
        assert_eq!(kind_of(classify(esr(ec::DABT_LOWER, FSC_ALIGNMENT), 0x1001)), (KIND_ALIGNMENT, 0x1001));
        assert_eq!(kind_of(classify(esr(ec::PC_ALIGN, 0), 0x40_0002)), (KIND_ALIGNMENT, 0x40_0002));
        assert_eq!(kind_of(classify(esr(ec::SP_ALIGN, 0), 0x1234)), (KIND_ALIGNMENT, 0));
    }

    #[test]
    fn instructions() {
        // udf, an EL1 register read from EL0, hvc/smc at EL0: undefined.
        assert_eq!(kind_of(classify(Esr(0x0200_0000), 5)), (KIND_ILLEGAL, 0));
        assert_eq!(kind_of(classify(esr(ec::ILLEGAL_STATE, 0), 0)).0, KIND_ILLEGAL);
        assert_eq!(kind_of(classify(esr(ec_more::SVE, 0), 0)).0, KIND_ILLEGAL);
        // Trapped wfi and msr daifset (SCTLR_EL1.nTWI = UMA = 0): privileged.
        assert_eq!(kind_of(classify(esr(ec::WFX, 0), 0)).0, KIND_PRIVILEGED);
        assert_eq!(kind_of(classify(esr(ec::SYSREG, 0x30_0000), 0)).0, KIND_PRIVILEGED);
        assert_eq!(kind_of(classify(Esr(0xf200_0000), 0)).0, KIND_BREAKPOINT);
        assert_eq!(kind_of(classify(esr(ec::FP64, 0), 0)).0, KIND_ARITHMETIC);
        assert_eq!(kind_of(classify(esr(0x3f, 0), 9)), (KIND_OTHER, 0));
    }

    #[test]
    fn external_aborts_are_not_page_faults() {
        assert_eq!(kind_of(classify(esr(ec::DABT_LOWER, 0x10), 0x5000)), (KIND_OTHER, 0x5000));
        assert_eq!(kind_of(classify(esr(ec::DABT_LOWER, 0x10 | ISS_FNV), 0x5000)), (KIND_OTHER, 0));
        assert_eq!(kind_of(classify(esr(ec::IABT_LOWER, 0x10), 0x6000)), (KIND_OTHER, 0x6000));
    }

    #[test]
    fn the_code_is_the_syndrome() {
        match classify(Esr(0x0200_0000), 0) {
            UserSync::Fault(FaultInfo::Exception { code, .. }) => assert_eq!(code, 0x0200_0000),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            serror(Esr(0xbe00_0000)),
            FaultInfo::Exception { kind: KIND_OTHER, code: 0xbe00_0000, addr: 0 }
        );
    }
}
