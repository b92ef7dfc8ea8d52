//! The `lagtap` command line: glue between clap and the library.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use lagtap::inspect::{inspect_file_with, write_table, InspectReport};

/// What a lagtap built without the `cluster` feature says to `--cluster` and the
/// cluster commands.
#[cfg(not(feature = "cluster"))]
const NO_CLUSTER: &str = "this lagtap was built without the cluster engine: rebuild with \
     `cargo build --release --features cluster` (DataFusion and Ballista; Rust 1.94 or later)";

/// `correlate --cluster ENGINE`: the inputs must be one Parquet event dataset; the
/// report is written as the embedded run writes it.
fn correlate_on_cluster(
    engine: &str,
    collected: lagtap::correlate::input::Collected,
    opts: &lagtap::correlate::CorrelateOptions,
    format: lagtap::report::Format,
    samples: Option<(&std::path::Path, lagtap::report::SamplesFormat)>,
) -> anyhow::Result<lagtap::correlate::Correlation> {
    let dirs: std::collections::BTreeSet<&PathBuf> =
        collected.inputs.iter().flat_map(|i| &i.files).collect();
    let dir = match dirs.into_iter().collect::<Vec<_>>().as_slice() {
        [one] if lagtap::events::parquet::is_dataset(one) => (*one).clone(),
        _ => anyhow::bail!(
            "--cluster reads one Parquet event dataset (`lagtap decode --format parquet \
             --output DIR`), not captures or JSON Lines"
        ),
    };
    #[cfg(feature = "cluster")]
    {
        let engine: lagtap::cluster::Engine = engine.parse().map_err(anyhow::Error::msg)?;
        let hosts: Vec<(String, String)> = collected
            .inputs
            .iter()
            .map(|i| (i.host.clone(), i.describe()))
            .collect();
        let c = lagtap::cluster::correlate(&engine, &dir, &hosts, opts)?;
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let c =
            lagtap::report::report_correlation(c, collected.warnings, format, samples, &mut out)?;
        out.flush()?;
        Ok(c)
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = (engine, dir, opts, format, samples);
        anyhow::bail!("{NO_CLUSTER}")
    }
}

