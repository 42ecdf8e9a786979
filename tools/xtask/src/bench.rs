//! `xtask bench`: boots `init=bench` under `-icount shift=0` for every configuration (all
//! optimizations on, then each switched off in turn), collects the `BENCH <name> <value>`
//! lines, writes `bench/results/<arch>.json` and prints a table.
//!
//! Every configuration runs twice: the figures come from a kernel built as the default
//! one (no event counters: counting costs instructions), the kernel events per IPC
//! (address-space switches, TLB flushes, exceptions, fast-path hits) from a short run of
//! the same configuration with the `counters` feature. With the fast path on, a round
//! trip must take it twice, or the run fails (the CI smoke run checks this).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::arch::{self, Arch, KernelExit, Loader};
use crate::{BootOpts, build, qemu, root};

/// The ablation list (`bench/ablations.toml`).
#[derive(Deserialize)]
struct Ablations {
    ablation: Vec<Ablation>,
}

/// One optimization that can be switched off.
#[derive(Deserialize, Clone)]
pub struct Ablation {
    /// Name used in metric names.
    pub name: String,
    /// The kernel cargo feature.
    pub feature: String,
    /// What it is.
    pub what: String,
}

/// The kernel feature that compiles the event counters in (every bench build has it; the
/// default kernel does not).
const COUNTERS: &str = "counters";

/// Metrics every result must have.
const REQUIRED: &[&str] = &[
    "null_syscall_roundtrip",
    "ipc_roundtrip_crosscore",
    "ipc_roundtrip_samecore_smp2",
    "ipis_per_roundtrip_crosscore",
    "as_switch",
    "ipc_oneway_intra",
    "ipc_oneway_inter",
    "ipc_roundtrip_intra",
    "ipc_roundtrip_inter",
    "tlb_flushes_per_roundtrip_inter",
];

/// Metrics reported for every ablation (from its figures run).
const ABLATION_METRICS: &[&str] = &[
    "null_syscall_roundtrip",
    "ipc_roundtrip_inter",
    "ipc_roundtrip_intra",
    "ipc_oneway_inter",
    "ipc_roundtrip_inter_words_8",
    "scaling_threads_10000_ipc_roundtrip_inter",
];

/// The suffix of the per-IPC kernel event metrics (taken from the counters run).
const EVENTS: &str = "_per_roundtrip_inter";

/// The suffix of every kernel-event metric (`<event>_per_roundtrip_<what>`).
const ANY_EVENTS: &str = "_per_roundtrip_";

/// The fast-path metric the smoke run checks.
const FASTPATH_HITS: &str = "fastpath_per_roundtrip_inter";

/// The features of a configuration: `keep` (the optimizations left on) and, for the events
/// run, the counters.
pub(crate) fn features(keep: &[&str], counters: bool) -> String {
    keep.iter().copied().chain(counters.then_some(COUNTERS)).collect::<Vec<_>>().join(",")
}

/// Runs one configuration (its figures run unless `quick`, then its counters run) and
/// returns its metrics: the figures, plus the event metrics of the counters run. Checks
/// the fast path was taken if `fastpath` is among `keep`.
fn configuration(arch: Arch, keep: &[&str], quick: bool, tag: &str) -> Result<BTreeMap<String, f64>> {
    let mut m =
        if quick { BTreeMap::new() } else { run_once(arch, &features(keep, false), true, false, tag)? };
    let events = run_once(arch, &features(keep, true), true, true, &format!("{tag}_counters"))?;
    for (k, v) in &events {
        // Quick: everything from the one run; else only what the figures run cannot say.
        if quick || k.ends_with(EVENTS) {
            m.insert(k.clone(), *v);
        }
    }
    if keep.contains(&"fastpath") {
        match events.get(FASTPATH_HITS) {
            Some(v) if (1.9..=2.1).contains(v) => {}
            v => bail!("{arch} ({tag}): {FASTPATH_HITS} is {v:?}, expected 2: the fast path was not taken"),
        }
    }
    Ok(m)
}

/// The cross-core rows (`bench_smp.rs`): one boot with `-smp 2` for the figures (unless
/// `quick`), one with the counters for the events per round trip (IPIs among them).
fn crosscore(arch: Arch, keep: &[&str], quick: bool) -> Result<BTreeMap<String, f64>> {
    let cmd = if quick { "init=bench bench=smp-quick" } else { "init=bench bench=smp" };
    let mut m = if quick {
        BTreeMap::new()
    } else {
        run_boot(arch, &features(keep, false), true, cmd, 2, false, "smp2")?
    };
    let events = run_boot(arch, &features(keep, true), true, cmd, 2, quick, "smp2_counters")?;
    for (k, v) in events {
        if quick || k.contains(ANY_EVENTS) {
            m.insert(k, v);
        }
    }
    Ok(m)
}

/// Whether switching `feature` off is measured by the `-smp 2` rows too (`bench_smp.rs`):
/// the cross-core handoff and the per-CPU kernel-lock words.
fn shows_on_smp(feature: &str) -> bool {
    feature.starts_with("crosscore") || feature == "percpu-lock"
}

