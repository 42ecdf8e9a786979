//! The local APIC (xAPIC, MMIO through the direct map) and its timer.
//!
//! The timer runs periodic at `TICK_HZ` on vector `VECTOR_TIMER`. Its rate is not known
//! in advance (QEMU's APIC bus is 1 GHz, hardware differs), so it is calibrated against the
//! PIT: one 50 ms PIT channel-2 one-shot, during which the APIC timer counts down from
//! 0xffff_ffff (divide by 1) and the TSC counts up. The same measurement gives the TSC
//! rate that `now_ns` uses. Under `-icount shift=0` both the PIT and the TSC follow the
//! instruction count, so the ratio holds there too.

use core::sync::atomic::{AtomicU64, Ordering};

use x86_64::registers::model_specific::Msr;

use crate::cpu::rdtsc;
use crate::layout::{VECTOR_SPURIOUS, VECTOR_TIMER};

/// Periodic ticks per second.
pub const TICK_HZ: u64 = 1000;
/// Calibration length.
const CALIBRATE_MS: u64 = 50;

const REG_ID: u64 = 0x20;
const REG_TPR: u64 = 0x80;
const REG_EOI: u64 = 0xb0;
const REG_SVR: u64 = 0xf0;
const REG_ESR: u64 = 0x280;
const REG_IRR: u64 = 0x200;
const REG_ICR_LOW: u64 = 0x300;
const REG_ICR_HIGH: u64 = 0x310;
const REG_LVT_TIMER: u64 = 0x320;
const REG_LVT_LINT0: u64 = 0x350;
const REG_LVT_ERROR: u64 = 0x370;
const REG_TIMER_INIT: u64 = 0x380;
const REG_TIMER_CURRENT: u64 = 0x390;
const REG_TIMER_DIVIDE: u64 = 0x3e0;

const MASKED: u32 = 1 << 16;
const PERIODIC: u32 = 1 << 17;
const IA32_APIC_BASE: u32 = 0x1b;

static BASE: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_START: AtomicU64 = AtomicU64::new(0);
static APIC_HZ: AtomicU64 = AtomicU64::new(0);

fn read(reg: u64) -> u32 {
    // SAFETY: BASE is the APIC's register page mapped uncached (set in `init` before any
    // caller); register reads have no side effects.
    unsafe { ((BASE.load(Ordering::Relaxed) + reg) as *const u32).read_volatile() }
}

fn write(reg: u64, v: u32) {
    // SAFETY: as above; the registers written are the ones this module owns.
    unsafe { ((BASE.load(Ordering::Relaxed) + reg) as *mut u32).write_volatile(v) }
}

/// Maps the APIC (physical base from IA32_APIC_BASE) and enables it (see [`enable`]).
pub fn init() {
    // SAFETY: reading IA32_APIC_BASE has no side effects.
    let msr = unsafe { Msr::new(IA32_APIC_BASE).read() };
    let pa = msr & 0x000f_ffff_ffff_f000;
    BASE.store(crate::paging::map_device(pa), Ordering::Relaxed);
    enable();
}

/// Enables this CPU's APIC (mapped by [`init`] on the boot CPU; every CPU's is at the same
/// address) with the spurious vector, masks LINT0 (the 8259's line) and the error
/// interrupt.
pub fn enable() {
    write(REG_TPR, 0);
    write(REG_LVT_LINT0, MASKED);
    write(REG_LVT_ERROR, MASKED);
    write(REG_ESR, 0);
    write(REG_SVR, 0x100 | VECTOR_SPURIOUS as u32);
}

/// This CPU's APIC id.
pub fn id() -> u32 {
    read(REG_ID) >> 24
}

/// Word `i` (vectors `32 i .. 32 i + 32`) of the Interrupt Request Register: interrupts
/// accepted but not yet delivered (long IPC's preemption check).
pub fn irr(i: u64) -> u32 {
    read(REG_IRR + 0x10 * i)
}

