//! What `lagtap correlate` is pointed at: capture files, directories of them, or
//! event files written by `lagtap decode`; decoded in parallel, one host per file.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context};

use super::HostEvents;
use crate::decode::{decode_file, host_name};
use crate::events::Event;

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
        ".jsonl",
    ]
    .iter()
    .any(|s| name.ends_with(s))
}

/// Expands directories (their capture and `.jsonl` files, not recursively) and
/// applies `--host NAME=FILE` names; other hosts are named by file stem.
pub fn collect_inputs(paths: &[PathBuf], names: &[String]) -> anyhow::Result<Vec<Input>> {
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
            host: host_name(&path),
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
    let mut seen = std::collections::BTreeSet::new();
    for i in &inputs {
        if !seen.insert(i.host.clone()) {
            bail!(
                "two inputs are both named host {:?}: name them with --host NAME=FILE",
                i.host
            );
        }
    }
    Ok(inputs)
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
                let events = if input.path.to_string_lossy().ends_with(".jsonl") {
                    read_events(&input.path)
                } else {
                    decode_file(&input.path, &input.host)
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
