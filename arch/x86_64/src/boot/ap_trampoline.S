// The secondary CPUs' start-up code: real mode -> protected mode -> long mode -> Rust.
//
// Never run where it is linked: `smp.rs` copies pecan_ap_trampoline ..
// pecan_ap_trampoline_end to physical {tramp} (a page below 1 MiB) and fills the parameter
// block at {param} (same page) before each start-up IPI; every absolute address below is
// computed for that copy ("label - pecan_ap_trampoline + {tramp}").
//
// Register protocol on entry (a start-up IPI with vector {tramp} >> 12): real mode,
// CS = {tramp} >> 4, IP = 0, interrupts off, every other register undefined.
// Parameters (64-bit words, written by the boot CPU, which waits for this CPU to report
// before it starts the next one):
//   {param} + 0:  CR3 for the switch: a PML4 below 4 GiB that identity maps the first
//                 2 MiB (this code) and holds the kernel half of the kernel's tables;
//   {param} + 8:  the top of this CPU's kernel stack (a kernel virtual address);
//   {param} + 16: this CPU's index;
//   {param} + 24: the Rust entry, `extern "C" fn(cpu: usize) -> !` (higher half).
// On exit: 64-bit mode, CS = 0x18 of the trampoline's GDT, DS/ES/SS = 0x10, paging with
// the switch CR3, CR4 = PAE | PGE | OSFXSR | OSXMMEXCPT, EFER = LME | NXE, CR0 = PG | WP
// | NE | MP | PE (EM and TS clear), rsp = the kernel stack, rdi = the index, a `call` to
// the entry (which loads the kernel's own GDT, IDT, TSS and page tables).

.section .rodata.ap_trampoline, "a"
.balign 16
.global pecan_ap_trampoline
.code16
pecan_ap_trampoline:
    cli
    cld
    mov     ax, cs
    mov     ds, ax
    // lgdt [tramp_gdtr - pecan_ap_trampoline] (ds-relative disp16; spelled out because
    // the assembler takes no symbol difference in a memory operand)
    .byte   0x0f, 0x01, 0x16
    .word   tramp_gdtr - pecan_ap_trampoline
    mov     eax, cr0
    or      eax, 1
    mov     cr0, eax
    // ljmp 0x08:tramp_pm32 (32-bit offset: operand-size prefix)
    .byte   0x66, 0xea
    .long   tramp_pm32 - pecan_ap_trampoline + {tramp}
    .word   0x08

.code32
tramp_pm32:
    mov     ax, 0x10
    mov     ds, ax
    mov     es, ax
    mov     ss, ax
    mov     eax, 0x6a0                      // PAE (5), PGE (7), OSFXSR (9), OSXMMEXCPT (10)
    mov     cr4, eax
    mov     eax, dword ptr [{param}]
    mov     cr3, eax
    mov     ecx, 0xc0000080                 // EFER
    rdmsr
    or      eax, 0x900                      // LME (8), NXE (11): kernel entries use NX
    wrmsr
    mov     eax, 0x80010023                 // PG, WP, NE, MP, PE
    mov     cr0, eax
    // ljmp 0x18:tramp_lm64 (into the 64-bit code segment)
    .byte   0xea
    .long   tramp_lm64 - pecan_ap_trampoline + {tramp}
    .word   0x18

.code64
tramp_lm64:
    mov     rsp, qword ptr [{param} + 8]
    mov     rdi, qword ptr [{param} + 16]
    mov     rax, qword ptr [{param} + 24]
    xor     ebp, ebp
    call    rax
    ud2

.balign 8
tramp_gdt:
    .quad   0
    .quad   0x00cf9a000000ffff              // 0x08: 32-bit code
    .quad   0x00cf92000000ffff              // 0x10: data
    .quad   0x00af9a000000ffff              // 0x18: 64-bit code
tramp_gdtr:
    .word   4 * 8 - 1
    .long   tramp_gdt - pecan_ap_trampoline + {tramp}
.global pecan_ap_trampoline_end
pecan_ap_trampoline_end:
.code64
