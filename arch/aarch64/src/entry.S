// entry.S: the ARM64 Image header and the boot CPU's path from the loader to Rust.
//
// Register protocol at _start (the Linux arm64 boot protocol, which U-Boot `booti` and
// QEMU's own -kernel loader follow):
//   x0 = physical address of the device tree, x1..x3 = 0; MMU and D-cache off; at EL2
//   (QEMU virtualization=on) or EL1; running at the physical load address, which is
//   only known to be 4 KiB aligned (U-Boot: 0x40400000), so everything before the MMU is
//   on addresses memory PC-relatively (adr/adrp) and never through a link address.
// What it does: EL2 -> EL1 (el2_to_el1), builds the boot page tables, turns the MMU and
//   caches on, jumps to the link address in the higher half, zeroes the BSS.
// Register protocol at pecan_aarch64_boot_dtb (Rust, never returns):
//   x0 = device-tree PA, x1 = PA of the image's first byte, x2 = the EL the loader entered
//   at; EL1h, DAIF masked, SP = top of the boot stack (kernel VA), VBAR_EL1 = vectors.
// Callee-saved along the way: x19 = device-tree PA, x20 = entry EL, x21 = image PA.
//
// The boot page tables (section .boot.tables, outside the BSS, written with the MMU off):
//   TTBR1: L0[511] -> L1[510] -> L2[0..KERNEL_L3_TABLES] -> L3: the image in 4 KiB pages
//          (text RX, rodata R, the rest RW and never executable, the stack guard page
//          unmapped); L2[FDT_L2_INDEX..+2]: the device tree's two 2 MiB blocks, read-only.
//   TTBR0: the 1 GiB block holding the image, identity mapped, read-only, executable,
//          non-global (ASID 0): only for the instructions that turn the MMU on.
// Rust adds the physical-memory map and the device window to TTBR1 afterwards.

    .section .text.head, "ax"
    .global _start
_start:
    b       primary_entry           // code0
    .long   0                       // code1
    .quad   0x400000                // text_offset
    .quad   __image_size            // image_size: everything up to the end of the stacks
    .quad   0x2                     // flags: little endian, 4 KiB pages, 2 MiB-aligned base
    .quad   0                       // res2
    .quad   0                       // res3
    .quad   0                       // res4
    .ascii  "ARMd"                  // magic
    .long   0                       // res5: no PE/COFF header

primary_entry:
    mov     x19, x0
    mrs     x20, CurrentEL
    ubfx    x20, x20, #2, #2
    adrp    x21, _start
    adr     x22, el1_entry
    cmp     x20, #2
    b.eq    el2_to_el1
    b.gt    unsupported_el          // EL3: not a state this kernel can boot from
    b       el1_entry

// EL2 -> EL1. Protocol: in x22 = where to continue (el1_entry or secondary_el1), x19..x21
// kept, EL2 with the MMU off; out: `eret` to x22 at EL1h with DAIF masked (clobbers x0). EL1 gets AArch64, no EL2 traps, the physical counter
// and timer, a zero virtual-counter offset, the GICv3 system registers, and the real
// MIDR/MPIDR.
el2_to_el1:
    mov     x0, #(1 << 31)                  // HCR_EL2.RW: EL1 is AArch64; nothing trapped
    msr     hcr_el2, x0
    mov     x0, #3                          // CNTHCTL_EL2.EL1PCTEN | EL1PCEN
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mov     x0, #0x33ff                     // CPTR_EL2: RES1 bits only, FP/SIMD not trapped
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #24, #4                 // GIC system-register interface implemented?
    cbz     x0, 1f
    mrs     x0, S3_4_C12_C9_5               // ICC_SRE_EL2
    orr     x0, x0, #0xf                    // SRE, DFB, DIB, Enable (EL1 may use ICC_SRE_EL1)
    msr     S3_4_C12_C9_5, x0
    isb
    msr     S3_4_C12_C11_0, xzr             // ICH_HCR_EL2: no virtual CPU interface
1:  mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    msr     vttbr_el2, xzr
    ldr     x0, ={SCTLR_MMU_OFF}
    msr     sctlr_el1, x0
    mov     x0, #0x3c5                      // SPSR: EL1h, D, A, I, F masked
    msr     spsr_el2, x0
    msr     elr_el2, x22
    eret

unsupported_el:
    wfe
    b       unsupported_el

el1_entry:
    msr     daifset, #0xf
    ldr     x0, ={SCTLR_MMU_OFF}
    msr     sctlr_el1, x0
    isb
    msr     cpacr_el1, xzr                  // FP/SIMD trapped: the kernel is soft-float
    msr     tpidr_el1, xzr                  // no per-CPU data yet

    // Zero the boot tables; drop any cache lines over them before and after, since they
    // are written with the MMU (and so the D-cache) off and read by cacheable walks.
    adrp    x0, __boot_tables_start
    adrp    x1, __boot_tables_end
    bl      dcache_inval_range
    adrp    x0, __boot_tables_start
