//! What `lagtap correlate` is pointed at: capture files, directories of them, or
//! event files written by `lagtap decode`; grouped into hosts (a host's rotated
//! files are one timeline: `capture::timeline`) and decoded in parallel, one host
//! per thread.

use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context};

use super::HostEvents;
use crate::capture::timeline::{self, FileHead};
use crate::decode::{decode_timeline_owned, host_name};
use crate::events::{parquet, Event};
use tls_decrypt::KeyLog;

/// One host's input: its capture files in time order, or one event file.
#[derive(Clone, Debug)]
pub struct Input {
    pub host: String,
    pub files: Vec<PathBuf>,
}

impl Input {
    /// The files, for a reader: the one file, or the first and last and how many.
    pub fn describe(&self) -> String {
        match self.files.as_slice() {
            [] => String::new(),
            [one] => one.display().to_string(),
            [first, .., last] => format!(
                "{} … {} ({} files)",
                first.display(),
                last.display(),
                self.files.len()
            ),
        }
    }
}

fn is_capture(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".jsonl") || timeline::is_capture_name(name)
}

/// What `lagtap correlate` was pointed at, with what a reader must know about it.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    pub inputs: Vec<Input>,
    /// Inputs left out, and why (a file given twice).
    pub warnings: Vec<String>,
    /// Which files were taken for which host, one line per host of several files.
    pub notes: Vec<String>,
}

/// The host an event file from `lagtap decode` names in its first (`capture`) event.
fn host_in_event_file(path: &Path) -> Option<String> {
    let f = std::fs::File::open(path).ok()?;
    let line = std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .find(|l| !l.trim().is_empty())?;
    match serde_json::from_str(&line).ok()? {
        Event::Capture { host, .. } if !host.is_empty() => Some(host),
        _ => None,
    }
}

/// An event file from `lagtap decode`, or a Parquet event dataset (a directory of
/// one or more hosts' events: `events::parquet`).
fn is_event_file(p: &Path) -> bool {
    p.to_string_lossy().ends_with(".jsonl") || parquet::is_dataset(p)
}

/// Whether two regular files hold the same bytes.
fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (ma, mb) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    if !ma.is_file() || !mb.is_file() || ma.len() != mb.len() {
        return Ok(false);
    }
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// Whether two paths name one file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// One file and the host it was given to.
struct Named {
    host: String,
    path: PathBuf,
    /// Named by `--host`, not guessed from the file.
    explicit: bool,
}

/// Leaves out a file holding the same bytes as an earlier one (the same capture
/// given twice, under another name or path), with a warning naming both.
fn drop_identical(inputs: Vec<Named>, warnings: &mut Vec<String>) -> Vec<Named> {
    let mut kept: Vec<Named> = Vec::with_capacity(inputs.len());
    for input in inputs {
        match kept
            .iter()
            .find(|k| same_bytes(&k.path, &input.path).unwrap_or(false))
        {
            Some(k) if same_file(&k.path, &input.path) => warnings.push(format!(
                "input {} is given twice: counted once, as host {}",
                k.path.display(),
                k.host
            )),
            Some(k) => warnings.push(format!(
                "inputs {} and {} hold the same bytes: the same capture given twice, \
                 counted once, as host {}",
                k.path.display(),
                input.path.display(),
                k.host
            )),
            None => kept.push(input),
        }
    }
    kept
}

/// Like [`collect`], for callers that need only the inputs: a file given twice is
/// still left out, but the warning saying so is dropped.
pub fn collect_inputs(paths: &[PathBuf], names: &[String]) -> anyhow::Result<Vec<Input>> {
    collect(paths, names).map(|c| c.inputs)
}

