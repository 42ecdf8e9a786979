//! x86_64: an MBR+FAT disk with the kernel ELF and a U-Boot `boot.scr`, on QEMU `pc`.

use anyhow::{Result, bail};
use std::path::Path;

use super::BootImage;
use crate::BootOpts;

/// Makes the x86_64 boot image.
pub fn make_image(_kernel: &Path, _opts: &BootOpts, _out: &Path) -> Result<BootImage> {
    bail!("x86_64 boot image: not written yet")
}
