//! The IOAPIC (`pecan_hal::InterruptController`): input `n` is delivered to the boot CPU on
//! vector `VECTOR_IRQ_BASE + n`, masked until someone unmasks it. ISA inputs (below 16)
//! are edge-triggered, active high, PCI inputs level-triggered, active low, unless the
//! MADT's interrupt source overrides say otherwise.
//!
//! The kernel keeps only the PIT's input (unused once the APIC timer runs). COM1's input
//! (ISA IRQ 4) is a user line: the kernel console only transmits, so a user-level driver
//! may take the receive interrupt. [`user_lines`] lists it first, then ISA IRQs 3 and 5
//! (COM2 and a free line on QEMU's `pc`).

use pecan_hal::InterruptController;
use spin::{Mutex, Once};

use crate::acpi::{IoApicInfo, Iso};
use crate::layout::{MAX_IRQ_LINES, VECTOR_IRQ_BASE};

const REG_VER: u32 = 0x01;
const REG_REDIR: u32 = 0x10;
const MASKED: u32 = 1 << 16;
const ACTIVE_LOW: u32 = 1 << 13;
const LEVEL: u32 = 1 << 15;

struct IoApic {
    base: u64,
    lines: u32,
    /// The input the kernel keeps (the PIT's).
    kernel_line: Option<u32>,
}

static IOAPIC: Mutex<Option<IoApic>> = Mutex::new(None);

/// The ISA IRQs whose inputs user drivers may have, in the order the root task gets them:
/// COM1, COM2, and IRQ 5 (free on QEMU's `pc`).
const USER_ISA_IRQS: [u8; 3] = [4, 3, 5];

/// The inputs user drivers may have (`Platform::user_irq_lines`), and how many there are.
static USER_LINES: Once<([u32; USER_ISA_IRQS.len()], usize)> = Once::new();

/// The IOAPIC inputs user drivers may have: COM1's first (empty without an IOAPIC).
pub fn user_lines() -> &'static [u32] {
    match USER_LINES.get() {
        Some((l, n)) => &l[..*n],
        None => &[],
    }
}

impl IoApic {
    fn read(&self, reg: u32) -> u32 {
        // SAFETY: `base` is the IOAPIC's register window, mapped uncached; IOREGSEL/IOWIN
        // accesses happen under the IOAPIC lock, so the pair is not interleaved.
        unsafe {
            (self.base as *mut u32).write_volatile(reg);
            ((self.base + 0x10) as *const u32).read_volatile()
        }
    }

    fn write(&self, reg: u32, v: u32) {
        // SAFETY: as in `read`.
        unsafe {
            (self.base as *mut u32).write_volatile(reg);
            ((self.base + 0x10) as *mut u32).write_volatile(v);
        }
    }

    fn set_masked(&self, line: u32, masked: bool) {
        if line >= self.lines {
            return;
        }
        let reg = REG_REDIR + 2 * line;
        let v = self.read(reg);
        self.write(reg, if masked { v | MASKED } else { v & !MASKED });
    }
}

/// The GSI an ISA IRQ arrives at, and its MPS polarity/trigger flags.
fn isa_route(isos: &[Iso], irq: u8) -> (u32, u16) {
    isos.iter().find(|i| i.source == irq).map_or((irq as u32, 0), |i| (i.gsi, i.flags))
}

/// Maps and programs the IOAPIC: every input masked, routed to APIC `dest`.
pub fn init(info: IoApicInfo, isos: &[Iso], dest: u32) {
    let base = crate::paging::map_device(info.addr);
    let mut io = IoApic { base, lines: 0, kernel_line: None };
    io.lines = (((io.read(REG_VER) >> 16) & 0xff) + 1).min(MAX_IRQ_LINES);
    for line in 0..io.lines {
        let gsi = info.gsi_base + line;
        let mut low = (VECTOR_IRQ_BASE as u32 + line) | MASKED;
        if gsi >= 16 {
            low |= ACTIVE_LOW | LEVEL;
        }
        // An override naming this GSI sets its polarity (bits 0-1) and trigger (bits 2-3).
        if let Some(iso) = isos.iter().find(|i| i.gsi == gsi) {
            match iso.flags & 3 {
                1 => low &= !ACTIVE_LOW,
                3 => low |= ACTIVE_LOW,
                _ => {}
            }
            match (iso.flags >> 2) & 3 {
                1 => low &= !LEVEL,
                3 => low |= LEVEL,
                _ => {}
            }
        }
        io.write(REG_REDIR + 2 * line + 1, dest << 24);
        io.write(REG_REDIR + 2 * line, low);
    }
    let line_of = |irq| isa_route(isos, irq).0.checked_sub(info.gsi_base).filter(|&l| l < io.lines);
    io.kernel_line = line_of(0);
    USER_LINES.call_once(|| {
        let mut l = [0; USER_ISA_IRQS.len()];
        let mut n = 0;
        for line in USER_ISA_IRQS.iter().filter_map(|&irq| line_of(irq)) {
            if Some(line) != io.kernel_line && !l[..n].contains(&line) {
                l[n] = line;
                n += 1;
            }
        }
        (l, n)
    });
    *IOAPIC.lock() = Some(io);
}

/// Masks `line` (from the trap handler, for an interrupt nobody handles).
pub fn mask_line(line: u32) {
    if let Some(io) = IOAPIC.lock().as_ref() {
        io.set_masked(line, true);
    }
}

/// The IOAPIC as the core sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct X86Irq;

impl InterruptController for X86Irq {
    fn lines(&self) -> u32 {
        IOAPIC.lock().as_ref().map_or(0, |io| io.lines)
    }

    fn is_user_line(&self, line: u32) -> bool {
        IOAPIC.lock().as_ref().is_some_and(|io| line < io.lines && io.kernel_line != Some(line))
    }

    fn mask(&mut self, line: u32) {
        mask_line(line);
    }

    fn unmask(&mut self, line: u32) {
        if let Some(io) = IOAPIC.lock().as_ref() {
            io.set_masked(line, false);
        }
    }
}