fn ablations() -> Result<Vec<Ablation>> {
    let text = std::fs::read_to_string(root().join("bench/ablations.toml"))
        .context("reading bench/ablations.toml")?;
    Ok(toml::from_str::<Ablations>(&text)?.ablation)
}

/// Boots one configuration; returns its metrics.
fn run_once(
    arch: Arch,
    features: &str,
    no_default: bool,
    quick: bool,
    tag: &str,
) -> Result<BTreeMap<String, f64>> {
    let cmdline = if quick { "init=bench bench=quick" } else { "init=bench" };
    run_boot(arch, features, no_default, cmdline, 1, quick, tag)
}

/// Boots one configuration with `cmdline` (short timeout if `quick`); returns its metrics.
pub(crate) fn run_boot(
    arch: Arch,
    features: &str,
    no_default: bool,
    cmdline: &str,
    smp: u32,
    quick: bool,
    tag: &str,
) -> Result<BTreeMap<String, f64>> {
    let opts = BootOpts {
        arch,
        loader: Loader::Uboot,
        cmdline: cmdline.into(),
        smp,
        icount: true,
        cpu: None,
        features: features.into(),
        no_default_features: no_default,
        timeout: if quick { 300 } else { 1800 },
        machine: String::new(),
        memory: Some("1G".into()),
    };
    let elf = build::kernel(arch, features, no_default)?;
    let dir = root().join("build").join(arch.name()).join("bench").join(tag);
    let img = arch::make_image(arch, &elf, &opts, &dir)?;
    let out = qemu::run(
        img.command(),
        Duration::from_secs(opts.timeout),
        &dir.join("log.txt"),
        false,
        qemu::Input::Null,
    )?;
    if out.exit != KernelExit::Code(0) || !out.log.contains("bench: done") {
        let tail: Vec<&str> = out.log.lines().rev().take(30).collect();
        for l in tail.into_iter().rev() {
            eprintln!("   | {l}");
        }
        bail!("{arch} bench ({tag}) failed: {:?}", out.exit);
    }
    let mut m = BTreeMap::new();
    for line in out.log.lines() {
        if let Some(rest) = line.trim_end().strip_prefix("BENCH ") {
            let mut it = rest.split_whitespace();
            if let (Some(k), Some(v)) = (it.next(), it.next().and_then(|v| v.parse::<f64>().ok())) {
                m.insert(k.to_string(), v);
            }
        }
    }
    Ok(m)
}

