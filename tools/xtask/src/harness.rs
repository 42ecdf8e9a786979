//! The test harness: host tests, then the QEMU test matrix from `tests/matrix/*.toml`,
//! then the plain summary line `N passed, N failed`.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::arch::{self, Arch, KernelExit, Loader};
use crate::{BootOpts, build, qemu, root};

/// Which tests to run.
pub struct Selection {
    /// `host`, `x86_64` or `aarch64`: only that part.
    pub only: Option<String>,
    /// Only tests whose name contains this.
    pub filter: Option<String>,
    /// Skip host tests.
    pub no_host: bool,
    /// The directory of matrix files.
    pub matrix: PathBuf,
}

/// The test matrix file.
#[derive(Deserialize)]
struct Matrix {
    #[serde(default)]
    host: Vec<HostTest>,
    #[serde(default)]
    test: Vec<QemuTest>,
}

/// A cargo invocation on the host whose libtest results are counted.
#[derive(Deserialize)]
struct HostTest {
    name: String,
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// One QEMU boot and what it must show.
#[derive(Deserialize, Clone)]
struct QemuTest {
    name: String,
    #[serde(default = "both")]
    arch: Vec<Arch>,
    #[serde(default)]
    cmdline: String,
    /// Substrings that must appear in the log, in this order.
    #[serde(default)]
    expect: Vec<String>,
    /// Substrings that must not appear.
    #[serde(default)]
    reject: Vec<String>,
    /// The kernel's exit code (0: success).
    #[serde(default)]
    code: u32,
    #[serde(default = "one")]
    smp: u32,
    #[serde(default = "sixty")]
    timeout: u64,
    #[serde(default)]
    features: String,
    #[serde(default)]
    no_default_features: bool,
    #[serde(default)]
    cpu: Option<String>,
    /// Count `SUBTEST <name> ok` / `SUBTEST <name> FAIL ...` lines as tests of their own.
    #[serde(default)]
    subtests: bool,
    /// The least number of subtests that must have run.
    #[serde(default)]
    min_subtests: usize,
    /// Extra machine options (appended to QEMU's `-M`).
    #[serde(default)]
    machine: String,
    /// Count instructions exactly (`-icount shift=0`).
    #[serde(default)]
    icount: bool,
    /// Bytes to type into the serial console.
    #[serde(default)]
    stdin: Option<String>,
    /// Guest memory (QEMU `-m`).
    #[serde(default)]
    memory: Option<String>,
}

fn both() -> Vec<Arch> {
    Arch::ALL.to_vec()
}
fn one() -> u32 {
    1
}
fn sixty() -> u64 {
    60
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    failures: Vec<String>,
}

impl Tally {
    fn pass(&mut self, n: usize) {
        self.passed += n;
    }
    fn fail(&mut self, what: String) {
        self.failed += 1;
        self.failures.push(what);
    }
}

/// Reads every `*.toml` file of the matrix directory, in name order.
fn load(dir: &std::path::Path) -> Result<Matrix> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut all = Matrix { host: Vec::new(), test: Vec::new() };
    for f in files {
        let text = std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let m: Matrix = toml::from_str(&text).with_context(|| format!("parsing {}", f.display()))?;
        all.host.extend(m.host);
        all.test.extend(m.test);
    }
    Ok(all)
}

