//! Bad input never panics: truncated copies of real captures, flipped bytes, random
//! bytes. A damaged file gives a clear error or counted anomalies, and everything
//! before the damage is still decoded.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use lagtap::capture::CaptureReader;
use lagtap::inspect::InspectHandler;
use lagtap::pipeline::run_reader;

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn temp(name: &str) -> PathBuf {
    let dir = common::scratch("bad");
    dir.join(name)
}

/// Runs the whole inspect pipeline over `bytes`; returns packets read and anomalies,
/// or the open error's message.
fn inspect_bytes(bytes: &[u8]) -> Result<(u64, lagtap::anomalies::Anomalies), String> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = temp(&format!("input-{n}.bin"));
    std::fs::write(&p, bytes).unwrap();
    let reader = CaptureReader::open(&p).map_err(|e| {
        let _ = std::fs::remove_file(&p);
        e.to_string()
    })?;
    let run = run_reader(reader, InspectHandler::default());
    let _ = std::fs::remove_file(&p);
    Ok((run.info.packets, run.anomalies))
}

/// The bundled captures, bounded in size so the test stays quick.
fn samples() -> Vec<PathBuf> {
    let all = bundled_captures();
    assert!(!all.is_empty(), "captures/ holds no capture");
    let mut small: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".gz"))
        .collect();
    small.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    small.truncate(4);
    small
}

fn packets_in(path: &Path) -> u64 {
    let mut r = CaptureReader::open(path).unwrap();
    r.for_each_packet(|_| {});
    r.info.packets
}

#[test]
fn truncated_copies_of_real_captures_are_read_up_to_the_cut() {
    for path in samples() {
        let bytes = std::fs::read(&path).unwrap();
        let whole = packets_in(&path);
        let mut last_packets = 0;
        let cuts: Vec<usize> = (1..=40)
            .map(|i| bytes.len() * i / 41)
            .chain([1, 3, 23, 24, 25, 40, 100])
            .collect();
        let mut sorted = cuts.clone();
        sorted.sort();
        for cut in sorted {
            match inspect_bytes(&bytes[..cut]) {
                Ok((packets, _anomalies)) => {
                    assert!(packets <= whole);
                    assert!(
                        packets >= last_packets,
                        "{}: a longer prefix yields no fewer packets",
                        path.display()
                    );
                    last_packets = packets;
                }
                Err(msg) => assert!(cut < 200, "{}: cut at {cut} refused: {msg}", path.display()),
            }
        }
        // A cut inside the last block is reported as a truncated file (in pcapng the
        // last block may be interface statistics rather than a packet).
        let (packets, anomalies) = inspect_bytes(&bytes[..bytes.len() - 3]).unwrap();
        assert!(
            packets == whole - 1 || packets == whole,
            "{}",
            path.display()
        );
        assert_eq!(
            anomalies.get("truncated_file"),
            1,
            "{}: {:?}",
            path.display(),
            anomalies
        );
    }
}

#[test]
fn flipped_bytes_in_real_captures_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for path in samples() {
        let orig = std::fs::read(&path).unwrap();
        for _round in 0..12 {
            let mut bytes = orig.clone();
            for _ in 0..(bytes.len() / 500).max(4) {
                let at = (rng.next() % bytes.len() as u64) as usize;
                bytes[at] = rng.next() as u8;
            }
            let _ = inspect_bytes(&bytes);
        }
    }
}

#[test]
fn decoding_damaged_real_captures_never_panics_and_still_reports() {
    let mut rng = Rng(0x5eed_1e55);
    for path in samples() {
        let orig = std::fs::read(&path).unwrap();
        // LAGTAP_DAMAGE_ROUNDS=N runs a longer campaign locally.
        let rounds: u32 = std::env::var("LAGTAP_DAMAGE_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(6);
        for round in 0..rounds {
            let mut bytes = orig.clone();
            // Flip bytes after the file header, so packets (and their payloads)
            // rather than the header take the damage.
            for _ in 0..(bytes.len() / 2000).max(4) {
                let at = 64 + (rng.next() % (bytes.len() as u64 - 64)) as usize;
                bytes[at] = rng.next() as u8;
            }
            // Every other round also cuts the file short.
            if round % 2 == 1 {
                let cut = bytes.len() / 2 + (rng.next() % (bytes.len() as u64 / 2)) as usize;
                bytes.truncate(cut);
            }
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = temp(&format!("damaged-{n}.pcap"));
            std::fs::write(&p, &bytes).unwrap();
            if let Ok(d) = lagtap::decode::decode_file(&p, "damaged") {
                assert!(
                    matches!(d.events.last(), Some(lagtap::events::Event::Summary { .. })),
                    "{}: a damaged copy still ends with its summary",
                    path.display()
                );
            }
            let _ = std::fs::remove_file(&p);
        }
    }
}

#[test]
fn random_bytes_are_refused_with_a_clear_message() {
    let mut rng = Rng(42);
    for len in [0usize, 1, 7, 24, 100, 4096, 100_000] {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        match inspect_bytes(&bytes) {
            Err(msg) => assert!(
                msg.contains("not a pcap or pcapng")
                    || msg.contains("is empty")
                    || msg.contains("capture header"),
                "unclear message: {msg}"
            ),
            Ok((packets, _)) => assert_eq!(packets, 0),
        }
    }
}

#[test]
fn a_pcap_header_followed_by_garbage_is_read_as_far_as_it_goes() {
    let mut rng = Rng(7);
    let mut bytes = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];
    bytes.extend((0..10_000).map(|_| rng.next() as u8));
    // Whatever the garbage declares, the reader neither panics nor allocates its
    // declared lengths; the damage is counted.
    let (_packets, anomalies) = inspect_bytes(&bytes).unwrap();
    assert!(!anomalies.is_empty());
}

#[test]
fn the_command_line_says_what_is_wrong_and_exits_non_zero() {
    let p = temp("notes.txt");
    std::fs::write(&p, b"these are my lab notes, not a capture\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .args(["inspect", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a pcap or pcapng capture"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .args(["inspect", "/nonexistent/x.pcap"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open /nonexistent/x.pcap"));
}
