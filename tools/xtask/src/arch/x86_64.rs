//! x86_64: an MBR+FAT disk with the kernel ELF and a U-Boot `boot.scr` (or Limine's UEFI
//! loader), booted by U-Boot on QEMU `pc`.
//!
//! U-Boot's distro boot scans the virtio disk's FAT partition: it runs `boot.scr`, which
//! loads `kernel.elf` to `${loadaddr}` and starts it with `bootelf -p` (segments placed by
//! physical address; the command-line words follow the address). With `--loader limine`
//! the partition holds `EFI/BOOT/BOOTX64.EFI`, `limine.conf` and the kernel instead, and
//! distro boot starts Limine with `bootefi`.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{BootImage, Loader};
use crate::BootOpts;

/// U-Boot for QEMU's x86_64 machines (Debian's `u-boot-qemu`).
pub const UBOOT_ROM: &str = "/usr/lib/u-boot/qemu-x86_64/u-boot.rom";
/// The FAT partition's first sector.
const PART_START: u32 = 2048;
/// The FAT partition's size in 512-byte sectors (32 MiB: FAT16).
const PART_SECTORS: u32 = 32 * 2048;
/// Limine's x86_64 UEFI loader, the one file a Limine disk needs from `LIMINE_DIR`.
const LIMINE_EFI: &str = "BOOTX64.EFI";

/// Makes the x86_64 boot image for `opts.loader`.
pub fn make_image(kernel: &Path, opts: &BootOpts, out: &Path) -> Result<BootImage> {
    let disk = out.join("disk.img");
    match opts.loader {
        Loader::Uboot => {
            let script = out.join("boot.txt");
            std::fs::write(&script, boot_script(&opts.cmdline)?)?;
            let scr = out.join("boot.scr");
            run(Command::new("mkimage")
                .args(["-A", "x86_64", "-O", "linux", "-T", "script", "-C", "none", "-n", "pecan"])
                .arg("-d")
                .arg(&script)
                .arg(&scr))?;
            fat_disk(&disk, &[(kernel.to_path_buf(), "kernel.elf"), (scr, "boot.scr")])?;
        }
        Loader::Limine => {
            let efi = limine_file(std::env::var_os("LIMINE_DIR").map(PathBuf::from), LIMINE_EFI)?;
            let conf = out.join("limine.conf");
            std::fs::write(&conf, limine_conf(&opts.cmdline))?;
            fat_disk(
                &disk,
                &[
                    (efi, "EFI/BOOT/BOOTX64.EFI"),
                    (conf, "limine.conf"),
                    (kernel.to_path_buf(), "boot/kernel"),
                ],
            )?;
        }
        Loader::Direct => bail!(
            "x86_64 direct boot (QEMU -kernel) needs a PVH ELF note, which the kernel does not carry: \
             use --loader uboot (the default) or --loader limine"
        ),
    }
    Ok(BootImage {
        arch: super::Arch::X86_64,
        kernel: kernel.to_path_buf(),
        files: vec![disk.clone()],
        qemu_args: qemu_args(&disk, opts),
    })
}

/// QEMU's arguments for booting `disk`.
fn qemu_args(disk: &Path, opts: &BootOpts) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "-M".into(),
        if opts.machine.is_empty() { "pc".into() } else { format!("pc,{}", opts.machine) },
        "-cpu".into(),
        opts.cpu.clone().unwrap_or_else(|| "max".into()),
        "-m".into(),
        opts.memory.clone().unwrap_or_else(|| "512M".into()),
        "-smp".into(),
        opts.smp.to_string(),
        "-bios".into(),
        UBOOT_ROM.into(),
        "-drive".into(),
        format!("file={},if=virtio,format=raw", disk.display()),
        "-device".into(),
        "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
        "-display".into(),
        "none".into(),
        "-serial".into(),
        "stdio".into(),
        "-monitor".into(),
        "none".into(),
        "-nic".into(),
        "none".into(),
        "-no-reboot".into(),
    ];
    if opts.icount {
        a.extend(["-icount".into(), crate::qemu::icount_option(opts.smp).into()]);
    }
    a
}

/// The U-Boot script: load the kernel from the partition distro boot found the script on,
/// then `bootelf -p` with the command-line words as arguments (`bootelf` only starts the
/// image when `autostart` is set).
fn boot_script(cmdline: &str) -> Result<String> {
    let mut words = String::new();
    for w in cmdline.split_ascii_whitespace() {
        if w.contains('\'') {
            bail!("kernel command line word {w:?}: a single quote cannot pass through U-Boot's shell");
        }
        // Single quotes keep U-Boot's shell from expanding `$`, `;` and the like.
        words += &format!(" '{w}'");
    }
    Ok(format!(
        "setenv autostart yes\n\
         echo Pecan: loading kernel.elf\n\
         load ${{devtype}} ${{devnum}}:${{distro_bootpart}} ${{loadaddr}} kernel.elf\n\
         bootelf -p ${{loadaddr}}{words}\n"
    ))
}