/// Signals the end of the interrupt being handled.
pub fn eoi() {
    write(REG_EOI, 0);
}

/// Measures the APIC timer and TSC rates against the PIT, then starts the periodic tick
/// (interrupts stay disabled until the kernel enables them). Returns (APIC timer Hz,
/// TSC Hz).
pub fn start_timer() -> (u64, u64) {
    write(REG_LVT_TIMER, MASKED);
    write(REG_TIMER_DIVIDE, 0b1011); // divide by 1
    let ((t0, c0), (t1, c1)) = crate::pit::measure(
        CALIBRATE_MS,
        || {
            write(REG_TIMER_INIT, u32::MAX);
            (rdtsc(), read(REG_TIMER_CURRENT))
        },
        || (rdtsc(), read(REG_TIMER_CURRENT)),
    );
    let apic_hz = (c0.saturating_sub(c1) as u64 * 1000 / CALIBRATE_MS).max(TICK_HZ);
    let tsc_hz = (t1.saturating_sub(t0) * 1000 / CALIBRATE_MS).max(1_000_000);
    APIC_HZ.store(apic_hz, Ordering::Relaxed);
    TSC_HZ.store(tsc_hz, Ordering::Relaxed);
    TSC_AT_START.store(rdtsc(), Ordering::Relaxed);
    write(REG_TIMER_INIT, 0);
    write(REG_LVT_TIMER, VECTOR_TIMER as u32 | PERIODIC);
    write(REG_TIMER_INIT, (apic_hz / TICK_HZ).min(u32::MAX as u64) as u32);
    (apic_hz, tsc_hz)
}

/// Starts this CPU's periodic tick at the rate the boot CPU measured (a secondary CPU).
pub fn start_timer_secondary() {
    write(REG_TIMER_DIVIDE, 0b1011);
    write(REG_LVT_TIMER, VECTOR_TIMER as u32 | PERIODIC);
    write(REG_TIMER_INIT, (APIC_HZ.load(Ordering::Relaxed) / TICK_HZ).min(u32::MAX as u64) as u32);
}

/// ICR delivery modes and shorthands (SDM vol. 3, 11.6.1).
const ICR_INIT: u32 = 0b101 << 8;
const ICR_STARTUP: u32 = 0b110 << 8;
const ICR_ASSERT: u32 = 1 << 14;
const ICR_PENDING: u32 = 1 << 12;
const ICR_ALL_BUT_SELF: u32 = 0b11 << 18;

/// Writes the ICR (destination first: the low word's write sends) after the previous
/// IPI left.
fn icr(dest: u32, low: u32) {
    while read(REG_ICR_LOW) & ICR_PENDING != 0 {
        core::hint::spin_loop();
    }
    write(REG_ICR_HIGH, dest << 24);
    write(REG_ICR_LOW, low);
}

/// Sends fixed interrupt `vector` to the CPU with APIC id `dest`.
pub fn send_ipi(dest: u32, vector: u8) {
    icr(dest, vector as u32 | ICR_ASSERT);
}

/// Sends fixed interrupt `vector` to every other CPU.
pub fn send_ipi_others(vector: u8) {
    icr(0, vector as u32 | ICR_ASSERT | ICR_ALL_BUT_SELF);
}

/// Sends INIT to the CPU with APIC id `dest` (it waits for a start-up IPI).
pub fn send_init(dest: u32) {
    icr(dest, ICR_INIT | ICR_ASSERT);
}

/// Sends a start-up IPI: the CPU starts in real mode at `page << 12` (below 1 MiB).
pub fn send_startup(dest: u32, page: u8) {
    icr(dest, ICR_STARTUP | ICR_ASSERT | page as u32);
}

/// Nanoseconds since the timer started, from the TSC.
pub fn now_ns() -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed).max(1);
    let dt = rdtsc().saturating_sub(TSC_AT_START.load(Ordering::Relaxed));
    (dt as u128 * 1_000_000_000 / hz as u128) as u64
}