/// `decode` writes its JSON Lines to standard output in pieces of about this size.
const OUTPUT_CHUNK: usize = 64 * 1024;

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
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Decode one host's capture into its event timeline (JSON Lines on stdout):
    /// RTMP frames sent, HTTP/HLS fetches and segments with their frames, chat lines
    /// sent and received, NTP exchanges. Schema: docs/events.md.
    Decode {
        /// A pcap or pcapng capture, plain or compressed (gzip, zstd, lz4; `-` = stdin),
        /// or several files of one host's rotated capture, decoded as one capture in
        /// time order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Host name for the events (default: the name `lagtap capture` wrote in the
        /// file, else the file's name without a rotation number, else its stem).
        #[arg(long)]
        host: Option<String>,
        #[command(flatten)]
        keys: KeyArgs,
        /// `jsonl` (JSON Lines on stdout) or `parquet` (a dataset in --output DIR: one
        /// table per event kind, partitioned by host; needs the `parquet` feature).
        #[arg(long, value_name = "jsonl|parquet", default_value = "jsonl")]
        format: EventFormat,
        /// The dataset directory for --format parquet (other hosts' partitions in it
        /// are kept, this host's replaced).
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Correlate the captures of several hosts (or one Wireshark dump): clocks from
    /// NTP, then messaging, broadcast and switching latency and source health.
    Correlate {
        /// Capture files, directories of them, or event files from `lagtap decode`
        /// (`.jsonl`). Host name = file stem (for an event file: the host it names).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Name a host explicitly: NAME=FILE, or NAME=GLOB for all files of one host
        /// (quote it); rotated files are grouped by their naming without it.
        #[arg(long = "host", value_name = "NAME=FILE|GLOB")]
        hosts: Vec<String>,
        #[command(flatten)]
        keys: KeyArgs,
        /// Host clock minus reference clock in seconds, overriding NTP: NAME=SECONDS
        /// (NAME one of the hosts, |SECONDS| at most a day).
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
        /// Player model's K (start at the K-th newest segment, once K segments are in):
        /// `K` for every viewer, `VIEWER=K` for one (repeatable). Default: what each
        /// viewer's capture shows (the first segment it fetched against the playlist it
        /// held), else 3.
        #[arg(long, value_name = "[VIEWER=]K")]
        startup_segments: Vec<String>,
        /// RTMP player model's buffer: playback starts (and resumes after running
        /// dry) once this much media is in hand. Default: Flash Player's
        /// NetStream.bufferTime, 100 ms.
        #[arg(long, value_name = "MS", default_value_t = lagtap::correlate::DEFAULT_RTMP_BUFFER_MS)]
        rtmp_buffer_ms: u32,
        /// Group broadcast latency by host, bitrate or channel.
        #[arg(long, default_value = "host")]
        group_by: lagtap::correlate::GroupBy,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Write every sample table here (messaging, broadcast, switching,
        /// source_health), in --format.
        #[arg(long, value_name = "DIR")]
        samples: Option<PathBuf>,
        /// Format of the --samples tables: csv, or parquet (needs the `parquet`
        /// feature).
        #[arg(long, value_name = "csv|parquet", default_value = "csv")]
        format: lagtap::report::SamplesFormat,
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
        /// Print how long each phase took (decoding the inputs, correlating, writing
        /// the report and outputs) to stderr, for sizing long runs.
        #[arg(long)]
        timings: bool,
        /// Threads: hosts decoded at once, one thread each, and correlation units
        /// run at once (default: one per core).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Run the correlation units as DataFusion plans over one Parquet event
        /// dataset (`decode --format parquet`): `df://HOST:PORT` on a Ballista
        /// cluster (executors: `lagtap cluster-executor`), `standalone` on a Ballista
        /// started in this process, `local` on DataFusion alone. Needs the `cluster`
        /// feature. The report is the same as without it.
        #[arg(long, value_name = "URL")]
        cluster: Option<String>,
    },
    /// A Ballista scheduler for `correlate --cluster df://HOST:PORT` (needs the
    /// `cluster` feature). Runs until stopped.
    ClusterScheduler {
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0:50050")]
        bind: std::net::SocketAddr,
    },
    /// A Ballista executor that runs lagtap's correlation units, registered with a
    /// `lagtap cluster-scheduler` (needs the `cluster` feature). Runs until stopped.
    /// The dataset's path must be readable here as on the machine submitting.
    ClusterExecutor {
        /// The scheduler's address.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: std::net::SocketAddr,
        /// Address to listen on for Flight (gRPC takes the next port).
        #[arg(long, default_value = "0.0.0.0:50051")]
        bind: std::net::SocketAddr,
        /// Tasks run at once (default: one per core).
        #[arg(long)]
        vcores: Option<usize>,
    },
    /// Capture live traffic into pcapng (needs the `live` feature and libpcap): the
    /// section comment records host, role, version, OS and clock state; the file ends
    /// with kernel/interface drop statistics. Exit status 3: stopped early because the
    /// output could not be written (disk full); the files are valid up to their last
    /// packet. See docs/capture.md.
    Capture(CaptureArgs),
    /// Decode live traffic (or a capture file as it grows) and print events as they
    /// happen: chat with server→here latency, segment delivery, switches, upload rate.
    Watch(WatchArgs),
}

/// What `decode` writes its events as.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
enum EventFormat {
    Jsonl,
    Parquet,
}

#[derive(clap::Args)]
struct CaptureArgs {
    /// Interface to capture on.
    #[arg(
        short = 'i',
        long = "interface",
        required_unless_present = "list_interfaces"
    )]
    interface: Option<String>,
    /// List the interfaces libpcap can capture on and exit.
    #[arg(long)]
    list_interfaces: bool,
    /// BPF filter (default: RTMP 1935/1936, HTTP(S) 80/443/8080, IRC 6667/6697, NTP udp 123).
    #[arg(short = 'f', long)]
    filter: Option<String>,
    /// Output pcapng file (with rotation: FILE-00001.pcapng, ...).
    #[arg(
        short = 'w',
        long = "write",
        required_unless_present = "list_interfaces"
    )]
    write: Option<PathBuf>,
    /// Bytes kept of each packet.
    #[arg(long, default_value_t = 262_144)]
    snaplen: i32,
    /// Kernel capture buffer (libpcap's TPACKET_V3 ring) in MiB; 32 MiB holds about
    /// 150,000 small packets, a second and a half at 100,000 packets/s.
    #[arg(long, default_value_t = 32)]
    buffer_size: i32,
    /// Do not put the interface into promiscuous mode.
    #[arg(long)]
    no_promisc: bool,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many packets.
    #[arg(long)]
    packets: Option<u64>,
    /// Start a new numbered file when the current one reaches this many MB (10^6 bytes).
    #[arg(long, value_name = "MB")]
    rotate_size: Option<f64>,
    /// Start a new numbered file every this many seconds.
    #[arg(long, value_name = "SECONDS")]
    rotate_time: Option<f64>,
    /// Send an NTP client query to this server every --ntp-interval seconds, so the
    /// capture carries its own clock evidence.
    #[arg(long, value_name = "SERVER")]
    ntp: Option<String>,
    #[arg(long, default_value_t = 4.0, value_name = "SECONDS")]
    ntp_interval: f64,
    /// This host's role, recorded in the file (broadcaster, viewer, server, ...).
    #[arg(long)]
    role: Option<String>,
    /// A TLS key log a client on this host is writing (its SSLKEYLOGFILE): each new
    /// secret is stored in the capture as a Decryption Secrets Block as it appears.
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
}

