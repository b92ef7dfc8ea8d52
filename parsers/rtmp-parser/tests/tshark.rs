//! Agreement with Wireshark's RTMP dissector on the real capture: the number of
//! messages of each kind per direction, and the AMF command names.
//!
//! tshark is run on `tests/data/nginx-ffmpeg-loopback.pcap` when it is installed
//! (it is in CI); its answer recorded in `tests/data/README.md` is checked too, so
//! the test says something even where tshark is missing.

mod common;
#[path = "../../../tests/common/tools.rs"]
mod tools;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use rtmp_parser::{Event, HandshakePart, Message, Payload, UserControl};

type Counts = BTreeMap<(String, String), u64>;

/// The label tshark's Info column gives a message.
fn label(m: &Message) -> String {
    match &m.payload {
        Payload::SetChunkSize(_) => "Set Chunk Size".into(),
        Payload::Abort(_) => "Abort Message".into(),
        Payload::Acknowledgement(_) => "Acknowledgement".into(),
        Payload::WindowAckSize(_) => "Window Acknowledgement Size".into(),
        Payload::SetPeerBandwidth { .. } => "Set Peer Bandwidth".into(),
        Payload::UserControl(u) => match u {
            UserControl::StreamBegin(_) => "Stream Begin",
            UserControl::StreamEof(_) => "Stream EOF",
            UserControl::StreamDry(_) => "Stream Dry",
            UserControl::SetBufferLength { .. } => "Set Buffer Length",
            UserControl::StreamIsRecorded(_) => "Stream Is Recorded",
            UserControl::PingRequest(_) => "Ping Request",
            UserControl::PingResponse(_) => "Ping Response",
            UserControl::Other { .. } => "User Control Message",
        }
        .into(),
        Payload::Audio(_) => "Audio Data".into(),
        Payload::Video(_) => "Video Data".into(),
        Payload::Command(c) => c.name.clone(),
        Payload::Other | Payload::Malformed(_) => format!("type {}", m.message_type.0),
    }
}

fn ours() -> Counts {
    let mut counts = Counts::new();
    for (name, dir, data) in fixtures() {
        for e in decode_whole(dir, data).0 {
            let l = match e {
                Event::Message(m) => label(&m),
                Event::Handshake(h) => format!(
                    "Handshake {}",
                    match h.part {
                        HandshakePart::C0 => "C0",
                        HandshakePart::C1 => "C1",
                        HandshakePart::C2 => "C2",
                        HandshakePart::S0 => "S0",
                        HandshakePart::S1 => "S1",
                        HandshakePart::S2 => "S2",
                    }
                ),
            };
            *counts.entry((name.to_string(), l)).or_default() += 1;
        }
    }
    counts
}

