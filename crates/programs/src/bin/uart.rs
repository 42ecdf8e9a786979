//! A user-level UART driver: it gets the console UART's interrupts through an IRQ object
//! and drives the device itself — through an I/O-port capability on x86_64 (16550 at
//! COM1), through the device page mapped into its address space on AArch64 (PL011). It
//! transmits a line one byte per transmit interrupt, then echoes what arrives on the
//! receive side (if anything is typed within a short time).
//!
//! Arguments: 0 the architecture (`ARCH_X86_64` or `ARCH_AARCH64`). Capabilities: the
//! IRQ at slot `IRQ_SLOT`; on x86_64 the ports at `PORTS_SLOT`; on AArch64 the device page
//! is mapped at `DEVICE_AT`.
#![no_std]
#![no_main]

use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::layout::ARCH_X86_64;
use pecan_user::{Gate, IoPorts, Irq, Thread, Timeouts, ipc, println};

pecan_user::entry!(main);

/// Slot of the UART's IRQ capability.
pub const IRQ_SLOT: u64 = 10;
/// Slot of the I/O-port capability (x86_64).
pub const PORTS_SLOT: u64 = 11;
/// Where the PL011's page is mapped (AArch64).
pub const DEVICE_AT: u64 = 0x0000_1000_0000_0000;

const LINE: &[u8] = b"uart: hello from a user-level driver, one interrupt per byte\r\n";

/// The two UARTs behind one interface.
enum Uart {
    Pc(IoPorts),
    Pl011(*mut u32),
}

const COM1: u16 = 0x3f8;

impl Uart {
    fn reg(p: *mut u32, off: usize) -> *mut u32 {
        // SAFETY: `off` is a register offset inside the mapped device page.
        unsafe { p.add(off / 4) }
    }

    /// Enables the transmit and receive interrupts.
    fn enable(&self) {
        match self {
            Uart::Pc(p) => {
                let _ = p.outb(COM1 + 4, 0x0b); // MCR: DTR, RTS, OUT2 (routes the interrupt)
                let _ = p.outb(COM1 + 1, 0x03); // IER: receive data, transmit holding empty
            }
            // SAFETY: device registers of the mapped PL011 (IMSC at 0x38: RXIM | TXIM | RTIM).
            Uart::Pl011(b) => unsafe { Self::reg(*b, 0x38).write_volatile(1 << 4 | 1 << 5 | 1 << 6) },
        }
    }

    fn disable(&self) {
        match self {
            Uart::Pc(p) => {
                let _ = p.outb(COM1 + 1, 0);
            }
            // SAFETY: as in `enable`.
            Uart::Pl011(b) => unsafe { Self::reg(*b, 0x38).write_volatile(0) },
        }
    }

    fn put(&self, c: u8) {
        match self {
            Uart::Pc(p) => {
                let _ = p.outb(COM1, c);
            }
            // SAFETY: DR at 0x00.
            Uart::Pl011(b) => unsafe { Self::reg(*b, 0).write_volatile(c as u32) },
        }
    }

    /// Reads received bytes into `out`; clears the interrupt causes.
    fn service(&self, out: &mut [u8], n: &mut usize) {
        match self {
            Uart::Pc(p) => {
                let _ = p.inb(COM1 + 2); // IIR: reading it clears a transmit-empty cause
                while p.inb(COM1 + 5).unwrap_or(0) & 1 != 0 {
                    let c = p.inb(COM1).unwrap_or(0);
                    if *n < out.len() {
                        out[*n] = c;
                        *n += 1;
                    }
                }
            }
            Uart::Pl011(b) => {
                // SAFETY: FR at 0x18 (bit 4: receive FIFO empty), DR at 0, ICR at 0x44.
                unsafe {
                    while Self::reg(*b, 0x18).read_volatile() & (1 << 4) == 0 {
                        let c = Self::reg(*b, 0).read_volatile() as u8;
                        if *n < out.len() {
                            out[*n] = c;
                            *n += 1;
                        }
                    }
                    Self::reg(*b, 0x44).write_volatile(0x7ff);
                }
            }
        }
    }
}

fn main(info: u64) -> ! {
    let si = pecan_system::bootinfo::start_info(info).expect("start info");
    let uart = if si.args[0] == ARCH_X86_64 {
        Uart::Pc(IoPorts::at(PORTS_SLOT))
    } else {
        Uart::Pl011(DEVICE_AT as *mut u32)
    };
    let irq = Irq::at(IRQ_SLOT);
    irq.attach(Thread::at(std_slots::THREAD), 0x55).expect("attach");
    let wait = |ms| ipc::recv(irq.any(), Timeouts::new(None, Some(Duration::from_millis(ms))));
    uart.enable();
    let (mut irqs, mut rx) = (0u64, [0u8; 64]);
    let mut n = 0;
    for &c in LINE {
        uart.put(c);
        if wait(100).is_ok() {
            irqs += 1;
        }
        uart.service(&mut rx, &mut n);
        let _ = irq.ack();
    }
    // Give input a moment to arrive (the test harness types a line).
    for _ in 0..50 {
        if rx[..n].contains(&b'\n') || rx[..n].contains(&b'\r') {
            break;
        }
        if wait(20).is_ok() {
            irqs += 1;
        }
        uart.service(&mut rx, &mut n);
        let _ = irq.ack();
    }
    uart.disable();
    let text = core::str::from_utf8(&rx[..n]).unwrap_or("?").trim_end();
    println!(
        "uart: {irqs} interrupts handled in user space, {} bytes sent, {n} received: {text:?}",
        LINE.len()
    );
    let _ = pecan_programs::report(Gate::at(std_slots::PARENT), &[irqs, n as u64]);
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}
