//! Arm semihosting calls, as QEMU implements them with `-semihosting`: the exit path of the
//! kernel (`SYS_EXIT`) and a last-resort console (`SYS_WRITEC`) before the PL011 is mapped.
//!
//! Register protocol of a call: x0 = operation number, x1 = its parameter (the address of
//! a parameter block, or of a byte), then `hlt #0xf000`; the result comes back in x0.
//! Without `-semihosting` (or on hardware without a debugger) the instruction traps as
//! an undefined instruction, so this is for QEMU only.

/// `SYS_WRITEC`: write the byte at \[x1\] to the debug console.
pub const SYS_WRITEC: u64 = 0x03;
/// `SYS_EXIT`: x1 points to {reason, subcode}.
pub const SYS_EXIT: u64 = 0x18;
/// `ADP_Stopped_ApplicationExit`: the reason of a normal exit with a status.
pub const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// The status QEMU exits with when the kernel exits with `code` (see `docs/overview.md`):
/// `33 + 2 * code`, which no QEMU failure (status 1) can be confused with.
pub const fn qemu_status(code: u32) -> u64 {
    33 + 2 * code as u64
}

/// The `SYS_EXIT` parameter block for a kernel exit `code`.
pub const fn exit_block(code: u32) -> [u64; 2] {
    [ADP_STOPPED_APPLICATION_EXIT, qemu_status(code)]
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod hw {
    /// One semihosting call.
    ///
    /// # Safety
    /// `param` must be what operation `op` expects (a valid parameter-block address).
    unsafe fn call(op: u64, param: u64) -> u64 {
        let ret;
        // SAFETY: the caller passes a valid parameter; QEMU reads it and returns in x0.
        unsafe {
            core::arch::asm!("hlt #0xf000", inout("x0") op => ret, in("x1") param, options(nostack));
        }
        ret
    }

    /// Stops QEMU with the status for kernel exit `code` (never returns).
    pub fn exit(code: u32) -> ! {
        let block = super::exit_block(code);
        loop {
            // SAFETY: `block` is the two-word block SYS_EXIT reads.
            unsafe { call(super::SYS_EXIT, block.as_ptr() as u64) };
            // Not under QEMU with -semihosting: nothing sensible is left to do.
            aarch64_cpu::asm::wfe();
        }
    }

    /// Writes bytes to the semihosting console, one at a time.
    pub fn write(bytes: &[u8]) {
        for b in bytes {
            // SAFETY: SYS_WRITEC reads the one byte at the address.
            unsafe { call(super::SYS_WRITEC, b as *const u8 as u64) };
        }
    }
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use hw::{exit, write};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(qemu_status(0), 33);
        assert_eq!(qemu_status(3), 39);
        assert_eq!(exit_block(2), [0x20026, 37]);
    }
}
