//! Boot information as the kernel uses it, whichever loader started it: a normalized
//! physical memory map, the command line and where the firmware tables are.
//!
//! The translations from loader formats (the DTB, QEMU's fw_cfg e820 table, Limine
//! responses) live here, as pure functions tested on the host.
#![no_std]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod bootfs;
pub mod cmdline;
pub mod cpus;
pub mod dtb;
pub mod e820;
pub mod limine;
pub mod memmap;

pub use cmdline::Cmdline;
pub use cpus::CpuList;
pub use memmap::{MemoryMap, Region, RegionKind};

/// Which loader started the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loader {
    /// U-Boot (`booti` on AArch64, `bootelf -p` on x86_64).
    UBoot,
    /// A Limine-protocol loader.
    Limine,
    /// QEMU's own `-kernel` loader.
    Qemu,
}

/// Why boot information could not be used: each is a clear panic message at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootError {
    /// The device tree is missing (null pointer) or its header is not a DTB.
    BadDtb,
    /// The device tree has no usable `/memory` node.
    NoMemoryInDtb,
    /// The memory map is absent, empty or has no usable RAM.
    NoUsableMemory,
    /// The memory map has more entries than the kernel keeps.
    TooManyRegions,
    /// The memory map is malformed (truncated entries, ranges that wrap around).
    CorruptMemoryMap,
    /// QEMU's fw_cfg interface is not there or has no `etc/e820` file.
    NoFwCfg,
    /// A Limine request was not answered (the loader does not speak the protocol).
    LimineNoResponse,
    /// The Limine base revision asked for is not supported by the loader.
    LimineRevision,
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Every message names the problem as bad boot information, so that a panic with
        // it is recognizable whichever loader or parser produced it.
        f.write_str("bad boot information: ")?;
        f.write_str(match self {
            BootError::BadDtb => "the device tree blob is missing or corrupt (bad magic or header)",
            BootError::NoMemoryInDtb => "the device tree has no usable /memory node",
            BootError::NoUsableMemory => "the memory map has no usable RAM",
            BootError::TooManyRegions => "the memory map has more regions than the kernel keeps",
            BootError::CorruptMemoryMap => "the memory map is corrupt (truncated or wrapping entries)",
            BootError::NoFwCfg => "QEMU fw_cfg is missing or has no etc/e820 memory map",
            BootError::LimineNoResponse => "the Limine loader did not answer a required request",
            BootError::LimineRevision => "the Limine loader does not support base revision 2",
        })
    }
}

/// What the kernel learned from its loader.
#[derive(Clone, Debug)]
pub struct BootInfo {
    /// The loader.
    pub loader: Loader,
    /// Physical memory, normalized.
    pub memory: MemoryMap,
    /// The kernel command line.
    pub cmdline: Cmdline,
    /// Physical address of the device tree (AArch64).
    pub dtb: Option<u64>,
    /// Physical address of the ACPI RSDP (x86_64).
    pub rsdp: Option<u64>,
    /// Number of CPUs running: 1 when the arch hands over after its early boot, then each
    /// secondary CPU that reported in (`docs/smp.md`). The kernel's `Kernel::cpus`.
    pub cpus: usize,
    /// The CPUs the firmware describes (ACPI MADT, the device tree's `/cpus`, Limine's MP
    /// answer), the boot CPU first: CPU `i` of the kernel is `cpu_ids.ids()[i]`.
    pub cpu_ids: CpuList,
}
