//! Entry from a Limine-protocol loader: the function the platform names in its
//! entry-point request.

/// Limine's entry.
///
/// Register protocol: Limine calls it (SysV, no arguments) in long mode at its higher-half
/// link address, on a loader stack in bootloader-reclaimable memory, with the loader's
/// page tables (the kernel at its link address, the HHDM), its own GDT, interrupts off,
/// CR4 without SSE. The stub switches to the kernel's boot stack (`__boot_stack_top`, in
/// .bss, already mapped and zeroed by the loader), clears rbp for clean backtraces, and
/// calls `pecan_limine_main()` (the platform's Rust entry), which never returns.
#[unsafe(naked)]
pub extern "C" fn limine_entry() -> ! {
    core::arch::naked_asm!(
        "cli",
        "cld",
        "lea rsp, [rip + __boot_stack_top]",
        "xor ebp, ebp",
        "call pecan_limine_main",
        "ud2",
    )
}
