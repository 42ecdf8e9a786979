// Entry from U-Boot's `bootelf -p`: the 64-bit stub at the ELF's e_entry.
//
// Register protocol on entry (U-Boot 2023.01, x86_64 build, measured under QEMU 10):
//   long mode, running at the stub's *physical* address inside U-Boot's identity map of
//   the first 4 GiB (2 MiB pages, CR3 = 0x80000); CR0 = PG|ET|PE, CR4 = PAE only (SSE
//   off), EFER = LME|LMA (NXE off), interrupts off, SysV call:
//   rdi = argc, rsi = argv (physical pointers to the words after the address given to
//   `bootelf -p`: the kernel command line), rsp = U-Boot's stack (inside the reserved top
//   of RAM that also holds the ACPI tables).
//
// What it does, using only RIP-relative addressing (so every label resolves to its
// physical address until the jump to the higher half):
//   1. keeps argc, argv and U-Boot's rsp in r12, r13, r14 (callee-saved);
//   2. zeroes .bss (which holds the boot page tables and the boot stack);
//   3. builds the boot page tables: PML4[0] and PML4[256] both point at a PDPT that maps
//      physical 0..4 GiB with 2 MiB pages (the temporary identity map and the start of
//      the physmap at 0xffff_8000_0000_0000), PML4[511] -> PDPT[510] maps physical
//      0..1 GiB at 0xffff_ffff_8000_0000 (the kernel image);
//   4. enables PGE, OSFXSR, OSXMMEXCPT (not OSXSAVE), EFER.NXE (when there is NX),
//      CR0.WP/NE/MP, fninit;
//   5. loads CR3, a boot GDT (64-bit kernel code 0x08, data 0x10), switches to the boot
//      stack and jumps to the higher half;
//   6. calls pecan_uboot_main(argc, argv, uboot_rsp) (SysV: rdi, rsi, rdx), which never
//      returns. Rust then installs the real GDT/TSS/IDT and its final page tables (which
//      drop the identity map).

.section .text.boot, "ax"
.code64
.global pecan_uboot_entry
pecan_uboot_entry:
    cli
    cld
    mov r12, rdi
    mov r13, rsi
    mov r14, rsp

    // 2. Zero .bss.
    lea rdi, [rip + __bss_start]
    lea rcx, [rip + __bss_end]
    sub rcx, rdi
    xor eax, eax
    rep stosb

    // 3a. boot_pd_low: 2048 entries, entry i maps physical i * 2 MiB (P | RW | PS).
    lea rdi, [rip + boot_pd_low]
    xor ecx, ecx
1:  mov rax, rcx
    shl rax, 21
    or rax, 0x83
    mov [rdi + rcx * 8], rax
    inc rcx
    cmp rcx, 2048
    jb 1b

    // 3b. boot_pdpt_low[0..4] -> the four pages of boot_pd_low (P | RW).
    lea rdi, [rip + boot_pdpt_low]
    lea rax, [rip + boot_pd_low]
    or rax, 0x3
    xor ecx, ecx
2:  mov [rdi + rcx * 8], rax
    add rax, 4096
    inc rcx
    cmp rcx, 4
    jb 2b

    // 3c. boot_pd_high: 512 entries mapping physical 0..1 GiB; boot_pdpt_high[510] -> it.
    lea rdi, [rip + boot_pd_high]
    xor ecx, ecx
3:  mov rax, rcx
    shl rax, 21
    or rax, 0x83
    mov [rdi + rcx * 8], rax
    inc rcx
    cmp rcx, 512
    jb 3b
    lea rdi, [rip + boot_pdpt_high]
    lea rax, [rip + boot_pd_high]
    or rax, 0x3
    mov [rdi + 510 * 8], rax

    // 3d. The root.
    lea rdi, [rip + boot_pml4]
    lea rax, [rip + boot_pdpt_low]
    or rax, 0x3
    mov [rdi], rax
    mov [rdi + 256 * 8], rax
    lea rax, [rip + boot_pdpt_high]
    or rax, 0x3
    mov [rdi + 511 * 8], rax

    // 4. CPU features. CR4: PGE (7), OSFXSR (9), OSXMMEXCPT (10).
    mov rax, cr4
    or rax, 0x680
    mov cr4, rax
    // EFER.NXE (bit 11), if the CPU has NX (CPUID 0x80000001: EDX bit 20); Rust stops
    // with a clear message if it does not.
    mov eax, 0x80000001
    cpuid
    bt edx, 20
    jnc 4f
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x800
    wrmsr
4:
    // CR0: clear EM (2) and TS (3); set MP (1), NE (5), WP (16).
    mov rax, cr0
    and rax, -13
    or rax, 0x10022
    mov cr0, rax
    fninit

    // 5. Our tables, our GDT, our stack, the higher half.
    lea rax, [rip + boot_pml4]
    mov cr3, rax
    lea rsp, [rip + __boot_stack_top]
    lea rax, [rip + boot_gdt]
    sub rsp, 16
    mov word ptr [rsp], 3 * 8 - 1          // limit: the three entries of boot_gdt
    mov [rsp + 2], rax
    lgdt [rsp]
    add rsp, 16
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    movabs rax, offset .Lhigher_half
    push 0x08
    push rax
    retfq

.Lhigher_half:
    // 6. Now at the link address: RIP-relative labels are higher-half addresses.
    lea rsp, [rip + __boot_stack_top]
    xor ebp, ebp
    mov rdi, r12
    mov rsi, r13
    mov rdx, r14
    call pecan_uboot_main
    ud2

.section .rodata.boot, "a"
.balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    // 0x08: 64-bit kernel code
    .quad 0x00cf92000000ffff    // 0x10: kernel data
boot_gdt_end:

.section .bss.boot_tables, "aw", @nobits
.balign 4096
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd_high:   .skip 4096
boot_pd_low:    .skip 4 * 4096
