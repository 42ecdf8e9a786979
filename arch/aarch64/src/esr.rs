//! Decoding ESR_EL1 (the exception syndrome) into names for fault reports.

/// Exception classes (ESR_EL1.EC) the kernel distinguishes.
pub mod ec {
    /// Unknown reason (e.g. an undefined instruction).
    pub const UNKNOWN: u64 = 0x00;
    /// WFI or WFE trapped.
    pub const WFX: u64 = 0x01;
    /// FP/SIMD access trapped (CPACR_EL1.FPEN).
    pub const FP_ACCESS: u64 = 0x07;
    /// Illegal execution state.
    pub const ILLEGAL_STATE: u64 = 0x0e;
    /// SVC from AArch64.
    pub const SVC64: u64 = 0x15;
    /// HVC from AArch64.
    pub const HVC64: u64 = 0x16;
    /// SMC from AArch64.
    pub const SMC64: u64 = 0x17;
    /// MSR/MRS/system instruction trapped.
    pub const SYSREG: u64 = 0x18;
    /// Instruction abort from a lower EL.
    pub const IABT_LOWER: u64 = 0x20;
    /// Instruction abort from the current EL.
    pub const IABT_CURRENT: u64 = 0x21;
    /// PC alignment fault.
    pub const PC_ALIGN: u64 = 0x22;
    /// Data abort from a lower EL.
    pub const DABT_LOWER: u64 = 0x24;
    /// Data abort from the current EL.
    pub const DABT_CURRENT: u64 = 0x25;
    /// SP alignment fault.
    pub const SP_ALIGN: u64 = 0x26;
    /// Trapped floating-point exception.
    pub const FP64: u64 = 0x2c;
    /// SError.
    pub const SERROR: u64 = 0x2f;
    /// Breakpoint from a lower EL.
    pub const BREAKPOINT_LOWER: u64 = 0x30;
    /// Breakpoint from the current EL.
    pub const BREAKPOINT_CURRENT: u64 = 0x31;
    /// Software step from a lower EL.
    pub const STEP_LOWER: u64 = 0x32;
    /// Software step from the current EL.
    pub const STEP_CURRENT: u64 = 0x33;
    /// Watchpoint from a lower EL.
    pub const WATCHPOINT_LOWER: u64 = 0x34;
    /// Watchpoint from the current EL.
    pub const WATCHPOINT_CURRENT: u64 = 0x35;
    /// BRK instruction (AArch64).
    pub const BRK64: u64 = 0x3c;
}

/// A decoded syndrome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Esr(pub u64);

impl Esr {
    /// The exception class.
    pub const fn class(self) -> u64 {
        (self.0 >> 26) & 0x3f
    }

    /// The instruction-specific syndrome.
    pub const fn iss(self) -> u64 {
        self.0 & 0x1ff_ffff
    }

    /// The class as words.
    pub const fn class_name(self) -> &'static str {
        match self.class() {
            ec::UNKNOWN => "unknown reason (undefined instruction)",
            ec::WFX => "trapped WFI/WFE",
            ec::FP_ACCESS => "trapped FP/SIMD access",
            ec::ILLEGAL_STATE => "illegal execution state",
            ec::SVC64 => "SVC (system call)",
            ec::HVC64 => "HVC",
            ec::SMC64 => "SMC",
            ec::SYSREG => "trapped system register access",
            ec::IABT_LOWER => "instruction abort from a lower EL",
            ec::IABT_CURRENT => "instruction abort from the current EL",
            ec::PC_ALIGN => "PC alignment fault",
            ec::DABT_LOWER => "data abort from a lower EL",
            ec::DABT_CURRENT => "data abort from the current EL",
            ec::SP_ALIGN => "SP alignment fault",
            ec::FP64 => "floating-point exception",
            ec::SERROR => "SError",
            ec::BREAKPOINT_LOWER | ec::BREAKPOINT_CURRENT => "hardware breakpoint",
            ec::STEP_LOWER | ec::STEP_CURRENT => "software step",
            ec::WATCHPOINT_LOWER | ec::WATCHPOINT_CURRENT => "watchpoint",
            ec::BRK64 => "BRK instruction",
            _ => "other exception class",
        }
    }

    /// Whether this is an instruction or data abort (FAR_EL1 holds the address).
    pub const fn is_abort(self) -> bool {
        matches!(self.class(), ec::IABT_LOWER | ec::IABT_CURRENT | ec::DABT_LOWER | ec::DABT_CURRENT)
    }

    /// For a data abort: whether the access was a write (ISS.WnR).
    pub const fn is_write(self) -> bool {
        self.iss() & (1 << 6) != 0
    }

    /// For an abort: the fault status code (I/DFSC) in words, with the table level.
    pub const fn fault_status(self) -> (&'static str, Option<u8>) {
        let fsc = self.iss() & 0x3f;
        let level = Some((fsc & 3) as u8);
        match fsc {
            0x00..=0x03 => ("address size fault", level),
            0x04..=0x07 => ("translation fault", level),
            0x08..=0x0b => ("access flag fault", level),
            0x0c..=0x0f => ("permission fault", level),
            0x10 => ("synchronous external abort", None),
            0x21 => ("alignment fault", None),
            0x30 => ("TLB conflict abort", None),
            _ => ("other fault status", None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_abort_translation_level0() {
        // What a read of an unmapped kernel address gives at EL1.
        let e = Esr(0x9600_0004);
        assert_eq!(e.class(), ec::DABT_CURRENT);
        assert_eq!(e.class_name(), "data abort from the current EL");
        assert!(e.is_abort() && !e.is_write());
        assert_eq!(e.fault_status(), ("translation fault", Some(0)));
        assert!(Esr(0x9600_0047).is_write());
        assert_eq!(Esr(0x9600_0047).fault_status(), ("translation fault", Some(3)));
        assert_eq!(Esr(0x9600_000f).fault_status(), ("permission fault", Some(3)));
    }

    #[test]
    fn classes() {
        assert_eq!(Esr(0xf200_0000).class(), ec::BRK64);
        assert_eq!(Esr(0xf200_0000).class_name(), "BRK instruction");
        assert_eq!(Esr(0x5600_0000).class(), ec::SVC64);
        assert_eq!(Esr(0x0200_0000).class_name(), "unknown reason (undefined instruction)");
        assert!(!Esr(0x5600_0000).is_abort());
        assert_eq!(Esr(0xfc00_0000).class_name(), "other exception class");
    }
}
