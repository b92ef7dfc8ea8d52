//! The `lagtap` command line: glue between clap and the library.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use lagtap::inspect::{inspect_file, write_table, InspectReport};

#[derive(Parser)]
#[command(
    name = "lagtap",
    version,
    about = "Latencies of live streaming (RTMP, HLS, IRC chat) measured from packet captures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what captures hold: format, link types, time span, anomalies and flows.
    Inspect {
        /// pcap, pcapng or gzip-compressed capture files; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Decode one host's capture into its event timeline (JSON Lines on stdout):
    /// RTMP frames sent, HTTP/HLS fetches and segments with their frames, chat lines
    /// sent and received, NTP exchanges. Schema: docs/events.md.
    Decode {
        /// A pcap, pcapng or gzip-compressed capture (`-` = stdin).
        file: PathBuf,
        /// Host name for the events (default: the file's stem).
        #[arg(long)]
        host: Option<String>,
    },
    /// Correlate the captures of several hosts (or one Wireshark dump): clocks from
    /// NTP, then messaging, broadcast and switching latency and source health.
    Correlate {
        /// Capture files, directories of them, or event files from `lagtap decode`
        /// (`.jsonl`). Host name = file stem.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Name a host explicitly: NAME=FILE.
        #[arg(long = "host", value_name = "NAME=FILE")]
        hosts: Vec<String>,
        /// Host clock minus reference clock in seconds, overriding NTP: NAME=SECONDS.
        #[arg(
            long = "offset",
            value_name = "NAME=SECONDS",
            allow_hyphen_values = true
        )]
        offsets: Vec<String>,
        /// Regex whose first capture group is the channel name in playlist and segment
        /// URLs (default: /hls/<chan>.m3u8, /<app>/<chan>/index.m3u8, Twitch's
        /// /api/channel/hls/<chan>.m3u8).
        #[arg(long)]
        channel_pattern: Option<String>,
        /// Player model: playback starts once this many segments are in.
        #[arg(long, default_value_t = 3)]
        startup_segments: usize,
        /// Group broadcast latency by host, bitrate or channel.
        #[arg(long, default_value = "host")]
        group_by: lagtap::correlate::GroupBy,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Write every sample as CSV files (messaging.csv, broadcast.csv, ...) here.
        #[arg(long, value_name = "DIR")]
        samples: Option<PathBuf>,
        /// Draw the figures (messaging, broadcast, switching, source health, clocks)
        /// into this directory.
        #[arg(long, value_name = "DIR")]
        plots: Option<PathBuf>,
        /// Figure format for --plots: svg, or png (needs the `png` cargo feature).
        #[arg(long, value_name = "svg|png", default_value = "svg")]
        plot_format: lagtap::report::plots::PlotFormat,
        /// Write a self-contained HTML report (tables, figures, notes) to this file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Uplink shaping schedule to mark on the source-health figure: a JSON list of
        /// {"t_ns", "rate_kbps"}, or the testbed's truth.json (its tbf_schedule).
        #[arg(long, value_name = "FILE")]
        schedule: Option<PathBuf>,
    },
    /// Capture live traffic (needs the `live` feature and libpcap).
    Capture,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("lagtap: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect { files, json } => {
            let mut report = InspectReport { files: Vec::new() };
            for f in &files {
                report.files.push(inspect_file(f).with_context(|| format!("inspecting {}", f.display()))?);
            }
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                write_table(&mut out, &report)?;
            }
            out.flush()?;
            Ok(())
        }
        Command::Decode { file, host } => {
            let host = host.unwrap_or_else(|| lagtap::decode::host_name(&file));
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            lagtap::decode::decode_stream(&file, &host, |e| {
                serde_json::to_writer(&mut out, e)?;
                out.write_all(b"\n")
            })
            .with_context(|| format!("decoding {}", file.display()))??;
            out.flush()?;
            Ok(())
        }
        Command::Correlate {
            paths,
            hosts,
            offsets,
            channel_pattern,
            startup_segments,
            group_by,
            json,
            samples,
            plots,
            plot_format,
            html,
            schedule,
        } => {
            let schedule = schedule
                .as_deref()
                .map(lagtap::report::plots::Schedule::read)
                .transpose()?;
            let inputs = lagtap::correlate::input::collect_inputs(&paths, &hosts)?;
            let mut opts = lagtap::correlate::CorrelateOptions {
                startup_segments,
                group_by,
                ..Default::default()
            };
            for o in &offsets {
                let (name, secs) = o
                    .split_once('=')
                    .with_context(|| format!("--offset {o}: expected NAME=SECONDS"))?;
                let secs: f64 = secs
                    .trim_end_matches('s')
                    .parse()
                    .with_context(|| format!("--offset {o}: {secs} is not a number of seconds"))?;
                opts.offsets.insert(name.to_string(), secs);
            }
            if let Some(p) = channel_pattern {
                opts.channel_pattern = lagtap::correlate::ChannelPattern::with_user_pattern(&p)
                    .with_context(|| format!("--channel-pattern {p}"))?;
            }
            let host_events = lagtap::correlate::input::decode_all(&inputs)?;
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            let format = if json {
                lagtap::report::Format::Json
            } else {
                lagtap::report::Format::Table
            };
            let c = lagtap::report::run_correlate(host_events, &opts, format, samples.as_deref(), &mut out)?;
            out.flush()?;
            if let Some(dir) = plots {
                lagtap::report::plots::write_plots(&dir, &c, plot_format, schedule.as_ref())?;
            }
            if let Some(file) = html {
                lagtap::report::html::write_html(&file, &c, schedule.as_ref())?;
            }
            Ok(())
        }
        #[cfg(not(feature = "live"))]
        Command::Capture => anyhow::bail!(
            "this lagtap was built without live capture. Install libpcap (Debian: apt-get install libpcap-dev) and rebuild with `cargo build --release --features live`"
        ),
        #[cfg(feature = "live")]
        Command::Capture => anyhow::bail!(
            "live capture is not written yet; capture with tcpdump or dumpcap and run `lagtap inspect` on the file"
        ),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
