//! Every capture format lagtap reads gives the same packets, the same nanosecond
//! times and the same flows: pcap in both byte orders and both resolutions, pcapng
//! with several sections and interfaces of different link types, `if_tsresol` and
//! `if_tsoffset`, section comments, gzip, and standard input.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::write::*;
use common::StreamCollector;
use lagtap::capture::CaptureReader;
use lagtap::pipeline::run_file;

const BASE_NS: i64 = 1_764_000_000_123_456_789;

/// A short HTTP-like conversation: handshake, request, response in two segments, FIN.
fn conversation(link_type: u16, start_ns: i64) -> Vec<Frame> {
    let c = ([10, 77, 0, 2], 40000);
    let s = ([10, 77, 0, 1], 80);
    let pkts = vec![
        ipv4_tcp(c, s, 100, "S", b""),
        ipv4_tcp(s, c, 500, "SA", b""),
        ipv4_tcp(c, s, 101, "A", b"GET /hls/a.m3u8 HTTP/1.1\r\n\r\n"),
        ipv4_tcp(s, c, 501, "A", b"HTTP/1.1 200 OK\r\n"),
        ipv4_tcp(s, c, 518, "A", b"Content-Length: 0\r\n\r\n"),
        ipv4_tcp(c, s, 129, "FA", b""),
        ipv4_tcp(s, c, 539, "FA", b""),
    ];
    pkts.into_iter()
        .enumerate()
        .map(|(i, ip)| Frame {
            ts_ns: start_ns + i as i64 * 1_000_001,
            link_type: if link_type == 0xffff { 1 } else { link_type },
            data: frame(link_type, &ip),
        })
        .collect()
}

fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = common::scratch("formats");
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Packet times as lagtap read them.
fn times(path: &std::path::Path) -> Vec<i64> {
    let mut r = CaptureReader::open(path).expect("opens");
    let mut out = Vec::new();
    r.for_each_packet(|p| out.push(p.ts.0));
    assert!(
        r.anomalies.is_empty(),
        "{}: {:?}",
        path.display(),
        r.anomalies
    );
    out
}

fn streams(path: &std::path::Path) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let run = run_file(path, StreamCollector::default()).expect("opens");
    run.handler
        .flows
        .values()
        .map(|f| (f.client.clone(), f.bytes[0].clone(), f.bytes[1].clone()))
        .collect()
}

