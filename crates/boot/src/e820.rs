//! QEMU fw_cfg file directory and `etc/e820` memory maps (x86_64): pure parsing.
//!
//! The arch code reads the bytes through the fw_cfg I/O ports; everything that interprets
//! them lives here so it can be tested on the host. The fw_cfg directory (selector 0x19)
//! is big-endian: a `u32` count, then 64-byte entries (`u32` size, `u16` selector,
//! `u16` reserved, 56-byte NUL-padded name). `etc/e820` is little-endian: 20-byte entries
//! (`u64` address, `u64` length, `u32` type).

use crate::BootError;
use crate::memmap::{MemoryMap, RegionKind};

/// The fw_cfg selector of the signature item (reads "QEMU").
pub const FW_CFG_SIGNATURE: u16 = 0x0000;
/// The fw_cfg selector of the number of CPUs (`u16`, little-endian).
pub const FW_CFG_NB_CPUS: u16 = 0x0005;
/// The fw_cfg selector of the file directory.
pub const FW_CFG_FILE_DIR: u16 = 0x0019;
/// Bytes of one directory entry.
pub const DIR_ENTRY_SIZE: usize = 64;
/// Bytes of one e820 entry.
pub const E820_ENTRY_SIZE: usize = 20;
/// The name of QEMU's memory-map file.
pub const E820_FILE: &[u8] = b"etc/e820";

/// e820 type: usable RAM.
pub const E820_RAM: u32 = 1;
/// e820 type: reserved.
pub const E820_RESERVED: u32 = 2;
/// e820 type: ACPI tables, reclaimable once read.
pub const E820_ACPI: u32 = 3;
/// e820 type: ACPI non-volatile storage.
pub const E820_NVS: u32 = 4;
/// e820 type: unusable (bad) memory.
pub const E820_UNUSABLE: u32 = 5;

/// One fw_cfg directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FwCfgFile {
    /// Size of the file in bytes.
    pub size: u32,
    /// The selector that reads it.
    pub select: u16,
    name: [u8; 56],
}

impl FwCfgFile {
    /// Decodes one 64-byte directory entry.
    pub fn parse(raw: &[u8; DIR_ENTRY_SIZE]) -> Self {
        let mut name = [0; 56];
        name.copy_from_slice(&raw[8..64]);
        FwCfgFile {
            size: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            select: u16::from_be_bytes([raw[4], raw[5]]),
            name,
        }
    }

    /// The file name, without its NUL padding.
    pub fn name(&self) -> &[u8] {
        let n = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        &self.name[..n]
    }
}

/// The number of entries announced by the directory's first four bytes.
pub fn dir_count(head: [u8; 4]) -> u32 {
    u32::from_be_bytes(head)
}

/// Finds `name` in a whole directory (count followed by the entries). A directory that is
/// shorter than its count says yields only the entries that are there.
pub fn find_file(dir: &[u8], name: &[u8]) -> Option<FwCfgFile> {
    let count = dir_count(dir.get(..4)?.try_into().ok()?) as usize;
    dir[4..]
        .chunks_exact(DIR_ENTRY_SIZE)
        .take(count)
        .map(|c| FwCfgFile::parse(c.try_into().expect("chunks_exact")))
        .find(|f| f.name() == name)
}

/// One e820 entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    /// First byte.
    pub addr: u64,
    /// Length in bytes.
    pub size: u64,
    /// The e820 type (`E820_RAM`, ...).
    pub kind: u32,
}

impl E820Entry {
    /// How the kernel treats memory of this e820 type (unknown types are reserved, as
    /// the ACPI specification requires).
    pub fn region_kind(&self) -> RegionKind {
        match self.kind {
            E820_RAM => RegionKind::Usable,
            E820_ACPI | E820_NVS => RegionKind::Firmware,
            _ => RegionKind::Reserved,
        }
    }

    /// Whether this is RAM of some kind (usable or holding ACPI data): the kernel maps it
    /// in its direct map.
    pub fn is_ram(&self) -> bool {
        matches!(self.kind, E820_RAM | E820_ACPI | E820_NVS)
    }
}

/// The entries of an `etc/e820` file, checked: the length must be a whole number of
/// entries, and no entry may wrap around the address space.
pub fn entries(bytes: &[u8]) -> Result<impl Iterator<Item = E820Entry> + '_, BootError> {
    if bytes.is_empty() {
        return Err(BootError::NoUsableMemory);
    }
    if !bytes.len().is_multiple_of(E820_ENTRY_SIZE) {
        return Err(BootError::CorruptMemoryMap);
    }
    let decode = |c: &[u8]| E820Entry {
        addr: u64::from_le_bytes(c[0..8].try_into().expect("8 bytes")),
        size: u64::from_le_bytes(c[8..16].try_into().expect("8 bytes")),
        kind: u32::from_le_bytes(c[16..20].try_into().expect("4 bytes")),
    };
    if bytes.chunks_exact(E820_ENTRY_SIZE).map(decode).any(|e| e.addr.checked_add(e.size).is_none()) {
        return Err(BootError::CorruptMemoryMap);
    }
    Ok(bytes.chunks_exact(E820_ENTRY_SIZE).map(decode))
}

