//! Stopping QEMU with a status: the `isa-debug-exit` device at port 0xf4.

use x86_64::instructions::port::Port;

/// The `isa-debug-exit` I/O port (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Exits QEMU so that its status is `33 + 2 * code` (the device exits with
/// `(value << 1) | 1`, and the kernel writes `0x10 + code`). Prints nothing. Without the
/// device, halts forever.
pub fn qemu_exit(code: u32) -> ! {
    // SAFETY: writing the debug-exit port stops QEMU; on a machine without the device the
    // write goes nowhere.
    unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(0x10 + code) };
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