/// Where TLS secrets come from, besides the key log beside each capture
/// (`host.keys`, `host.keylog`) and pcapng Decryption Secrets Blocks.
#[derive(clap::Args)]
struct KeyArgs {
    /// An NSS key log (SSLKEYLOGFILE) with secrets for TLS flows; repeatable.
    #[arg(long = "keylog", value_name = "FILE")]
    keylogs: Vec<PathBuf>,
}

#[derive(clap::Args)]
struct WatchArgs {
    /// Interface to decode live (needs the `live` feature).
    #[arg(
        short = 'i',
        long = "interface",
        conflicts_with = "file",
        required_unless_present = "file"
    )]
    interface: Option<String>,
    /// A capture file, read as it grows (Ctrl-C ends); with --no-follow read once.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Read --file to its current end and stop.
    #[arg(long)]
    no_follow: bool,
    /// BPF filter for -i (default: the same as lagtap capture).
    #[arg(short = 'f', long)]
    filter: Option<String>,
    /// Stop after this many seconds (-i only).
    #[arg(long)]
    duration: Option<f64>,
    #[command(flatten)]
    keys: KeyArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            eprintln!("lagtap: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// An error already reported on stderr that ends lagtap with this exit status rather
/// than 1: `capture` stopped by an output it could not write exits with 3, so a
/// script tells "the files are valid but end early" from "nothing was captured".
#[derive(Debug)]
struct Exit(u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect { files, json, keys } => {
            let keylog = lagtap::decode::keys::read_keylogs(&keys.keylogs)?;
            let mut report = InspectReport { files: Vec::new() };
            for f in &files {
                report.files.push(inspect_file_with(f, &keylog).with_context(|| format!("inspecting {}", f.display()))?);
            }
            lagtap::inspect::write_warnings(&mut io::stderr(), &report)?;
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
        Command::Decode {
            files,
            host,
            keys,
            format,
            output,
        } => {
            let (host, files) = lagtap::capture::timeline::one_host(&files, host.as_deref())
                .map_err(anyhow::Error::msg)?;
            // Checked before decoding: a long decode must not end in a usage error.
            let mut dataset = match (format, output) {
                (EventFormat::Jsonl, None) => None,
                (EventFormat::Jsonl, Some(_)) => anyhow::bail!(
                    "--output is for --format parquet; JSON Lines go to standard output"
                ),
                (EventFormat::Parquet, None) => {
                    anyhow::bail!("--format parquet needs --output DIR, the dataset directory")
                }
                (EventFormat::Parquet, Some(dir)) => {
                    Some(lagtap::events::parquet::DatasetWriter::create(&dir, &host)?)
                }
            };
            let shown = match files.as_slice() {
                [one] => one.display().to_string(),
                many => format!("{} files of host {host}", many.len()),
            };
            let keylog = lagtap::decode::keys::read_keylogs(&keys.keylogs)?;
            let stdout = io::stdout();
            let mut out = stdout.lock();
            // Lines are gathered in one buffer and written in large pieces.
            let mut buf: Vec<u8> = Vec::with_capacity(OUTPUT_CHUNK * 2);
            let mut without_keys = 0;
            let mut damage = Vec::new();
            lagtap::decode::decode_timeline_with(&files, &host, &keylog, |e| {
                if let lagtap::events::Event::Summary {
                    undecodable,
                    anomalies,
                    last_time_ns,
                    ..
                } = e
                {
                    without_keys = lagtap::decode::keys::flows_without_keys(undecodable);
                    damage = lagtap::anomalies::damage(anomalies, *last_time_ns);
                }
                if let Some(d) = &mut dataset {
                    return d.write(e).map_err(io::Error::other);
                }
                lagtap::events::jsonl::write_line(e, &mut buf)?;
                if buf.len() >= OUTPUT_CHUNK {
                    out.write_all(&buf)?;
                    buf.clear();
                }
                Ok(())
            })
            .with_context(|| format!("decoding {shown}"))??;
            match dataset {
                Some(d) => {
                    d.finish()?;
                }
                None => {
                    out.write_all(&buf)?;
                    out.flush()?;
                }
            }
            if without_keys > 0 {
                eprintln!(
                    "lagtap: {}",
                    lagtap::decode::keys::no_keys_note(&host, without_keys)
                );
            }
            // The summary line says it too, but a reader of the events alone would
            // not know the timeline stops early or has holes.
            if !damage.is_empty() {
                let lost: Vec<&str> = damage.iter().map(|d| d.lost.as_str()).collect();
                eprintln!(
                    "lagtap: warning: the capture of {host} is damaged: {}",
                    lost.join("; ")
                );
            }
            Ok(())
        }
        Command::Correlate {
            paths,
            hosts,
            keys,
            offsets,
            channel_pattern,
            startup_segments,
            rtmp_buffer_ms,
            group_by,
            json,
            samples,
            format: samples_format,
            plots,
            plot_format,
            html,
            schedule,
            timings,
            jobs,
            cluster,
        } => {
            let started = std::time::Instant::now();
            let schedule = schedule
                .as_deref()
                .map(lagtap::report::plots::Schedule::read)
                .transpose()?;
            lagtap::report::outputs::Outputs {
                samples: samples.clone(),
                plots: plots.clone(),
                plot_format,
                html: html.clone(),
            }
            .check()?;
            samples_format.check()?;
            let collected = lagtap::correlate::input::collect(&paths, &hosts)?;
            for note in &collected.notes {
                eprintln!("lagtap: {note}");
            }
            let names: Vec<String> = collected.inputs.iter().map(|i| i.host.clone()).collect();
            let (startup_all, startup_by_viewer) =
                lagtap::correlate::parse_startup_segments(&startup_segments)
                    .map_err(anyhow::Error::msg)?;
            let mut opts = lagtap::correlate::CorrelateOptions {
                startup_segments: startup_all,
                startup_by_viewer,
                group_by,
                rtmp_buffer_ms,
                offsets: lagtap::correlate::guards::parse_offsets(&offsets, &names)?,
                jobs: jobs.map(usize::from),
                ..Default::default()
            };
            if let Some(p) = channel_pattern {
                opts.channel_pattern = lagtap::correlate::ChannelPattern::with_user_pattern(&p)
                    .with_context(|| format!("--channel-pattern {p}"))?;
            }
            if let Some(v) = opts
                .startup_by_viewer
                .keys()
                .find(|v| !names.contains(*v))
            {
                anyhow::bail!(
                    "--startup-segments names viewer {v}, which is none of the hosts ({})",
                    names.join(", ")
                );
            }
            let format = if json {
                lagtap::report::Format::Json
            } else {
                lagtap::report::Format::Table
            };
            let samples_to = samples.as_deref().map(|d| (d, samples_format));
            let (c, decoded) = match cluster {
                Some(engine) => (
                    correlate_on_cluster(&engine, collected, &opts, format, samples_to)?,
                    started,
                ),
                None => {
                    let keylog = lagtap::decode::keys::read_keylogs(&keys.keylogs)?;
                    let host_events = lagtap::correlate::input::decode_all_jobs(
                        &collected.inputs,
                        &keylog,
                        jobs.map(usize::from),
                    )?;
                    let decoded = std::time::Instant::now();
                    let stdout = io::stdout();
                    let mut out = io::BufWriter::new(stdout.lock());
                    let c = lagtap::report::run_correlate(
                        host_events,
                        &opts,
                        collected.warnings,
                        format,
                        samples_to,
                        &mut out,
                    )?;
                    out.flush()?;
                    (c, decoded)
                }
            };
            let correlated = std::time::Instant::now();
            lagtap::report::write_warnings(&c, &mut io::stderr().lock())?;
            if let Some(dir) = plots {
                lagtap::report::plots::write_plots(&dir, &c, plot_format, schedule.as_ref())?;
            }
            if let Some(file) = html {
                lagtap::report::html::write_html(&file, &c, schedule.as_ref())?;
            }
            if timings {
                let s = |a: std::time::Instant, b: std::time::Instant| (b - a).as_secs_f64();
                let done = std::time::Instant::now();
                eprintln!(
                    "lagtap: timings: decode {:.3} s ({} hosts), correlation and report {:.3} s, \
                     figures {:.3} s, total {:.3} s",
                    s(started, decoded),
                    c.hosts.len(),
                    s(decoded, correlated),
                    s(correlated, done),
                    s(started, done)
                );
            }
            Ok(())
        }
        #[cfg(feature = "cluster")]
        Command::ClusterScheduler { bind } => lagtap::cluster::process::scheduler(bind),
        #[cfg(feature = "cluster")]
        Command::ClusterExecutor {
            scheduler,
            bind,
            vcores,
        } => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            lagtap::cluster::process::executor(bind, scheduler, vcores.unwrap_or(cores))
        }
        #[cfg(not(feature = "cluster"))]
        Command::ClusterScheduler { .. } | Command::ClusterExecutor { .. } => {
            anyhow::bail!("{NO_CLUSTER}")
        }
        #[cfg(not(feature = "live"))]
        Command::Capture(_) => anyhow::bail!(
            "this lagtap was built without live capture. Install libpcap (Debian: apt-get install libpcap-dev) and rebuild with `cargo build --release --features live`"
        ),
        #[cfg(feature = "live")]
        Command::Capture(a) => capture(a),
        Command::Watch(a) => watch(a),
    }
}

