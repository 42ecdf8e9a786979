//! Cargo invocations that build kernels (and, later, user programs) for bare-metal targets.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

use crate::arch::{self, Arch, BootImage};
use crate::{BootOpts, root};

/// Builds the kernel for `arch` with the given features; returns the ELF's path.
pub fn kernel(arch: Arch, features: &str, no_default: bool) -> Result<PathBuf> {
    let root = root();
    let target_dir = root.join("target").join(format!("kernel-{}", arch.name()));
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(&root)
        .args(["build", "--release", "--package", arch.kernel_package(), "--target", arch.kernel_target()])
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags for the whole kernel build; the linker script comes from the platform's build.rs.
        .env("CARGO_ENCODED_RUSTFLAGS", kernel_rustflags(arch).join("\x1f"));
    if !features.is_empty() {
        c.args(["--features", features]);
    }
    if no_default {
        c.arg("--no-default-features");
    }
    let st = c.status().context("running cargo build for the kernel")?;
    if !st.success() {
        bail!("kernel build for {arch} failed");
    }
    let elf = target_dir.join(arch.kernel_target()).join("release").join(arch.kernel_package());
    if !elf.exists() {
        bail!("kernel build succeeded but {} is missing", elf.display());
    }
    Ok(elf)
}

/// Rust flags for kernel builds.
fn kernel_rustflags(arch: Arch) -> Vec<&'static str> {
    let mut f = vec!["-Crelocation-model=static", "-Cforce-frame-pointers=yes"];
    if arch == Arch::X86_64 {
        f.push("-Ccode-model=kernel");
    }
    f
}

/// Builds the kernel and its boot image for `opts`.
pub fn boot_image(opts: &BootOpts) -> Result<BootImage> {
    let elf = kernel(opts.arch, &opts.features, opts.no_default_features)?;
    let out = root().join("build").join(opts.arch.name());
    arch::make_image(opts.arch, &elf, opts, &out)
}
