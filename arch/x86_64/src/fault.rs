//! The kernel fault report: exception names and the text printed for an unhandled
//! exception in kernel mode (pure formatting, tested on the host).

use core::fmt::{self, Write};
use core::ops::Range;

use crate::context::TrapFrame;

/// The page-fault vector.
pub const VECTOR_PF: u64 = 14;

/// The mnemonic and name of exception `vector` (0..32).
pub fn exception_name(vector: u64) -> (&'static str, &'static str) {
    match vector {
        0 => ("#DE", "divide error"),
        1 => ("#DB", "debug"),
        2 => ("NMI", "non-maskable interrupt"),
        3 => ("#BP", "breakpoint"),
        4 => ("#OF", "overflow"),
        5 => ("#BR", "bound range exceeded"),
        6 => ("#UD", "invalid opcode"),
        7 => ("#NM", "device not available"),
        8 => ("#DF", "double fault"),
        9 => ("CSO", "coprocessor segment overrun"),
        10 => ("#TS", "invalid TSS"),
        11 => ("#NP", "segment not present"),
        12 => ("#SS", "stack-segment fault"),
        13 => ("#GP", "general protection"),
        14 => ("#PF", "page fault"),
        16 => ("#MF", "x87 floating-point error"),
        17 => ("#AC", "alignment check"),
        18 => ("#MC", "machine check"),
        19 => ("#XM", "SIMD floating-point error"),
        20 => ("#VE", "virtualization exception"),
        21 => ("#CP", "control protection"),
        28 => ("#HV", "hypervisor injection"),
        29 => ("#VC", "VMM communication"),
        30 => ("#SX", "security exception"),
        15 | 22..=27 | 31 => ("-", "reserved exception"),
        _ => ("INT", "unexpected interrupt"),
    }
}

/// Whether the CPU pushes an error code for `vector`.
pub const fn has_error_code(vector: u64) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

/// The double-fault vector.
pub const VECTOR_DF: u64 = 8;

/// Writes the fault report for `f` (`cr2`: the last page-fault address). A page fault or a
/// double fault whose `cr2` lies in `guard` (the unmapped page below the kernel stack) is
/// reported as a kernel stack overflow: the CPU could not push the page fault's frame
/// and raised a double fault, which runs on its own stack. The first line starts with
/// `KERNEL FAULT`.
pub fn write_report(w: &mut impl Write, f: &TrapFrame, cr2: u64, guard: Range<u64>) -> fmt::Result {
    let (mnemonic, name) = exception_name(f.vector);
    let overflow = (f.vector == VECTOR_PF || f.vector == VECTOR_DF) && guard.contains(&cr2);
    writeln!(
        w,
        "\nKERNEL FAULT: {}vector {} ({mnemonic} {name}), error code {:#x}",
        if overflow { "kernel stack overflow: " } else { "" },
        f.vector,
        f.error
    )?;
    if overflow {
        writeln!(w, "address: {cr2:#x} (in the guard page below the kernel stack)")?;
    } else if f.vector == VECTOR_PF {
        let e = f.error;
        writeln!(
            w,
            "address: {cr2:#x} ({} {} in {} mode{}{})",
            if e & 1 != 0 { "protection violation on" } else { "not-present page on" },
            if e & 0x10 != 0 {
                "instruction fetch"
            } else if e & 2 != 0 {
                "write"
            } else {
                "read"
            },
            if e & 4 != 0 { "user" } else { "kernel" },
            if e & 8 != 0 { ", reserved bit set" } else { "" },
            if e & 0x20 != 0 { ", protection key" } else { "" },
        )?;
    } else {
        writeln!(w, "address: none (not a page fault)")?;
    }
    writeln!(w, "rip    {:#018x}  cs {:#06x}", f.rip, f.cs)?;
    writeln!(w, "rsp    {:#018x}  ss {:#06x}", f.rsp, f.ss)?;
    writeln!(w, "rflags {:#018x}", f.rflags)?;
    for pair in f.gprs().chunks(3) {
        for (name, v) in pair {
            write!(w, "{name:<6} {v:#018x}  ")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    #[test]
    fn page_fault_report() {
        let f = TrapFrame {
            vector: 14,
            error: 0,
            rip: 0xffff_ffff_8020_1234,
            rsp: 0xffff_ffff_8030_0000,
            rax: 0xdead,
            r15: 0xf15,
            ..TrapFrame::default()
        };
        let mut s = String::new();
        write_report(&mut s, &f, 0xffff_dead_0000_0000, 0..0).unwrap();
        assert!(s.starts_with("\nKERNEL FAULT: vector 14 (#PF page fault), error code 0x0\n"), "{s}");
        assert!(s.contains("address: 0xffffdead00000000 (not-present page on read in kernel mode)"), "{s}");
        assert!(s.contains("rip    0xffffffff80201234"));
        assert!(s.contains("rax    0x000000000000dead"));
        assert!(s.contains("r15    0x0000000000000f15"));
        assert!(s.contains("rflags"));
    }

    #[test]
    fn other_faults() {
        let f = TrapFrame { vector: 13, error: 0x18, ..TrapFrame::default() };
        let mut s = String::new();
        write_report(&mut s, &f, 0x1234, 0..0).unwrap();
        assert!(s.contains("vector 13 (#GP general protection), error code 0x18"), "{s}");
        assert!(s.contains("address: none"));
        assert!(!s.contains("0x1234"));
        let f = TrapFrame { vector: 14, error: 0x13, ..TrapFrame::default() };
        s.clear();
        write_report(&mut s, &f, 0x4000, 0..0).unwrap();
        assert!(
            s.contains("address: 0x4000 (protection violation on instruction fetch in kernel mode"),
            "{s}"
        );
    }

    #[test]
    fn stack_overflow() {
        let guard = 0xffff_ffff_8026_8000..0xffff_ffff_8026_9000;
        let f = TrapFrame { vector: 8, rsp: 0xffff_ffff_8026_8ff0, ..TrapFrame::default() };
        let mut s = String::new();
        write_report(&mut s, &f, 0xffff_ffff_8026_8ff8, guard.clone()).unwrap();
        assert!(s.starts_with("\nKERNEL FAULT: kernel stack overflow: vector 8 (#DF double fault)"), "{s}");
        assert!(s.contains("address: 0xffffffff80268ff8 (in the guard page below the kernel stack)"), "{s}");
        // A double fault for another reason is not called an overflow.
        s.clear();
        write_report(&mut s, &f, 0x1000, guard).unwrap();
        assert!(s.starts_with("\nKERNEL FAULT: vector 8 (#DF double fault)"), "{s}");
    }

    #[test]
    fn names_and_error_codes() {
        assert_eq!(exception_name(8).0, "#DF");
        assert_eq!(exception_name(15).1, "reserved exception");
        assert_eq!(exception_name(0x40).1, "unexpected interrupt");
        let with: std::vec::Vec<u64> = (0..32).filter(|&v| has_error_code(v)).collect();
        assert_eq!(with, [8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
    }
}
