//! The 16550 UART on COM1 (port 0x3f8): the kernel console.
//!
//! Output only, polled, 115200 8N1, no interrupts. Writers take a spin lock; a writer that
//! cannot get it after a bounded wait assumes the holder is this CPU, interrupted by a
//! fault whose report is being printed, and breaks the lock (the interrupted writer never
//! resumes: a fault report ends the machine).

use pecan_hal::Console;
use spin::{Mutex, MutexGuard};
use x86_64::instructions::port::Port;

/// COM1's I/O base.
pub const COM1: u16 = 0x3f8;

/// Spins before a held lock is broken.
const LOCK_SPINS: u32 = 1 << 20;

/// A 16550 at an I/O base.
pub struct Uart {
    base: u16,
}

impl Uart {
    /// The UART at `base` (not yet initialized).
    pub const fn new(base: u16) -> Self {
        Uart { base }
    }

    fn out(&self, reg: u16, v: u8) {
        // SAFETY: the 16550's registers are at base..base+8; writing them has no effect
        // on memory.
        unsafe { Port::<u8>::new(self.base + reg).write(v) }
    }

    fn inb(&self, reg: u16) -> u8 {
        // SAFETY: as above; reading LSR has no side effects.
        unsafe { Port::<u8>::new(self.base + reg).read() }
    }

    /// Programs 115200 baud, 8N1, FIFOs on, interrupts off.
    pub fn init(&mut self) {
        self.out(1, 0x00); // IER: no interrupts
        self.out(3, 0x80); // LCR: DLAB
        self.out(0, 0x01); // DLL: divisor 1 = 115200 baud
        self.out(1, 0x00); // DLM
        self.out(3, 0x03); // LCR: 8N1
        self.out(2, 0xc7); // FCR: enable and clear FIFOs
        self.out(4, 0x03); // MCR: DTR, RTS
    }

    /// Sends one byte, waiting for room in the transmitter.
    pub fn put(&mut self, b: u8) {
        let mut spins = 0u32;
        // LSR bit 5: transmit holding register empty. Bounded, in case there is no UART.
        while self.inb(5) & 0x20 == 0 && spins < 100_000 {
            spins += 1;
            core::hint::spin_loop();
        }
        self.out(0, b);
    }
}

static UART: Mutex<Uart> = Mutex::new(Uart::new(COM1));

fn lock() -> MutexGuard<'static, Uart> {
    for _ in 0..LOCK_SPINS {
        if let Some(g) = UART.try_lock() {
            return g;
        }
        core::hint::spin_loop();
    }
    // SAFETY: see the module comment: the holder is this CPU and will never run again.
    unsafe { UART.force_unlock() };
    UART.lock()
}

/// Initializes COM1.
pub fn init() {
    lock().init();
}

/// Writes bytes to the console, turning `\n` into `\r\n` for terminals. Safe to call from
/// trap handlers (the console writer of `Machine`).
pub fn write_bytes(bytes: &[u8]) {
    let mut u = lock();
    for &b in bytes {
        if b == b'\n' {
            u.put(b'\r');
        }
        u.put(b);
    }
}

/// A `core::fmt::Write` sink on the console.
pub struct Writer;

impl core::fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// The console as the `Hal` sees it: bytes as they are.
#[derive(Clone, Copy, Debug, Default)]
pub struct SerialConsole;

impl Console for SerialConsole {
    fn write(&mut self, bytes: &[u8]) {
        let mut u = lock();
        for &b in bytes {
            u.put(b);
        }
    }
}
