//! Cargo invocations that build kernels and user programs for bare-metal targets.
//!
//! The message-register ABI is a build option (`reg-transfer`, a feature of `pecan-abi`):
//! the kernel and the user programs packed into its boot archive are always built with
//! the same setting, derived from the kernel's feature list.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

use crate::arch::{self, Arch, BootImage};
use crate::{BootOpts, root};

/// The user programs packed into the boot archive (binaries of `pecan-programs`).
pub const PROGRAMS: &[&str] =
    &["init", "names", "pingpong", "stream", "uart", "pagerd", "pagedemo", "worker", "benchsrv"];

/// Whether a kernel built with `features` (and the default features unless `no_default`)
/// passes message words in registers (the `reg-transfer` feature, on by default).
pub fn reg_transfer(features: &str, no_default: bool) -> bool {
    !no_default || features.split(',').any(|f| f.trim() == "reg-transfer")
}

/// Builds the user programs for `arch` (with message words in registers if
/// `reg_transfer`); returns `(name, path)` for each.
pub fn programs(arch: Arch, reg_transfer: bool) -> Result<Vec<(String, PathBuf)>> {
    let root = root();
    let target_dir = root.join("target").join(format!("user-{}", arch.name()));
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(&root)
        .args(["build", "--release", "--package", "pecan-programs", "--target", arch.user_target()])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", ["-Crelocation-model=static", "-Cstrip=debuginfo"].join("\x1f"));
    if !reg_transfer {
        // pecan-programs' only default feature is `reg-transfer`.
        c.arg("--no-default-features");
    }
    let st = c.status().context("running cargo build for the user programs")?;
    if !st.success() {
        bail!("user program build for {arch} failed");
    }
    let dir = target_dir.join(arch.user_target()).join("release");
    PROGRAMS
        .iter()
        .map(|p| {
            let path = dir.join(p);
            if path.exists() { Ok((p.to_string(), path)) } else { bail!("{} is missing", path.display()) }
        })
        .collect()
}

/// Builds the user programs and packs them into the boot archive; returns its path.
pub fn bootfs(arch: Arch, reg_transfer: bool) -> Result<PathBuf> {
    let progs = programs(arch, reg_transfer)?;
    let mut files = Vec::new();
    for (name, path) in &progs {
        files.push((
            name.clone(),
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        ));
    }
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let archive = pecan_boot::bootfs::build(&refs);
    let out = root().join("build").join(arch.name());
    std::fs::create_dir_all(&out)?;
    let path = out.join("bootfs.bin");
    // Rewrite only on change, so the kernel is not rebuilt for nothing.
    if std::fs::read(&path).ok().as_deref() != Some(archive.as_slice()) {
        std::fs::write(&path, &archive)?;
    }
    Ok(path)
}

/// Builds the kernel for `arch` with the given features; returns the ELF's path.
pub fn kernel(arch: Arch, features: &str, no_default: bool) -> Result<PathBuf> {
    let bootfs = bootfs(arch, reg_transfer(features, no_default))?;
    let root = root();
    let target_dir = root.join("target").join(format!("kernel-{}", arch.name()));
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(&root)
        .args(["build", "--release", "--package", arch.kernel_package(), "--target", arch.kernel_target()])
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags for the whole kernel build; the linker script comes from the platform's build.rs.
        .env("CARGO_ENCODED_RUSTFLAGS", kernel_rustflags(arch).join("\x1f"))
        // The platform's build script embeds this archive in the kernel image.
        .env("PECAN_BOOTFS", &bootfs);
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

#[cfg(test)]
mod tests {
    use super::reg_transfer;

    #[test]
    fn the_programs_follow_the_kernels_abi() {
        assert!(reg_transfer("", false));
        assert!(reg_transfer("counters", false));
        assert!(!reg_transfer("", true));
        assert!(!reg_transfer("lazy-queues,direct-switch,fastpath,asid", true));
        assert!(reg_transfer("lazy-queues, reg-transfer", true));
    }
}
