//! Captures from other projects' test suites (`tests/data/public/README.md` names
//! each one's origin and licence), read as Wireshark reads them: what lagtap finds
//! in them is held to tshark's reading of the same files.

#[path = "common/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use lagtap::events::Event;

fn public(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/public")
        .join(name)
}

/// PcapPlusPlus's zstd-compressed pcapng: read by its magic bytes, every packet.
#[test]
fn pcapplusplus_zstd_pcapng_is_read_whole() {
    let file = public("pcapng-example.pcapng.zst");
    let out = lagtap::decode::decode_file(&file, "example").unwrap();
    let Some(Event::Capture { format, .. }) = out.events.first() else {
        panic!("no capture event");
    };
    assert_eq!(format, "pcapng+zstd");
    let Some(Event::Summary {
        packets, anomalies, ..
    }) = out.events.last()
    else {
        panic!("no summary");
    };
    assert!(!anomalies.contains_key("truncated_file"), "{anomalies:?}");
    assert!(!anomalies.contains_key("compressed_stream_truncated"));
    if tools::require("tshark", "packet count of a zstd pcapng against tshark's") {
        let listed = tools::output(Command::new("tshark").arg("-r").arg(&file));
        assert_eq!(*packets, listed.lines().count() as u64);
    }
}

/// fq's HTTP exchange whose TCP segments travel in IPv4 fragments: reassembled and
/// decoded into the request and response tshark sees.
#[test]
fn fq_http_over_ipv4_fragments_is_decoded() {
    let file = public("tcp-ipv4frag.pcap");
    let out = lagtap::decode::decode_file(&file, "frag").unwrap();
    let exchanges: Vec<(String, String, Option<u16>)> = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::HttpExchange(x) => Some((x.method.clone(), x.uri.clone(), x.status)),
            _ => None,
        })
        .collect();
    assert_eq!(exchanges.len(), 1, "{exchanges:?}");
    if !tools::require("tshark", "HTTP over IPv4 fragments against tshark's") {
        return;
    }
    let fields = |f: &str| {
        let out = tools::output(
            Command::new("tshark")
                .arg("-r")
                .arg(&file)
                .args(["-Y", f, "-T", "fields", "-e", f]),
        );
        out.lines().map(str::to_string).collect::<Vec<_>>()
    };
    let method = fields("http.request.method");
    let uri = fields("http.request.uri");
    let code = fields("http.response.code");
    let (m, u, s) = &exchanges[0];
    assert_eq!(method, std::slice::from_ref(m));
    assert_eq!(uri, std::slice::from_ref(u));
    assert_eq!(code, [s.unwrap().to_string()]);
}
