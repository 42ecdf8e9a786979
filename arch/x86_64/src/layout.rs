//! The x86_64 kernel's fixed addresses, segment selectors and interrupt vectors.

/// Base of the direct map of physical memory: physical address `pa` is at `PHYSMAP_BASE + pa`.
pub const PHYSMAP_BASE: u64 = 0xffff_8000_0000_0000;
/// The kernel image is linked at `KERNEL_BASE + its physical address` (top 2 GiB).
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;
/// First PML4 slot of the kernel half (every user root shares slots `256..512`).
pub const KERNEL_PML4_FIRST: usize = 256;
/// A kernel virtual range nothing maps, for the boot self-tests (PDPT slot 511, above the
/// kernel image in slot 510).
pub const SCRATCH_BASE: u64 = 0xffff_ffff_f000_0000;
/// Pages in the scratch range.
pub const SCRATCH_PAGES: u64 = 8;
/// The secondary CPUs' stack slots (`smp.rs`): CPU `i` has the 128 KiB at
/// `STACKS_BASE + i * STACK_SLOT` (below the scratch range, PDPT slot 511).
pub const STACKS_BASE: u64 = 0xffff_ffff_e000_0000;
/// Bytes of address space per CPU for its stacks and their guard pages.
pub const STACK_SLOT: u64 = 128 * 1024;

/// Kernel code segment (GDT entry 1).
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data segment (GDT entry 2).
pub const KERNEL_DS: u16 = 0x10;
/// User data segment (GDT entry 3, RPL 3); `SYSRET` loads it as SS.
pub const USER_DS: u16 = 0x18 | 3;
/// User 64-bit code segment (GDT entry 4, RPL 3); `SYSRET` loads it as CS.
pub const USER_CS: u16 = 0x20 | 3;
/// The TSS (GDT entries 5 and 6).
pub const TSS_SEL: u16 = 0x28;

/// The local APIC timer's vector.
pub const VECTOR_TIMER: u8 = 0x20;
/// The vector of IOAPIC input 0; input `n` uses `VECTOR_IRQ_BASE + n`.
pub const VECTOR_IRQ_BASE: u8 = 0x30;
/// Most IOAPIC inputs the kernel routes.
pub const MAX_IRQ_LINES: u32 = 64;
/// The vectors the legacy 8259 PICs are moved to before they are masked.
pub const VECTOR_PIC_BASE: u8 = 0xe0;
/// Inter-processor interrupts (`smp.rs`): wake-up, TLB shootdown, remote call.
pub const VECTOR_IPI_WAKE: u8 = 0xf0;
/// The TLB shootdown IPI.
pub const VECTOR_IPI_SHOOTDOWN: u8 = 0xf1;
/// The remote-call IPI (boot self-tests).
pub const VECTOR_IPI_CALL: u8 = 0xf2;
/// The local APIC's spurious-interrupt vector.
pub const VECTOR_SPURIOUS: u8 = 0xff;

/// Physical address `pa` in the direct map.
pub const fn phys_to_virt(pa: u64) -> u64 {
    PHYSMAP_BASE + pa
}