2:  stp     xzr, xzr, [x0], #16
    cmp     x0, x1
    b.lo    2b

    // The image: one L3 entry per page.
    ldr     x6, =_start
    ldr     x7, =__text_end
    sub     x7, x7, x6                      // x7 = end of text (offset)
    ldr     x8, =__rodata_end
    sub     x8, x8, x6                      // x8 = end of read-only data
    ldr     x9, =__stack_guard
    sub     x9, x9, x6                      // x9 = the guard page below the boot stack
    ldr     x10, =__image_end
    sub     x10, x10, x6                    // x10 = image size
    ldr     x11, ={PAGE_TEXT}
    ldr     x12, ={PAGE_RODATA}
    ldr     x13, ={PAGE_DATA}
    adrp    x3, boot_tt1_l3
    mov     x0, #0
3:  cmp     x0, x9
    b.eq    5f
    mov     x4, x13
    cmp     x0, x8
    csel    x4, x12, x4, lo
    cmp     x0, x7
    csel    x4, x11, x4, lo
    add     x5, x21, x0
    orr     x5, x5, x4
    lsr     x14, x0, #9                     // 8 bytes per 4 KiB page
    str     x5, [x3, x14]
5:  add     x0, x0, #4096
    cmp     x0, x10
    b.lo    3b

    // L2[i] -> L3 table i, L1[510] -> L2, L0[511] -> L1.
    ldr     x4, ={TABLE_KERNEL}
    adrp    x2, boot_tt1_l2
    mov     x0, #0