/// The files `paths` name: directories expanded to their capture and `.jsonl` files
/// (not recursively), in name order; a Parquet event dataset stays one path.
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() && !parquet::is_dataset(p) {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.is_file() && is_capture(f))
                .collect();
            in_dir.sort();
            if in_dir.is_empty() {
                bail!(
                    "{} holds no capture (.pcap, .pcapng, compressed or rotated) or event \
                     (.jsonl) file, and is no Parquet event dataset (no {})",
                    p.display(),
                    parquet::MARKER
                );
            }
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// `--host NAME=GLOB`: the files among `files`, or on disk, that GLOB matches.
fn apply_host_names(
    names: &[String],
    heads: &mut Vec<(Named, Option<FileHead>)>,
) -> anyhow::Result<()> {
    for n in names {
        let (name, pattern) = n
            .split_once('=')
            .with_context(|| format!("--host {n}: expected NAME=FILE or NAME=GLOB"))?;
        if name.is_empty() {
            bail!("--host {n}: the host name is empty");
        }
        let glob = glob::Pattern::new(pattern)
            .with_context(|| format!("--host {n}: not a file name pattern"))?;
        let mut matched = 0;
        for (f, _) in heads.iter_mut() {
            if f.path == Path::new(pattern) || glob.matches_path(&f.path) {
                f.host = name.to_string();
                f.explicit = true;
                matched += 1;
            }
        }
        if matched == 0 {
            // Files not among the inputs: the pattern names them on disk.
            let mut found: Vec<PathBuf> = glob::glob(pattern)
                .with_context(|| format!("--host {n}: not a file name pattern"))?
                .flatten()
                .filter(|p| p.is_file())
                .collect();
            if found.is_empty() {
                // A plain name that does not exist yet fails when it is opened.
                found.push(PathBuf::from(pattern));
            }
            for path in found {
                let head = (!is_event_file(&path)).then(|| FileHead::read(&path));
                heads.push((
                    Named {
                        host: name.to_string(),
                        path,
                        explicit: true,
                    },
                    head,
                ));
            }
        }
    }
    Ok(())
}

/// Expands directories (their capture and `.jsonl` files, not recursively), names
/// each file's host and groups a host's files into one input in time order
/// (`capture::timeline`: the name `lagtap capture` wrote inside, else the rotation
/// naming, else the file stem; `--host NAME=FILE|GLOB` overrides). An event file
/// names its host inside. A file holding the same bytes as an earlier input is left
/// out with a warning; an event file and captures of one host are an error.
pub fn collect(paths: &[PathBuf], names: &[String]) -> anyhow::Result<Collected> {
    let mut heads: Vec<(Named, Option<FileHead>)> = expand(paths)?
        .into_iter()
        .map(|path| {
            if parquet::is_dataset(&path) {
                // A dataset holds hosts: one input per host partition.
                let hosts = parquet::hosts(&path)
                    .with_context(|| format!("reading the hosts of {}", path.display()))?;
                if hosts.is_empty() {
                    bail!("{} is an event dataset without hosts", path.display());
                }
                Ok(hosts
                    .into_iter()
                    .map(|host| {
                        let path = path.clone();
                        let explicit = false;
                        (
                            Named {
                                host,
                                path,
                                explicit,
                            },
                            None,
                        )
                    })
                    .collect())
            } else if is_event_file(&path) {
                let host = host_in_event_file(&path).unwrap_or_else(|| host_name(&path));
                let explicit = false;
                Ok(vec![(
                    Named {
                        host,
                        path,
                        explicit,
                    },
                    None,
                )])
            } else {
                let head = FileHead::read(&path);
                let named = Named {
                    host: head.host.clone(),
                    path,
                    explicit: false,
                };
                Ok(vec![(named, Some(head))])
            }
        })
        .collect::<anyhow::Result<Vec<Vec<_>>>>()?
        .into_iter()
        .flatten()
        .collect();
    apply_host_names(names, &mut heads)?;
    let mut warnings = Vec::new();
    let (named, head_list): (Vec<Named>, Vec<Option<FileHead>>) = heads.into_iter().unzip();
    let mut head_of: std::collections::HashMap<PathBuf, FileHead> = head_list
        .into_iter()
        .flatten()
        .map(|h| (h.path.clone(), h))
        .collect();
    let kept = drop_identical(named, &mut warnings);
    // Hosts in the order their first file was given.
    let mut order: Vec<String> = Vec::new();
    let mut by_host: std::collections::HashMap<String, Vec<PathBuf>> = Default::default();
    for f in kept {
        match by_host.get(&f.host) {
            None => order.push(f.host.clone()),
            // Rotated files of one host sit in one directory; the same name in two
            // directories is two runs (or two hosts) unless the user says otherwise.
            Some(earlier)
                if !f.explicit && earlier.iter().any(|e| e.parent() != f.path.parent()) =>
            {
                bail!(
                    "{} and {} are both host {:?}, from different directories: name them \
                     with --host NAME=FILE (the same NAME for files of one host)",
                    earlier[0].display(),
                    f.path.display(),
                    f.host
                )
            }
            Some(_) => {}
        }
        by_host.entry(f.host).or_default().push(f.path);
    }
    let mut inputs = Vec::with_capacity(order.len());
    let mut notes = Vec::new();
    for host in order {
        let files = by_host.remove(&host).unwrap_or_default();
        let files = if files.len() > 1 {
            if files.iter().any(|f| is_event_file(f)) {
                bail!(
                    "host {host:?} has {} inputs and one is an event file: give a host one \
                     event file, or its capture files (name them with --host NAME=FILE)",
                    files.len()
                );
            }
            let mut heads: Vec<FileHead> = files
                .into_iter()
                .map(|p| head_of.remove(&p).unwrap_or_else(|| FileHead::read(&p)))
                .collect();
            timeline::order(&mut heads);
            heads.into_iter().map(|h| h.path).collect()
        } else {
            files
        };
        let input = Input { host, files };
        if input.files.len() > 1 {
            notes.push(format!("host {}: {}", input.host, input.describe()));
        }
        inputs.push(input);
    }
    Ok(Collected {
        inputs,
        warnings,
        notes,
    })
}

