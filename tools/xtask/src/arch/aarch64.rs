//! AArch64: an ARM64 Linux `Image` booted by U-Boot's `booti` on QEMU `virt`.

use anyhow::{Result, bail};
use std::path::Path;

use super::BootImage;
use crate::BootOpts;

/// Makes the AArch64 boot image.
pub fn make_image(_kernel: &Path, _opts: &BootOpts, _out: &Path) -> Result<BootImage> {
    bail!("aarch64 boot image: not written yet")
}