6:  add     x5, x3, x0, lsl #12
    orr     x5, x5, x4
    str     x5, [x2, x0, lsl #3]
    add     x0, x0, #1
    cmp     x0, #{KERNEL_L3_TABLES}
    b.lo    6b
    adrp    x1, boot_tt1_l1
    orr     x5, x2, x4
    str     x5, [x1, #(510 * 8)]
    adrp    x0, boot_tt1_l0
    orr     x5, x1, x4
    str     x5, [x0, #(511 * 8)]

    // The device-tree window: the 2 MiB block holding the tree's first byte and the next.
    and     x5, x19, #0x0000ffffffe00000
    ldr     x4, ={BLOCK_FDT}
    orr     x5, x5, x4
    str     x5, [x2, #({FDT_L2_INDEX} * 8)]
    add     x5, x5, #(2 << 20)
    str     x5, [x2, #(({FDT_L2_INDEX} + 1) * 8)]

    // TTBR0: the image's 1 GiB, identity mapped.
    adrp    x0, boot_tt0_l0
    adrp    x1, boot_tt0_l1
    ubfx    x2, x21, #39, #9
    orr     x5, x1, #3
    str     x5, [x0, x2, lsl #3]
    ubfx    x2, x21, #30, #9
    and     x5, x21, #0x0000ffffc0000000
    ldr     x4, ={BLOCK_IDENTITY}
    orr     x5, x5, x4
    str     x5, [x1, x2, lsl #3]

    dsb     sy
    adrp    x0, __boot_tables_start
    adrp    x1, __boot_tables_end
    bl      dcache_inval_range

    // Memory attributes, translation control, the two roots.
    ldr     x0, ={MAIR}
    msr     mair_el1, x0
    ldr     x0, ={TCR}
    mrs     x1, id_aa64mmfr0_el1
    ubfx    x2, x1, #0, #4                  // PARange, at most 48 bits without LPA2
    mov     x3, #5
    cmp     x2, x3
    csel    x2, x2, x3, ls
    bfi     x0, x2, #32, #3                 // TCR.IPS
    ubfx    x2, x1, #4, #4                  // ASIDBits: 0b0010 means 16 bits
    cmp     x2, #2
    b.ne    7f
    orr     x0, x0, #{TCR_AS}                // TCR.AS: 16-bit ASIDs
7:  msr     tcr_el1, x0
    adrp    x0, boot_tt0_l0
    msr     ttbr0_el1, x0
    adrp    x0, boot_tt1_l0
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb

    // MMU and caches on, then on to the link address.
    ldr     x0, ={SCTLR_MMU_ON}
    msr     sctlr_el1, x0
    isb
    ic      iallu
    dsb     nsh
    isb
    ldr     x0, =high_entry
    br      x0

// Protocol: in x0 = start, x1 = end (any alignment); invalidates the data-cache lines
// over [x0, x1) to the point of coherency. Clobbers x0, x2, x3.
dcache_inval_range:
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4                 // DminLine: log2 of the line size in words
    mov     x2, #4
    lsl     x2, x2, x3
    sub     x3, x2, #1
    bic     x0, x0, x3
8:  dc      ivac, x0
    add     x0, x0, x2
    cmp     x0, x1
    b.lo    8b
    dsb     sy
    ret

// Running at the link address now: the BSS, the stack, the vectors, then Rust.
high_entry:
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
9:  cmp     x0, x1
    b.hs    20f
    stp     xzr, xzr, [x0], #16
    b       9b
20: ldr     x0, =__boot_stack_top
    mov     sp, x0
    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    isb
    mov     x29, #0
    mov     x30, #0
    mov     x0, x19
    mov     x1, x21
    mov     x2, x20
    bl      pecan_aarch64_boot_dtb
21: wfe
    b       21b

// limine_entry: where the Limine entry-point request sends the boot CPU.
// Protocol: EL1, MMU and caches on under Limine's tables (the kernel at its link address,
// the HHDM), DAIF masked, SP = a Limine stack, MAIR_EL1 = 0xff (index 0 only); all other
// registers undefined. Out: pecan_aarch64_boot_limine() on the boot stack with the
// kernel's MAIR (index 0 unchanged, so Limine's mappings keep their meaning), the same
// SCTLR_EL1 as the U-Boot path, vectors set, BSS zeroed, FP/SIMD trapped.
    .global limine_entry
limine_entry:
    msr     daifset, #0xf
    ldr     x0, ={MAIR}
    msr     mair_el1, x0
    ldr     x0, ={SCTLR_MMU_ON}
    msr     sctlr_el1, x0
    msr     cpacr_el1, xzr
    msr     tpidr_el1, xzr
    isb
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
22: cmp     x0, x1
    b.hs    23f
    stp     xzr, xzr, [x0], #16
    b       22b
23: ldr     x0, =__boot_stack_top
    mov     sp, x0
    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    isb
    mov     x29, #0
    mov     x30, #0
    bl      pecan_aarch64_boot_limine
24: wfe
    b       24b

// secondary_entry: where PSCI CPU_ON starts a secondary CPU (smp.rs).
// Protocol in: x0 = the CPU's index (CPU_ON's context id); MMU and caches off; EL2 or EL1
//   (the boot CPU's level); running at the physical address of this code.
// It drops to EL1 as the boot CPU did, loads the boot CPU's MAIR, TCR and TTBR1 from
// secondary_params (written and cleaned to the point of coherency by the boot CPU before
// CPU_ON: read here with the MMU off, so uncached), TTBR0 = the boot identity map of the
// image (kept from entry.S's first run, U-Boot and direct paths only), turns the MMU on,
// goes to the link address, takes the stack top from secondary_params and calls
// Protocol out: pecan_aarch64_secondary(x0 = index) at EL1h, DAIF masked, SP = this CPU's
//   kernel stack, VBAR_EL1 = the vectors, TTBR0 still the identity map (Rust empties it).
    .global secondary_entry
secondary_entry:
    mov     x19, x0
    mrs     x20, CurrentEL
    ubfx    x20, x20, #2, #2
    adr     x22, secondary_el1
    cmp     x20, #2
    b.eq    el2_to_el1
    b.gt    unsupported_el

secondary_el1:
    msr     daifset, #0xf
    ldr     x0, ={SCTLR_MMU_OFF}
    msr     sctlr_el1, x0
    isb
    msr     cpacr_el1, xzr
    msr     tpidr_el1, xzr
    adrp    x1, secondary_params
    add     x1, x1, :lo12:secondary_params
    ldr     x0, [x1, #0]
    msr     mair_el1, x0
    ldr     x0, [x1, #8]
    msr     tcr_el1, x0
    ldr     x0, [x1, #16]
    msr     ttbr1_el1, x0
    adrp    x0, boot_tt0_l0
    msr     ttbr0_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x0, ={SCTLR_MMU_ON}
    msr     sctlr_el1, x0
    isb
    ic      iallu
    dsb     nsh
    isb
    ldr     x0, =secondary_high
    br      x0

secondary_high:
    ldr     x1, =secondary_params
    ldr     x0, [x1, #24]
    mov     sp, x0
    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    isb
    mov     x29, #0
    mov     x30, #0
    mov     x0, x19
    bl      pecan_aarch64_secondary
30: wfe
    b       30b

    .ltorg

// What a starting secondary reads before its MMU is on: MAIR_EL1, TCR_EL1, TTBR1_EL1 and
// its stack top (smp.rs writes them; one cache line).
    .section .data.secondary_params, "aw"
    .balign 64
    .global secondary_params
secondary_params:
    .quad   0, 0, 0, 0
    .balign 64

// The boot page tables: zeroed by the code above, never part of the loaded image.
    .section .boot.tables, "aw", %nobits
    .balign 4096
    .global boot_tt1_l0
boot_tt1_l0:    .space 4096
boot_tt1_l1:    .space 4096
boot_tt1_l2:    .space 4096
boot_tt1_l3:    .space 4096 * {KERNEL_L3_TABLES}
    .global boot_tt0_l0
boot_tt0_l0:    .space 4096
boot_tt0_l1:    .space 4096
