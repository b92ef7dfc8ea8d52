//! The session on real IRC traffic: tests/data/irc.pcap, InspIRCd 3.15 on loopback,
//! alice on plain TCP (stream 0, port 16667) and bob over WebSocket (stream 1, port
//! 16668); see tests/data/README.md. Each direction's bytes are in tests/data/*.bin.

mod common;

use common::*;
use irc_parser::websocket::Opcode;
use irc_parser::{Body, ChatKind, Command, Direction, Framing, Message};

fn chats(msgs: &[Message], dir: Direction) -> Vec<(Option<String>, String, bool)> {
    msgs.iter()
        .filter(|m| m.dir == dir)
        .filter_map(|m| m.irc()?.chat.as_ref())
        .map(|c| (c.nick.clone(), c.text.clone(), c.from_self))
        .collect()
}

fn s(x: &str) -> Option<String> {
    Some(x.to_owned())
}

#[test]
fn plain_session_reports_every_sent_privmsg_with_the_nick_current_at_the_time() {
    let (msgs, session) = whole(Framing::Plain, PLAIN_C2S, PLAIN_S2C);
    assert_eq!(
        chats(&msgs, Direction::ClientToServer),
        [
            (s("alice"), "hello from alice".into(), true),
            (
                s("alice"),
                "second; with semicolon \\ and backslash".into(),
                true
            ),
            (s("alice"), "escaped tag value".into(), true),
            (s("alice2"), "renamed, still here".into(), true),
        ]
    );
    assert_eq!(session.own_nick(), Some("alice2"));
    assert_eq!(session.anomalies(), &[]);
}

#[test]
fn plain_session_sees_bobs_websocket_lines_and_its_own_echoes_as_received_chat() {
    let (msgs, _) = whole(Framing::Plain, PLAIN_C2S, PLAIN_S2C);
    let got = chats(&msgs, Direction::ServerToClient);
    let long = "long ".repeat(40);
    assert_eq!(
        got,
        [
            (s("alice"), "hello from alice".into(), true),
            (
                s("alice"),
                "second; with semicolon \\ and backslash".into(),
                true
            ),
            (s("bob"), "hi alice, bob here over websocket".into(), false),
            (s("bob"), "a notice".into(), false),
            (s("alice"), "escaped tag value".into(), true),
            (s("alice2"), "renamed, still here".into(), true),
            (s("bob"), long, false),
        ]
    );
}

#[test]
fn received_lines_carry_msgid_server_time_and_the_unescaped_client_nonce() {
    let (msgs, _) = whole(Framing::Plain, PLAIN_C2S, PLAIN_S2C);
    let chat: Vec<_> = msgs
        .iter()
        .filter(|m| m.dir == Direction::ServerToClient)
        .filter_map(|m| m.irc()?.chat.clone())
        .collect();
    assert_eq!(chat[0].client_nonce.as_deref(), Some("abc123"));
    assert!(chat[0]
        .id
        .as_deref()
        .is_some_and(|id| id.starts_with("744~")));
    // `+client-nonce=n\s1\:x\\y` as sent by the client and relayed by the server.
    assert_eq!(chat[4].client_nonce.as_deref(), Some("n 1;x\\y"));
    let t = chat[0].server_time_ns.unwrap();
    // 2026-11-25T04:14:45.100Z
    assert_eq!(t, 1_795_580_085_100_000_000);
}

#[test]
fn plain_lines_span_exactly_their_bytes_including_the_crlf() {
    let (msgs, _) = whole(Framing::Plain, PLAIN_C2S, PLAIN_S2C);
    let c2s: Vec<_> = msgs
        .iter()
        .filter(|m| m.dir == Direction::ClientToServer)
        .collect();
    assert_eq!(
        (c2s[0].start, c2s[0].end),
        (0, b"CAP LS 302\r\n".len() as u64)
    );
    for pair in c2s.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "lines tile the stream");
    }
    assert_eq!(c2s.last().unwrap().end, PLAIN_C2S.len() as u64);
}

#[test]
fn the_client_nick_is_learned_from_the_welcome_alone() {
    let mut session = irc_parser::Session::new(Framing::Plain);
    feed_cut(&mut session, Direction::ServerToClient, PLAIN_S2C, &[]);
    assert_eq!(session.own_nick(), Some("alice2"));
}

#[test]
fn websocket_session_unmasks_client_frames_and_joins_fragments() {
    let (msgs, session) = whole(Framing::WebSocketWithHandshake, WS_C2S, WS_S2C);
    let sent: Vec<_> = msgs
        .iter()
        .filter(|m| m.dir == Direction::ClientToServer)
        .filter_map(|m| m.irc())
        .map(|l| l.line.command.clone())
        .collect();
    assert_eq!(
        sent,
        ["CAP", "CAP", "NICK", "USER", "CAP", "JOIN", "PRIVMSG", "NOTICE", "PRIVMSG", "PART"]
    );
    assert_eq!(
        chats(&msgs, Direction::ClientToServer)[0],
        (s("bob"), "hi alice, bob here over websocket".into(), true)
    );
    assert_eq!(session.anomalies(), &[]);
}

