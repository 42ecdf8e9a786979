//! CPU identification and control registers: the features the kernel turns on, and the
//! ones it looks for.

use core::arch::x86_64::__cpuid;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};

fn cpuid(leaf: u32) -> core::arch::x86_64::CpuidResult {
    __cpuid(leaf)
}

/// Whether the CPU has PCIDs (CPUID.1:ECX.PCID).
pub fn has_pcid() -> bool {
    cpuid(1).ecx & (1 << 17) != 0
}

/// Whether the CPU has INVPCID (CPUID.7.0:EBX.INVPCID).
pub fn has_invpcid() -> bool {
    cpuid(0).eax >= 7 && cpuid(7).ebx & (1 << 10) != 0
}

/// Whether the CPU has 1 GiB pages (CPUID.80000001h:EDX.Page1GB).
pub fn has_1g_pages() -> bool {
    cpuid(0x8000_0000).eax >= 0x8000_0001 && cpuid(0x8000_0001).edx & (1 << 26) != 0
}

/// Whether the CPU has supervisor-mode execution prevention (CPUID.7.0:EBX.SMEP).
pub fn has_smep() -> bool {
    cpuid(0).eax >= 7 && cpuid(7).ebx & (1 << 7) != 0
}

/// Whether the CPU has the no-execute bit (CPUID.80000001h:EDX.NX).
pub fn has_nx() -> bool {
    cpuid(0x8000_0000).eax >= 0x8000_0001 && cpuid(0x8000_0001).edx & (1 << 20) != 0
}

/// Turns on what the kernel relies on (idempotent; the U-Boot stub did most of it already,
/// Limine did not): CR0.WP/NE/MP with EM and TS clear; CR4.PGE, OSFXSR, OSXMMEXCPT (not
/// OSXSAVE, which hung QEMU in an earlier measurement), and SMEP where the CPU has it (the
/// kernel never runs user code); EFER.NXE. CR0.TS is managed by the lazy FPU (`fpu.rs`).
pub fn init() {
    // Every kernel mapping of data is no-execute: without NX those entries would be invalid.
    assert!(has_nx(), "the CPU has no NX (no-execute) bit, which the kernel's page tables need");
    // SAFETY: these bits only enable features the kernel's page tables and trap handling
    // are written for; CR4.PCIDE is set while CR3's PCID field is 0 (the kernel root is
    // loaded with PCID 0), as the SDM requires.
    unsafe {
        Efer::update(|f| f.insert(EferFlags::NO_EXECUTE_ENABLE));
        Cr0::update(|f| {
            f.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
            f.insert(Cr0Flags::MONITOR_COPROCESSOR | Cr0Flags::NUMERIC_ERROR | Cr0Flags::WRITE_PROTECT);
        });
        Cr4::update(|f| {
            f.insert(Cr4Flags::PAGE_GLOBAL | Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE);
        });
        if has_smep() {
            Cr4::update(|f| f.insert(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION));
        }
    }
}

/// Turns on PCIDs if the CPU has them (after the kernel root is loaded with PCID 0);
/// returns whether it did.
pub fn enable_pcid() -> bool {
    if !has_pcid() {
        return false;
    }
    // SAFETY: CR3's PCID field is 0 (the kernel root is page aligned), as required.
    unsafe { Cr4::update(|f| f.insert(Cr4Flags::PCID)) };
    true
}

/// The time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no side effects; CR4.TSD is clear.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The page-fault linear address.
pub fn cr2() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}