/// Runs the selection; returns the process exit code (0 when nothing failed).
pub fn run(sel: &Selection) -> Result<i32> {
    let root = root();
    let matrix = load(&root.join(&sel.matrix))?;
    let mut tally = Tally::default();
    let wants = |part: &str| sel.only.as_deref().is_none_or(|o| o == part);
    let matches = |name: &str| sel.filter.as_deref().is_none_or(|f| name.contains(f));

    if !sel.no_host && wants("host") {
        for h in matrix.host.iter().filter(|h| matches(&h.name)) {
            host(h, &mut tally)?;
        }
    }
    for arch in Arch::ALL {
        if !wants(arch.name()) {
            continue;
        }
        for t in matrix.test.iter().filter(|t| t.arch.contains(&arch) && matches(&t.name)) {
            qemu_test(arch, t, &mut tally)?;
        }
    }
    println!();
    for f in &tally.failures {
        println!("FAILED: {f}");
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(if tally.failed == 0 { 0 } else { 1 })
}

fn host(h: &HostTest, tally: &mut Tally) -> Result<()> {
    println!("== host: {} (cargo {})", h.name, h.args.join(" "));
    let out = Command::new(env!("CARGO"))
        .current_dir(root())
        .args(&h.args)
        .envs(&h.env)
        .output()
        .context("running cargo on the host")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (mut p, mut f) = (0, 0);
    for line in stdout.lines() {
        // "test result: ok. 12 passed; 0 failed; 0 ignored; ..."
        if let Some(rest) = line.strip_prefix("test result: ") {
            let num = |key: &str| {
                rest.split(';')
                    .find_map(|part| part.trim().strip_suffix(key)?.trim().rsplit(' ').next()?.parse().ok())
            };
            p += num(" passed").unwrap_or(0);
            f += num(" failed").unwrap_or(0);
        }
        if line.ends_with("FAILED") && line.starts_with("test ") {
            println!("   {line}");
        }
    }
    let libtest = stdout.lines().any(|l| l.starts_with("test result: "));
    if !libtest {
        // A check without test results (fmt, clippy) counts as one test.
        p = out.status.success() as usize;
    }
    tally.passed += p;
    if f > 0 || !out.status.success() {
        tally.failed += f.max(1);
        tally.failures.push(format!("host: {}", h.name));
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        for l in tail.into_iter().rev() {
            println!("   | {l}");
        }
    }
    println!("   {p} passed, {f} failed");
    Ok(())
}

fn qemu_test(arch: Arch, t: &QemuTest, tally: &mut Tally) -> Result<()> {
    let label = format!("{arch}/{}", t.name);
    let opts = BootOpts {
        arch,
        loader: Loader::Uboot,
        cmdline: t.cmdline.clone(),
        smp: t.smp,
        icount: t.icount,
        cpu: t.cpu.clone(),
        features: t.features.clone(),
        no_default_features: t.no_default_features,
        timeout: t.timeout,
        machine: t.machine.clone(),
        memory: t.memory.clone(),
    };
    let elf = match build::kernel(arch, &t.features, t.no_default_features) {
        Ok(e) => e,
        Err(e) => {
            println!("== {label}: BUILD FAILED: {e:#}");
            tally.fail(format!("{label} (build)"));
            return Ok(());
        }
    };
    let dir = root().join("build").join(arch.name()).join("tests").join(&t.name);
    let img = match arch::make_image(arch, &elf, &opts, &dir) {
        Ok(i) => i,
        Err(e) => {
            println!("== {label}: IMAGE FAILED: {e:#}");
            tally.fail(format!("{label} (image)"));
            return Ok(());
        }
    };
    let input = match &t.stdin {
        Some(s) => qemu::Input::Bytes(s.clone().into_bytes()),
        None => qemu::Input::Null,
    };
    let out = qemu::run(img.command(), Duration::from_secs(t.timeout), &dir.join("log.txt"), false, input)?;
    let mut problems = Vec::new();
    match out.exit {
        KernelExit::Code(c) if c == t.code => {}
        other => problems.push(format!(
            "exit {other:?}{}, expected code {}",
            if out.timed_out { " (timeout)" } else { "" },
            t.code
        )),
    }
    let mut pos = 0;
    for e in &t.expect {
        match out.log[pos..].find(e.as_str()) {
            Some(i) => pos += i + e.len(),
            None => problems.push(format!("missing (in order): {e:?}")),
        }
    }
    for r in &t.reject {
        if out.log.contains(r.as_str()) {
            problems.push(format!("unexpected: {r:?}"));
        }
    }
    let (mut sub_ok, mut sub_fail) = (0, Vec::new());
    if t.subtests {
        for line in out.log.lines() {
            let Some(rest) = line.trim_end().strip_prefix("SUBTEST ") else { continue };
            let (name, verdict) = rest.split_once(' ').unwrap_or((rest, ""));
            if verdict == "ok" {
                sub_ok += 1;
            } else {
                sub_fail.push(format!("{label}/{name}: {verdict}"));
            }
        }
        if sub_ok + sub_fail.len() < t.min_subtests {
            problems.push(format!(
                "only {} subtests ran, expected at least {}",
                sub_ok + sub_fail.len(),
                t.min_subtests
            ));
        }
    }
    let secs = out.elapsed.as_secs_f32();
    if problems.is_empty() && sub_fail.is_empty() {
        println!(
            "== {label}: ok ({secs:.1}s{})",
            if t.subtests { format!(", {sub_ok} subtests") } else { String::new() }
        );
        tally.pass(1 + sub_ok);
    } else {
        println!("== {label}: FAILED ({secs:.1}s)");
        for p in &problems {
            println!("   {p}");
        }
        for s in &sub_fail {
            println!("   {s}");
        }
        println!("   --- last lines of {} ---", dir.join("log.txt").display());
        let lines: Vec<&str> = out.log.lines().collect();
        for l in &lines[lines.len().saturating_sub(40)..] {
            println!("   | {l}");
        }
        tally.pass(sub_ok);
        for s in sub_fail {
            tally.fail(s);
        }
        if !problems.is_empty() {
            tally.fail(label);
        }
    }
    Ok(())
}
