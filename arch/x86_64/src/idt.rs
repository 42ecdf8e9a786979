//! The interrupt descriptor table: gate encoding (pure) and loading the kernel's table.
//!
//! Every one of the 256 vectors has an entry stub in `vectors.S`, 16 bytes apart, so the
//! table is built from one base address. All gates are interrupt gates (IF cleared on
//! entry) for the kernel code segment; the double fault runs on IST 1 so that a kernel
//! stack overflow still produces a report; `int3` is callable from user mode (DPL 3).

/// One 16-byte IDT entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    flags: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

const _: () = assert!(core::mem::size_of::<Gate>() == 16);

impl Gate {
    /// A not-present gate.
    pub const MISSING: Gate =
        Gate { offset_low: 0, selector: 0, ist: 0, flags: 0, offset_mid: 0, offset_high: 0, reserved: 0 };

    /// A present 64-bit interrupt gate to `handler` in code segment `selector`, on
    /// interrupt stack `ist` (0: none), callable with `int n` from privilege `dpl`.
    pub const fn interrupt(handler: u64, selector: u16, ist: u8, dpl: u8) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector,
            ist: ist & 7,
            flags: 0x80 | (dpl & 3) << 5 | 0xe,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }

    /// The handler address.
    pub const fn handler(&self) -> u64 {
        self.offset_low as u64 | (self.offset_mid as u64) << 16 | (self.offset_high as u64) << 32
    }

    /// Whether the gate is present.
    pub const fn present(&self) -> bool {
        self.flags & 0x80 != 0
    }

    /// The interrupt stack index.
    pub const fn ist(&self) -> u8 {
        self.ist
    }

    /// The privilege level that may use `int n` on it.
    pub const fn dpl(&self) -> u8 {
        (self.flags >> 5) & 3
    }
}

/// Bytes between two consecutive entry stubs in `vectors.S`.
pub const STUB_STRIDE: u64 = 16;
/// The IST slot of the double-fault stack.
pub const IST_DOUBLE_FAULT: u8 = 1;

/// The whole table.
#[repr(C, align(16))]
pub struct Idt(pub [Gate; 256]);

impl Idt {
    /// The kernel's table for entry stubs starting at `stubs`, in code segment `cs`.
    pub const fn build(stubs: u64, cs: u16) -> Idt {
        let mut t = [Gate::MISSING; 256];
        let mut v = 0;
        while v < 256 {
            let ist = if v == 8 { IST_DOUBLE_FAULT } else { 0 };
            let dpl = if v == 3 { 3 } else { 0 };
            t[v] = Gate::interrupt(stubs + v as u64 * STUB_STRIDE, cs, ist, dpl);
            v += 1;
        }
        Idt(t)
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
mod load {
    use super::Idt;
    use crate::layout::KERNEL_CS;
    use spin::Once;
    use x86_64::VirtAddr;
    use x86_64::structures::DescriptorTablePointer;

    unsafe extern "C" {
        /// The first entry stub (`vectors.S`).
        static pecan_vectors: u8;
    }

    static IDT: Once<Idt> = Once::new();

    /// Builds the table (once) and loads it on this CPU.
    pub fn init() {
        let idt = IDT.call_once(|| Idt::build(&raw const pecan_vectors as u64, KERNEL_CS));
        let ptr = DescriptorTablePointer {
            limit: (core::mem::size_of::<Idt>() - 1) as u16,
            base: VirtAddr::new(idt as *const Idt as u64),
        };
        // SAFETY: the table is static and every present gate points at an entry stub of
        // vectors.S in the kernel code segment.
        unsafe { x86_64::instructions::tables::lidt(&ptr) };
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub use load::init;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates() {
        let h = 0xffff_ffff_8020_1230;
        let g = Gate::interrupt(h, 0x08, 1, 0);
        assert_eq!(g.handler(), h);
        assert!(g.present());
        assert_eq!((g.ist(), g.dpl(), g.selector, g.flags), (1, 0, 0x08, 0x8e));
        assert!(!Gate::MISSING.present());
        // The raw layout, as the CPU reads it.
        // SAFETY: Gate is plain old data of 16 bytes.
        let raw: [u8; 16] = unsafe { core::mem::transmute(g) };
        assert_eq!(raw, [0x30, 0x12, 0x08, 0, 1, 0x8e, 0x20, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    }

    #[test]
    fn table() {
        let base = 0xffff_ffff_8020_0000;
        let t = Idt::build(base, 0x08);
        for v in 0..256 {
            assert!(t.0[v].present());
            assert_eq!(t.0[v].handler(), base + 16 * v as u64);
        }
        assert_eq!(t.0[8].ist(), IST_DOUBLE_FAULT);
        assert_eq!(t.0[14].ist(), 0);
        assert_eq!(t.0[3].dpl(), 3);
        assert_eq!(t.0[13].dpl(), 0);
    }
}
