//! Compressed captures as Wireshark 4.x reads them (gzip, zstd, LZ4 frame format),
//! made by the real command-line tools from the bundled captures: `lagtap decode`
//! gives the same events as on the uncompressed file, and a compressed file cut short
//! or damaged is read up to the damage and says so, never panics.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::tools;
use lagtap::capture::CaptureReader;
use lagtap::inspect::InspectHandler;
use lagtap::pipeline::run_reader;

fn temp_dir() -> PathBuf {
    common::scratch("compressed")
}

/// The bundled `captures/basic` pcap and pcapng files.
fn basic_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::repo().join("captures/basic"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

/// `program` compresses `src` to `dst` (`-c` = to standard output for all three).
fn compress(program: &str, src: &Path, dst: &Path) {
    let out = Command::new(program)
        .args(["-c", "-q"])
        .arg(src)
        .output()
        .unwrap_or_else(|e| panic!("{program} did not start: {e}"));
    assert!(
        out.status.success(),
        "{program} {} failed: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dst, out.stdout).unwrap();
}

/// `lagtap decode`'s events for `path`, with the first (`capture`) event's file, host
/// and format left out (they name the file), and the format it gave.
fn decode(path: &Path) -> (Vec<String>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .arg("decode")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "decode {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["kind"], "capture");
    let format = first["format"].as_str().unwrap().to_string();
    for k in ["file", "files", "host", "format"] {
        first.as_object_mut().unwrap().remove(k);
    }
    lines[0] = first.to_string();
    (lines, format)
}

/// (program, file extension, format suffix)
const TOOLS: [(&str, &str, &str); 3] = [
    ("gzip", "gz", "+gzip"),
    ("zstd", "zst", "+zstd"),
    ("lz4", "lz4", "+lz4"),
];

#[test]
fn zstd_lz4_and_gzip_captures_decode_as_the_uncompressed_file() {
    let dir = temp_dir();
    for (program, ext, suffix) in TOOLS {
        if !tools::require(
            program,
            &format!("{ext} captures made by the {program} tool"),
        ) {
            continue;
        }
        for plain in basic_captures() {
            let name = plain.file_name().unwrap().to_str().unwrap();
            let packed = dir.join(format!("{name}.{ext}"));
            compress(program, &plain, &packed);
            let (want, plain_format) = decode(&plain);
            let (got, format) = decode(&packed);
            assert_eq!(format, format!("{plain_format}{suffix}"), "{name}.{ext}");
            assert_eq!(got.len(), want.len(), "{name}.{ext}: events");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g, w, "{name}.{ext}: event {i}");
            }
            // Through a pipe too: magic bytes, not the name, say it is compressed.
            let piped = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "cat '{}' | '{}' inspect --json -",
                    packed.display(),
                    env!("CARGO_BIN_EXE_lagtap")
                ))
                .output()
                .unwrap();
            assert!(piped.status.success());
            let v: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
            assert_eq!(v["files"][0]["format"], format.as_str());
            let _ = std::fs::remove_file(&packed);
        }
    }
}

fn program_name(ext: &str) -> &str {
    TOOLS.iter().find(|t| t.1 == ext).map_or("", |t| t.0)
}

/// Reads `bytes` (written to a file) through the whole inspect pipeline.
/// Damage before the capture header is an error opening the file, with its message.
fn inspect_bytes(path: &Path, bytes: &[u8]) -> Result<(u64, lagtap::anomalies::Anomalies), String> {
    std::fs::write(path, bytes).unwrap();
    let reader = CaptureReader::open(path).map_err(|e| e.to_string())?;
    let run = run_reader(reader, InspectHandler::default());
    Ok((run.info.packets, run.anomalies))
}

#[test]
fn compressed_captures_cut_short_or_damaged_are_read_up_to_the_damage_and_counted() {
    let dir = temp_dir();
    let plain = basic_captures()
        .into_iter()
        .min_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut whole_packets = 0;
    {
        let mut r = CaptureReader::open(&plain).unwrap();
        r.for_each_packet(|_| whole_packets += 1);
    }
    for (program, ext, _) in TOOLS {
        if !tools::require(program, &format!("{ext} captures cut short")) {
            continue;
        }
        let packed = dir.join(format!("whole.{ext}"));
        compress(program, &plain, &packed);
        let bytes = std::fs::read(&packed).unwrap();
        let target = dir.join(format!("damaged.{ext}"));
        let (n, a) = inspect_bytes(&target, &bytes).unwrap();
        assert_eq!(n, whole_packets, "{ext}: whole file");
        assert!(a.get("compressed_stream_truncated") == 0, "{ext}: {a:?}");
        for frac in [2usize, 3, 5, 10, 50] {
            let cut = bytes.len() * (frac - 1) / frac;
            // lz4 decodes whole blocks (64 KiB to 4 MiB): a cut inside the first one
            // leaves no bytes at all, an error saying the stream was cut short.
            let (n, a) = match inspect_bytes(&target, &bytes[..cut]) {
                Ok(r) => r,
                Err(e) => {
                    assert!(e.contains("cut short"), "{ext} cut at {cut}: {e}");
                    continue;
                }
            };
            assert!(n < whole_packets, "{ext} cut at {cut}: {n} packets");
            assert_eq!(
                a.get("compressed_stream_truncated"),
                1,
                "{ext} cut at {cut}: {a:?}"
            );
            assert!(
                a.get("truncated_file") + a.get("corrupt_block") <= 1,
                "{ext} cut at {cut}: {a:?}"
            );
        }
        // Flipped bytes in the compressed data: read as far as it goes, counted.
        let mut next = 0x2545_f491_4f6c_dd1du64;
        for round in 0..8 {
            let mut v = bytes.clone();
            for _ in 0..4 {
                next ^= next << 13;
                next ^= next >> 7;
                next ^= next << 17;
                let at = 32 + (next % (v.len() as u64 - 32)) as usize;
                v[at] ^= 1 << (next % 8);
            }
            let a = match inspect_bytes(&target, &v) {
                Ok((_, a)) => a,
                Err(e) => {
                    assert!(
                        e.contains(program_name(ext)),
                        "{ext} damaged ({round}): {e}"
                    );
                    continue;
                }
            };
            // Each format checks its data (gzip's CRC-32, the zstd and lz4 tools'
            // content checksums), so the damage is seen by the decoder if the capture's
            // own structure did not stop reading before.
            let said = a.get("compressed_stream_corrupt")
                + a.get("compressed_stream_truncated")
                + a.get("corrupt_block")
                + a.get("oversized_block")
                + a.get("truncated_file");
            assert!(said > 0, "{ext} damaged ({round}): {a:?}");
        }
        // Just the magic and a few header bytes.
        // Just the magic and a few header bytes: an error that says so.
        for cut in [4, 5, 10, 20] {
            std::fs::write(&target, &bytes[..cut]).unwrap();
            let err = CaptureReader::open(&target).err().map(|e| e.to_string());
            let err = err.unwrap_or_else(|| panic!("{ext} cut at {cut}: opened"));
            assert!(
                err.contains(program_name(ext)) && err.contains("cut short"),
                "{ext} cut at {cut}: {err}"
            );
        }
    }
}
