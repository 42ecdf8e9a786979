//! AArch64: an ARM64 Linux `Image` booted by U-Boot's `booti` on QEMU `virt` (or by QEMU's
//! own `-kernel`), or Limine's UEFI loader from a FAT disk started by U-Boot's `bootefi`.
//!
//! The `Image` is the kernel ELF's PT_LOAD segments laid out by physical address (the
//! linker script makes those offsets from the Image header). U-Boot's environment comes
//! from pflash unit 1 so it boots at once: `qfw load` fetches the `-kernel` file, `booti`
//! starts it with U-Boot's device tree (which carries `-append` as `/chosen/bootargs`).
//! `PECAN_AARCH64_MACHINE` (e.g. `virtualization=on`) adds options to `-M virt,...`.

use anyhow::{Context, Result, bail, ensure};
use object::Endianness;
use object::elf::PT_LOAD;
use object::read::elf::{ElfFile64, ProgramHeader};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Arch, BootImage, Loader};
use crate::BootOpts;

/// U-Boot for QEMU's arm64 `virt` machine (Debian's `u-boot-qemu`).
pub const UBOOT_BIN: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";
/// Where U-Boot loads the Image: RAM base + the header's text_offset.
const LOAD_ADDR: &str = "0x40400000";
/// Size of the environment U-Boot's qemu_arm64 build expects (CONFIG_ENV_SIZE).
const ENV_SIZE: &str = "0x40000";
/// Size of a `virt` pflash unit.
const FLASH_SIZE: u64 = 64 << 20;
/// Offset of the `ARMd` magic in the Image header.
const MAGIC_OFFSET: usize = 56;
/// Limine's AArch64 UEFI loader, the one file a Limine disk needs from `LIMINE_DIR`.
const LIMINE_EFI: &str = "BOOTAA64.EFI";
/// The FAT partition's first sector.
const PART_START: u32 = 2048;
/// The FAT partition's size in sectors (32 MiB: FAT16, too small for FAT32).
const PART_SECTORS: u32 = 32 * 2048;
/// U-Boot's autoboot setting: at once, never stopped by a key press.
const BOOTDELAY: &str = "bootdelay=-2";
/// Extra `-M virt` options from the environment.
const MACHINE_ENV: &str = "PECAN_AARCH64_MACHINE";

