//! QEMU's fw_cfg through its I/O ports (selector 0x510, data 0x511): the signature, the
//! CPU count and files such as `etc/e820`. The parsing is in `pecan_boot::e820`.

use pecan_boot::BootError;
use pecan_boot::e820::{self, DIR_ENTRY_SIZE, FwCfgFile};
use x86_64::instructions::port::Port;

const SELECTOR: u16 = 0x510;
const DATA: u16 = 0x511;

fn select(key: u16) {
    // SAFETY: the fw_cfg selector port; selecting an item has no effect on memory.
    unsafe { Port::<u16>::new(SELECTOR).write(key) }
}

fn read(buf: &mut [u8]) {
    let mut port = Port::<u8>::new(DATA);
    for b in buf {
        // SAFETY: reading the fw_cfg data port only advances the item's offset.
        *b = unsafe { port.read() };
    }
}

/// Whether QEMU's fw_cfg is there (its signature reads "QEMU").
pub fn present() -> bool {
    select(e820::FW_CFG_SIGNATURE);
    let mut sig = [0u8; 4];
    read(&mut sig);
    &sig == b"QEMU"
}

/// Finds a file in the directory.
pub fn find(name: &[u8]) -> Option<FwCfgFile> {
    if !present() {
        return None;
    }
    select(e820::FW_CFG_FILE_DIR);
    let mut head = [0u8; 4];
    read(&mut head);
    let count = e820::dir_count(head).min(4096);
    let mut raw = [0u8; DIR_ENTRY_SIZE];
    for _ in 0..count {
        read(&mut raw);
        let f = FwCfgFile::parse(&raw);
        if f.name() == name {
            return Some(f);
        }
    }
    None
}

/// Reads file `f` into `buf`; returns the bytes read (at most `buf.len()`).
pub fn read_file(f: &FwCfgFile, buf: &mut [u8]) -> usize {
    let n = (f.size as usize).min(buf.len());
    select(f.select);
    read(&mut buf[..n]);
    n
}

/// Reads `etc/e820` into `buf`; returns its length.
pub fn read_e820(buf: &mut [u8]) -> Result<usize, BootError> {
    let f = find(e820::E820_FILE).ok_or(BootError::NoFwCfg)?;
    if f.size as usize > buf.len() {
        return Err(BootError::TooManyRegions);
    }
    Ok(read_file(&f, buf))
}

/// The number of CPUs QEMU was started with.
pub fn cpu_count() -> Option<usize> {
    if !present() {
        return None;
    }
    select(e820::FW_CFG_NB_CPUS);
    let mut n = [0u8; 2];
    read(&mut n);
    Some(u16::from_le_bytes(n) as usize).filter(|&n| n > 0)
}