#[cfg(feature = "live")]
fn capture(a: CaptureArgs) -> anyhow::Result<()> {
    use lagtap::live::capture as live;
    use std::time::Duration;
    if a.list_interfaces {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        return live::list_interfaces(&mut out);
    }
    let secs = |what: &str, v: Option<f64>| -> anyhow::Result<Option<Duration>> {
        v.map(|s| {
            Duration::try_from_secs_f64(s).with_context(|| format!("{what} {s}: not a duration"))
        })
        .transpose()
    };
    let opts = live::CaptureOptions {
        source: live::SourceOptions {
            interface: a.interface.context("-i IFACE is required")?,
            filter: a.filter.unwrap_or_else(|| live::DEFAULT_FILTER.to_string()),
            snaplen: a.snaplen,
            buffer_size: a.buffer_size.saturating_mul(1 << 20),
            promisc: !a.no_promisc,
            immediate: false,
        },
        output: a.write.context("-w FILE is required")?,
        duration: secs("--duration", a.duration)?,
        packets: a.packets,
        rotate_size: a.rotate_size.map(|mb| (mb * 1e6) as u64),
        rotate_time: secs("--rotate-time", a.rotate_time)?,
        ntp: a.ntp,
        ntp_interval: secs("--ntp-interval", Some(a.ntp_interval))?.unwrap_or_default(),
        role: a.role,
        keylog: a.keylog,
    };
    let s = live::run_capture(&opts)?;
    let files: Vec<String> = s.files.iter().map(|f| f.display().to_string()).collect();
    eprintln!(
        "lagtap capture: {} packets ({} bytes) written to {}{}",
        s.packets,
        s.bytes,
        files.join(", "),
        if s.interrupted { " (interrupted)" } else { "" }
    );
    eprintln!(
        "lagtap capture: received {}, dropped by kernel {}, dropped by interface {}, dropped by lagtap (writer behind) {}, NTP queries sent {}, key log blocks {}",
        s.received, s.kernel_dropped, s.if_dropped, s.queue_dropped, s.ntp_queries, s.secrets_blocks
    );
    if let Some(why) = &s.write_failure {
        eprintln!(
            "lagtap capture: stopped early, {why}; the files hold the {} packets written, {} packets read were not written (exit status 3)",
            s.packets, s.not_written
        );
        return Err(Exit(3).into());
    }
    Ok(())
}