/// Makes the AArch64 boot image for `opts.loader`.
pub fn make_image(kernel: &Path, opts: &BootOpts, out: &Path) -> Result<BootImage> {
    let elf = std::fs::read(kernel).with_context(|| format!("reading {}", kernel.display()))?;
    let image = out.join("Image");
    std::fs::write(&image, image_from_elf(&elf)?)?;
    let mut files = vec![image.clone()];
    let mut args = machine_args(opts);
    match opts.loader {
        Loader::Uboot => {
            let flash = flash_env(out, &uboot_env_booti())?;
            args.extend(firmware_args(&flash));
            args.extend(["-kernel".into(), path(&image), "-append".into(), opts.cmdline.clone()]);
            files.push(flash);
        }
        Loader::Direct => {
            args.extend(["-kernel".into(), path(&image), "-append".into(), opts.cmdline.clone()]);
        }
        Loader::Limine => {
            let dir = std::env::var_os("LIMINE_DIR").filter(|d| !d.is_empty()).map(PathBuf::from);
            let efi = limine_file(dir, LIMINE_EFI)?;
            let conf = out.join("limine.conf");
            std::fs::write(&conf, limine_conf(&opts.cmdline))?;
            let disk = out.join("disk.img");
            fat_disk(
                &disk,
                &[
                    (efi, "EFI/BOOT/BOOTAA64.EFI"),
                    (conf, "limine.conf"),
                    (kernel.to_path_buf(), "boot/kernel"),
                ],
            )?;
            let flash = flash_env(out, &uboot_env_efi())?;
            args.extend(firmware_args(&flash));
            args.extend([
                "-drive".into(),
                format!("if=none,id=disk,format=raw,file={}", disk.display()),
                "-device".into(),
                "virtio-blk-device,drive=disk".into(),
            ]);
            files.extend([disk, flash]);
        }
    }
    Ok(BootImage { arch: Arch::Aarch64, kernel: kernel.to_path_buf(), files, qemu_args: args })
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The machine, CPU, memory and console arguments every loader shares.
fn machine_args(opts: &BootOpts) -> Vec<String> {
    let mut machine = "virt,gic-version=3".to_string();
    for extra in [opts.machine.clone(), std::env::var(MACHINE_ENV).unwrap_or_default()] {
        if !extra.is_empty() {
            machine = format!("{machine},{extra}");
        }
    }
    let mut a: Vec<String> = [
        "-M",
        &machine,
        "-cpu",
        opts.cpu.as_deref().unwrap_or("max"),
        "-m",
        opts.memory.as_deref().unwrap_or("512M"),
        "-smp",
        &opts.smp.to_string(),
        "-semihosting",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-nic",
        "none",
        "-no-reboot",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if opts.icount {
        a.extend(["-icount".into(), crate::qemu::icount_option(opts.smp).into()]);
    }
    a
}

/// U-Boot and its environment flash.
fn firmware_args(flash: &Path) -> Vec<String> {
    vec![
        "-bios".into(),
        UBOOT_BIN.into(),
        "-drive".into(),
        format!("if=pflash,unit=1,format=raw,file={},readonly=on", flash.display()),
    ]
}

/// The environment that boots the `-kernel` Image with `booti` at once. A flash
/// environment replaces U-Boot's default one entirely, so addresses are literal
/// (`fdtcontroladdr` is set at run time). `bootdelay=-2` boots without looking for a key
/// press, so console input meant for the kernel (typed early, or piped by the test
/// harness) cannot stop it at U-Boot's prompt. If the boot command fails, U-Boot powers
/// the machine off (QEMU exits 0, which no kernel exit produces) instead of waiting at
/// its prompt for the timeout.
fn uboot_env_booti() -> String {
    format!(
        "{BOOTDELAY}\nbootcmd=qfw load {LOAD_ADDR} 0x44000000; booti {LOAD_ADDR} - ${{fdtcontroladdr}}; \
         poweroff\n"
    )
}

/// The environment that starts Limine's UEFI loader from the virtio disk's FAT partition.
fn uboot_env_efi() -> String {
    format!(
        "{BOOTDELAY}\nbootcmd=virtio scan; load virtio 0:1 {LOAD_ADDR} EFI/BOOT/{LIMINE_EFI}; \
         bootefi {LOAD_ADDR} ${{fdtcontroladdr}}; poweroff\n"
    )
}

/// Writes `env` with `mkenvimage` into a 64 MiB pflash image; returns its path. The flash
/// file is left sparse beyond the environment.
fn flash_env(out: &Path, env: &str) -> Result<PathBuf> {
    let txt = out.join("uboot-env.txt");
    let bin = out.join("uboot-env.bin");
    std::fs::write(&txt, env)?;
    run(Command::new("mkenvimage").args(["-s", ENV_SIZE, "-o"]).arg(&bin).arg(&txt))?;
    let flash = out.join("flash1.bin");
    std::fs::copy(&bin, &flash).with_context(|| format!("writing {}", flash.display()))?;
    std::fs::OpenOptions::new().write(true).open(&flash)?.set_len(FLASH_SIZE)?;
    Ok(flash)
}

/// The flat `Image`: every PT_LOAD segment's file bytes at its physical address minus the
/// lowest one; the header's magic and its image size are checked.
pub fn image_from_elf(elf: &[u8]) -> Result<Vec<u8>> {
    let file = ElfFile64::<Endianness>::parse(elf).context("the kernel is not a 64-bit ELF")?;
    let e = file.endian();
    let loads: Vec<_> = file.elf_program_headers().iter().filter(|p| p.p_type(e) == PT_LOAD).collect();
    ensure!(!loads.is_empty(), "the kernel ELF has no PT_LOAD segment");
    let base = loads.iter().map(|p| p.p_paddr(e)).min().unwrap_or(0);
    let file_end = loads.iter().map(|p| p.p_paddr(e) + p.p_filesz(e)).max().unwrap_or(0);
    let mem_end = loads.iter().map(|p| p.p_paddr(e) + p.p_memsz(e)).max().unwrap_or(0);
    let mut image = vec![0u8; (file_end - base) as usize];
    for p in &loads {
        let data = p.data(e, elf).map_err(|_| anyhow::anyhow!("a PT_LOAD segment is outside the file"))?;
        let at = (p.p_paddr(e) - base) as usize;
        image[at..at + data.len()].copy_from_slice(data);
    }
    ensure!(image.len() >= 64, "the Image is shorter than its 64-byte header");
    if &image[MAGIC_OFFSET..MAGIC_OFFSET + 4] != b"ARMd" {
        bail!("the kernel's first segment does not start with an ARM64 Image header (no ARMd magic)");
    }
    let size = u64::from_le_bytes(image[16..24].try_into().unwrap_or_default());
    ensure!(
        size >= mem_end - base,
        "the Image header's image_size ({size:#x}) is smaller than the loaded kernel ({:#x})",
        mem_end - base
    );
    Ok(image)
}

/// A file Limine's disk needs from `LIMINE_DIR`, or an error naming exactly what is missing.
fn limine_file(dir: Option<PathBuf>, name: &str) -> Result<PathBuf> {
    let Some(dir) = dir else {
        bail!(
            "--loader limine needs LIMINE_DIR, a Limine binary release (it must hold {name}); \
             LIMINE_DIR is not set"
        )
    };
    let f = dir.join(name);
    if !f.is_file() {
        bail!("LIMINE_DIR={} has no {name}: {} is missing", dir.display(), f.display());
    }
    Ok(f)
}

/// Limine's configuration: one entry, no menu.
fn limine_conf(cmdline: &str) -> String {
    format!(
        "timeout: 0\n\n/pecan\n    protocol: limine\n    kernel_path: boot():/boot/kernel\n    cmdline: {cmdline}\n"
    )
}

/// A master boot record with one EFI system partition of `sectors` at `start`.
fn mbr(start: u32, sectors: u32) -> [u8; 512] {
    let mut m = [0u8; 512];
    let e = &mut m[446..462];
    e[4] = 0xef; // EFI system partition (FAT16 inside), where Limine's boot() looks
    e[8..12].copy_from_slice(&start.to_le_bytes());
    e[12..16].copy_from_slice(&sectors.to_le_bytes());
    m[510] = 0x55;
    m[511] = 0xaa;
    m
}

/// An MBR disk whose one FAT partition holds `files` (source, path on the disk).
fn fat_disk(disk: &Path, files: &[(PathBuf, &str)]) -> Result<()> {
    let bytes = (PART_START as u64 + PART_SECTORS as u64) * 512;
    {
        let f = std::fs::File::create(disk).with_context(|| format!("creating {}", disk.display()))?;
        f.set_len(bytes)?;
        use std::io::Write;
        (&f).write_all(&mbr(PART_START, PART_SECTORS))?;
    }
    run(Command::new("mkfs.fat")
        .args(["-F", "16", "--offset", &PART_START.to_string(), "-n", "PECAN"])
        .arg(disk)
        .arg((PART_SECTORS / 2).to_string()))?;
    let img = format!("{}@@{}", disk.display(), PART_START as u64 * 512);
    for (_, dest) in files {
        if let Some((dir, _)) = dest.rsplit_once('/') {
            let mut sofar = String::new();
            for part in dir.split('/') {
                sofar = if sofar.is_empty() { part.to_string() } else { format!("{sofar}/{part}") };
                // An existing directory is fine; mmd fails then, so its status is ignored.
                let _ = Command::new("mmd").args(["-D", "s", "-i", &img, &format!("::{sofar}")]).output();
            }
        }
    }
    for (src, dest) in files {
        run(Command::new("mcopy").args(["-o", "-i", &img]).arg(src).arg(format!("::{dest}")))?;
    }
    Ok(())
}

fn run(c: &mut Command) -> Result<()> {
    let out = c
        .output()
        .with_context(|| format!("running {:?} (is it installed? see tools/bootstrap)", c.get_program()))?;
    if !out.status.success() {
        bail!("{:?} failed: {}", c, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 with two PT_LOAD segments (the second with BSS).
    fn elf(header_magic: &[u8; 4], image_size: u64) -> Vec<u8> {
        let mut f = vec![0u8; 0x300];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little endian
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&2u16.to_le_bytes()); // e_phnum
        let ph = |f: &mut Vec<u8>, at: usize, off: u64, paddr: u64, filesz: u64, memsz: u64| {
            f[at..at + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
            f[at + 8..at + 16].copy_from_slice(&off.to_le_bytes());
            f[at + 16..at + 24].copy_from_slice(&(0xffff_ffff_8000_0000 + paddr).to_le_bytes());
            f[at + 24..at + 32].copy_from_slice(&paddr.to_le_bytes());
            f[at + 32..at + 40].copy_from_slice(&filesz.to_le_bytes());
            f[at + 40..at + 48].copy_from_slice(&memsz.to_le_bytes());
        };
        ph(&mut f, 64, 0x100, 0, 0x80, 0x80);
        ph(&mut f, 120, 0x200, 0x1000, 0x10, 0x3000);
        f[0x100 + 16..0x100 + 24].copy_from_slice(&image_size.to_le_bytes());
        f[0x100 + 56..0x100 + 60].copy_from_slice(header_magic);
        f[0x200..0x210].fill(0xaa);
        f
    }

    #[test]
    fn image_layout() {
        let img = image_from_elf(&elf(b"ARMd", 0x4000)).unwrap();
        assert_eq!(img.len(), 0x1010);
        assert_eq!(&img[56..60], b"ARMd");
        assert!(img[0x80..0x1000].iter().all(|&b| b == 0), "the gap is zero");
        assert!(img[0x1000..].iter().all(|&b| b == 0xaa));
    }

    #[test]
    fn image_checks() {
        let e = image_from_elf(&elf(b"ELF!", 0x4000)).unwrap_err();
        assert!(e.to_string().contains("ARMd"), "{e}");
        let e = image_from_elf(&elf(b"ARMd", 0x1000)).unwrap_err();
        assert!(e.to_string().contains("image_size"), "{e}");
        assert!(image_from_elf(b"not an elf").is_err());
    }

    #[test]
    fn environments() {
        let env = uboot_env_booti();
        assert!(env.starts_with("bootdelay=-2\n"));
        assert!(env.ends_with(
            "\nbootcmd=qfw load 0x40400000 0x44000000; booti 0x40400000 - ${fdtcontroladdr}; poweroff\n"
        ));
        assert!(uboot_env_efi().contains("; bootefi 0x40400000 ${fdtcontroladdr}; poweroff\n"));
    }

    #[test]
    fn limine_files_named() {
        let e = limine_file(None, LIMINE_EFI).unwrap_err().to_string();
        assert!(e.contains("LIMINE_DIR is not set") && e.contains("BOOTAA64.EFI"), "{e}");
        let e = limine_file(Some(PathBuf::from("/nonexistent")), LIMINE_EFI).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/BOOTAA64.EFI is missing"), "{e}");
        assert!(limine_conf("test=boot").contains("    cmdline: test=boot\n"));
    }

    #[test]
    fn partition_table() {
        let m = mbr(2048, 65536);
        assert_eq!(&m[510..], &[0x55, 0xaa]);
        assert_eq!(m[446 + 4], 0xef);
        assert_eq!(u32::from_le_bytes(m[454..458].try_into().unwrap()), 2048);
        assert_eq!(u32::from_le_bytes(m[458..462].try_into().unwrap()), 65536);
    }
}
