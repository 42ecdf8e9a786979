//! The PL011 UART console, behind a lock that a fault report can break.
//!
//! Before the UART is mapped (very early boot, or a boot that fails before the device
//! tree is read) output goes to the semihosting console instead, so no message is lost.

use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    /// Flag register.
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    /// Control register.
    CR [
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) []
    ]
];

register_structs! {
    /// The PL011 registers the kernel uses.
    Regs {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _r0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _r1),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _r2),
        (0x38 => imsc: ReadWrite<u32>),
        (0x3c => @END),
    }
}

/// A mapped PL011.
struct Pl011 {
    regs: *const Regs,
}

// SAFETY: the pointer is to device registers valid for the kernel's lifetime; all access
// goes through the `UART` lock.
unsafe impl Send for Pl011 {}

impl Pl011 {
    fn regs(&self) -> &Regs {
        // SAFETY: `regs` is the kernel-VA mapping of the UART (Device-nGnRE), set once.
        unsafe { &*self.regs }
    }

    fn put(&self, b: u8) {
        let r = self.regs();
        let mut spins = 0u32;
        // A UART that never drains must not hang the kernel (or its fault report).
        while r.fr.is_set(FR::TXFF) && spins < 1_000_000 {
            core::hint::spin_loop();
            spins += 1;
        }
        r.dr.set(b as u32);
    }
}

static UART: Mutex<Option<Pl011>> = Mutex::new(None);
static READY: AtomicBool = AtomicBool::new(false);

/// Starts using the PL011 mapped at `va`: keeps the loader's line settings, enables the
/// transmitter if it is off, masks its interrupts.
///
/// # Safety
/// `va` must map a PL011's registers as device memory for the rest of the kernel's life.
pub unsafe fn init(va: u64) {
    let uart = Pl011 { regs: va as *const Regs };
    let r = uart.regs();
    r.imsc.set(0);
    if !r.cr.is_set(CR::UARTEN) || !r.cr.is_set(CR::TXE) {
        r.cr.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }
    *lock() = Some(uart);
    READY.store(true, Ordering::Release);
}

/// The lock, taken even if its holder was interrupted for good: after a bounded wait
/// (another CPU may be printing a line), the lock is broken, since the only holders that
/// never release it are code interrupted by a fault or a nested trap on this CPU.
fn lock() -> spin::MutexGuard<'static, Option<Pl011>> {
    for _ in 0..1_000_000 {
        if let Some(g) = UART.try_lock() {
            return g;
        }
        core::hint::spin_loop();
    }
    // SAFETY: see above: the holder will not run again before this output is done (a
    // fault report ends the kernel), and the UART tolerates interleaved bytes.
    unsafe { UART.force_unlock() };
    UART.lock()
}

/// Writes bytes to the console, turning `\n` into `\r\n`. Safe to call from trap
/// handlers and the panic handler (see [`lock`]).
pub fn write_bytes(bytes: &[u8]) {
    if !READY.load(Ordering::Acquire) {
        crate::semihosting::write(bytes);
        return;
    }
    let g = lock();
    if let Some(u) = g.as_ref() {
        for &b in bytes {
            if b == b'\n' {
                u.put(b'\r');
            }
            u.put(b);
        }
    }
}

/// `pecan_hal::Console` over [`write_bytes`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Console;

impl pecan_hal::Console for Console {
    fn write(&mut self, bytes: &[u8]) {
        write_bytes(bytes);
    }
}