fn watch(a: WatchArgs) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut printer = lagtap::live::watch::Printer::new(io::LineWriter::new(stdout.lock()));
    if let Some(file) = a.file {
        let follow = if a.no_follow {
            None
        } else {
            Some(watch_stop()?)
        };
        let keylog = lagtap::decode::keys::read_keylogs(&a.keys.keylogs)?;
        lagtap::live::watch::watch_file_with_keys(&file, follow, &mut printer, &keylog)?;
        return Ok(());
    }
    watch_interface(a, &mut printer)
}

#[cfg(feature = "live")]
fn watch_stop() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    lagtap::live::capture::stop_flag()
}

/// Without the `live` feature there is no signal handler: Ctrl-C ends the process,
/// which loses nothing when only reading a file.
#[cfg(not(feature = "live"))]
fn watch_stop() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    Ok(Default::default())
}

#[cfg(feature = "live")]
fn watch_interface<W: Write>(
    a: WatchArgs,
    printer: &mut lagtap::live::watch::Printer<W>,
) -> anyhow::Result<()> {
    use lagtap::live::capture as live;
    let source = live::SourceOptions {
        interface: a.interface.context("-i IFACE or --file FILE is required")?,
        filter: a.filter.unwrap_or_else(|| live::DEFAULT_FILTER.to_string()),
        snaplen: 262_144,
        buffer_size: 32 << 20,
        promisc: true,
        immediate: true,
    };
    let duration = a
        .duration
        .map(std::time::Duration::try_from_secs_f64)
        .transpose()
        .context("--duration")?;
    let keylog = lagtap::decode::keys::read_keylogs(&a.keys.keylogs)?;
    lagtap::live::watch::watch_interface(&source, duration, printer, &keylog)?;
    Ok(())
}

#[cfg(not(feature = "live"))]
fn watch_interface<W: Write>(
    _a: WatchArgs,
    _printer: &mut lagtap::live::watch::Printer<W>,
) -> anyhow::Result<()> {
    anyhow::bail!(
        "watching an interface needs live capture: install libpcap (Debian: apt-get install libpcap-dev) and rebuild with `cargo build --release --features live`; `lagtap watch --file FILE` works without it"
    )
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
