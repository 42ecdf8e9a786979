//! The legacy 8259 interrupt controllers: moved out of the exception vectors and masked
//! (the kernel uses the local APIC and the IOAPIC).

use x86_64::instructions::port::Port;

use crate::layout::VECTOR_PIC_BASE;

fn out(port: u16, v: u8) {
    // SAFETY: the 8259 command and data ports; programming them affects only which
    // legacy interrupts the PICs raise.
    unsafe { Port::<u8>::new(port).write(v) }
}

/// Reinitializes both PICs at `VECTOR_PIC_BASE` (so a spurious IRQ 7/15 cannot look like
/// an exception) and masks every line.
pub fn disable() {
    out(0x20, 0x11); // ICW1: init, ICW4 follows
    out(0xa0, 0x11);
    out(0x21, VECTOR_PIC_BASE); // ICW2: vector base
    out(0xa1, VECTOR_PIC_BASE + 8);
    out(0x21, 0x04); // ICW3: slave on IRQ 2
    out(0xa1, 0x02);
    out(0x21, 0x01); // ICW4: 8086 mode
    out(0xa1, 0x01);
    out(0x21, 0xff); // mask everything
    out(0xa1, 0xff);
}
