//! `xtask bench`, long IPC (issue 6): the round trip against message length for untyped
//! words (registers, then the UTCB) and one string item, with the string copied by the
//! temporary mapping (the default kernel) and by copy-in/copy-out (the `long-ipc-copy`
//! kernel), each from a figures run and a counters run (TLB flushes and page-table writes
//! per round trip); the crossover lengths computed from the curves.

use anyhow::Result;
use std::collections::BTreeMap;

use crate::arch::Arch;
use crate::bench::{features, run_boot};

/// The copy-in/copy-out baseline's kernel feature.
const COPY: &str = "long-ipc-copy";
/// The string lengths `init/bench_long.rs` sweeps.
const LENGTHS: [u64; 9] = [0, 8, 64, 256, 1024, 4096, 16384, 32768, 65536];

/// Runs the sweep on `arch` with the default optimizations `all`; returns the metrics:
/// `long_words_<B>_bytes_roundtrip_inter`, `long_string_<B>_bytes_roundtrip_inter_tempmap`
/// and `..._copyinout`, their TLB flushes and page-table writes per round trip, and the
/// crossover lengths.
pub fn run(arch: Arch, all: &[&str]) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    let mut with_copy: Vec<&str> = all.to_vec();
    with_copy.push(COPY);
    for (mech, keep) in [("tempmap", all.to_vec()), ("copyinout", with_copy)] {
        println!("== bench {arch}: long IPC by {mech}");
        let cmd = "init=bench bench=long";
        let fig = run_boot(arch, &features(&keep, false), true, cmd, 1, false, &format!("long_{mech}"))?;
        let ev =
            run_boot(arch, &features(&keep, true), true, cmd, 1, false, &format!("long_{mech}_counters"))?;
        for (k, v) in fig {
            if let Some(rest) = k.strip_prefix("long_string_") {
                out.insert(format!("long_string_{rest}_{mech}"), v);
            } else if mech == "tempmap" {
                out.insert(k, v);
            }
        }
        for (k, v) in ev {
            if k.ends_with("_per_roundtrip") {
                let rest = k.strip_prefix("long_string_").unwrap_or(&k);
                out.insert(format!("long_string_{rest}_{mech}"), v);
            }
        }
    }
    for (name, x) in crossovers(&out) {
        out.insert(name, x);
    }
    Ok(out)
}

/// The cost of a string of `len` bytes by `mech`.
fn string_cost(m: &BTreeMap<String, f64>, len: u64, mech: &str) -> Option<f64> {
    m.get(&format!("long_string_{len}_bytes_roundtrip_inter_{mech}")).copied()
}

/// The words curve: (bytes, cost).
fn words_curve(m: &BTreeMap<String, f64>) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, y)| {
            let b = k.strip_prefix("long_words_")?.strip_suffix("_bytes_roundtrip_inter")?;
            Some((b.parse::<f64>().ok()?, *y))
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Linear interpolation of curve `c` at `x` (extrapolating from the last two points).
fn at(c: &[(f64, f64)], x: f64) -> Option<f64> {
    let i = c.windows(2).position(|w| x <= w[1].0).unwrap_or(c.len().checked_sub(2)?);
    let (a, b) = (c.get(i)?, c.get(i + 1)?);
    Some(a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0))
}

/// Where `f` (a difference of two curves along the sweep's lengths) changes sign, by
/// linear interpolation between the two lengths around it; `None` if it never does.
fn crossing(points: &[(f64, f64)]) -> Option<f64> {
    points.windows(2).find(|w| w[0].1 > 0.0 && w[1].1 <= 0.0).map(|w| {
        let (x0, d0, x1, d1) = (w[0].0, w[0].1, w[1].0, w[1].1);
        x0 + (x1 - x0) * d0 / (d0 - d1)
    })
}

/// The crossover lengths in bytes: where the temporary mapping becomes cheaper than
/// copy-in/copy-out, and where a string becomes cheaper than untyped words (extrapolated
/// past the last word count, 504 bytes, if it has not crossed by then). -1: no crossing
/// in the sweep.
fn crossovers(m: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let diff = |mech: &str, other: &dyn Fn(u64) -> Option<f64>| -> Vec<(f64, f64)> {
        LENGTHS.iter().filter_map(|&l| Some((l as f64, string_cost(m, l, mech)? - other(l)?))).collect()
    };
    let copy = |l: u64| string_cost(m, l, "copyinout");
    let words = words_curve(m);
    let w = |l: u64| at(&words, l as f64);
    let x = |v: Option<f64>| v.unwrap_or(-1.0);
    vec![
        ("long_crossover_tempmap_vs_copyinout_bytes".into(), x(crossing(&diff("tempmap", &copy)))),
        ("long_crossover_tempmap_vs_words_bytes".into(), x(crossing(&diff("tempmap", &w)))),
        ("long_crossover_copyinout_vs_words_bytes".into(), x(crossing(&diff("copyinout", &w)))),
    ]
}

/// Prints the sweep as a table (nothing if the metrics have none).
pub fn print_table(m: &BTreeMap<String, f64>) {
    if string_cost(m, 0, "tempmap").is_none() {
        return;
    }
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
    let words = words_curve(m);
    println!("long IPC round trip (call with the message + 0-word reply), guest instructions");
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "bytes", "words", "tempmap", "copyinout", "tm flush", "tm ptew", "cio flush", "cio ptew"
    );
    for l in LENGTHS {
        let word = words.iter().find(|p| p.0 == l as f64).map(|p| p.1);
        let ev = |what: &str, mech: &str| {
            m.get(&format!("long_string_{l}_bytes_{what}_per_roundtrip_{mech}")).copied()
        };
        println!(
            "{l:>8} {:>10} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}",
            show(word),
            show(string_cost(m, l, "tempmap")),
            show(string_cost(m, l, "copyinout")),
            show(ev("tlb_flushes", "tempmap")),
            show(ev("pte_writes", "tempmap")),
            show(ev("tlb_flushes", "copyinout")),
            show(ev("pte_writes", "copyinout")),
        );
    }
    for (k, v) in m.iter().filter(|(k, _)| k.starts_with("long_crossover_")) {
        println!("{k:<56} {v:>14.1}");
    }
    println!("{:-<72}", "");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_is_interpolated() {
        assert_eq!(crossing(&[(0.0, 10.0), (100.0, -10.0)]), Some(50.0));
        assert_eq!(crossing(&[(0.0, 10.0), (100.0, 5.0)]), None);
        let c = [(0.0, 0.0), (8.0, 8.0), (16.0, 24.0)];
        assert_eq!(at(&c, 4.0), Some(4.0));
        assert_eq!(at(&c, 24.0), Some(40.0));
    }
}
