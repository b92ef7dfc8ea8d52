//! Tests on the real NTP exchanges in tests/data/ntp.pcap (chronyd 4.3 serving on
//! 127.0.0.1:123, queried by ntpdig, a plain Python client, and `chronyd -Q`), read
//! from tests/data/ntp.tsv (capture time, source port, UDP payload; see README.md).

#[path = "../../../tests/common/tools.rs"]
mod tools;

use ntp_parser::{parse, Mode, Pairer, Timestamp};
use std::process::Command;

struct Datagram {
    capture_ns: i64,
    src_port: u16,
    payload: Vec<u8>,
}

fn datagrams() -> Vec<Datagram> {
    include_str!("data/ntp.tsv")
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            Datagram {
                capture_ns: f[0].parse().unwrap(),
                src_port: f[1].parse().unwrap(),
                payload: (0..f[2].len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&f[2][i..i + 2], 16).unwrap())
                    .collect(),
            }
        })
        .collect()
}

#[test]
fn every_captured_datagram_parses_and_servers_answer_as_mode_4() {
    for d in datagrams() {
        let p = parse(&d.payload).unwrap();
        let expected = if d.src_port == 123 {
            Mode::SERVER
        } else {
            Mode::CLIENT
        };
        assert_eq!(p.mode, expected);
    }
}

#[test]
fn all_answered_requests_pair_including_randomised_ones() {
    let mut pairer = Pairer::new();
    let mut exchanges = Vec::new();
    for d in datagrams() {
        if let Some(x) = pairer.push(&parse(&d.payload).unwrap(), d.capture_ns) {
            exchanges.push(x);
        }
    }
    // 7 replies: 2 ntpdig, 3 Python (v4, v4, v3), 2 chronyd -Q. The request with 4
    // stray bytes after its header got no reply and stays pending.
    assert_eq!(exchanges.len(), 7);
    assert_eq!(pairer.pending(), 1);
    let randomised: Vec<bool> = exchanges
        .iter()
        .map(|x| x.client_transmit_randomized)
        .collect();
    assert_eq!(randomised, [false, false, false, false, false, true, true]);
    for x in &exchanges {
        // One host, one clock: offsets and delays are loopback-small.
        assert!(x.delay_ns() >= 0 && x.delay_ns() < 5_000_000, "{x:?}");
        assert!(x.offset_ns().abs() < 5_000_000, "{x:?}");
    }
}

/// Parse tshark's absolute time ("Nov 25, 2026 04:15:33.581045150 UTC", run with
/// TZ=UTC) into Unix nanoseconds; "NULL" (a zero timestamp) is `None`.
fn tshark_time(s: &str) -> Option<i64> {
    if s == "NULL" {
        return None;
    }
    let parts: Vec<&str> = s.split_whitespace().collect();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[0])
    .unwrap() as i64
        + 1;
    let day: i64 = parts[1].trim_end_matches(',').parse().unwrap();
    let year: i64 = parts[2].parse().unwrap();
    let (hms, frac) = parts[3].split_once('.').unwrap();
    let hms: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from civil date, for the proleptic Gregorian calendar.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    Some(secs * 1_000_000_000 + format!("{frac:0<9}")[..9].parse::<i64>().unwrap())
}

#[test]
fn header_fields_and_timestamps_agree_with_tshark() {
    if !tools::require(
        "tshark",
        "NTP header fields and timestamps against tshark's",
    ) {
        return;
    }
    let stdout = tools::output(
        Command::new("tshark")
            .env("TZ", "UTC")
            .args([
                "-r",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ntp.pcap"),
            ])
            .args(["-T", "fields", "-E", "separator=|"])
            .args([
                "-e",
                "ntp.flags.vn",
                "-e",
                "ntp.flags.mode",
                "-e",
                "ntp.stratum",
            ])
            .args([
                "-e",
                "ntp.reftime",
                "-e",
                "ntp.org",
                "-e",
                "ntp.rec",
                "-e",
                "ntp.xmt",
            ]),
    );
    let theirs: Vec<&str> = stdout.lines().collect();
    let ours = datagrams();
    assert_eq!(theirs.len(), ours.len());
    for (line, d) in theirs.iter().zip(&ours) {
        let f: Vec<&str> = line.split('|').collect();
        let p = parse(&d.payload).unwrap();
        let ts = |t: Timestamp| t.unix_nanos();
        assert_eq!(f[0].parse::<u8>().unwrap(), p.version, "{line}");
        assert_eq!(f[1].parse::<u8>().unwrap(), p.mode.0, "{line}");
        assert_eq!(f[2].parse::<u8>().unwrap(), p.stratum, "{line}");
        assert_eq!(tshark_time(f[3]), ts(p.reference_ts), "reftime {line}");
        assert_eq!(tshark_time(f[4]), ts(p.origin_ts), "org {line}");
        assert_eq!(tshark_time(f[5]), ts(p.receive_ts), "rec {line}");
        assert_eq!(tshark_time(f[6]), ts(p.transmit_ts), "xmt {line}");
    }
}
