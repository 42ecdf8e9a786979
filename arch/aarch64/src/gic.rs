//! The GICv3 interrupt controller: distributor, this CPU's redistributor, and the CPU
//! interface through the ICC system registers.
//!
//! All interrupts are non-secure Group 1, level sensitive as the firmware left them, one
//! priority (0xa0), routed to the boot CPU. Lines are INTIDs: 0-15 SGIs, 16-31 PPIs
//! (per CPU, in the redistributor), 32.. SPIs (in the distributor). The kernel keeps
//! the SGIs and the PPIs (its timer), and any SPI it names as its own (none on QEMU virt:
//! the console transmits by polling, so its line is free for a user driver); every other
//! SPI may be handed to user space.

/// First private peripheral interrupt (below: SGIs, the IPIs).
pub const FIRST_PPI: u32 = 16;
/// First shared peripheral interrupt.
pub const FIRST_SPI: u32 = 32;
/// INTIDs from here on are special (1020-1023: spurious and friends).
pub const SPECIAL: u32 = 1020;
/// The priority every interrupt gets.
pub const PRIORITY: u8 = 0xa0;

/// Which lines exist and which the kernel keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lines {
    /// Number of INTIDs the distributor implements (`32 * (ITLinesNumber + 1)`, at most
    /// 1020).
    pub count: u32,
    /// SPIs the kernel uses itself (its console), or `u32::MAX`.
    pub kernel_spis: [u32; 2],
}

impl Lines {
    /// From GICD_TYPER.
    pub const fn from_typer(typer: u32, kernel_spis: [u32; 2]) -> Self {
        let n = 32 * ((typer & 0x1f) + 1);
        Lines { count: if n > SPECIAL { SPECIAL } else { n }, kernel_spis }
    }

    /// Whether user space may own `line`.
    pub fn is_user_line(&self, line: u32) -> bool {
        (FIRST_SPI..self.count).contains(&line) && !self.kernel_spis.contains(&line)
    }
}

/// The register word and bit of `intid` in a one-bit-per-interrupt register array.
pub const fn bit_of(intid: u32) -> (usize, u32) {
    ((intid / 32) as usize, 1 << (intid % 32))
}

/// ICC_SGI1R_EL1.IRM: to every CPU but the sender.
pub const SGI1R_IRM: u64 = 1 << 40;

