//! What `lagtap correlate` is pointed at: capture files, directories of them, or
//! event files written by `lagtap decode`; decoded in parallel, one host per file.

use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context};

use super::HostEvents;
use crate::decode::{decode_file_with, host_name};
use crate::events::Event;
use tls_decrypt::KeyLog;

/// One host's input.
#[derive(Clone, Debug)]
pub struct Input {
    pub host: String,
    pub path: PathBuf,
}

fn is_capture(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [
        ".pcap",
        ".pcapng",
        ".cap",
        ".pcap.gz",
        ".pcapng.gz",
        ".pcap.zst",
        ".pcapng.zst",
        ".pcap.lz4",
        ".pcapng.lz4",
        ".jsonl",
    ]
    .iter()
    .any(|s| name.ends_with(s))
}

/// What `lagtap correlate` was pointed at, with what a reader must know about it.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    pub inputs: Vec<Input>,
    /// Inputs left out, and why (a file given twice).
    pub warnings: Vec<String>,
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

fn is_event_file(p: &Path) -> bool {
    p.to_string_lossy().ends_with(".jsonl")
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

/// Leaves out an input whose file holds the same bytes as an earlier one (the same
/// capture given twice, under another name or path), with a warning naming both.
fn drop_identical(inputs: Vec<Input>, warnings: &mut Vec<String>) -> Vec<Input> {
    let mut kept: Vec<Input> = Vec::with_capacity(inputs.len());
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

/// Expands directories (their capture and `.jsonl` files, not recursively) and
/// applies `--host NAME=FILE` names; other hosts are named by the host an event file
/// names inside, else by file stem. A file holding the same bytes as an earlier
/// input is left out with a warning; two different inputs of one name are an error.
pub fn collect(paths: &[PathBuf], names: &[String]) -> anyhow::Result<Collected> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.is_file() && is_capture(f))
                .collect();
            in_dir.sort();
            if in_dir.is_empty() {
                bail!(
                    "{} holds no capture (.pcap, .pcapng, .pcap.gz) or event (.jsonl) file",
                    p.display()
                );
            }
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    let mut inputs: Vec<Input> = files
        .into_iter()
        .map(|path| Input {
            host: is_event_file(&path)
                .then(|| host_in_event_file(&path))
                .flatten()
                .unwrap_or_else(|| host_name(&path)),
            path,
        })
        .collect();
    for n in names {
        let (name, file) = n
            .split_once('=')
            .with_context(|| format!("--host {n}: expected NAME=FILE"))?;
        let file = PathBuf::from(file);
        match inputs.iter_mut().find(|i| i.path == file) {
            Some(i) => i.host = name.to_string(),
            None => inputs.push(Input {
                host: name.to_string(),
                path: file,
            }),
        }
    }
    let mut warnings = Vec::new();
    let inputs = drop_identical(inputs, &mut warnings);
    let mut seen = std::collections::BTreeSet::new();
    for i in &inputs {
        if !seen.insert(i.host.clone()) {
            bail!(
                "two inputs are both named host {:?}: name them with --host NAME=FILE",
                i.host
            );
        }
    }
    Ok(Collected { inputs, warnings })
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

/// [`decode_all`] with TLS secrets from the `--keylog` files, for every input
/// (each capture also uses the key logs beside it and its own secrets blocks).
pub fn decode_all_with(inputs: &[Input], keylog: &KeyLog) -> anyhow::Result<Vec<HostEvents>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(inputs.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<anyhow::Result<HostEvents>>>> =
        Mutex::new((0..inputs.len()).map(|_| None).collect());
    let progress = std::io::stderr().is_terminal();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(input) = inputs.get(i) else { break };
                let events = if is_event_file(&input.path) {
                    read_events(&input.path)
                } else {
                    decode_file_with(&input.path, &input.host, keylog)
                        .map(|d| d.events)
                        .with_context(|| format!("decoding {}", input.path.display()))
                };
                let r = events.map(|events| HostEvents {
                    name: input.host.clone(),
                    file: input.path.display().to_string(),
                    events,
                });
                if let Ok(mut slots) = results.lock() {
                    slots[i] = Some(r);
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if progress {
                    eprint!(
                        "\rdecoded {n}/{} captures ({})\x1b[K",
                        inputs.len(),
                        input.host
                    );
                }
            });
        }
    });
    if progress {
        eprintln!();
    }
    let slots = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a decoding thread panicked"))?;
    slots
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("a decoding thread stopped early"))))
        .collect()
}
