//! The session on the testbed's sample run `captures/basic` (InspIRCd 3.15 in a
//! network namespace, three chat clients; see captures/README.md), checked against
//! what the clients logged in `truth.json`. The IRC connection of each client host is
//! cut out of its capture with tshark (`follow,tcp,raw`). Skips with a `SKIP` line
//! when the captures or tshark are absent (outside CI; in CI that fails), since both
//! belong to other parts of the project.

#[path = "../../../tests/common/tools.rs"]
mod tools;

use irc_parser::{Direction, Framing, Session};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures/basic")
}

const CHECK: &str = "testbed chat against truth.json";

fn tshark(file: &Path, args: &[&str]) -> String {
    tools::output(Command::new("tshark").arg("-r").arg(file).args(args))
}

/// Both directions of the first TCP connection to port 6667 in `file`.
fn irc_stream(file: &Path) -> (Vec<u8>, Vec<u8>) {
    let index = tshark(
        file,
        &[
            "-Y",
            "tcp.dstport==6667",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
        ],
    );
    // (`-c 1` would stop after the file's first packet, before any filter matched.)
    let first = index
        .lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| panic!("{} holds no connection to port 6667", file.display()));
    let follow = format!("follow,tcp,raw,{first}");
    let out = tshark(file, &["-q", "-z", &follow]);
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let body = out
        .split("=".repeat(67).as_str())
        .nth(1)
        .expect("tshark's follow output");
    for line in body.lines().filter(|l| !l.is_empty()) {
        if line.starts_with("Follow:") || line.starts_with("Filter:") || line.starts_with("Node ") {
            continue;
        }
        let hex = line.trim();
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
        // Node 0, the client, sent the SYN and the first bytes; server chunks are indented.
        if line.starts_with('\t') {
            s2c.extend(bytes);
        } else {
            c2s.extend(bytes);
        }
    }
    (c2s, s2c)
}

#[test]
fn chat_sent_and_received_by_each_testbed_host_matches_truth_json() {
    let dir = run_dir();
    let Ok(truth) = std::fs::read_to_string(dir.join("truth.json")) else {
        return tools::missing(CHECK, "captures/basic/truth.json is absent");
    };
    if !tools::require("tshark", CHECK) {
        return;
    }
    let truth: Value = serde_json::from_str(&truth).unwrap();
    let chat = truth["chat"].as_array().unwrap();
    let mut checked = 0;
    for host in truth["hosts"].as_array().unwrap() {
        let name = host["name"].as_str().unwrap();
        let sent_truth: Vec<&str> = chat
            .iter()
            .filter(|c| c["sender"] == name)
            .map(|c| c["text"].as_str().unwrap())
            .collect();
        let recv_truth: Vec<(&str, &str, i64)> = chat
            .iter()
            .filter_map(|c| {
                let r = c["receivers"].get(name)?;
                let t = irc_parser::parse_rfc3339_ns(r["server_time"].as_str()?)?;
                Some((c["text"].as_str()?, r["msgid"].as_str()?, t))
            })
            .collect();
        if sent_truth.is_empty() && recv_truth.is_empty() {
            continue; // the server itself, or a host without chat
        }
        let (c2s, s2c) = irc_stream(&dir.join(host["capture"].as_str().unwrap()));
        let mut session = Session::new(Framing::Plain);
        assert_eq!(
            session.feed(Direction::ServerToClient, 0, &s2c),
            s2c.len(),
            "{name}"
        );
        let mut msgs: Vec<_> = session.drain().collect();
        let used = session.feed(Direction::ClientToServer, 0, &c2s);
        assert_eq!(used, c2s.len(), "{name}");
        msgs.extend(session.drain());
        let chats: Vec<_> = msgs
            .iter()
            .filter_map(|m| Some((m.dir, m.irc()?.chat.clone()?)))
            .collect();
        let sent: Vec<&str> = chats
            .iter()
            .filter(|(d, _)| *d == Direction::ClientToServer)
            .map(|(_, c)| {
                assert_eq!(
                    c.nick.as_deref(),
                    Some(name),
                    "sent lines carry the own nick"
                );
                c.text.as_str()
            })
            .collect();
        let recv: Vec<(&str, &str, i64)> = chats
            .iter()
            .filter(|(d, c)| *d == Direction::ServerToClient && !c.from_self)
            .map(|(_, c)| {
                (
                    c.text.as_str(),
                    c.id.as_deref().unwrap(),
                    c.server_time_ns.unwrap(),
                )
            })
            .collect();
        assert_eq!(sent, sent_truth, "{name}: sent");
        let mut recv_sorted = recv.clone();
        let mut truth_sorted = recv_truth.clone();
        recv_sorted.sort();
        truth_sorted.sort();
        assert_eq!(recv_sorted, truth_sorted, "{name}: received");
        assert_eq!(session.anomalies(), &[], "{name}");
        checked += 1;
    }
    assert!(checked >= 2, "at least two chat hosts in the run");
}
