//! Translation of Limine protocol answers into `BootInfo`, for both architectures.
//!
//! The platform's Limine entry declares the requests (they must live in the kernel image)
//! and copies what the loader answered into an [`Answers`]: plain values and slices, no
//! raw pointers, so this translation is pure and tested on the host with synthesized
//! answers. Pecan asks for base revision 2, the one Limine 8.x answers (`limine` 0.5's
//! `BaseRevision::new()` asks 3, which 8.x refuses). The command line comes from the
//! executable-file response's string, because 8.x does not answer the
//! executable-command-line request.

use limine::memory_map::{Entry, EntryType};

use crate::memmap::{MemoryMap, RegionKind};
use crate::{BootError, BootInfo, Cmdline, CpuList, Loader};

/// The Limine base revision Pecan asks for.
pub const BASE_REVISION: u64 = 2;

/// Where the loader put the kernel image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutableAddress {
    /// Physical address of the image's first byte.
    pub physical_base: u64,
    /// Virtual address the image is linked at.
    pub virtual_base: u64,
}

/// What a Limine loader answered; `None` for a request it left unanswered.
#[derive(Clone, Copy, Default)]
pub struct Answers<'a> {
    /// The base-revision tag says the revision asked for is supported
    /// (`BaseRevision::is_supported`).
    pub revision_supported: bool,
    /// The base revision the loader used, if it reports one (`BaseRevision::loaded_revision`).
    pub loaded_revision: Option<u64>,
    /// The higher-half direct map offset (HHDM request).
    pub hhdm_offset: Option<u64>,
    /// The physical memory map (memory-map request).
    pub memory_map: Option<&'a [&'a Entry]>,
    /// Where the kernel image is (executable-address request).
    pub executable: Option<ExecutableAddress>,
    /// The RSDP address as the response gives it (x86_64; virtual below revision 3).
    pub rsdp: Option<u64>,
    /// The device tree address as the response gives it (AArch64; an HHDM pointer).
    pub dtb: Option<u64>,
    /// The CPUs' hardware ids in the MP response (LAPIC ids / MPIDRs), the boot CPU's
    /// first (the arch reorders if the loader did not).
    pub cpu_ids: CpuList,
    /// The executable file's string: the command line from `limine.conf`.
    pub cmdline: Option<&'a [u8]>,
}

/// The translated boot information plus what the arch needs to take over the machine.
#[derive(Clone, Debug)]
pub struct LimineBoot {
    /// Boot information for the kernel.
    pub info: BootInfo,
    /// The HHDM offset of the loader's page tables (valid until the kernel switches).
    pub hhdm_offset: u64,
    /// Where the kernel image is.
    pub executable: ExecutableAddress,
}

/// How the kernel treats a Limine memory-map entry type. Loader-reclaimable memory holds
/// the loader's page tables, stack and responses, which the kernel still uses at boot, so
/// it is kept as `Boot`.
pub fn region_kind(t: EntryType) -> RegionKind {
    match t {
        EntryType::USABLE => RegionKind::Usable,
        EntryType::EXECUTABLE_AND_MODULES => RegionKind::Kernel,
        EntryType::BOOTLOADER_RECLAIMABLE => RegionKind::Boot,
        EntryType::ACPI_RECLAIMABLE | EntryType::ACPI_NVS => RegionKind::Firmware,
        _ => RegionKind::Reserved,
    }
}

/// A physical address from an address a response gives: responses give HHDM pointers
/// (the RSDP is physical at base revision 3 only), and no physical address reaches the
/// HHDM offset, so anything at or above it is a pointer into the HHDM.
pub fn to_physical(addr: u64, hhdm_offset: u64) -> u64 {
    if hhdm_offset != 0 && addr >= hhdm_offset { addr - hhdm_offset } else { addr }
}

