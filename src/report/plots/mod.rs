//! Figures of a correlation (`lagtap correlate --plots DIR`, and the HTML report):
//! the study's Fig. 6a–6d and Fig. 7 drawn from the same `Correlation` the tables
//! print, so a figure and its table can never disagree.
//!
//! Each figure is one function drawing on any plotters backend; SVG is the default
//! output (text stays text, the file diffs and inlines into HTML), PNG needs the
//! `png` cargo feature (plotters' bitmap backend renders text through fontconfig
//! and FreeType, which are system libraries). Every title says what was measured
//! and over how many samples (`n=…`), the same count the table shows.

mod common;
mod figures;
mod schedule;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use plotters::prelude::*;

use crate::correlate::Correlation;

pub use schedule::{Schedule, ScheduleStep};

/// Output format of `--plots` (`--plot-format`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum PlotFormat {
    #[default]
    Svg,
    Png,
}

impl FromStr for PlotFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "svg" => Ok(PlotFormat::Svg),
            "png" => Ok(PlotFormat::Png),
            _ => Err(format!("unknown plot format {s:?}: svg or png")),
        }
    }
}

impl PlotFormat {
    pub fn extension(self) -> &'static str {
        match self {
            PlotFormat::Svg => "svg",
            PlotFormat::Png => "png",
        }
    }
}

/// Which figure (and for per-stream figures, which stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FigureKind {
    /// Fig. 6a: sending and receiving latency per host, mean ± 95% CI.
    Messaging,
    /// CDF of every messaging sample, per receiver and overall.
    MessagingCdf,
    /// Fig. 6b: broadcast latency per viewer, mean with min and max.
    Broadcast,
    /// Fig. 6b/6c: broadcast latency against the stream's bitrate, per viewer
    /// (only when the captures hold streams of two or more bitrates).
    BroadcastBitrate,
    /// CDF of every frame's broadcast latency, per viewer.
    BroadcastCdf,
    /// Fig. 6d: switching latency per viewer, mean ± 95% CI.
    Switching,
    /// Fig. 7: one broadcaster stream's health over time (index into
    /// `source_health.streams`).
    Health(usize),
    /// Each host's clock offset with its error bound.
    Clocks,
}

/// One figure to draw: its file stem and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    /// File stem (`messaging` → `messaging.svg`), also the HTML anchor.
    pub name: String,
    pub kind: FigureKind,
}

/// The figures this correlation has. Latency figures are always drawn (an empty
/// one says "no samples", which is itself a finding); the bitrate figure only when
/// there are several bitrates to compare, and one health figure per stream.
pub fn figures(c: &Correlation) -> Vec<Figure> {
    let mut out = vec![
        Figure {
            name: "messaging".into(),
            kind: FigureKind::Messaging,
        },
        Figure {
            name: "messaging-cdf".into(),
            kind: FigureKind::MessagingCdf,
        },
        Figure {
            name: "broadcast".into(),
            kind: FigureKind::Broadcast,
        },
    ];
    if figures::bitrates(c).len() >= 2 {
        out.push(Figure {
            name: "broadcast-bitrate".into(),
            kind: FigureKind::BroadcastBitrate,
        });
    }
    out.push(Figure {
        name: "broadcast-cdf".into(),
        kind: FigureKind::BroadcastCdf,
    });
    out.push(Figure {
        name: "switching".into(),
        kind: FigureKind::Switching,
    });
    let mut used = std::collections::BTreeSet::new();
    for (i, s) in c.source_health.streams.iter().enumerate() {
        let mut name = format!(
            "health-{}-{}",
            file_safe(&s.broadcaster),
            file_safe(&s.stream)
        );
        if !used.insert(name.clone()) {
            name = format!("{name}-{i}");
            used.insert(name.clone());
        }
        out.push(Figure {
            name,
            kind: FigureKind::Health(i),
        });
    }
    out.push(Figure {
        name: "clocks".into(),
        kind: FigureKind::Clocks,
    });
    out
}

/// Host and stream names become file names: keep them readable, drop the rest.
fn file_safe(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() {
        "_".into()
    } else {
        t
    }
}

/// Pixel size of a figure.
fn size(kind: &FigureKind) -> (u32, u32) {
    match kind {
        FigureKind::Health(_) => (960, 840),
        _ => (960, 520),
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    c: &Correlation,
    kind: &FigureKind,
    schedule: Option<&Schedule>,
) -> common::DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    match kind {
        FigureKind::Messaging => figures::messaging(root, c),
        FigureKind::MessagingCdf => figures::messaging_cdf(root, c),
        FigureKind::Broadcast => figures::broadcast(root, c),
        FigureKind::BroadcastBitrate => figures::broadcast_bitrate(root, c),
        FigureKind::BroadcastCdf => figures::broadcast_cdf(root, c),
        FigureKind::Switching => figures::switching(root, c),
        FigureKind::Health(i) => figures::health(root, c, *i, schedule),
        FigureKind::Clocks => figures::clocks(root, c),
    }?;
    root.present()?;
    Ok(())
}

/// One figure as an SVG document (no XML declaration, so it inlines into HTML).
pub fn render_svg(
    c: &Correlation,
    fig: &Figure,
    schedule: Option<&Schedule>,
) -> anyhow::Result<String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size(&fig.kind)).into_drawing_area();
        draw(&root, c, &fig.kind, schedule)
            .map_err(|e| anyhow::anyhow!("drawing {}: {e}", fig.name))?;
    }
    Ok(buf)
}

/// One figure as a PNG file.
#[cfg(feature = "png")]
pub fn render_png(
    c: &Correlation,
    fig: &Figure,
    schedule: Option<&Schedule>,
    path: &Path,
) -> anyhow::Result<()> {
    let root = BitMapBackend::new(path, size(&fig.kind)).into_drawing_area();
    draw(&root, c, &fig.kind, schedule).map_err(|e| anyhow::anyhow!("drawing {}: {e}", fig.name))
}

/// Refuses a format this build cannot draw (PNG without the `png` feature: no
/// bitmap backend), saying how to get one; `lagtap correlate` asks before any work.
pub fn check_format(format: PlotFormat) -> anyhow::Result<()> {
    if format == PlotFormat::Png && !cfg!(feature = "png") {
        anyhow::bail!(
            "--plot-format png: this lagtap was built without PNG plots (they need fontconfig \
             and FreeType: Debian libfontconfig1-dev libfreetype-dev, then \
             `cargo build --release --features png`); use --plot-format svg"
        )
    }
    Ok(())
}

/// Without the `png` feature there is no bitmap backend: the error says how to get one.
#[cfg(not(feature = "png"))]
pub fn render_png(
    _c: &Correlation,
    _fig: &Figure,
    _schedule: Option<&Schedule>,
    _path: &Path,
) -> anyhow::Result<()> {
    check_format(PlotFormat::Png)
}

/// Write every figure into `dir` (created if missing); returns the files written.
pub fn write_plots(
    dir: &Path,
    c: &Correlation,
    format: PlotFormat,
    schedule: Option<&Schedule>,
) -> anyhow::Result<Vec<PathBuf>> {
    // Fail before creating anything.
    check_format(format)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for fig in figures(c) {
        let path = dir.join(format!("{}.{}", fig.name, format.extension()));
        match format {
            PlotFormat::Svg => {
                let svg = render_svg(c, &fig, schedule)?;
                std::fs::write(&path, svg)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            PlotFormat::Png => render_png(c, &fig, schedule, &path)?,
        }
        written.push(path);
    }
    Ok(written)
}
