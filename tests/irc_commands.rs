//! Chat events say which IRC command they came in (PRIVMSG, ACTION, NOTICE), and
//! correlation pairs a copy only with a sent line of the same command.
//!
//! Real traffic: InspIRCd 3.15 on loopback with two clients, carol and dave, each
//! connection captured on its own (`tests/data/irc_commands/`, made by its `make.sh`;
//! `client.log` is the client's own record of every line it sent and when). carol
//! sends a NOTICE before dave joins and later the same words as a PRIVMSG, and
//! "waves" both as an ACTION and as a PRIVMSG: matched by text alone, dave's copy of
//! the PRIVMSG would be paired with the earlier NOTICE.
//!
//! Expected commands come from the client's log and from tshark's IRC dissector
//! (`irc.request.command`, `irc.response.command`, the trailer for the ACTION), and
//! expected times from the log and tshark's frame times; nothing here is a value read
//! off lagtap's own output.

#[path = "common/tools.rs"]
mod tools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lagtap::correlate::{correlate, CorrelateOptions, HostEvents};
use lagtap::events::{ChatCommand, Event};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/irc_commands")
}

fn decode(host: &str) -> Vec<Event> {
    let p = dir().join(format!("{host}.pcap"));
    lagtap::decode::decode_file(&p, host).unwrap().events
}

/// One line a client sent, from `client.log`: `<epoch seconds> <nick> > <python repr>`.
struct Logged {
    time_ns: i64,
    nick: String,
    line: String,
}

fn client_log() -> Vec<Logged> {
    let text = std::fs::read_to_string(dir().join("client.log")).unwrap();
    text.lines()
        .map(|l| {
            let mut parts = l.splitn(4, ' ');
            let secs: f64 = parts.next().unwrap().parse().unwrap();
            let nick = parts.next().unwrap().to_string();
            assert_eq!(parts.next(), Some(">"));
            // Python's repr of a str: quoted, with \x01 for the CTCP delimiter.
            let repr = parts.next().unwrap();
            let line = repr[1..repr.len() - 1].replace("\\x01", "\x01");
            Logged {
                time_ns: (secs * 1e9).round() as i64,
                nick,
                line,
            }
        })
        .collect()
}

/// The command and text a logged chat line was sent as: RFC 2812 §3.3 (PRIVMSG,
/// NOTICE: `<target> :<text>`), CTCP ACTION as `\x01ACTION <text>\x01`.
fn logged_chat(line: &str) -> Option<(ChatCommand, &str)> {
    let (cmd, rest) = line.split_once(' ')?;
    let (target, text) = rest.split_once(" :")?;
    if !target.starts_with('#') {
        return None;
    }
    match cmd {
        "NOTICE" => Some((ChatCommand::Notice, text)),
        "PRIVMSG" => match text.strip_prefix("\x01ACTION ") {
            Some(action) => Some((ChatCommand::Action, action.trim_end_matches('\x01'))),
            None => Some((ChatCommand::Privmsg, text)),
        },
        _ => None,
    }
}

/// How long after the client logged a line its packet may appear on loopback.
const SEND_SLACK_NS: i64 = 20_000_000;

#[test]
fn sent_lines_carry_the_command_the_client_sent() {
    let log = client_log();
    for host in ["carol", "dave"] {
        let sent: Vec<(ChatCommand, String, i64)> = decode(host)
            .into_iter()
            .filter_map(|e| match e {
                Event::ChatSent {
                    command,
                    text,
                    time_ns,
                    ..
                } => Some((command, text, time_ns)),
                _ => None,
            })
            .collect();
        let expected: Vec<(ChatCommand, &str, i64)> = log
            .iter()
            .filter(|l| l.nick == host)
            .filter_map(|l| logged_chat(&l.line).map(|(c, t)| (c, t, l.time_ns)))
            .collect();
        assert_eq!(sent.len(), expected.len(), "{host}: {sent:?}");
        for ((cmd, text, t), (ecmd, etext, et)) in sent.iter().zip(&expected) {
            assert_eq!((cmd, text.as_str()), (ecmd, *etext), "{host}");
            assert!(
                (0..SEND_SLACK_NS).contains(&(t - et)),
                "{host} {cmd:?} {text:?}: captured {t}, logged {et}"
            );
        }
    }
}