#[test]
fn websocket_control_frames_are_reported_with_the_close_code() {
    let (msgs, _) = whole(Framing::WebSocketWithHandshake, WS_C2S, WS_S2C);
    let controls: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m.body {
            Body::WebSocketControl { opcode, close_code } => Some((m.dir, opcode, close_code)),
            Body::Irc(_) => None,
        })
        .collect();
    assert_eq!(
        controls,
        [
            // InspIRCd answered bob's ping, and closed TCP without a close frame.
            (Direction::ServerToClient, Opcode::PONG, None),
            (Direction::ClientToServer, Opcode::PING, None),
            (Direction::ClientToServer, Opcode::CLOSE, Some(1000)),
        ]
    );
}

#[test]
fn a_fragmented_line_spans_from_its_first_fragment_to_its_last() {
    let (msgs, _) = whole(Framing::WebSocketWithHandshake, WS_C2S, WS_S2C);
    let m = msgs
        .iter()
        .find(|m| {
            m.irc()
                .and_then(|l| l.chat.as_ref())
                .is_some_and(|c| c.text.starts_with("hi alice"))
        })
        .unwrap();
    assert_eq!(m.dir, Direction::ClientToServer);
    // Three frames on the wire: text (20 bytes payload, not FIN), ping (8), continuation.
    let payload = b"PRIVMSG #lagtap :hi alice, bob here over websocket".len() as u64;
    assert_eq!(m.end - m.start, (6 + 20) + (6 + 8) + (6 + payload - 20));
    assert_eq!(&WS_C2S[m.start as usize..m.start as usize + 1], &[0x01]); // text, no FIN
}

#[test]
fn websocket_received_lines_are_bare_messages_with_tags() {
    let (msgs, _) = whole(Framing::WebSocketWithHandshake, WS_C2S, WS_S2C);
    let first = msgs
        .iter()
        .filter(|m| m.dir == Direction::ServerToClient)
        .find_map(|m| m.irc()?.chat.clone())
        .unwrap();
    assert_eq!(first.kind, ChatKind::Privmsg);
    assert_eq!(
        (first.nick.as_deref(), first.text.as_str()),
        (Some("alice"), "hello from alice")
    );
    assert!(first.server_time_ns.is_some() && first.id.is_some());
    let welcome = msgs
        .iter()
        .filter_map(|m| m.irc())
        .find(|l| matches!(l.line.command(), Command::Numeric { code: 1, .. }))
        .unwrap();
    assert_eq!(welcome.line.params[0], "bob");
}

#[test]
fn websocket_after_an_upgrade_seen_by_the_http_layer_gives_the_same_messages() {
    let head = |b: &[u8]| b.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let (hc, hs) = (head(WS_C2S), head(WS_S2C));
    let mut session = irc_parser::Session::new(Framing::WebSocket);
    let mut got: Vec<Message> = Vec::new();
    let used = session.feed(Direction::ServerToClient, hs as u64, &WS_S2C[hs..]);
    assert_eq!(used, WS_S2C.len() - hs);
    got.extend(session.drain());
    session.feed(Direction::ClientToServer, hc as u64, &WS_C2S[hc..]);
    got.extend(session.drain());
    let (expected, _) = whole(Framing::WebSocketWithHandshake, WS_C2S, WS_S2C);
    assert_eq!(got, expected);
}

/// The contract's split test: every cut point, and one-byte pieces.
fn split_everywhere(framing: Framing, c2s: &[u8], s2c: &[u8]) {
    let (expected, _) = whole(framing, c2s, s2c);
    assert!(expected.len() > 10);
    for cut in 1..c2s.len().max(s2c.len()) {
        let cc: Vec<usize> = (cut < c2s.len()).then_some(cut).into_iter().collect();
        let sc: Vec<usize> = (cut < s2c.len()).then_some(cut).into_iter().collect();
        let (got, _) = run(framing, c2s, s2c, &cc, &sc);
        assert_eq!(got, expected, "split at {cut}");
    }
    let every_c: Vec<usize> = (1..c2s.len()).collect();
    let every_s: Vec<usize> = (1..s2c.len()).collect();
    let (got, _) = run(framing, c2s, s2c, &every_c, &every_s);
    assert_eq!(got, expected, "one-byte pieces");
}

#[test]
fn plain_stream_split_at_every_byte_or_fed_bytewise_gives_the_same_messages() {
    split_everywhere(Framing::Plain, PLAIN_C2S, PLAIN_S2C);
}

#[test]
fn websocket_stream_split_at_every_byte_or_fed_bytewise_gives_the_same_messages() {
    split_everywhere(Framing::WebSocketWithHandshake, WS_C2S, WS_S2C);
}
