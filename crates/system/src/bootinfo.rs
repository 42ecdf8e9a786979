//! Reading the boot information (root task) or start information (other tasks).

use pecan_abi::layout::{BOOTINFO_MAGIC, BootInfo, STARTINFO_MAGIC, StartInfo};

/// The boot information at `addr` (the root task's argument), if it is one.
pub fn boot_info(addr: u64) -> Option<&'static BootInfo> {
    if addr == 0 || !addr.is_multiple_of(8) {
        return None;
    }
    // SAFETY: the kernel maps the boot information page read-only at this address for the
    // root task's lifetime; the magic check rejects anything else.
    let bi = unsafe { &*(addr as *const BootInfo) };
    (bi.magic == BOOTINFO_MAGIC).then_some(bi)
}

/// The start information at `addr` (a started task's argument), if it is one.
pub fn start_info(addr: u64) -> Option<&'static StartInfo> {
    if addr == 0 || !addr.is_multiple_of(8) {
        return None;
    }
    // SAFETY: the loader maps the start page read-only at this address for the task's
    // lifetime; the magic check rejects anything else.
    let si = unsafe { &*(addr as *const StartInfo) };
    (si.magic == STARTINFO_MAGIC).then_some(si)
}

/// A word of the command line: the value of `key=value`.
pub fn cmdline_get<'a>(cmdline: &'a [u8], key: &str) -> Option<&'a [u8]> {
    cmdline.split(|&c| c == b' ').find_map(|w| {
        let eq = w.iter().position(|&c| c == b'=')?;
        (&w[..eq] == key.as_bytes()).then_some(&w[eq + 1..])
    })
}