/// Translates the answers. The base revision, the HHDM, the memory map and the executable
/// address are required; the rest is optional (no RSDP or DTB, one CPU, no command line).
pub fn translate(a: &Answers<'_>) -> Result<LimineBoot, BootError> {
    if !a.revision_supported {
        return Err(BootError::LimineRevision);
    }
    if a.loaded_revision.is_some_and(|r| r < BASE_REVISION) {
        return Err(BootError::LimineRevision);
    }
    let hhdm_offset = a.hhdm_offset.ok_or(BootError::LimineNoResponse)?;
    let entries = a.memory_map.ok_or(BootError::LimineNoResponse)?;
    let executable = a.executable.ok_or(BootError::LimineNoResponse)?;
    let mut memory = MemoryMap::new();
    for e in entries {
        if e.base.checked_add(e.length).is_none() {
            return Err(BootError::CorruptMemoryMap);
        }
        memory.add(e.base, e.length, region_kind(e.entry_type))?;
    }
    if memory.usable_bytes() == 0 {
        return Err(BootError::NoUsableMemory);
    }
    let info = BootInfo {
        loader: Loader::Limine,
        memory,
        cmdline: Cmdline::new(a.cmdline.unwrap_or(&[])),
        dtb: a.dtb.filter(|&d| d != 0).map(|d| to_physical(d, hhdm_offset)),
        rsdp: a.rsdp.filter(|&r| r != 0).map(|r| to_physical(r, hhdm_offset)),
        cpus: 1,
        cpu_ids: a.cpu_ids,
    };
    Ok(LimineBoot { info, hhdm_offset, executable })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HHDM: u64 = 0xffff_8000_0000_0000;

    fn entry(base: u64, length: u64, entry_type: EntryType) -> Entry {
        Entry { base, length, entry_type }
    }

    fn with<R>(entries: &[Entry], f: impl FnOnce(Answers<'_>) -> R) -> R {
        let refs: [&Entry; 8] = core::array::from_fn(|i| &entries[i.min(entries.len() - 1)]);
        f(Answers {
            revision_supported: true,
            loaded_revision: Some(2),
            hhdm_offset: Some(HHDM),
            memory_map: Some(&refs[..entries.len()]),
            executable: Some(ExecutableAddress {
                physical_base: 0x20_0000,
                virtual_base: 0xffff_ffff_8020_0000,
            }),
            rsdp: Some(HHDM + 0xf_0060),
            dtb: None,
            cpu_ids: {
                let mut l = CpuList::new();
                (0..4).for_each(|i| l.push(i));
                l
            },
            cmdline: Some(b"test=boot log=debug"),
        })
    }

    fn typical() -> [Entry; 6] {
        [
            entry(0, 0x9_f000, EntryType::USABLE),
            entry(0xf_0000, 0x1_0000, EntryType::RESERVED),
            entry(0x10_0000, 0x10_0000, EntryType::BOOTLOADER_RECLAIMABLE),
            entry(0x20_0000, 0x8_0000, EntryType::EXECUTABLE_AND_MODULES),
            entry(0x28_0000, 0x1fd8_0000, EntryType::USABLE),
            entry(0x1ffe_0000, 0x2_0000, EntryType::ACPI_RECLAIMABLE),
        ]
    }

    #[test]
    fn typical_answers() {
        let b = with(&typical(), |a| translate(&a)).unwrap();
        assert_eq!(b.hhdm_offset, HHDM);
        assert_eq!(b.executable.physical_base, 0x20_0000);
        assert_eq!(b.info.loader, Loader::Limine);
        assert_eq!((b.info.cpus, b.info.cpu_ids.len()), (1, 4), "only the boot CPU runs yet");
        assert_eq!(b.info.rsdp, Some(0xf_0060));
        assert_eq!(b.info.dtb, None);
        assert_eq!(b.info.cmdline.get("test"), Some("boot"));
        let kinds: [RegionKind; 6] = core::array::from_fn(|i| b.info.memory.regions()[i].kind);
        use RegionKind::*;
        assert_eq!(kinds, [Usable, Reserved, Boot, Kernel, Usable, Firmware]);
        // The last usable region ends where the ACPI tables start.
        assert_eq!(b.info.memory.regions()[4].end(), 0x1ffe_0000);
        assert_eq!(b.info.memory.usable_bytes(), 0x9_f000 + 0x1fd6_0000);
    }

    #[test]
    fn physical_addresses_pass_through() {
        // Base revision 3 gives the RSDP as a physical address; the DTB is an HHDM pointer.
        let b = with(&typical(), |mut a| {
            a.rsdp = Some(0xf_0060);
            a.dtb = Some(HHDM + 0x4000_0000);
            a.cpu_ids = CpuList::new();
            a.cmdline = None;
            translate(&a)
        })
        .unwrap();
        assert_eq!(b.info.rsdp, Some(0xf_0060));
        assert_eq!(b.info.dtb, Some(0x4000_0000));
        assert_eq!((b.info.cpus, b.info.cpu_ids.len()), (1, 0));
        assert_eq!(b.info.cmdline.as_str(), "");
        assert_eq!(to_physical(0x1234, 0), 0x1234);
    }

    #[test]
    fn missing_responses() {
        let e = typical();
        assert_eq!(
            with(&e, |mut a| translate({
                a.hhdm_offset = None;
                &a
            }))
            .unwrap_err(),
            BootError::LimineNoResponse
        );
        assert_eq!(
            with(&e, |mut a| translate({
                a.memory_map = None;
                &a
            }))
            .unwrap_err(),
            BootError::LimineNoResponse
        );
        assert_eq!(
            with(&e, |mut a| translate({
                a.executable = None;
                &a
            }))
            .unwrap_err(),
            BootError::LimineNoResponse
        );
        // Nothing answered at all: the base revision tag was not touched.
        assert_eq!(translate(&Answers::default()).unwrap_err(), BootError::LimineRevision);
    }

    #[test]
    fn unsupported_revision() {
        let e = typical();
        let r = with(&e, |mut a| {
            translate({
                a.revision_supported = false;
                &a
            })
        });
        assert_eq!(r.unwrap_err(), BootError::LimineRevision);
        let r = with(&e, |mut a| {
            translate({
                a.loaded_revision = Some(1);
                &a
            })
        });
        assert_eq!(r.unwrap_err(), BootError::LimineRevision);
        // A loader that does not report the revision it used is fine.
        assert!(
            with(&e, |mut a| translate({
                a.loaded_revision = None;
                &a
            }))
            .is_ok()
        );
    }

    #[test]
    fn unusable_maps() {
        let only_reserved = [entry(0, 0x100_0000, EntryType::RESERVED)];
        assert_eq!(with(&only_reserved, |a| translate(&a)).unwrap_err(), BootError::NoUsableMemory);
        let wraps = [entry(0, 0x100_0000, EntryType::USABLE), entry(u64::MAX - 5, 0x1000, EntryType::USABLE)];
        assert_eq!(with(&wraps, |a| translate(&a)).unwrap_err(), BootError::CorruptMemoryMap);
        assert_eq!(region_kind(EntryType::FRAMEBUFFER), RegionKind::Reserved);
        assert_eq!(region_kind(EntryType::BAD_MEMORY), RegionKind::Reserved);
        assert_eq!(region_kind(EntryType::ACPI_NVS), RegionKind::Firmware);
    }
}