/// Turn tshark's `tcp.stream \t tcp.srcport \t Info` lines into counts by label.
fn parse_tshark(out: &str) -> Counts {
    let mut counts = Counts::new();
    for line in out.lines() {
        let mut f = line.splitn(3, '\t');
        let (Some(stream), Some(port), Some(info)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let conn = match stream {
            "0" => "publish",
            "1" => "play",
            _ => continue,
        };
        let dir = if port == "19350" { "s2c" } else { "c2s" };
        let name = format!("{conn}.{dir}");
        // Messages are separated by '|'; a command named "|RtmpSampleAccess" shows
        // as an empty message followed by "RtmpSampleAccess()".
        let mut parts = info.split('|').peekable();
        while let Some(part) = parts.next() {
            let part = part.trim();
            let text = if part.is_empty() {
                match parts.next() {
                    Some(p) => format!("|{}", p.trim()),
                    None => continue,
                }
            } else {
                part.to_string()
            };
            let labels: Vec<String> = if let Some(hs) = text.strip_prefix("Handshake ") {
                hs.split('+').map(|p| format!("Handshake {p}")).collect()
            } else if let Some(i) = text.find('(') {
                vec![text[..i].to_string()]
            } else {
                // "Window Acknowledgement Size 5000000", "Stream Begin 1": drop the values.
                let words: Vec<&str> = text
                    .split(' ')
                    .take_while(|w| !w.starts_with(|c: char| c.is_ascii_digit()))
                    .collect();
                vec![words.join(" ")]
            };
            for l in labels {
                *counts.entry((name.clone(), l)).or_default() += 1;
            }
        }
    }
    counts
}

/// What tshark 4.0.17 printed on the fixture (tests/data/README.md).
fn recorded() -> Counts {
    let rows: &[(&str, &str, u64)] = &[
        ("play.c2s", "Handshake C0", 1),
        ("play.c2s", "Handshake C1", 1),
        ("play.c2s", "Handshake C2", 1),
        ("play.c2s", "Set Buffer Length", 1),
        ("play.c2s", "Window Acknowledgement Size", 1),
        ("play.c2s", "connect", 1),
        ("play.c2s", "createStream", 1),
        ("play.c2s", "getStreamLength", 1),
        ("play.c2s", "play", 1),
        ("play.s2c", "Audio Data", 71),
        ("play.s2c", "Handshake S0", 1),
        ("play.s2c", "Handshake S1", 1),
        ("play.s2c", "Handshake S2", 1),
        ("play.s2c", "|RtmpSampleAccess", 1),
        ("play.s2c", "Set Chunk Size", 1),
        ("play.s2c", "Set Peer Bandwidth", 1),
        ("play.s2c", "Stream Begin", 1),
        ("play.s2c", "Video Data", 52),
        ("play.s2c", "Window Acknowledgement Size", 1),
        ("play.s2c", "_result", 2),
        ("play.s2c", "onMetaData", 1),
        ("play.s2c", "onStatus", 1),
        ("publish.c2s", "@setDataFrame", 1),
        ("publish.c2s", "Audio Data", 132),
        ("publish.c2s", "FCPublish", 1),
        ("publish.c2s", "FCUnpublish", 1),
        ("publish.c2s", "Handshake C0", 1),
        ("publish.c2s", "Handshake C1", 1),
        ("publish.c2s", "Handshake C2", 1),
        ("publish.c2s", "Set Chunk Size", 1),
        ("publish.c2s", "Video Data", 92),
        ("publish.c2s", "connect", 1),
        ("publish.c2s", "createStream", 1),
        ("publish.c2s", "deleteStream", 1),
        ("publish.c2s", "publish", 1),
        ("publish.c2s", "releaseStream", 1),
        ("publish.s2c", "Handshake S0", 1),
        ("publish.s2c", "Handshake S1", 1),
        ("publish.s2c", "Handshake S2", 1),
        ("publish.s2c", "Set Chunk Size", 1),
        ("publish.s2c", "Set Peer Bandwidth", 1),
        ("publish.s2c", "Window Acknowledgement Size", 1),
        ("publish.s2c", "_result", 2),
        ("publish.s2c", "onStatus", 2),
    ];
    rows.iter()
        .map(|(s, l, n)| ((s.to_string(), l.to_string()), *n))
        .collect()
}

#[test]
fn message_counts_and_command_names_agree_with_tshark_as_recorded() {
    assert_eq!(ours(), recorded());
}

#[test]
fn message_counts_and_command_names_agree_with_tshark_run_now() {
    let pcap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/nginx-ffmpeg-loopback.pcap"
    );
    if !tools::require("tshark", "RTMP message counts against tshark run now") {
        return;
    }
    let out = tools::output(
        Command::new("tshark")
            .args([
                "-r",
                pcap,
                "-d",
                "tcp.port==19350,rtmpt",
                "-Y",
                "rtmpt",
                "-T",
                "fields",
            ])
            .args([
                "-e",
                "tcp.stream",
                "-e",
                "tcp.srcport",
                "-e",
                "_ws.col.Info",
            ]),
    );
    let theirs = parse_tshark(&out);
    assert_eq!(
        theirs,
        recorded(),
        "tshark's answer changed: update the README"
    );
    assert_eq!(ours(), theirs);
}