#[test]
fn classic_pcap_in_both_byte_orders_and_resolutions_reads_the_same() {
    let frames = conversation(1, BASE_NS);
    let expected: Vec<i64> = frames.iter().map(|f| f.ts_ns).collect();
    let micro: Vec<i64> = expected.iter().map(|t| t - t.rem_euclid(1000)).collect();
    for (be, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
        let p = write_temp(
            &format!("conv-{be}-{nanos}.pcap"),
            &pcap(&frames, be, nanos, 65535),
        );
        assert_eq!(
            times(&p),
            if nanos {
                expected.clone()
            } else {
                micro.clone()
            },
            "be={be} nanos={nanos}"
        );
        let s = streams(&p);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, "10.77.0.2:40000");
        assert_eq!(s[0].1, b"GET /hls/a.m3u8 HTTP/1.1\r\n\r\n");
        assert_eq!(s[0].2, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
}

#[test]
fn every_supported_link_type_yields_the_same_stream() {
    for lt in [1u16, 0xffff, 113, 276, 101, 228, 0, 108] {
        let frames = conversation(lt, BASE_NS);
        let p = write_temp(
            &format!("link-{lt}.pcap"),
            &pcap(&frames, false, true, 65535),
        );
        let s = streams(&p);
        assert_eq!(s.len(), 1, "link type {lt}");
        assert_eq!(
            s[0].2, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            "link type {lt}"
        );
    }
}

#[test]
fn pcapng_sections_interfaces_resolutions_offsets_and_comments_are_honoured() {
    // Section 1: Ethernet with nanosecond resolution, and SLL2 with 2^-20 s units.
    let if1 = [
        NgInterface {
            link_type: 1,
            tsresol: 9,
            tsoffset: 0,
        },
        NgInterface {
            link_type: 276,
            tsresol: 0x80 | 20,
            tsoffset: 0,
        },
    ];
    let a = conversation(1, BASE_NS);
    let b = conversation(276, BASE_NS + 500_000_000);
    let mut pk1: Vec<(u32, Frame)> = a.iter().cloned().map(|f| (0, f)).collect();
    pk1.extend(b.iter().cloned().map(|f| (1, f)));
    // Section 2: raw IPv4, microseconds, timestamps relative to an if_tsoffset.
    let if2 = [NgInterface {
        link_type: 228,
        tsresol: 6,
        tsoffset: 1_764_000_000,
    }];
    let c = conversation(228, BASE_NS + 2_000_000_000);
    let pk2: Vec<(u32, Frame)> = c.iter().cloned().map(|f| (0, f)).collect();
    let mut file = pcapng_section("host=viewer1 role=viewer", &if1, &pk1);
    file.extend(pcapng_section("second section", &if2, &pk2));
    let p = write_temp("multi.pcapng", &file);

    let mut r = CaptureReader::open(&p).unwrap();
    let mut got = Vec::new();
    let mut lens = Vec::new();
    r.for_each_packet(|pk| {
        got.push((pk.ts.0, pk.link_type.0));
        lens.push(pk.data.len());
    });
    // Block padding to 32 bits is not packet data.
    let expected_lens: Vec<usize> = pk1
        .iter()
        .chain(pk2.iter())
        .map(|(_, f)| f.data.len())
        .collect();
    assert_eq!(lens, expected_lens);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    assert_eq!(r.info.format, "pcapng");
    assert_eq!(r.info.sections, 2);
    assert_eq!(
        r.info.comments,
        vec!["host=viewer1 role=viewer", "second section"]
    );
    let lts: Vec<&str> = r.info.link_types.iter().map(|s| s.as_str()).collect();
    assert_eq!(lts, vec!["EN10MB", "IPV4", "LINUX_SLL2"]);
    assert_eq!(got.len(), 21);
    // Nanoseconds exact; 2^-20 s units within one unit (< 1 µs); µs exact to the µs.
    for (i, f) in a.iter().enumerate() {
        assert_eq!(got[i], (f.ts_ns, 1));
    }
    for (i, f) in b.iter().enumerate() {
        let (t, lt) = got[7 + i];
        assert_eq!(lt, 276);
        assert!(
            (t - f.ts_ns).abs() < 1_000,
            "2^-20 resolution: {t} vs {}",
            f.ts_ns
        );
    }
    for (i, f) in c.iter().enumerate() {
        assert_eq!(got[14 + i].0, f.ts_ns - f.ts_ns.rem_euclid(1000));
    }
    assert_eq!(streams(&p).len(), 3);
}

#[test]
fn gzip_compressed_captures_are_read_transparently() {
    let frames = conversation(1, BASE_NS);
    let raw = pcap(&frames, false, true, 65535);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let p = write_temp("conv.pcap.gz", &gz.finish().unwrap());
    let plain = write_temp("conv-plain.pcap", &raw);
    assert_eq!(times(&p), times(&plain));
    let r = CaptureReader::open(&p).unwrap();
    assert!(r.info.format.is_empty()); // filled while reading
    let report = lagtap::inspect::inspect_file(&p).unwrap();
    assert_eq!(report.format, "pcap-nsec+gzip");
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let frames = conversation(1, BASE_NS);
    let raw = pcap(&frames, false, false, 65535);
    let mut child = Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .args(["inspect", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"][0]["packets"], 7);
    assert_eq!(v["files"][0]["flows"][0]["protocol"], "http");
    assert_eq!(v["files"][0]["flows"][0]["c2s_bytes"], 28);
}

#[test]
fn snaplen_cut_packets_are_counted_and_the_missing_bytes_are_a_gap() {
    let frames = conversation(1, BASE_NS);
    // 14 Ethernet + 20 IP + 20 TCP + 10 payload bytes kept.
    let p = write_temp("cut.pcap", &pcap(&frames, false, true, 64));
    let run = run_file(&p, StreamCollector::default()).unwrap();
    assert_eq!(run.anomalies.get("snaplen_cut"), 3);
    let f = run.handler.flows.values().next().unwrap();
    assert_eq!(f.bytes[0], b"GET /hls/a");
    assert_eq!(f.gaps[0], vec![(10, 18)]);
}
