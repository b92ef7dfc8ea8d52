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
