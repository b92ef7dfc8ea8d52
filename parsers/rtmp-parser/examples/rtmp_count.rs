//! Decode raw one-direction RTMP byte streams (e.g. from
//! `tshark -q -z follow,tcp,raw,N`) and print message counts by kind and the
//! anomalies: `cargo run -p rtmp-parser --example rtmp_count -- c2s FILE [s2c FILE]...`

use std::collections::BTreeMap;

use rtmp_parser::{Direction, Event, Payload, Session};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [dir, path] = pair else {
            eprintln!("usage: rtmp_count (c2s|s2c) FILE ...");
            std::process::exit(2);
        };
        let dir = if dir == "s2c" {
            Direction::ServerToClient
        } else {
            Direction::ClientToServer
        };
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        };
        let mut s = Session::new();
        let used = s.feed(dir, 0, &data);
        s.end(dir, used as u64);
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut fingerprints = 0;
        for e in s.drain() {
            let label = match e {
                Event::Handshake(h) => format!("handshake {:?}", h.part),
                Event::Message(m) => match &m.payload {
                    Payload::Command(c) => format!("{:?} {}", m.message_type, c.name),
                    Payload::Video(v) => {
                        fingerprints += usize::from(v.fingerprint.is_some());
                        format!("{:?}", m.message_type)
                    }
                    _ => format!("{:?}", m.message_type),
                },
            };
            *counts.entry(label).or_default() += 1;
        }
        println!("{path} ({dir:?}, {} bytes):", data.len());
        for (k, v) in counts {
            println!("  {v:6}  {k}");
        }
        println!("  {fingerprints:6}  fingerprinted frames");
        println!("  anomalies: {:?}", s.anomalies());
    }
}