fn git_revision() -> String {
    Command::new("git")
        .current_dir(root())
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn qemu_version(arch: Arch) -> String {
    let prog = match arch {
        Arch::X86_64 => "qemu-system-x86_64",
        Arch::Aarch64 => "qemu-system-aarch64",
    };
    Command::new(prog)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// Runs the benchmarks for `arches`; with `quick`, only the smoke version of the default
/// configuration (written to `build/bench/`, and checked: the JSON has the required metrics
/// and the fast path was taken). Returns the exit code.
pub fn run(arches: &[Arch], quick: bool) -> Result<i32> {
    let abl = ablations()?;
    let all: Vec<&str> = abl.iter().map(|a| a.feature.as_str()).collect();
    let mut failed = false;
    for &arch in arches {
        println!("== bench {arch}: all optimizations on{}", if quick { " (quick)" } else { "" });
        let mut metrics = match configuration(arch, &all, quick, "default") {
            Ok(m) => m,
            Err(e) => {
                eprintln!("xtask: {e:#}");
                failed = true;
                continue;
            }
        };
        match crosscore(arch, &all, quick) {
            Ok(m) => metrics.extend(m),
            Err(e) => {
                eprintln!("xtask: {e:#}");
                failed = true;
            }
        }
        if !quick {
            // Long IPC against message length (`bench_long.rs`).
            match crate::bench_long::run(arch, &all) {
                Ok(m) => metrics.extend(m),
                Err(e) => {
                    eprintln!("xtask: {e:#}");
                    failed = true;
                }
            }
            for a in &abl {
                let keep: Vec<&str> = all.iter().copied().filter(|f| *f != a.feature).collect();
                println!("== bench {arch}: without {} ({})", a.name, a.what);
                match configuration(arch, &keep, false, &format!("no_{}", a.name)) {
                    Ok(m) => {
                        for (k, v) in &m {
                            if ABLATION_METRICS.contains(&k.as_str()) || k.ends_with(EVENTS) {
                                metrics.insert(format!("ablation_no_{}_{}", a.name, k), *v);
                            }
                        }
                    }
                    Err(e) => {
                        eprintln!("xtask: {e:#}");
                        failed = true;
                    }
                }
                if shows_on_smp(&a.feature) {
                    // The `-smp 2` rows are where these show: cross-core and parallel pairs.
                    match crosscore(arch, &keep, false) {
                        Ok(m) => {
                            for (k, v) in &m {
                                if k.contains("crosscore") || k.contains("_parallel") {
                                    metrics.insert(format!("ablation_no_{}_{}", a.name, k), *v);
                                }
                            }
                        }
                        Err(e) => {
                            eprintln!("xtask: {e:#}");
                            failed = true;
                        }
                    }
                }
            }
        }
        let json = serde_json::json!({
            "arch": arch.name(),
            "git_revision": git_revision(),
            "qemu_version": qemu_version(arch),
            "unit": "guest instructions (QEMU -icount shift=0; *crosscore*, *_smp2 and *_parallel*: -smp 2, instructions of both CPUs); *_per_roundtrip_*: kernel events per round trip",
            "quick": quick,
            "ablations": abl.iter().map(|a| serde_json::json!({"name": a.name, "feature": a.feature, "what": a.what})).collect::<Vec<_>>(),
            "metrics": metrics,
        });
        // The smoke version does not overwrite the recorded results.
        let dir = if quick { root().join("build/bench") } else { root().join("bench/results") };
        let path = dir.join(format!("{}.json", arch.name()));
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(&path, serde_json::to_string_pretty(&json)? + "\n")?;
        print_table(arch, &metrics, &abl);
        println!("wrote {}", path.display());
        for k in REQUIRED {
            if !metrics.contains_key(*k) {
                eprintln!("xtask: {arch}: metric {k} missing");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// The cross-core rows of the table (`bench_smp.rs`), in this order.
const CROSSCORE: &[&str] = &[
    "ipc_roundtrip_samecore_smp2",
    "ipc_roundtrip_crosscore",
    "ipc_roundtrip_samecore_intra_smp2",
    "ipc_roundtrip_crosscore_intra",
    "ipis_per_roundtrip_samecore_smp2",
    "ipis_per_roundtrip_crosscore",
    "exceptions_per_roundtrip_samecore_smp2",
    "exceptions_per_roundtrip_crosscore",
    "as_switches_per_roundtrip_crosscore",
    "tlb_flushes_per_roundtrip_crosscore",
    "fastpath_per_roundtrip_crosscore",
    "ipc_roundtrip_samecore_parallel1",
    "ipc_roundtrip_samecore_parallel2",
    "exceptions_per_roundtrip_samecore_parallel2",
    "fastpath_per_roundtrip_samecore_parallel2",
];

fn print_table(arch: Arch, m: &BTreeMap<String, f64>, abl: &[Ablation]) {
    let get = |k: &str| m.get(k).copied();
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
    println!();
    println!("{arch}: guest instructions per operation (-icount shift=0)");
    println!("{:-<72}", "");
    const HEAD: &[&str] = &[
        "null_syscall_roundtrip",
        "as_switch",
        "ipc_oneway_intra",
        "ipc_oneway_inter",
        "ipc_roundtrip_intra",
        "ipc_roundtrip_inter",
        "oneway_to_floor_ratio",
        "tlb_flushes_per_roundtrip_inter",
        "as_switches_per_roundtrip_inter",
        "exceptions_per_roundtrip_inter",
        "fastpath_per_roundtrip_inter",
    ];
    for k in HEAD {
        println!("{k:<56} {:>14}", show(get(k)));
    }
    println!("{:-<72}", "");
    println!("cross-core, -smp 2 (client on CPU 0; server on CPU 0, then on CPU 1; then a pair per CPU)");
    for k in CROSSCORE {
        println!("{k:<56} {:>14}", show(get(k)));
    }
    // The ablation table: each optimization off in turn.
    let names: Vec<&str> = abl
        .iter()
        .map(|a| a.name.as_str())
        .filter(|n| m.contains_key(&format!("ablation_no_{n}_ipc_roundtrip_inter")))
        .collect();
    if !names.is_empty() {
        println!("{:-<72}", "");
        println!(
            "{:<20} {:>12} {:>12} {:>10} {:>14}",
            "without", "rt inter", "rt intra", "null", "TLB flush/rt"
        );
        println!(
            "{:<20} {:>12} {:>12} {:>10} {:>14}",
            "(all on)",
            show(get("ipc_roundtrip_inter")),
            show(get("ipc_roundtrip_intra")),
            show(get("null_syscall_roundtrip")),
            show(get("tlb_flushes_per_roundtrip_inter"))
        );
        for n in names {
            let a = |k: &str| get(&format!("ablation_no_{n}_{k}"));
            println!(
                "{n:<20} {:>12} {:>12} {:>10} {:>14}",
                show(a("ipc_roundtrip_inter")),
                show(a("ipc_roundtrip_intra")),
                show(a("null_syscall_roundtrip")),
                show(a("tlb_flushes_per_roundtrip_inter"))
            );
        }
    }
    println!("{:-<72}", "");
    // Everything else, by name.
    crate::bench_long::print_table(m);
    for (k, v) in m {
        let shown = HEAD.contains(&k.as_str()) || CROSSCORE.contains(&k.as_str());
        if !k.starts_with("ablation_no_") && !k.starts_with("long_") && !shown {
            println!("{k:<56} {v:>14.1}");
        }
    }
    println!("{:-<72}", "");
}