/// The ICC_SGI1R_EL1 value sending SGI `intid` to the one CPU with MPIDR affinity
/// `mpidr`: TargetList bit Aff0 mod 16, RS = Aff0 / 16, Aff1, Aff2, Aff3.
pub const fn sgi1r(intid: u32, mpidr: u64) -> u64 {
    let aff0 = mpidr & 0xff;
    let aff1 = (mpidr >> 8) & 0xff;
    let aff2 = (mpidr >> 16) & 0xff;
    let aff3 = (mpidr >> 32) & 0xff;
    (1 << (aff0 % 16))
        | aff1 << 16
        | ((intid as u64 & 0xf) << 24)
        | aff2 << 32
        | (aff0 / 16) << 44
        | aff3 << 48
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod hw {
    use tock_registers::interfaces::{Readable, Writeable};
    use tock_registers::register_structs;
    use tock_registers::registers::{ReadOnly, ReadWrite};

    use super::{Lines, PRIORITY, bit_of};

    register_structs! {
        /// The distributor registers the kernel uses.
        Gicd {
            (0x0000 => ctlr: ReadWrite<u32>),
            (0x0004 => typer: ReadOnly<u32>),
            (0x0008 => _r0),
            (0x0080 => igroupr: [ReadWrite<u32>; 32]),
            (0x0100 => isenabler: [ReadWrite<u32>; 32]),
            (0x0180 => icenabler: [ReadWrite<u32>; 32]),
            (0x0200 => _r1),
            (0x0280 => icpendr: [ReadWrite<u32>; 32]),
            (0x0300 => _r2),
            (0x0400 => ipriorityr: [ReadWrite<u8>; 1020]),
            (0x07fc => _r3),
            (0x6000 => irouter: [ReadWrite<u64>; 1020]),
            (0x7fe0 => @END),
        }
    }

    register_structs! {
        /// A redistributor's control frame (RD_base).
        GicrRd {
            (0x0000 => ctlr: ReadWrite<u32>),
            (0x0004 => _r0),
            (0x0008 => typer: ReadOnly<u64>),
            (0x0010 => _r1),
            (0x0014 => waker: ReadWrite<u32>),
            (0x0018 => @END),
        }
    }

    register_structs! {
        /// A redistributor's SGI/PPI frame (SGI_base = RD_base + 64 KiB).
        GicrSgi {
            (0x0000 => _r0),
            (0x0080 => igroupr0: ReadWrite<u32>),
            (0x0084 => _r1),
            (0x0100 => isenabler0: ReadWrite<u32>),
            (0x0104 => _r2),
            (0x0180 => icenabler0: ReadWrite<u32>),
            (0x0184 => _r3),
            (0x0280 => icpendr0: ReadWrite<u32>),
            (0x0284 => _r4),
            (0x0400 => ipriorityr: [ReadWrite<u8>; 32]),
            (0x0420 => @END),
        }
    }

    const GICD_CTLR_RWP: u32 = 1 << 31;
    const GICR_CTLR_RWP: u32 = 1 << 3;
    const GICD_CTLR_ENABLE_GRP1: u32 = 1 << 1;
    const GICD_CTLR_ARE: u32 = 1 << 4;
    const GICR_TYPER_VLPIS: u64 = 1 << 1;
    const GICR_TYPER_LAST: u64 = 1 << 4;
    const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
    const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

    /// The GIC as this CPU uses it.
    #[derive(Clone, Copy, Debug)]
    pub struct Gic {
        dist: u64,
        rd: u64,
        redist: u64,
        redist_len: u64,
        lines: Lines,
    }

    fn wait(mut done: impl FnMut() -> bool, what: &str) {
        for _ in 0..10_000_000 {
            if done() {
                return;
            }
            core::hint::spin_loop();
        }
        panic!("GIC: {what} does not complete");
    }

    macro_rules! icc_write {
        ($reg:literal, $v:expr) => {
            // SAFETY: writes a GIC CPU-interface register at EL1 (enabled by ICC_SRE_EL1.SRE).
            unsafe { core::arch::asm!(concat!("msr ", $reg, ", {}"), in(reg) $v as u64, options(nostack)) }
        };
    }
    macro_rules! icc_read {
        ($reg:literal) => {{
            let v: u64;
            // SAFETY: reads a GIC CPU-interface register at EL1.
            unsafe { core::arch::asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nostack)) };
            v
        }};
    }

    impl Gic {
        /// A GIC nobody set up (before boot): masking and unmasking do nothing.
        pub const fn unconfigured() -> Gic {
            Gic {
                dist: 0,
                rd: 0,
                redist: 0,
                redist_len: 0,
                lines: Lines { count: 0, kernel_spis: [u32::MAX; 2] },
            }
        }

        fn dist(&self) -> &'static Gicd {
            // SAFETY: `dist` maps the distributor (device memory) for the kernel's lifetime.
            unsafe { &*(self.dist as *const Gicd) }
        }
        fn rd(&self) -> &'static GicrRd {
            // SAFETY: `rd` maps this CPU's redistributor control frame.
            unsafe { &*(self.rd as *const GicrRd) }
        }
        fn sgi(&self) -> &'static GicrSgi {
            // SAFETY: the SGI frame follows the control frame, 64 KiB up, in the same mapping.
            unsafe { &*((self.rd + 0x1_0000) as *const GicrSgi) }
        }

        /// Initializes the distributor, finds and wakes this CPU's redistributor in the
        /// region mapped at `redist` (`redist_len` bytes), and turns on the CPU interface.
        /// The kernel's own SPIs are `kernel_spis`.
        ///
        /// # Safety
        /// `dist` and `redist` must map a GICv3's distributor and redistributor region as
        /// device memory for the rest of the kernel's life; called once, at boot.
        pub unsafe fn init(dist: u64, redist: u64, redist_len: u64, kernel_spis: [u32; 2]) -> Gic {
            let mut g = Gic { dist, rd: 0, redist, redist_len, lines: Lines::from_typer(0, kernel_spis) };
            let d = g.dist();
            g.lines = Lines::from_typer(d.typer.get(), kernel_spis);
            let words = g.lines.count.div_ceil(32) as usize;
            let me = crate::cpu::affinity();

            // Distributor: off, affinity routing on, every SPI Group 1, masked, not pending,
            // one priority, routed to this CPU; then Group 1 on.
            d.ctlr.set(0);
            wait(|| d.ctlr.get() & GICD_CTLR_RWP == 0, "distributor disable");
            d.ctlr.set(GICD_CTLR_ARE);
            wait(|| d.ctlr.get() & GICD_CTLR_RWP == 0, "affinity routing enable");
            for i in 1..words {
                d.igroupr[i].set(!0);
                d.icenabler[i].set(!0);
                d.icpendr[i].set(!0);
            }
            for intid in super::FIRST_SPI..g.lines.count {
                d.ipriorityr[intid as usize].set(PRIORITY);
                d.irouter[intid as usize].set(me);
            }
            wait(|| d.ctlr.get() & GICD_CTLR_RWP == 0, "distributor setup");
            d.ctlr.set(GICD_CTLR_ARE | GICD_CTLR_ENABLE_GRP1);
            wait(|| d.ctlr.get() & GICD_CTLR_RWP == 0, "distributor enable");
            g.init_cpu();
            g
        }

        /// On a secondary CPU, after the boot CPU's [`Gic::init`]: the same GIC with this
        /// CPU's redistributor (woken, its SGIs and PPIs Group 1, masked, one priority) and
        /// its CPU interface on.
        pub fn init_secondary(&self) -> Gic {
            let mut g = *self;
            g.init_cpu();
            g
        }

        /// Finds, wakes and sets up this CPU's redistributor and turns on its CPU interface.
        fn init_cpu(&mut self) {
            let (redist, redist_len) = (self.redist, self.redist_len);
            let me = crate::cpu::affinity();
            let g = self;
            // This CPU's redistributor: the frame whose affinity matches MPIDR.
            let mut at = redist;
            loop {
                // SAFETY: `at` is inside the mapped redistributor region (checked below).
                let typer = unsafe { &*(at as *const GicrRd) }.typer.get();
                if typer >> 32 == me {
                    g.rd = at;
                    break;
                }
                let stride = if typer & GICR_TYPER_VLPIS != 0 { 0x4_0000 } else { 0x2_0000 };
                if typer & GICR_TYPER_LAST != 0 || at + 2 * stride > redist + redist_len {
                    panic!("GIC: no redistributor for affinity {me:#x}");
                }
                at += stride;
            }
            let rd = g.rd();
            rd.waker.set(rd.waker.get() & !GICR_WAKER_PROCESSOR_SLEEP);
            wait(|| rd.waker.get() & GICR_WAKER_CHILDREN_ASLEEP == 0, "redistributor wake-up");
            let sgi = g.sgi();
            sgi.igroupr0.set(!0);
            sgi.icenabler0.set(!0);
            sgi.icpendr0.set(!0);
            for p in sgi.ipriorityr.iter() {
                p.set(PRIORITY);
            }

            // The CPU interface: system registers on, all priorities, Group 1 on.
            let sre = icc_read!("icc_sre_el1");
            icc_write!("icc_sre_el1", sre | 1);
            aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
            if icc_read!("icc_sre_el1") & 1 == 0 {
                panic!("GIC: the ICC system-register interface is disabled (by EL2?)");
            }
            icc_write!("icc_pmr_el1", 0xffu64);
            icc_write!("icc_bpr1_el1", 0u64);
            icc_write!("icc_ctlr_el1", 0u64);
            icc_write!("icc_igrpen1_el1", 1u64);
            aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        }

        /// Sends software-generated interrupt `intid` (0..16) to the CPU with MPIDR
        /// affinity `target` (Aff3 in bits 39:32, Aff2..Aff0 in 23:0), or to every other
        /// CPU (`None`), through ICC_SGI1R_EL1.
        pub fn send_sgi(&self, intid: u32, target: Option<u64>) {
            let v = match target {
                Some(mpidr) => super::sgi1r(intid, mpidr),
                None => super::SGI1R_IRM | ((intid as u64 & 0xf) << 24),
            };
            // SAFETY: the `dsb` orders earlier memory writes before the SGI (the target
            // reads what the sender wrote); the write only signals an interrupt.
            unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
            icc_write!("icc_sgi1r_el1", v);
            aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        }

        /// The line bookkeeping.
        pub fn lines_info(&self) -> Lines {
            self.lines
        }

        /// Acknowledges the highest-priority pending interrupt: its INTID and the raw
        /// ICC_IAR1_EL1 value for [`Gic::end`].
        pub fn ack(&self) -> (u32, u64) {
            let iar = icc_read!("icc_iar1_el1");
            ((iar & 0xff_ffff) as u32, iar)
        }

        /// Ends (and deactivates) an interrupt returned by [`Gic::ack`].
        pub fn end(&self, iar: u64) {
            icc_write!("icc_eoir1_el1", iar);
        }

        /// Enables or disables `line`. A disable waits until it has taken effect (RWP), so
        /// an interrupt ended right after it is not signalled again before the line is
        /// unmasked (the core masks a line, then the arch ends its interrupt).
        fn set_enabled(&self, line: u32, on: bool) {
            if self.dist == 0 || self.rd == 0 {
                return;
            }
            let (w, bit) = bit_of(line);
            if line < super::FIRST_SPI {
                let s = self.sgi();
                if on {
                    s.isenabler0.set(bit)
                } else {
                    s.icenabler0.set(bit);
                    let rd = self.rd();
                    wait(|| rd.ctlr.get() & GICR_CTLR_RWP == 0, "redistributor disable");
                }
            } else if line < self.lines.count {
                let d = self.dist();
                if on {
                    d.isenabler[w].set(bit)
                } else {
                    d.icenabler[w].set(bit);
                    wait(|| d.ctlr.get() & GICD_CTLR_RWP == 0, "distributor disable");
                }
            }
        }
    }

    impl pecan_hal::InterruptController for Gic {
        fn lines(&self) -> u32 {
            self.lines.count
        }
        fn is_user_line(&self, line: u32) -> bool {
            self.lines.is_user_line(line)
        }
        fn mask(&mut self, line: u32) {
            self.set_enabled(line, false);
        }
        fn unmask(&mut self, line: u32) {
            self.set_enabled(line, true);
        }
    }
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use hw::Gic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        // QEMU virt: ITLinesNumber = 8 -> 288 INTIDs.
        let l = Lines::from_typer(0x0037_8008, [33, u32::MAX]);
        assert_eq!(l.count, 288);
        assert!(!l.is_user_line(27), "the timer PPI");
        assert!(!l.is_user_line(33), "the console");
        assert!(l.is_user_line(32) && l.is_user_line(34) && l.is_user_line(287));
        assert!(!l.is_user_line(288) && !l.is_user_line(1023));
        assert_eq!(Lines::from_typer(0x1f, [u32::MAX; 2]).count, 1020);
    }

    #[test]
    fn sgi_targets() {
        assert_eq!(sgi1r(1, 0), 1 | 1 << 24);
        assert_eq!(sgi1r(2, 3), 1 << 3 | 2 << 24);
        // Aff0 17 (RS 1, bit 1), Aff1 2, Aff2 5, Aff3 7.
        assert_eq!(sgi1r(0, 7 << 32 | 5 << 16 | 2 << 8 | 17), 1 << 1 | 2 << 16 | 5 << 32 | 1 << 44 | 7 << 48);
    }

    #[test]
    fn bits() {
        assert_eq!(bit_of(27), (0, 1 << 27));
        assert_eq!(bit_of(33), (1, 1 << 1));
    }
}
