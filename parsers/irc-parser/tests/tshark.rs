//! Agreement with tshark 4.0 (Debian) on tests/data/irc.pcap.
//!
//! tshark's IRC dissector predates IRCv3 tags: for a tagged line it reports the tag
//! section (`@time=…`) as the command. So the comparison is: our command for untagged
//! lines, `@` + the raw tag section for tagged ones, in order, per direction. For
//! WebSocket, tshark's frame headers (FIN, opcode, mask bit, payload length) are
//! compared with `websocket::parse_header` walking the same stream.

mod common;
#[path = "../../../tests/common/tools.rs"]
mod tools;

use common::*;
use irc_parser::websocket::parse_header;
use irc_parser::{Direction, Framing};
use std::process::Command;

const PCAP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/irc.pcap");

/// Run tshark on the fixture, or `None` after a `SKIP` line when it is not
/// installed (outside CI; in CI that fails).
fn tshark(check: &str, args: &[&str]) -> Option<String> {
    if !tools::require("tshark", check) {
        return None;
    }
    Some(tools::output(
        Command::new("tshark").arg("-r").arg(PCAP).args(args),
    ))
}

#[test]
fn irc_commands_agree_with_tshark_in_both_directions() {
    let Some(out) = tshark(
        "IRC commands against tshark's",
        &[
            "-d",
            "tcp.port==16667,irc",
            "-Y",
            "irc && tcp.stream==0",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "irc.request.command",
            "-e",
            "irc.response.command",
        ],
    ) else {
        return;
    };
    let (mut requests, mut responses) = (Vec::new(), Vec::new());
    for line in out.lines() {
        let (req, resp) = line.split_once('|').unwrap();
        // No tag value in this capture contains a comma, tshark's aggregator.
        requests.extend(req.split(',').filter(|s| !s.is_empty()).map(str::to_owned));
        responses.extend(resp.split(',').filter(|s| !s.is_empty()).map(str::to_owned));
    }
    let (msgs, _) = whole(Framing::Plain, PLAIN_C2S, PLAIN_S2C);
    let ours = |dir| -> Vec<String> {
        msgs.iter()
            .filter(|m| m.dir == dir)
            .filter_map(|m| m.irc())
            .map(|l| match &l.line.raw_tags {
                Some(tags) => format!("@{tags}"),
                None => l.line.command.clone(),
            })
            .collect()
    };
    assert_eq!(ours(Direction::ClientToServer), requests);
    assert_eq!(ours(Direction::ServerToClient), responses);
    assert!(requests.len() > 10 && responses.len() > 30);
}

/// (fin, opcode, masked, payload length) of every frame, walking the headers.
fn walk_frames(stream: &[u8]) -> Vec<(bool, u8, bool, u64)> {
    let mut at = stream.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut out = Vec::new();
    while at < stream.len() {
        let h = parse_header(&stream[at..]).unwrap().expect("whole header");
        out.push((h.fin, h.opcode.0, h.mask.is_some(), h.payload_len));
        at += h.header_len + h.payload_len as usize;
    }
    assert_eq!(at, stream.len(), "frames tile the stream");
    out
}

#[test]
fn websocket_frame_headers_agree_with_tshark() {
    let Some(out) = tshark(
        "WebSocket frame headers against tshark's",
        &[
            "-d",
            "tcp.port==16668,http",
            "-Y",
            "websocket",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "tcp.dstport",
            "-e",
            "websocket.fin",
            "-e",
            "websocket.opcode",
            "-e",
            "websocket.mask",
            "-e",
            "websocket.payload_length",
            "-e",
            "websocket.payload_length_ext_16",
            "-e",
            "websocket.payload_length_ext_64",
        ],
    ) else {
        return;
    };
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    for line in out.lines() {
        let f: Vec<Vec<u64>> = line
            .split('|')
            .map(|x| {
                x.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|n| n.parse().unwrap())
                    .collect()
            })
            .collect();
        let (mut ext16, mut ext64) = (f[5].iter(), f[6].iter());
        let frames = (0..f[1].len()).map(|i| {
            let len = match f[4][i] {
                126 => *ext16.next().unwrap(),
                127 => *ext64.next().unwrap(),
                n => n,
            };
            (f[1][i] == 1, f[2][i] as u8, f[3][i] == 1, len)
        });
        if f[0][0] == 16668 {
            c2s.extend(frames);
        } else {
            s2c.extend(frames);
        }
    }
    assert_eq!(walk_frames(WS_C2S), c2s);
    assert_eq!(walk_frames(WS_S2C), s2c);
}
