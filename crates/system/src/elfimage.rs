//! Reading an ELF executable for loading: its entry point and loadable segments.

extern crate alloc;
use alloc::vec::Vec;
use elf::ElfBytes;
use elf::abi::{PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use pecan_abi::MemRights;
use pecan_abi::layout::USER_TOP;

/// A loadable segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First virtual address.
    pub va: u64,
    /// Bytes in memory.
    pub memsz: u64,
    /// Bytes from the file (the rest is zero).
    pub filesz: u64,
    /// Offset of the file bytes.
    pub offset: u64,
    /// Access rights.
    pub rights: MemRights,
}

/// An executable.
#[derive(Clone, Debug)]
pub struct Image {
    /// Entry point.
    pub entry: u64,
    /// Loadable segments.
    pub segments: Vec<Segment>,
}

/// Why an executable was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Not a little-endian 64-bit ELF file.
    NotElf,
    /// A segment is outside user space or its file part outside the file.
    BadSegment,
}

/// Parses `bytes`.
pub fn parse(bytes: &[u8]) -> Result<Image, ElfError> {
    let e = ElfBytes::<LittleEndian>::minimal_parse(bytes).map_err(|_| ElfError::NotElf)?;
    let mut segments = Vec::new();
    for ph in e.segments().ok_or(ElfError::NotElf)?.iter().filter(|p| p.p_type == PT_LOAD) {
        let end = ph.p_vaddr.checked_add(ph.p_memsz).ok_or(ElfError::BadSegment)?;
        let fend = ph.p_offset.checked_add(ph.p_filesz).ok_or(ElfError::BadSegment)?;
        if ph.p_vaddr < 4096 || end > USER_TOP || ph.p_filesz > ph.p_memsz || fend > bytes.len() as u64 {
            return Err(ElfError::BadSegment);
        }
        let mut r = MemRights::R.0;
        if ph.p_flags & PF_W != 0 {
            r |= MemRights::W.0;
        }
        if ph.p_flags & PF_X != 0 {
            r |= MemRights::X.0;
        }
        segments.push(Segment {
            va: ph.p_vaddr,
            memsz: ph.p_memsz,
            filesz: ph.p_filesz,
            offset: ph.p_offset,
            rights: MemRights(r),
        });
    }
    Ok(Image { entry: e.ehdr.e_entry, segments })
}
