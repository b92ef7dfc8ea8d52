//! `lagtap correlate --plots/--html` on the bundled real captures: every figure is
//! well-formed SVG whose title counts the same samples the Correlation (and so the
//! tables) counts, names every host it is about, and the HTML report renders in a
//! real browser without console errors.

#[path = "common/tools.rs"]
mod tools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use lagtap::correlate::input::{collect_inputs, decode_all};
use lagtap::correlate::{correlate, CorrelateOptions, Correlation};
use lagtap::report::plots::{self, FigureKind, Schedule};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

/// Decoding is the slow part: each scenario once per test binary.
fn correlation(name: &str) -> Correlation {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Correlation>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(c) = cache.lock().unwrap().get(name) {
        return c.clone();
    }
    let inputs = collect_inputs(&[scenario(name)], &[]).unwrap();
    let hosts = decode_all(&inputs).unwrap();
    let c = correlate(hosts, &CorrelateOptions::default());
    cache.lock().unwrap().insert(name.to_string(), c.clone());
    c
}

fn uplink_schedule() -> Schedule {
    Schedule::read(&scenario("uplink").join("truth.json")).unwrap()
}

/// Every text of an SVG document (titles, tick labels, legend), after checking it
/// parses as XML with an `<svg>` root.
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

/// The figure's title (the text holding "(n=" or ": n="), and its count.
fn title_n(texts: &[String]) -> (String, u64) {
    let t = texts
        .iter()
        .find(|t| t.contains("n=") && t.len() > 30)
        .unwrap_or_else(|| panic!("no title with n= in {texts:?}"));
    let n: String = t[t.find("n=").unwrap() + 2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (t.clone(), n.parse().unwrap())
}

fn has(texts: &[String], needle: &str) -> bool {
    texts.iter().any(|t| t.contains(needle))
}

/// Render every figure of a scenario and check what each must show.
fn check_scenario(name: &str, schedule: Option<&Schedule>) -> Correlation {
    let c = correlation(name);
    let figs = plots::figures(&c);
    assert!(figs.len() >= 7, "{name}: {figs:?}");
    for fig in &figs {
        let svg = plots::render_svg(&c, fig, schedule).unwrap();
        let texts = svg_texts(&svg);
        let (title, n) = title_n(&texts);
        let ctx = format!("{name}/{}: {title}", fig.name);
        match &fig.kind {
            FigureKind::Messaging => {
                assert_eq!(n, c.messaging.summary.count, "{ctx}");
                for h in c
                    .messaging
                    .by_sender
                    .keys()
                    .chain(c.messaging.by_receiver.keys())
                {
                    assert!(has(&texts, h), "{ctx}: host {h} not labelled");
                }
                assert!(has(&texts, "sending latency") && has(&texts, "receiving latency"));
                assert!(has(&texts, "messaging latency (ms)"), "{ctx}: y unit");
                // One n= per bar: the per-host counts of the table.
                for s in c.messaging.by_sender.values() {
                    assert!(has(&texts, &format!("n={}", s.count)), "{ctx}");
                }
            }
            FigureKind::MessagingCdf => {
                assert_eq!(n, c.messaging.summary.count, "{ctx}");
                assert!(has(
                    &texts,
                    &format!("all (n={})", c.messaging.samples.len())
                ));
                for r in c.messaging.by_receiver.keys() {
                    assert!(has(&texts, &format!("received by {r}")), "{ctx}");
                }
            }
            FigureKind::Broadcast => {
                assert_eq!(n, c.broadcast.display_summary.count, "{ctx}");
                for (v, s) in &c.broadcast.by_viewer {
                    assert!(has(&texts, v), "{ctx}: viewer {v}");
                    assert!(has(&texts, &format!("n={}", s.count)), "{ctx}: {v}");
                }
                assert!(has(&texts, "broadcast latency (s)"));
            }
            FigureKind::BroadcastCdf => {
                assert_eq!(n, c.broadcast.display_summary.count, "{ctx}");
                for (v, s) in &c.broadcast.by_viewer {
                    assert!(has(&texts, &format!("{v} (n={})", s.count)), "{ctx}");
                }
            }
            FigureKind::BroadcastBitrate => {
                // Every frame shown with a known stream bitrate, join artefacts
                // left out.
                let known = c
                    .broadcast
                    .counted()
                    .filter(|s| s.tx.is_some() && s.display_latency_ns.is_some())
                    .count();
                assert_eq!(n as usize, known, "{ctx}");
                assert!(has(&texts, "kb/s"), "{ctx}");
            }
            FigureKind::Switching => {
                assert_eq!(n, c.switching.shown.count, "{ctx}");
                for s in &c.switching.switches {
                    assert!(has(&texts, &s.viewer), "{ctx}: viewer {}", s.viewer);
                }
            }
            FigureKind::Health(i) => {
                let st = &c.source_health.streams[*i];
                assert_eq!(n, st.video_frames, "{ctx}");
                assert!(title.contains(&format!("{} missing", st.missing_frames)));
                assert!(title.contains(&st.broadcaster), "{ctx}");
                for axis in [
                    "upload throughput (kb/s)",
                    "missing frames (cumulative)",
                    "broadcast latency (s)",
                ] {
                    assert!(has(&texts, axis), "{ctx}: {axis}");
                }
            }
            FigureKind::Clocks => {
                let exchanges: usize = c.hosts.iter().map(|h| h.clock.samples).sum();
                assert_eq!(n as usize, exchanges, "{ctx}");
                for h in &c.hosts {
                    assert!(has(&texts, &h.name), "{ctx}: host {}", h.name);
                }
            }
        }
    }
    c
}

#[test]
fn basic_figures_carry_every_host_and_the_tables_counts() {
    let c = check_scenario("basic", None);
    assert!(c.messaging.summary.count > 0 && c.broadcast.display_summary.count > 0);
    // No switches in basic: the figure says so rather than showing empty axes.
    let fig = plots::figures(&c)
        .into_iter()
        .find(|f| f.kind == FigureKind::Switching)
        .unwrap();
    let texts = svg_texts(&plots::render_svg(&c, &fig, None).unwrap());
    assert!(has(&texts, "no samples"), "{texts:?}");
}

#[test]
fn skew_clock_figure_shows_the_offsets() {
    let c = check_scenario("skew", None);
    let fig = plots::figures(&c)
        .into_iter()
        .find(|f| f.kind == FigureKind::Clocks)
        .unwrap();
    let texts = svg_texts(&plots::render_svg(&c, &fig, None).unwrap());
    assert!(has(&texts, "clock offset (ms)"), "{texts:?}");
}

#[test]
fn switch_figure_counts_every_switch() {
    let c = check_scenario("switch", None);
    assert!(c.switching.shown.count > 0);
}

#[test]
fn uplink_health_figure_marks_the_tbf_schedule() {
    let schedule = uplink_schedule();
    let c = check_scenario("uplink", Some(&schedule));
    let fig = plots::figures(&c)
        .into_iter()
        .find(|f| matches!(f.kind, FigureKind::Health(_)))
        .unwrap();
    let texts = svg_texts(&plots::render_svg(&c, &fig, Some(&schedule)).unwrap());
    assert!(has(&texts, "uplink limit (tc tbf schedule)"), "{texts:?}");
    for rate in schedule.steps.iter().filter_map(|s| s.rate_kbps) {
        assert!(has(&texts, &format!("{rate:.0} kb/s")), "{rate}: {texts:?}");
    }
    assert!(has(&texts, "no limit"));
    // Without a schedule there is no limit line.
    let texts = svg_texts(&plots::render_svg(&c, &fig, None).unwrap());
    assert!(!has(&texts, "uplink limit"));
}

#[test]
fn bitrates_get_the_bitrate_figure() {
    let c = check_scenario("bitrates", None);
    let fig = plots::figures(&c)
        .into_iter()
        .find(|f| f.kind == FigureKind::BroadcastBitrate)
        .expect("three bitrates: a bitrate figure");
    let texts = svg_texts(&plots::render_svg(&c, &fig, None).unwrap());
    let rates = texts.iter().filter(|t| t.ends_with("kb/s")).count();
    assert!(rates >= 2, "{texts:?}");
}

#[test]
fn plots_dir_gets_one_svg_per_figure() {
    let c = correlation("basic");
    let dir = std::env::temp_dir().join(format!("lagtap-plots-{}", std::process::id()));
    let written = plots::write_plots(&dir, &c, plots::PlotFormat::Svg, None).unwrap();
    assert_eq!(written.len(), plots::figures(&c).len());
    for p in &written {
        svg_texts(&std::fs::read_to_string(p).unwrap());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn html_report_is_self_contained_and_holds_every_figure() {
    let schedule = uplink_schedule();
    let c = correlation("uplink");
    let html = lagtap::report::html::render_html(&c, Some(&schedule));
    assert_eq!(
        html.matches("<svg").count(),
        plots::figures(&c).len(),
        "one inline SVG per figure"
    );
    for forbidden in ["<script", "<link", "http://", "https://", "src="] {
        let found = html.match_indices(forbidden).any(|(i, _)| {
            !html[..i].ends_with("xmlns=\"") && !html[i..].starts_with("http://www.w3.org/")
        });
        assert!(!found, "external reference {forbidden}");
    }
    for h in &c.hosts {
        assert!(html.contains(&h.name));
    }
    for section in [
        "Hosts and clocks",
        "Messaging latency",
        "Broadcast latency",
        "Switching latency",
        "Source health",
        "Methods and anomalies",
    ] {
        assert!(html.contains(section), "{section}");
    }
}

/// Open the report in headless Chromium: it must load with no console errors, and
/// the DOM it built must hold every figure.
#[test]
fn html_report_renders_in_chromium() {
    let Some(chromium) = tools::require_any(
        &["chromium", "chromium-browser"],
        "the HTML report rendered in headless Chromium",
    ) else {
        return;
    };
    let schedule = uplink_schedule();
    let c = correlation("uplink");
    let dir = std::env::temp_dir().join(format!("lagtap-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.html");
    lagtap::report::html::write_html(&file, &c, Some(&schedule)).unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let page_errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("Uncaught") || l.contains("CONSOLE"))
        .collect();
    assert!(page_errors.is_empty(), "console errors: {page_errors:?}");
    assert_eq!(
        dom.matches("<svg").count(),
        plots::figures(&c).len(),
        "{dom:.2000}"
    );
    assert!(dom.contains("Methods and anomalies"));
    std::fs::remove_dir_all(&dir).ok();
}
