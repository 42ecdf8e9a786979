//! What differs per architecture: targets, packages, boot images, QEMU command lines and
//! how QEMU's exit status encodes the kernel's.

pub mod aarch64;
pub mod x86_64;

use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::BootOpts;

/// A supported architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// x86_64 on QEMU's `pc` machine.
    #[value(name = "x86_64", alias = "x86")]
    #[serde(rename = "x86_64")]
    X86_64,
    /// AArch64 on QEMU's `virt` machine.
    #[value(name = "aarch64", alias = "arm")]
    Aarch64,
}

/// The loader that starts the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Loader {
    /// U-Boot from Debian's u-boot-qemu (the default, and what CI tests).
    Uboot,
    /// Limine, from a binary release in `LIMINE_DIR`.
    Limine,
    /// QEMU's own `-kernel` loader (no firmware).
    Direct,
}

impl Arch {
    /// Both architectures.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The name used in file names and the test matrix.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The Rust target of the kernel.
    pub fn kernel_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-none",
            Arch::Aarch64 => "aarch64-unknown-none-softfloat",
        }
    }

    /// The Rust target of user programs (floating point allowed).
    pub fn user_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-none",
            Arch::Aarch64 => "aarch64-unknown-none",
        }
    }

    /// The platform crate that is the kernel.
    pub fn kernel_package(self) -> &'static str {
        match self {
            Arch::X86_64 => "pecan-qemu-x86_64",
            Arch::Aarch64 => "pecan-qemu-aarch64",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A bootable image and how to start QEMU on it.
#[derive(Debug)]
pub struct BootImage {
    /// The architecture.
    pub arch: Arch,
    /// The kernel ELF it was made from.
    pub kernel: PathBuf,
    /// The files QEMU needs (disk image, flash, kernel Image).
    pub files: Vec<PathBuf>,
    /// QEMU's arguments, without the program name.
    pub qemu_args: Vec<String>,
}

impl BootImage {
    /// A readable summary.
    pub fn describe(&self) -> String {
        let mut s = format!("{} kernel: {}", self.arch, self.kernel.display());
        for f in &self.files {
            s += &format!("\n  {}", f.display());
        }
        s += &format!("\n  qemu-system-{} {}", qemu_arch(self.arch), self.qemu_args.join(" "));
        s
    }

    /// The QEMU command.
    pub fn command(&self) -> Command {
        let mut c = Command::new(format!("qemu-system-{}", qemu_arch(self.arch)));
        c.args(&self.qemu_args);
        c
    }
}

fn qemu_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
    }
}

/// Makes the boot image for `kernel` in `out` and the QEMU arguments to boot it.
pub fn make_image(arch: Arch, kernel: &Path, opts: &BootOpts, out: &Path) -> Result<BootImage> {
    std::fs::create_dir_all(out)?;
    match arch {
        Arch::X86_64 => x86_64::make_image(kernel, opts, out),
        Arch::Aarch64 => aarch64::make_image(kernel, opts, out),
    }
}

/// How the kernel ended, decoded from QEMU's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelExit {
    /// The kernel asked to exit with this code (0: success).
    Code(u32),
    /// QEMU exited with a status the kernel cannot produce (QEMU's own failure).
    Qemu(i32),
    /// QEMU was killed by a signal or by our timeout.
    Killed,
}

/// The status QEMU exits with when the kernel exits with `code`, on both architectures:
/// `33 + 2 * code` (x86_64 `isa-debug-exit` turns value `v` into `2v + 1`, so the kernel
/// writes `0x10 + code`; AArch64 semihosting passes the status through unchanged). QEMU's own
/// failures exit with 1, which no kernel code maps to.
#[allow(dead_code)] // used by the arch modules' documentation and tests
pub const fn qemu_status_for(code: u32) -> i32 {
    33 + 2 * code as i32
}

/// Decodes QEMU's exit status.
pub fn decode_status(status: Option<i32>) -> KernelExit {
    match status {
        None => KernelExit::Killed,
        Some(s) if s >= 33 && s % 2 == 1 => KernelExit::Code(((s - 33) / 2) as u32),
        Some(s) => KernelExit::Qemu(s),
    }
}
