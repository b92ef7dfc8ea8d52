//! Runs the bodies of lagtap's fuzz targets (`lagtap::fuzzing::capture` and
//! `decode`, driven by `fuzz/`) over their seeds and over deterministic mutations
//! of them, so every `cargo test` checks on stable what the fuzzer checks. Inputs
//! the fuzzer found are kept below as named tests, under
//! `tests/data/fuzz-regressions/`.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use lagtap::capture::CaptureReader;
use lagtap::fuzzing;
use lagtap::link::{self, Transport};

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|f| {
            let path = f.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 4, "{} holds too few seeds", dir.display());
    out
}

/// Deterministic pseudo-random numbers without a generator of our own: std's
/// `DefaultHasher::new()` has fixed keys, so hashing a counter gives the same
/// sequence on every run of the same toolchain.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        let mut h = DefaultHasher::new();
        self.0.hash(&mut h);
        h.finish()
    }

    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Damage that matters to a capture: a 32-bit field (a record's or block's
/// length, a time, a link type) set to an edge value, a byte changed, a range cut
/// out or repeated (a record lost or duplicated), the file cut short, or another
/// control byte (other framing, link type, key log, read pieces).
fn damage(rng: &mut Rng, v: &mut Vec<u8>) {
    for _ in 0..=rng.pick(5) {
        let len = v.len();
        if len < 8 {
            v.push(rng.next() as u8);
            continue;
        }
        let at = rng.pick(len - 4);
        match rng.pick(7) {
            0 => {
                let edge = [0u32, 1, 0xffff, 0x1_0000, 0x7fff_ffff, 0xffff_ffff];
                let word = edge[rng.pick(edge.len())].wrapping_add(rng.pick(3) as u32);
                v[at..at + 4].copy_from_slice(&word.to_le_bytes());
            }
            1 => v[at] = rng.next() as u8,
            2 => {
                let n = 1 + rng.pick((len - at).min(200));
                v.drain(at..at + n);
            }
            3 => {
                let n = 1 + rng.pick((len - at).min(600));
                let copy = v[at..at + n].to_vec();
                let to = rng.pick(len);
                v.splice(to..to, copy);
            }
            4 => v.truncate(1 + rng.pick(len)),
            5 => v[0] = rng.next() as u8,
            _ => v[at] ^= 0x80,
        }
    }
}

fn mutations(target: &str, run: fn(&[u8]), rounds: usize, seed: u64) {
    let seeds = seeds(target);
    for (_, bytes) in &seeds {
        run(bytes);
    }
    let mut rng = Rng(seed);
    for _ in 0..rounds {
        let (_, bytes) = &seeds[rng.pick(seeds.len())];
        // Prefixes keep a debug build quick; whole records are cut anyway by damage.
        let mut v = bytes[..bytes.len().min(1500 + rng.pick(8000))].to_vec();
        damage(&mut rng, &mut v);
        run(&v);
    }
}

#[test]
fn capture_body_survives_its_seeds_and_mutations_of_them() {
    mutations("capture", fuzzing::capture, 1000, 0xca97_04e5);
}

#[test]
fn decode_body_survives_its_seeds_and_mutations_of_them() {
    mutations("decode", fuzzing::decode, 1000, 0xdec0_de15);
}

/// The decode seeds are real traffic: most of them must give events beyond the
/// `capture` and `summary` lines, or the fuzzer would start outside the parsers.
#[test]
fn decode_seeds_reach_the_parsers() {
    let seeds = seeds("decode");
    let mut reaching = 0;
    for (path, bytes) in &seeds {
        let (&control, rest) = bytes.split_first().unwrap();
        let file = std::env::temp_dir().join(format!(
            "lagtap-fuzz-seed-{}-{}.pcap",
            std::process::id(),
            path.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&file, fuzzing::file(control, rest)).unwrap();
        let decoded = lagtap::decode::decode_file(&file, "seed").unwrap();
        std::fs::remove_file(&file).unwrap();
        if decoded.events.len() > 2 {
            reaching += 1;
        }
    }
    assert!(
        reaching * 4 >= seeds.len() * 3,
        "{reaching} of {} seeds give events",
        seeds.len()
    );
}

/// The largest seed `write_fuzz_seeds` cuts: seeds are committed, so they are kept
/// small, and the campaign's `-max_len` is above it.
const SEED_BYTES: usize = 14_000;

/// A flow's server port, its first packets (time, bytes, original length) and
/// their size as records.
type Flow = (u16, Vec<(i64, Vec<u8>, u32)>, usize);

/// Writes `fuzz/seeds/capture` and `fuzz/seeds/decode` from the bundled captures.
/// Run explicitly: `cargo test --test fuzz_body -- --ignored write_fuzz_seeds`.
///
/// Decode seeds: per capture, the first packets of the first flow on each server
/// port (one RTMP publish or play, one HLS fetch, one chat connection, one NTP
/// exchange, one TLS connection with the key-log bit set), framed as pcap records
/// after a control byte naming the capture's link type. Capture seeds: the first
/// bytes of a few files whole (pcap, pcapng), and records in each framing.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("fuzz/seeds");
    for t in ["capture", "decode"] {
        let dir = out.join(t);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
    }
    for name in [
        "basic/broadcaster.pcap",
        "basic/desktop.pcap",
        "basic/mobile.pcapng",
        "basic/server.pcap",
        "switch/switcher.pcap",
        "tls/broadcaster.pcap",
        "tls/desktop.pcap",
        "tls/mobile.pcap",
    ] {
        let path = root.join("captures").join(name);
        let stem = name.replace(['/', '.'], "-");
        let whole = std::fs::read(&path).unwrap();
        let tls = name.starts_with("tls/");
        // Packets by flow, each flow's first packets only, in file order.
        let mut flows: Vec<Flow> = Vec::new();
        let mut control = None;
        let mut reader = CaptureReader::open(&path).unwrap();
        reader.for_each_packet(|p| {
            let Some(bits) = fuzzing::link_type_bits(p.link_type) else {
                return;
            };
            control.get_or_insert(1 | bits | if tls { 0x20 } else { 0 });
            let port = match link::decode(p.link_type, p.data) {
                Ok(Transport::Tcp(t)) => t.src.port().min(t.dst.port()),
                Ok(Transport::Udp(u)) => u.src.port().min(u.dst.port()),
                _ => return,
            };
            let flow = match flows.iter_mut().find(|f| f.0 == port) {
                Some(f) => f,
                None => {
                    flows.push((port, Vec::new(), 0));
                    flows.last_mut().unwrap()
                }
            };
            if flow.2 + p.data.len() + 16 <= SEED_BYTES {
                flow.2 += p.data.len() + 16;
                flow.1.push((p.ts.0, p.data.to_vec(), p.orig_len));
            } else {
                // The flow is full: later packets would only arrive after a gap.
                flow.2 = SEED_BYTES;
            }
        });
        let control = control.expect("a link type the fuzz header can carry");
        for (port, packets, _) in flows.iter().filter(|f| f.1.len() >= 3).take(5) {
            let records: Vec<_> = packets.iter().map(|(t, d, l)| (*t, &d[..], *l)).collect();
            let seed = fuzzing::seed(control, &records);
            std::fs::write(out.join(format!("decode/{stem}-{port}")), seed).unwrap();
        }
        // The capture reader: the file's start as it is (framing 0), and its first
        // packets as records of a pcap header (1) read in 13-byte pieces.
        let head = [&[0u8][..], &whole[..whole.len().min(3000)]].concat();
        std::fs::write(out.join(format!("capture/{stem}-file")), head).unwrap();
        if let Some((_, packets, _)) = flows.first() {
            let records: Vec<_> = packets
                .iter()
                .take(8)
                .map(|(t, d, l)| (*t, &d[..], *l))
                .collect();
            let seed = fuzzing::seed((control & 0x1c) | 1 | 0x40, &records);
            std::fs::write(out.join(format!("capture/{stem}-records")), seed).unwrap();
        }
    }
}

fn regression(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz-regressions")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A reader handing over one byte per call, as a slow pipe may.
struct Trickle(std::io::Cursor<Vec<u8>>);

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

/// Packets (time, bytes) and anomalies of a capture's bytes fed through `raw`.
fn read_all(raw: Box<dyn std::io::Read + Send>) -> (Vec<(i64, Vec<u8>)>, String) {
    let input = lagtap::capture::input::from_reader(raw).unwrap();
    let mut r = CaptureReader::from_input(input, "test").unwrap();
    let mut packets = Vec::new();
    r.for_each_packet(|p| packets.push((p.ts.0, p.data.to_vec())));
    (packets, format!("{:?}", r.anomalies))
}

/// Found by the mutation test of the capture body in its first run: pcap-parser
/// reads a file's first bytes once and took a header cut by that read for no
/// capture at all ("cannot read the capture header: Incomplete(3)"), so a pipe or
/// decompressor handing over a few bytes at a time made a good file unreadable.
#[test]
fn fuzz_regression_a_capture_header_arriving_in_pieces_is_read() {
    fuzzing::capture(&regression("capture-header-in-pieces"));
    // The same on real files a byte per read: a pcap header, and a pcapng section
    // header block.
    for name in ["basic/desktop.pcap", "basic/mobile.pcapng"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name);
        let bytes = std::fs::read(&path).unwrap();
        let bytes = bytes[..bytes.len().min(120_000)].to_vec();
        let whole = read_all(Box::new(std::io::Cursor::new(bytes.clone())));
        let trickled = read_all(Box::new(Trickle(std::io::Cursor::new(bytes))));
        assert!(whole.0.len() > 20, "{name}: {} packets", whole.0.len());
        assert_eq!(whole, trickled, "{name}");
    }
}

/// Found by the same test next: a record at the end of a file declaring 2 GB
/// counted as `truncated_file` when the file was read whole, as `oversized_block`
/// when it arrived a byte at a time (the buffer was grown up to its limit after
/// every short read instead of being filled first). Now both say the file ends
/// inside the record.
#[test]
fn fuzz_regression_a_huge_record_at_the_end_is_a_truncated_file_however_it_arrives() {
    let input = regression("capture-oversized-record-in-pieces");
    fuzzing::capture(&input);
    let file = fuzzing::file(input[0], &input[1..]);
    for raw in [
        Box::new(std::io::Cursor::new(file.clone())) as Box<dyn std::io::Read + Send>,
        Box::new(Trickle(std::io::Cursor::new(file.clone()))),
    ] {
        let (packets, anomalies) = read_all(raw);
        assert_eq!(packets.len(), 1);
        assert_eq!(anomalies, r#"Anomalies({"truncated_file": 1})"#);
    }
}

/// Found by the capture target in its first 30 s (with overflow checks): a pcapng
/// process information block declaring 4 to 11 bytes made pcap-parser 0.17 subtract
/// 12 from its length, a panic with overflow checks and a 4 GB block without. The
/// reader now counts any block shorter than the 12 bytes of its frame as corrupt
/// before pcap-parser sees it, and stops there as for other corrupt blocks.
#[test]
fn fuzz_regression_a_runt_pcapng_block_is_corrupt() {
    fuzzing::capture(&regression("capture-pcapng-runt-process-information-block"));
    // A section header, an interface, then a process information block (type
    // 0x80000001) declaring 8 bytes.
    let mut file = fuzzing::file(2, &[]);
    file.extend(0x8000_0001u32.to_le_bytes());
    file.extend(8u32.to_le_bytes());
    file.extend([0; 8]);
    let (packets, anomalies) = read_all(Box::new(std::io::Cursor::new(file)));
    assert!(packets.is_empty());
    assert_eq!(anomalies, r#"Anomalies({"corrupt_block": 1})"#);
}

/// Found by the decode target in its first 30 s: an IPv6 packet whose chain of
/// extension headers ends in a header naming another one that is not there made
/// etherparse 0.21's extension iterator read past the end of its slice (an
/// `unsafe` precondition check fired; without it, an out-of-bounds read). The
/// link layer now walks the chain with checked slices.
#[test]
fn fuzz_regression_an_ipv6_extension_chain_cut_short_is_read_safely() {
    fuzzing::decode(&regression("decode-ipv6-extension-chain-cut-short"));
    // IPv6 (next header: hop-by-hop) + hop-by-hop (next header: destination
    // options, 8 bytes) + 4 bytes of a destination options header.
    let mut packet = vec![0x60, 0, 0, 0, 0, 12, 0, 64];
    packet.extend([0xfe, 0x80].iter().chain(&[0; 13]).chain(&[1]));
    packet.extend([0xfe, 0x80].iter().chain(&[0; 13]).chain(&[2]));
    packet.extend([60, 0, 1, 4, 0, 0, 0, 0]);
    packet.extend([6, 0, 0, 0]);
    let got = link::decode(pcap_parser::Linktype(101), &packet);
    assert!(!matches!(got, Ok(Transport::Fragment(_))), "{got:?}");
}

/// Found by the decode target after 380 000 executions: an RTMP metadata number
/// (31.250000029802322, an AMF double) written in a `decode` line read back one unit
/// in the last place off (31.25000002980232), because serde_json's default float
/// parser is not exact; `correlate` reading the `.jsonl` got another number than
/// `decode` measured. lagtap now enables serde_json's `float_roundtrip`.
#[test]
fn fuzz_regression_a_float_in_a_decode_line_reads_back_exactly() {
    fuzzing::decode(&regression("decode-float-read-back"));
    let x = f64::from_bits(0x403f_4000_0080_0000);
    let line = serde_json::to_string(&x).unwrap();
    assert_eq!(line, "31.250000029802322");
    let back: f64 = serde_json::from_str(&line).unwrap();
    assert_eq!(back.to_bits(), x.to_bits());
}