/// The Limine 8 configuration.
fn limine_conf(cmdline: &str) -> String {
    format!(
        "timeout: 0\n\n/pecan\n    protocol: limine\n    kernel_path: boot():/boot/kernel\n    cmdline: {cmdline}\n"
    )
}

/// `name` from the Limine release in `dir`, or an error naming exactly what is missing.
fn limine_file(dir: Option<PathBuf>, name: &str) -> Result<PathBuf> {
    let Some(dir) = dir else {
        bail!(
            "--loader limine needs LIMINE_DIR: set it to a Limine binary release (a directory holding {name}, \
             Limine's x86_64 UEFI loader)"
        )
    };
    let f = dir.join(name);
    if !f.is_file() {
        bail!(
            "LIMINE_DIR={} has no {name} (Limine's x86_64 UEFI loader): missing file {}",
            dir.display(),
            f.display()
        );
    }
    Ok(f)
}

/// A master boot record with one bootable FAT16 (LBA) partition of `sectors` sectors
/// starting at sector `start`.
fn mbr(start: u32, sectors: u32) -> [u8; 512] {
    let mut m = [0u8; 512];
    m[440..444].copy_from_slice(&0x5045_4341u32.to_le_bytes()); // disk signature "PECA"
    let p = &mut m[446..462];
    p[0] = 0x80; // bootable: U-Boot's distro boot prefers bootable partitions
    p[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]); // CHS: use LBA
    p[4] = 0x0e; // FAT16, LBA
    p[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    p[8..12].copy_from_slice(&start.to_le_bytes());
    p[12..16].copy_from_slice(&sectors.to_le_bytes());
    m[510] = 0x55;
    m[511] = 0xaa;
    m
}

/// Writes `disk`: the MBR, a FAT16 file system in the partition, and `files` (source,
/// path inside the file system).
fn fat_disk(disk: &Path, files: &[(PathBuf, &str)]) -> Result<()> {
    let _ = std::fs::remove_file(disk);
    let total = (PART_START as u64 + PART_SECTORS as u64) * 512;
    {
        let f = std::fs::File::create(disk).with_context(|| format!("creating {}", disk.display()))?;
        f.set_len(total)?;
        use std::io::Write;
        (&f).write_all(&mbr(PART_START, PART_SECTORS))?;
    }
    run(Command::new("mkfs.fat")
        .args(["-F", "16", "-n", "PECAN", &format!("--offset={PART_START}")])
        .arg(disk)
        .arg((PART_SECTORS / 2).to_string()))?;
    let image = format!("{}@@{}", disk.display(), PART_START as u64 * 512);
    let mut dirs: Vec<String> = Vec::new();
    for (_, dst) in files {
        let mut at = String::new();
        for part in dst.split('/').collect::<Vec<_>>().split_last().map(|(_, d)| d).unwrap_or(&[]) {
            at = if at.is_empty() { part.to_string() } else { format!("{at}/{part}") };
            if !dirs.contains(&at) {
                run(Command::new("mmd").args(["-i", &image, &format!("::{at}")]))?;
                dirs.push(at.clone());
            }
        }
    }
    for (src, dst) in files {
        run(Command::new("mcopy").args(["-o", "-i", &image]).arg(src).arg(format!("::{dst}")))?;
    }
    Ok(())
}

/// Runs a tool, failing with its output when it fails.
fn run(c: &mut Command) -> Result<()> {
    let out = c
        .output()
        .with_context(|| format!("running {:?} (is it installed? see tools/bootstrap)", c.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}): {}{}",
            c,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_boot_record() {
        let m = mbr(2048, 65536);
        assert_eq!(&m[510..], &[0x55, 0xaa]);
        assert_eq!(m[446], 0x80);
        assert_eq!(m[450], 0x0e);
        assert_eq!(u32::from_le_bytes(m[454..458].try_into().unwrap()), 2048);
        assert_eq!(u32::from_le_bytes(m[458..462].try_into().unwrap()), 65536);
        assert!(m[462..510].iter().all(|&b| b == 0), "one partition only");
    }

    #[test]
    fn script_passes_words_quoted() {
        let s = boot_script("test=boot  log=debug").unwrap();
        assert!(s.contains("load ${devtype} ${devnum}:${distro_bootpart} ${loadaddr} kernel.elf\n"));
        assert!(s.ends_with("bootelf -p ${loadaddr} 'test=boot' 'log=debug'\n"), "{s}");
        assert!(boot_script("").unwrap().ends_with("bootelf -p ${loadaddr}\n"));
        assert!(boot_script("a='b'").is_err());
    }

    #[test]
    fn limine_config_and_missing_files() {
        let c = limine_conf("test=boot");
        assert!(c.starts_with("timeout: 0\n"));
        assert!(c.contains(
            "/pecan\n    protocol: limine\n    kernel_path: boot():/boot/kernel\n    cmdline: test=boot\n"
        ));
        let e = limine_file(None, LIMINE_EFI).unwrap_err().to_string();
        assert!(e.contains("LIMINE_DIR") && e.contains("BOOTX64.EFI"), "{e}");
        let e = limine_file(Some(PathBuf::from("/nonexistent/limine")), LIMINE_EFI).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/limine/BOOTX64.EFI"), "{e}");
    }
}
