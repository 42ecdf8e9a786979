//! `cargo xtask`: builds Pecan's kernels and boot images, runs them under QEMU, runs the
//! test matrix and the benchmarks. The justfile only calls this.

mod arch;
mod bench;
mod bench_long;
mod build;
mod harness;
mod plot;
mod qemu;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use arch::Arch;

#[derive(Parser)]
#[command(name = "xtask", about = "Build, run and test Pecan")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Options shared by everything that boots a kernel.
#[derive(clap::Args, Clone, Debug)]
pub struct BootOpts {
    /// Architecture: x86_64 or aarch64.
    #[arg(long, default_value = "x86_64")]
    pub arch: Arch,
    /// Loader: uboot (default), limine (needs LIMINE_DIR) or direct (QEMU -kernel).
    #[arg(long, env = "LOADER", default_value = "uboot")]
    pub loader: arch::Loader,
    /// Kernel command line.
    #[arg(long, default_value = "")]
    pub cmdline: String,
    /// Number of CPUs.
    #[arg(long, default_value_t = 1)]
    pub smp: u32,
    /// Count instructions exactly (QEMU -icount shift=0).
    #[arg(long)]
    pub icount: bool,
    /// QEMU CPU model (default: max).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Extra cargo features for the kernel build (comma separated).
    #[arg(long, default_value = "")]
    pub features: String,
    /// Build without the default kernel features.
    #[arg(long)]
    pub no_default_features: bool,
    /// Seconds before QEMU is killed.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Extra machine options (appended to `-M`, e.g. `virtualization=on` on AArch64).
    #[arg(long, default_value = "")]
    pub machine: String,
    /// Guest memory (QEMU `-m`), default 512M.
    #[arg(long)]
    pub memory: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the kernel and its boot image; print the image paths.
    Build(BootOpts),
    /// Build and boot the kernel under QEMU, showing the console; exit with the kernel's status.
    Run(BootOpts),
    /// Run host tests, then the QEMU test matrix (`tests/matrix/*.toml`); print `N passed, N failed`.
    Test {
        /// Only this architecture (x86_64, aarch64) or `host`.
        #[arg(long)]
        only: Option<String>,
        /// Only tests whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Skip the host tests.
        #[arg(long)]
        no_host: bool,
        /// The directory of test matrix files.
        #[arg(long, default_value = "tests/matrix")]
        matrix: PathBuf,
    },
    /// Run the benchmarks under -icount shift=0; write bench/results/<arch>.json.
    Bench {
        /// Only this architecture.
        #[arg(long)]
        arch: Option<Arch>,
        /// The short smoke version (CI).
        #[arg(long)]
        quick: bool,
    },
    /// Draw bench/results/*.json as SVG plots.
    BenchPlot,
}

fn main() {
    let cli = Cli::parse();
    let result: Result<i32> = match cli.cmd {
        Cmd::Build(o) => build::boot_image(&o).map(|img| {
            println!("{}", img.describe());
            0
        }),
        Cmd::Run(o) => qemu::run_interactive(&o),
        Cmd::Test { only, filter, no_host, matrix } => {
            harness::run(&harness::Selection { only, filter, no_host, matrix })
        }
        Cmd::Bench { arch, quick } => bench::run(&arch.map_or(Arch::ALL.to_vec(), |a| vec![a]), quick),
        Cmd::BenchPlot => plot::run(),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::exit(2);
        }
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}
