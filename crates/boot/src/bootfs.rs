//! The boot archive: the user programs the kernel image carries.
//!
//! Layout: a 16-byte header (`MAGIC`, entry count as u64), then `count` entries of 48 bytes
//! (32-byte NUL-padded name, offset and size as u64, offsets from the archive start), then
//! the files, each starting on a 4 KiB boundary. All numbers little-endian. The image
//! builder writes it ([`build`] on the host), the kernel reads it ([`Bootfs::parse`]).

/// The archive's first 8 bytes.
pub const MAGIC: &[u8; 8] = b"PECANFS1";
/// Size of the header.
pub const HEADER: usize = 16;
/// Size of one entry.
pub const ENTRY: usize = 48;
/// Alignment of file data.
pub const ALIGN: usize = 4096;

/// Why an archive could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootfsError {
    /// It does not start with `MAGIC` or is shorter than its header.
    BadMagic,
    /// An entry or a file lies outside the archive.
    Truncated,
}

/// A parsed archive (borrowing its bytes).
#[derive(Clone, Copy, Debug)]
pub struct Bootfs<'a> {
    bytes: &'a [u8],
    count: usize,
}

/// One file of the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File<'a> {
    /// Its name.
    pub name: &'a [u8],
    /// Offset of its data in the archive.
    pub offset: usize,
    /// Its bytes.
    pub data: &'a [u8],
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl<'a> Bootfs<'a> {
    /// Checks the header and every entry.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BootfsError> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(BootfsError::BadMagic);
        }
        let count = u64_at(bytes, 8).ok_or(BootfsError::Truncated)? as usize;
        let fs = Bootfs { bytes, count };
        if count > 1024 || HEADER + count * ENTRY > bytes.len() {
            return Err(BootfsError::Truncated);
        }
        for i in 0..count {
            fs.file(i).ok_or(BootfsError::Truncated)?;
        }
        Ok(fs)
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// File `i`.
    pub fn file(&self, i: usize) -> Option<File<'a>> {
        if i >= self.count {
            return None;
        }
        let e = HEADER + i * ENTRY;
        let raw = self.bytes.get(e..e + 32)?;
        let name = &raw[..raw.iter().position(|&c| c == 0).unwrap_or(32)];
        let off = u64_at(self.bytes, e + 32)? as usize;
        let size = u64_at(self.bytes, e + 40)? as usize;
        let data = self.bytes.get(off..off.checked_add(size)?)?;
        Some(File { name, offset: off, data })
    }

    /// The file named `name`.
    pub fn find(&self, name: &[u8]) -> Option<File<'a>> {
        (0..self.count).filter_map(|i| self.file(i)).find(|f| f.name == name)
    }

    /// Every file.
    pub fn files(&self) -> impl Iterator<Item = File<'a>> + '_ {
        (0..self.count).filter_map(|i| self.file(i))
    }
}

/// Builds an archive from `(name, bytes)` pairs (names longer than 31 bytes are cut).
#[cfg(any(test, feature = "std"))]
pub fn build(files: &[(&str, &[u8])]) -> std::vec::Vec<u8> {
    let mut out = std::vec::Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(files.len() as u64).to_le_bytes());
    let mut off = (HEADER + files.len() * ENTRY).next_multiple_of(ALIGN);
    for (name, data) in files {
        let mut n = [0u8; 32];
        let b = name.as_bytes();
        n[..b.len().min(31)].copy_from_slice(&b[..b.len().min(31)]);
        out.extend_from_slice(&n);
        out.extend_from_slice(&(off as u64).to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        off = (off + data.len()).next_multiple_of(ALIGN);
    }
    for (_, data) in files {
        out.resize(out.len().next_multiple_of(ALIGN), 0);
        out.extend_from_slice(data);
    }
    out
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn round_trip() {
        let a = build(&[("init", b"\x7fELF-init"), ("names", b"names!")]);
        let fs = Bootfs::parse(&a).unwrap();
        assert_eq!(fs.len(), 2);
        let f = fs.find(b"names").unwrap();
        assert_eq!(f.data, b"names!");
        assert_eq!(f.offset % ALIGN, 0);
        assert_eq!(fs.file(0).unwrap().name, b"init");
        assert!(fs.find(b"nope").is_none());
    }

    #[test]
    fn corrupt_archives_are_errors() {
        assert_eq!(Bootfs::parse(b"").err(), Some(BootfsError::BadMagic));
        assert_eq!(Bootfs::parse(b"NOTPECANxxxxxxxx").err(), Some(BootfsError::BadMagic));
        let mut a = build(&[("init", b"abc")]);
        a.truncate(a.len() - 1);
        assert_eq!(Bootfs::parse(&a).err(), Some(BootfsError::Truncated));
        let mut a = build(&[("init", b"abc")]);
        a[8] = 0xff; // absurd count
        assert_eq!(Bootfs::parse(&a).err(), Some(BootfsError::Truncated));
        let mut a = build(&[("init", b"abc")]);
        a[HEADER + 32..HEADER + 40].copy_from_slice(&u64::MAX.to_le_bytes()); // offset overflow
        assert_eq!(Bootfs::parse(&a).err(), Some(BootfsError::Truncated));
    }
}