/// One host's events: its event file read, or its captures decoded.
fn decode_input(input: &Input, keylog: &KeyLog) -> anyhow::Result<HostEvents> {
    let events = match input.files.as_slice() {
        [one] if parquet::is_dataset(one) => parquet::read_host(one, &input.host)?,
        [one] if is_event_file(one) => read_events(one)?,
        files => {
            let mut events = Vec::new();
            decode_timeline_owned(files, &input.host, keylog, |e| {
                events.push(e);
                Ok(())
            })
            .with_context(|| format!("decoding {}", input.describe()))?
            .context("collecting events")?;
            events
        }
    };
    Ok(HostEvents {
        name: input.host.clone(),
        file: input.describe(),
        events,
    })
}

/// Reads an event file written by `lagtap decode`.
fn read_events(path: &Path) -> anyhow::Result<Vec<Event>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let e: Event = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a lagtap event", path.display(), n + 1))?;
        out.push(e);
    }
    Ok(out)
}

/// Decodes every input, in parallel on the machine's cores, showing progress on
/// stderr when it is a terminal.
pub fn decode_all(inputs: &[Input]) -> anyhow::Result<Vec<HostEvents>> {
    decode_all_with(inputs, &KeyLog::default())
}

/// The size of an input's files (0 for those that cannot be read: the decode says
/// why).
fn input_bytes(input: &Input) -> u64 {
    input
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// How much decoding an input will take, to start the costliest first: its
/// packets, estimated from the packet density of each file's first 256 KiB (a
/// host's decode costs by the packet far more than by the byte: an RTMP
/// broadcaster's small packets cost several times a viewer's full-size ones, for
/// the same file size). A file whose start is not plain pcap or pcapng (compressed,
/// an event file) counts one packet per 700 bytes.
fn input_cost(input: &Input) -> u64 {
    input
        .files
        .iter()
        .map(|f| {
            let bytes = std::fs::metadata(f).map_or(0, |m| m.len());
            match packet_density(f) {
                Some((packets, read)) if read > 0 => {
                    (bytes as u128 * packets as u128 / read as u128) as u64
                }
                _ => bytes / 700,
            }
        })
        .sum()
}

/// (packets, bytes they took) at the start of a pcap or pcapng file.
fn packet_density(path: &Path) -> Option<(u64, u64)> {
    use pcap_parser::{create_reader, PcapBlockOwned};
    const PROBE: u64 = 256 * 1024;
    let file = std::fs::File::open(path).ok()?;
    let mut reader = create_reader(PROBE as usize, std::io::Read::take(file, PROBE)).ok()?;
    let (mut packets, mut read) = (0u64, 0u64);
    // Until the end of what the reader's one fill took (enough to go by), or a
    // damaged start (the decode will say what).
    while let Ok((used, block)) = reader.next() {
        if matches!(
            block,
            PcapBlockOwned::Legacy(_)
                | PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(_))
                | PcapBlockOwned::NG(pcap_parser::Block::SimplePacket(_))
        ) {
            packets += 1;
        }
        read += used as u64;
        reader.consume(used);
    }
    (packets > 0).then_some((packets, read))
}

