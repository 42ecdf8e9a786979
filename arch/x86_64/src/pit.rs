//! The 8254 PIT's channel 2 as a calibration reference: a one-shot of known length whose
//! end is read from port 0x61 bit 5, with no interrupt involved.

use x86_64::instructions::port::Port;

/// The PIT's input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// Runs `start`, waits `ms` milliseconds (at most 54) on PIT channel 2, then runs `end`.
/// The two closures read the clocks being calibrated, as close to the PIT's start and end
/// as the code allows.
pub fn measure<A, B>(ms: u64, start: impl FnOnce() -> A, end: impl FnOnce() -> B) -> (A, B) {
    let latch = (PIT_HZ * ms / 1000).min(0xffff) as u16;
    let mut p61 = Port::<u8>::new(0x61);
    let mut cmd = Port::<u8>::new(0x43);
    let mut ch2 = Port::<u8>::new(0x42);
    // SAFETY: ports 0x61 (gate and speaker), 0x43 (PIT mode) and 0x42 (channel 2) affect
    // only the PIT's channel 2 and the PC speaker, which nothing else uses.
    unsafe {
        // Gate low (stop), speaker off; channel 2, lobyte/hibyte, mode 0, binary.
        let v = p61.read() & !0x03;
        p61.write(v);
        cmd.write(0b1011_0000);
        ch2.write(latch as u8);
        ch2.write((latch >> 8) as u8);
        let a = start();
        p61.write(v | 0x01); // gate high: count down
        let mut spins = 0u64;
        // OUT2 (bit 5) goes high at terminal count; bounded in case there is no PIT.
        while p61.read() & 0x20 == 0 && spins < 100_000_000 {
            spins += 1;
        }
        let b = end();
        p61.write(v);
        (a, b)
    }
}