/// Translates an `etc/e820` file into a memory map (before the arch carves out what it
/// uses). Fails when the file is malformed or holds no usable RAM.
pub fn memory_map(bytes: &[u8]) -> Result<MemoryMap, BootError> {
    let mut map = MemoryMap::new();
    for e in entries(bytes)? {
        map.add(e.addr, e.size, e.region_kind())?;
    }
    if map.usable_bytes() == 0 {
        return Err(BootError::NoUsableMemory);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::memmap::Region;
    use std::vec::Vec;

    fn e820(entries: &[(u64, u64, u32)]) -> Vec<u8> {
        let mut v = Vec::new();
        for &(a, s, t) in entries {
            v.extend_from_slice(&a.to_le_bytes());
            v.extend_from_slice(&s.to_le_bytes());
            v.extend_from_slice(&t.to_le_bytes());
        }
        v
    }

    fn dir(files: &[(&str, u32, u16)]) -> Vec<u8> {
        let mut v = (files.len() as u32).to_be_bytes().to_vec();
        for &(name, size, sel) in files {
            let mut e = [0u8; 64];
            e[0..4].copy_from_slice(&size.to_be_bytes());
            e[4..6].copy_from_slice(&sel.to_be_bytes());
            e[8..8 + name.len()].copy_from_slice(name.as_bytes());
            v.extend_from_slice(&e);
        }
        v
    }

    #[test]
    fn directory_lookup() {
        let d = dir(&[("bootorder", 0, 0x20), ("etc/e820", 40, 0x25), ("etc/acpi/rsdp", 36, 0x26)]);
        let f = find_file(&d, E820_FILE).unwrap();
        assert_eq!((f.size, f.select, f.name()), (40, 0x25, &b"etc/e820"[..]));
        assert_eq!(find_file(&d, b"etc/e82"), None);
        assert_eq!(find_file(&d, b"nothing"), None);
        // A count larger than the data, or a directory cut short, does not read past it.
        let mut short = d.clone();
        short[..4].copy_from_slice(&100u32.to_be_bytes());
        assert!(find_file(&short, b"etc/acpi/rsdp").is_some());
        assert_eq!(find_file(&d[..4 + 64 + 10], E820_FILE), None);
        assert_eq!(find_file(&[], E820_FILE), None);
        assert_eq!(find_file(&dir(&[]), E820_FILE), None);
    }

    #[test]
    fn qemu_pc_map() {
        // What QEMU's pc machine reports with -m 512M, plus a reserved and an ACPI entry.
        let raw =
            e820(&[(0, 0x2000_0000, E820_RAM), (0xfeff_c000, 0x4000, E820_RESERVED), (0x1000, 0x1000, 3)]);
        let map = memory_map(&raw).unwrap();
        let r = map.regions();
        assert_eq!(r[0], Region { base: 0, size: 0x1000, kind: RegionKind::Usable });
        assert_eq!(r[1], Region { base: 0x1000, size: 0x1000, kind: RegionKind::Firmware });
        assert_eq!(r[2], Region { base: 0x2000, size: 0x2000_0000 - 0x2000, kind: RegionKind::Usable });
        assert_eq!(r[3], Region { base: 0xfeff_c000, size: 0x4000, kind: RegionKind::Reserved });
        assert_eq!(map.usable_bytes(), 0x2000_0000 - 0x1000);
        let kinds: Vec<bool> = entries(&raw).unwrap().map(|e| e.is_ram()).collect();
        assert_eq!(kinds, [true, false, true]);
    }

    #[test]
    fn unknown_types_are_reserved_and_empty_entries_ignored() {
        let raw =
            e820(&[(0x10_0000, 0x100_0000, E820_RAM), (0x20_0000, 0x1000, 0xdead), (0x50, 0, E820_RAM)]);
        let map = memory_map(&raw).unwrap();
        assert_eq!(map.regions().len(), 3);
        assert_eq!(map.regions()[1].kind, RegionKind::Reserved);
        assert_eq!(E820Entry { addr: 0, size: 1, kind: E820_UNUSABLE }.region_kind(), RegionKind::Reserved);
    }

    #[test]
    fn bad_maps() {
        assert_eq!(memory_map(&[]).unwrap_err(), BootError::NoUsableMemory);
        let good = e820(&[(0, 0x100_0000, E820_RAM)]);
        assert_eq!(memory_map(&good[..good.len() - 3]).unwrap_err(), BootError::CorruptMemoryMap);
        let no_ram = e820(&[(0, 0x100_0000, E820_RESERVED), (0x100_0000, 0x1000, E820_NVS)]);
        assert_eq!(memory_map(&no_ram).unwrap_err(), BootError::NoUsableMemory);
        let wraps = e820(&[(0, 0x100_0000, E820_RAM), (u64::MAX - 10, 0x1000, E820_RAM)]);
        assert_eq!(memory_map(&wraps).unwrap_err(), BootError::CorruptMemoryMap);
        // 200 separate pieces of RAM do not fit in the kernel's map.
        let spaced: Vec<(u64, u64, u32)> = (0..200u64).map(|i| (i * 0x2000, 0x1000, E820_RAM)).collect();
        assert_eq!(memory_map(&e820(&spaced)).unwrap_err(), BootError::TooManyRegions);
        // Every error names itself as bad boot information.
        let msg = std::format!("{}", BootError::CorruptMemoryMap);
        assert!(msg.contains("boot information"), "{msg}");
    }
}