/// tshark's IRC lines of a capture: (frame time in ns, command) for every PRIVMSG
/// (`ACTION` when its trailer is a CTCP ACTION) and NOTICE to a channel, of one side
/// (`request`: client → server, `response`).
fn tshark_chat(host: &str, side: &str) -> Vec<(i64, String)> {
    let file = dir().join(format!("{host}.pcap"));
    let out = tools::output(
        Command::new("tshark")
            .arg("-r")
            .arg(&file)
            .args(["-d", "tcp.port==16670,irc", "-Y"])
            .arg(format!("irc.{side}.command"))
            .args([
                "-T",
                "fields",
                "-E",
                "separator=|",
                "-e",
                "frame.time_epoch",
            ])
            .arg("-e")
            .arg(format!("irc.{side}.command"))
            .arg("-e")
            .arg(format!("irc.{side}.command_parameter"))
            .arg("-e")
            .arg(format!("irc.{side}.trailer")),
    );
    let mut lines = Vec::new();
    for l in out.lines() {
        let f: Vec<&str> = l.split('|').collect();
        let (secs, nanos) = f[0].split_once('.').unwrap();
        let t = secs.parse::<i64>().unwrap() * 1_000_000_000 + nanos.parse::<i64>().unwrap();
        let commands: Vec<&str> = f[1].split(',').collect();
        let chat: Vec<&&str> = commands
            .iter()
            .filter(|c| matches!(**c, "PRIVMSG" | "NOTICE"))
            .collect();
        if chat.is_empty() {
            continue;
        }
        // In this capture a chat line always has a packet of its own.
        assert_eq!(commands.len(), 1, "{host} {side}: {l}");
        if !f[2].starts_with('#') {
            continue;
        }
        // tshark's `irc.ctcp` is not filled in for every CTCP line; the trailer
        // (the text after ` :`) always is, with its \x01 delimiters.
        let command = if f[3].starts_with("\x01ACTION") {
            assert_eq!(*chat[0], "PRIVMSG");
            "ACTION".to_string()
        } else {
            chat[0].to_string()
        };
        lines.push((t, command));
    }
    lines
}

fn lagtap_chat(host: &str, sent: bool) -> Vec<(i64, String)> {
    decode(host)
        .into_iter()
        .filter_map(|e| match e {
            Event::ChatSent {
                command, time_ns, ..
            } if sent => Some((time_ns, command.as_str().to_string())),
            Event::ChatReceived(c) if !sent => Some((c.time_ns, c.command.as_str().to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn chat_commands_and_times_agree_with_tshark() {
    if !tools::require("tshark", "IRC chat commands against tshark's irc.request") {
        return;
    }
    for host in ["carol", "dave"] {
        // Sent lines are untagged: tshark reads their command.
        let want = tshark_chat(host, "request");
        assert!(want.len() >= 3, "{host}: {want:?}");
        assert_eq!(lagtap_chat(host, true), want, "{host} sent");
    }
    // dave asked for no IRCv3 capabilities, so what he receives is untagged too.
    // (carol's copies carry tags, which tshark's dissector reads as the command.)
    let want = tshark_chat("dave", "response");
    assert!(want.len() >= 4, "{want:?}");
    assert_eq!(lagtap_chat("dave", false), want, "dave received");
}

#[test]
fn correlate_matches_each_copy_to_a_sent_line_of_its_own_command() {
    let hosts: Vec<HostEvents> = ["carol", "dave"]
        .iter()
        .map(|h| HostEvents {
            name: h.to_string(),
            file: format!("{h}.pcap"),
            events: decode(h),
        })
        .collect();
    let c = correlate(hosts, &CorrelateOptions::default());
    let m = &c.messaging;
    let log = client_log();
    // Every chat line from the log but carol's first NOTICE (nobody else was in
    // the channel yet) reached the other client exactly once.
    let chat: Vec<(&Logged, ChatCommand, &str)> = log
        .iter()
        .filter_map(|l| logged_chat(&l.line).map(|(c, t)| (l, c, t)))
        .collect();
    assert_eq!(chat.len(), 8, "carol 5, dave 3 lines to #cmd in client.py");
    assert_eq!(m.unmatched.get("sent_not_received"), Some(&1), "{m:?}");
    assert_eq!(m.unmatched.values().sum::<u64>(), 1, "{:?}", m.unmatched);
    assert_eq!(m.samples.len(), chat.len() - 1);
    for (l, command, text) in &chat[1..] {
        let receiver = if l.nick == "carol" { "dave" } else { "carol" };
        let s = m
            .samples
            .iter()
            .find(|s| {
                s.sender == l.nick
                    && s.receiver == receiver
                    && s.command == *command
                    && s.text == *text
                    && (0..SEND_SLACK_NS).contains(&(s.sent_ns - l.time_ns))
            })
            .unwrap_or_else(|| {
                panic!(
                    "no sample for {} {command:?} {text:?}: {:#?}",
                    l.nick, m.samples
                )
            });
        assert!(s.latency_ns > 0 && s.latency_ns < 100_000_000, "{s:?}");
    }
    // Each command has its own distribution, of the lines the log says were sent.
    let mut want: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, command, _) in &chat[1..] {
        *want.entry(command.as_str()).or_default() += 1;
    }
    let counts: BTreeMap<&str, u64> = m
        .by_command
        .iter()
        .map(|(k, v)| (k.as_str(), v.count))
        .collect();
    assert_eq!(counts, want);
    assert_eq!(want.len(), 3);
}

#[test]
fn decode_output_names_the_command() {
    let mut out = Vec::new();
    for e in decode("dave") {
        lagtap::events::jsonl::write_line(&e, &mut out).unwrap();
    }
    let commands: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "chat_received")
        .map(|v| v["command"].as_str().unwrap().to_string())
        .collect();
    // What carol sent after dave joined, in order (client.log).
    let log = client_log();
    let joined = log
        .iter()
        .find(|l| l.nick == "dave" && l.line.starts_with("JOIN"))
        .unwrap()
        .time_ns;
    let want: Vec<&str> = log
        .iter()
        .filter(|l| l.nick == "carol" && l.time_ns > joined)
        .filter_map(|l| logged_chat(&l.line))
        .map(|(c, _)| c.as_str())
        .collect();
    assert_eq!(want.len(), 4);
    assert_eq!(commands, want);
}
