//! `xtask bench-plot`: draws the benchmark results as SVG: IPC cost against message length
//! per architecture, and the ablation table as bars.

use anyhow::{Context, Result};
use plotters::prelude::*;
use std::collections::BTreeMap;

use crate::root;

type Metrics = BTreeMap<String, f64>;

fn load() -> Result<Vec<(String, Metrics)>> {
    let mut out = Vec::new();
    for arch in ["x86_64", "aarch64"] {
        let p = root().join("bench/results").join(format!("{arch}.json"));
        let Ok(text) = std::fs::read_to_string(&p) else { continue };
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
        let m: Metrics = v["metrics"]
            .as_object()
            .map(|o| o.iter().filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f))).collect())
            .unwrap_or_default();
        out.push((arch.to_string(), m));
    }
    Ok(out)
}

/// Series `prefix<N>` of a metric map, sorted by N.
fn series(m: &Metrics, prefix: &str) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> =
        m.iter().filter_map(|(k, y)| k.strip_prefix(prefix)?.parse::<f64>().ok().map(|x| (x, *y))).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Draws the plots; returns the exit code.
pub fn run() -> Result<i32> {
    let data = load()?;
    if data.is_empty() {
        eprintln!("xtask: no results in bench/results (run `just bench` first)");
        return Ok(1);
    }
    let dir = root().join("bench/results");
    let colors = [RED, BLUE, GREEN, MAGENTA];

    // Cost against message length.
    let path = dir.join("ipc-length.svg");
    {
        let root_area = SVGBackend::new(&path, (900, 560)).into_drawing_area();
        root_area.fill(&WHITE)?;
        let all: Vec<(f64, f64)> = data
            .iter()
            .flat_map(|(_, m)| {
                series(m, "ipc_roundtrip_inter_words_")
                    .into_iter()
                    .chain(series(m, "ipc_roundtrip_intra_words_"))
            })
            .collect();
        let xmax = all.iter().map(|p| p.0).fold(1.0, f64::max);
        let ymax = all.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&root_area)
            .caption(
                "IPC round trip vs message length (guest instructions, -icount shift=0)",
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
        chart.configure_mesh().x_desc("untyped words").y_desc("instructions per round trip").draw()?;
        for (i, (arch, m)) in data.iter().enumerate() {
            for (kind, prefix) in
                [("inter", "ipc_roundtrip_inter_words_"), ("intra", "ipc_roundtrip_intra_words_")]
            {
                let s = series(m, prefix);
                let c = colors[(2 * i + (kind == "intra") as usize) % colors.len()];
                chart
                    .draw_series(LineSeries::new(s.clone(), c.stroke_width(2)))?
                    .label(format!("{arch} {kind}-address-space"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
                chart.draw_series(s.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
            }
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
        root_area.present()?;
    }
    println!("wrote {}", path.display());

    // The ablation table as bars: the 0-word inter-address-space round trip.
    let path = dir.join("ablation.svg");
    {
        let mut bars: Vec<(String, f64)> = Vec::new();
        for (arch, m) in &data {
            if let Some(v) = m.get("ipc_roundtrip_inter") {
                bars.push((format!("{arch}: all on"), *v));
            }
            for (k, v) in m {
                if let Some(name) = k
                    .strip_prefix("ablation_no_")
                    .and_then(|r| r.strip_suffix("_ipc_roundtrip_inter"))
                    .filter(|n| !n.contains("_scaling_"))
                {
                    bars.push((format!("{arch}: no {name}"), *v));
                }
            }
        }
        let root_area = SVGBackend::new(&path, (900, 120 + 40 * bars.len() as u32)).into_drawing_area();
        root_area.fill(&WHITE)?;
        let ymax = bars.iter().map(|b| b.1).fold(1.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(&root_area)
            .caption("Ablation: 0-word IPC round trip between address spaces", ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(220)
            .build_cartesian_2d(0.0..ymax, 0..bars.len())?;
        let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .y_labels(bars.len())
            .y_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .x_desc("guest instructions")
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let c = if b.0.contains("all on") { BLUE } else { RED };
            Rectangle::new([(0.0, i), (b.1, i + 1)], c.mix(0.6).filled())
        }))?;
        chart.draw_series(
            bars.iter()
                .enumerate()
                .map(|(i, b)| Text::new(format!("{:.0}", b.1), (b.1, i), ("sans-serif", 14))),
        )?;
        root_area.present()?;
    }
    println!("wrote {}", path.display());
    for (arch, m) in &data {
        if let Some(path) = long_ipc(&dir, arch, m)? {
            println!("wrote {}", path.display());
        }
    }
    Ok(0)
}

/// Long IPC (issue 6; seed 001's "486 IPC costs" redone): round trip against message
/// length, log-log, for untyped words, the temporary mapping and copy-in/copy-out (0 bytes
/// drawn at 1). `None` if the results have no sweep.
fn long_ipc(dir: &std::path::Path, arch: &str, m: &Metrics) -> Result<Option<std::path::PathBuf>> {
    let curves = [
        ("untyped words (registers, then UTCB)", "long_words_", "_bytes_roundtrip_inter", GREEN),
        ("string, temporary mapping", "long_string_", "_bytes_roundtrip_inter_tempmap", BLUE),
        ("string, copy-in/copy-out", "long_string_", "_bytes_roundtrip_inter_copyinout", RED),
    ];
    let pts = |pre: &str, suf: &str| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = m
            .iter()
            .filter_map(|(k, y)| {
                let x = k.strip_prefix(pre)?.strip_suffix(suf)?.parse::<f64>().ok()?;
                Some((x.max(1.0), *y))
            })
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    };
    if pts(curves[1].1, curves[1].2).is_empty() {
        return Ok(None);
    }
    let path = dir.join(format!("long-ipc-{arch}.svg"));
    draw_long_ipc(&path, arch, &curves, &pts)?;
    Ok(Some(path))
}

/// Draws [`long_ipc`]'s plot into `path`.
#[allow(clippy::type_complexity)]
fn draw_long_ipc(
    path: &std::path::Path,
    arch: &str,
    curves: &[(&str, &str, &str, RGBColor); 3],
    pts: &dyn Fn(&str, &str) -> Vec<(f64, f64)>,
) -> Result<()> {
    let root_area = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root_area.fill(&WHITE)?;
    let ymax = curves.iter().flat_map(|c| pts(c.1, c.2)).map(|p| p.1).fold(1.0, f64::max) * 1.5;
    let ymin = curves.iter().flat_map(|c| pts(c.1, c.2)).map(|p| p.1).fold(f64::MAX, f64::min) * 0.7;
    let mut chart = ChartBuilder::on(&root_area)
        .caption(format!("{arch}: IPC round trip vs message length (guest instructions)"), ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0..65536.0).log_scale(), (ymin..ymax).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("message bytes (0 drawn at 1)")
        .y_desc("instructions per round trip")
        .draw()?;
    for &(label, pre, suf, c) in curves {
        let s = pts(pre, suf);
        chart
            .draw_series(LineSeries::new(s.clone(), c.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
        chart.draw_series(s.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root_area.present()?;
    Ok(())
}