/// On a terminal, a bar of the capture bytes read against the inputs' sizes, with
/// rate and time left (indicatif), and the hosts done; nothing when stderr is a pipe
/// or a file, so logs stay clean.
fn progress_bar(total: u64, hosts: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "decoding {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta} left",
    )
    .ok()?
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(format!("0/{hosts} hosts"));
    Some(bar)
}

/// [`decode_all`] with TLS secrets from the `--keylog` files, for every input
/// (each capture also uses the key logs beside it and its own secrets blocks).
/// Hosts are decoded in parallel, one per thread, as many threads as cores: a
/// host's decode keeps its memory bounded on its own (events held for the reorder
/// window, flows bounded by the flow table), so memory grows with the threads, not
/// with the capture sizes.
pub fn decode_all_with(inputs: &[Input], keylog: &KeyLog) -> anyhow::Result<Vec<HostEvents>> {
    decode_all_jobs(inputs, keylog, None)
}

/// [`decode_all_with`] on at most `jobs` threads (default: one per core).
pub fn decode_all_jobs(
    inputs: &[Input],
    keylog: &KeyLog,
    jobs: Option<usize>,
) -> anyhow::Result<Vec<HostEvents>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = jobs.unwrap_or(cores).max(1).min(inputs.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<anyhow::Result<HostEvents>>>> =
        Mutex::new((0..inputs.len()).map(|_| None).collect());
    // Costliest inputs first: with one host per thread, a costly host started last
    // would leave the other cores idle while it finishes alone.
    let mut order: Vec<(u64, usize)> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| (input_cost(input), i))
        .collect();
    order.sort_by_key(|&(cost, _)| std::cmp::Reverse(cost));
    let bar = progress_bar(inputs.iter().map(input_bytes).sum(), inputs.len());
    let start = crate::capture::input::file_bytes_read();
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        if let Some(bar) = &bar {
            let finished = &finished;
            s.spawn(move || {
                while !finished.load(Ordering::Relaxed) {
                    bar.set_position(
                        crate::capture::input::file_bytes_read().saturating_sub(start),
                    );
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            });
        }
        let workers: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    while let Some(&(_, i)) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let r = decode_input(&inputs[i], keylog);
                        if let Ok(mut slots) = results.lock() {
                            slots[i] = Some(r);
                        }
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if let Some(bar) = &bar {
                            bar.set_message(format!("{n}/{} hosts", inputs.len()));
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        finished.store(true, Ordering::Relaxed);
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let slots = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a decoding thread panicked"))?;
    slots
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("a decoding thread stopped early"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian microsecond pcap of `sizes` packets (Ethernet).
    fn pcap(sizes: &[u32]) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for (i, &n) in sizes.iter().enumerate() {
            for v in [1_800_000_000u32 + i as u32, 0, n, n] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend(std::iter::repeat_n(0u8, n as usize));
        }
        b
    }

    #[test]
    fn small_packets_cost_more_than_the_same_bytes_in_large_ones() {
        let dir = std::env::temp_dir().join(format!("lagtap-cost-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = |name: &str, bytes: &[u8]| {
            let f = dir.join(name);
            std::fs::write(&f, bytes).unwrap();
            Input {
                host: name.to_string(),
                files: vec![f],
            }
        };
        // The same 600 kB: 6000 packets of 84 bytes, or 400 of 1484.
        let small = input("small.pcap", &pcap(&[84; 6000]));
        let large = input("large.pcap", &pcap(&[1484; 400]));
        let (cs, cl) = (input_cost(&small), input_cost(&large));
        assert!((5400..=6600).contains(&cs), "small: {cs}");
        assert!((360..=440).contains(&cl), "large: {cl}");
        // Not a capture at all: by its size.
        let other = input("other.jsonl", &[b'{'; 7000]);
        assert_eq!(input_cost(&other), 10);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
