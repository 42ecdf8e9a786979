//! The generic timer: the periodic tick and the monotonic clock.
//!
//! The kernel uses the EL1 *virtual* timer (CNTV, PPI 27 on QEMU virt) and the virtual
//! counter CNTVCT_EL0. Entered at EL1, that is the timer a kernel may always use, also as
//! a guest under a hypervisor that traps the physical one (KVM does); entered at EL2 the
//! boot code sets CNTVOFF_EL2 = 0, so the virtual count equals the physical count either
//! way. The tick is programmed through CNTV_CVAL_EL0 (an absolute deadline advanced by
//! one period per tick), so late interrupts do not make the tick drift.

/// Nanoseconds for `count` ticks of a counter running at `freq` Hz.
pub const fn counter_to_ns(count: u64, freq: u64) -> u64 {
    if freq == 0 {
        return 0;
    }
    (count as u128 * 1_000_000_000 / freq as u128) as u64
}

/// The next deadline after `deadline` for a tick of `period` counts, given the counter
/// now reads `now`: one period later, or one period from now if the kernel fell behind by
/// more than a period (the missed ticks are dropped, not replayed in a burst).
pub const fn next_deadline(deadline: u64, period: u64, now: u64) -> u64 {
    let next = deadline.wrapping_add(period);
    if next <= now { now.wrapping_add(period) } else { next }
}

/// The tick source as `pecan_hal::Timer` sees it.
#[derive(Clone, Copy, Debug)]
pub struct GenericTimer {
    /// Counter frequency (CNTFRQ_EL0).
    pub freq: u64,
    /// Ticks per second.
    pub hz: u64,
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod hw {
    use core::sync::atomic::{AtomicU64, Ordering};

    use aarch64_cpu::registers::{CNTFRQ_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTVCT_EL0, Readable, Writeable};

    use super::{GenericTimer, counter_to_ns, next_deadline};

    use crate::percpu::{self, MAX_CPUS};

    /// Each CPU's ticks and next deadline (every CPU runs its own timer).
    static TICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
    static DEADLINE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
    static PERIOD: AtomicU64 = AtomicU64::new(0);
    static HZ: AtomicU64 = AtomicU64::new(0);

    /// The virtual counter, read after earlier instructions (an `isb` orders the read).
    pub fn counter() -> u64 {
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        CNTVCT_EL0.get()
    }

    /// Starts the boot CPU's periodic tick at `hz` (interrupts are still masked at the
    /// CPU).
    pub fn start(hz: u64) -> GenericTimer {
        let freq = CNTFRQ_EL0.get();
        PERIOD.store((freq / hz).max(1), Ordering::Relaxed);
        HZ.store(hz, Ordering::Relaxed);
        start_secondary();
        GenericTimer { freq, hz }
    }

    /// Starts this CPU's periodic tick at the boot CPU's rate.
    pub fn start_secondary() -> GenericTimer {
        let deadline = counter() + PERIOD.load(Ordering::Relaxed);
        DEADLINE[percpu::index()].store(deadline, Ordering::Relaxed);
        CNTV_CVAL_EL0.set(deadline);
        CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
        GenericTimer { freq: CNTFRQ_EL0.get(), hz: HZ.load(Ordering::Relaxed) }
    }

    /// Handles this CPU's timer interrupt: counts the tick and sets the next deadline.
    pub fn on_interrupt() {
        let me = percpu::index();
        let deadline =
            next_deadline(DEADLINE[me].load(Ordering::Relaxed), PERIOD.load(Ordering::Relaxed), counter());
        DEADLINE[me].store(deadline, Ordering::Relaxed);
        CNTV_CVAL_EL0.set(deadline);
        TICKS[me].fetch_add(1, Ordering::Relaxed);
    }

    /// Lets user mode read the virtual counter (CNTVCT_EL0, CNTFRQ_EL0) through
    /// CNTKCTL_EL1.EL0VCTEN; its timers and the physical counter stay EL1's.
    pub fn allow_user_counter() {
        const EL0VCTEN: u64 = 1 << 1;
        // SAFETY: CNTKCTL_EL1 only controls EL0's access to the generic timer; reading
        // the virtual counter reveals nothing a thread does not know (time).
        unsafe { core::arch::asm!("msr cntkctl_el1, {}", "isb", in(reg) EL0VCTEN, options(nostack, nomem)) };
    }

    /// Timer interrupts this CPU took since boot.
    pub fn ticks() -> u64 {
        cpu_ticks(percpu::index())
    }

    /// Timer interrupts CPU `cpu` took.
    pub fn cpu_ticks(cpu: usize) -> u64 {
        TICKS.get(cpu).map_or(0, |t| t.load(Ordering::Relaxed))
    }

    impl pecan_hal::Timer for GenericTimer {
        fn tick_hz(&self) -> u64 {
            self.hz
        }
        fn now_ns(&self) -> u64 {
            counter_to_ns(counter(), self.freq)
        }
    }
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use hw::{allow_user_counter, counter, cpu_ticks, on_interrupt, start, start_secondary, ticks};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(counter_to_ns(1_000_000_000, 1_000_000_000), 1_000_000_000);
        assert_eq!(counter_to_ns(62_500_000, 62_500_000), 1_000_000_000);
        assert_eq!(counter_to_ns(1, 62_500_000), 16);
        // No overflow after years of uptime at 1 GHz.
        assert_eq!(counter_to_ns(u64::MAX / 2, 1_000_000_000), u64::MAX / 2);
        assert_eq!(counter_to_ns(5, 0), 0);
    }

    #[test]
    fn deadlines() {
        assert_eq!(next_deadline(1000, 100, 1050), 1100);
        assert_eq!(next_deadline(1000, 100, 1100), 1200, "exactly late: one period from now");
        assert_eq!(next_deadline(1000, 100, 5000), 5100, "far behind: no burst");
    }
}
