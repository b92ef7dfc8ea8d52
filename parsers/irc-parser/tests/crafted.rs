//! Lines and frames written for these tests: IRCv3 spec examples, Twitch-style chat
//! (written from Twitch's documented tag set, not captured), and the failure cases a
//! capture can produce (gaps, over-long lines, broken frames).

mod common;

use common::feed_cut;
use irc_parser::websocket::{parse_header, unmask, FrameError, Opcode};
use irc_parser::{
    parse_rfc3339_ns, Body, ChatKind, Command, Direction, Framing, Line, LineError, Session,
    MAX_LINE_LEN,
};

const TWITCH_PRIVMSG: &str = "@badge-info=;badges=broadcaster/1;client-nonce=459e3142897c7a22b7d275178f2259e0;color=#FF0000;display-name=Foo;emotes=;first-msg=0;flags=;id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=0;room-id=713936733;subscriber=0;tmi-sent-ts=1700000000123;turbo=0;user-id=713936733;user-type= :foo!foo@foo.tmi.twitch.tv PRIVMSG #foo :hi there";

#[test]
fn ircv3_spec_example_with_tags_prefix_and_trailing_parses() {
    let l = Line::parse(b"@id=123AB;rose :nick!ident@host.com PRIVMSG me :Hello").unwrap();
    assert_eq!(l.tag("id"), Some("123AB"));
    assert_eq!(l.tag("rose"), Some(""));
    let p = l.prefix.as_ref().unwrap();
    assert_eq!(
        (p.name.as_str(), p.user.as_deref(), p.host.as_deref()),
        ("nick", Some("ident"), Some("host.com"))
    );
    assert_eq!(
        l.command(),
        Command::Privmsg {
            target: "me",
            text: "Hello"
        }
    );
}

#[test]
fn ircv3_escaped_tag_values_are_unescaped() {
    let l = Line::parse(br"@a=b\\and\nk;c=72\s45;d=gh\:764;e=x\yz\ foo").unwrap();
    assert_eq!(l.tag("a"), Some("b\\and\nk"));
    assert_eq!(l.tag("c"), Some("72 45"));
    assert_eq!(l.tag("d"), Some("gh;764"));
    // Unknown escapes drop the backslash; a trailing lone backslash is dropped.
    assert_eq!(l.tag("e"), Some("xyz"));
    assert_eq!(l.command, "FOO");
    assert_eq!(
        l.raw_tags.as_deref(),
        Some(r"a=b\\and\nk;c=72\s45;d=gh\:764;e=x\yz\")
    );
}

#[test]
fn ircv3_client_only_and_vendor_tags_keep_their_keys() {
    let l = Line::parse(b"@+example.com/foo=bar;+icon=https://example.com/x.png :n PRIVMSG #c :x")
        .unwrap();
    assert_eq!(l.tag("+example.com/foo"), Some("bar"));
    assert_eq!(l.tag("+icon"), Some("https://example.com/x.png"));
}

#[test]
fn twitch_privmsg_gives_chat_with_id_nonce_room_and_sent_timestamp() {
    let mut s = Session::new(Framing::Plain);
    let line = format!("{TWITCH_PRIVMSG}\r\n");
    assert_eq!(
        s.feed(Direction::ServerToClient, 0, line.as_bytes()),
        line.len()
    );
    let m = s.drain().next().unwrap();
    let chat = m.irc().unwrap().chat.clone().unwrap();
    assert_eq!(chat.kind, ChatKind::Privmsg);
    assert_eq!(
        (
            chat.channel.as_str(),
            chat.nick.as_deref(),
            chat.text.as_str()
        ),
        ("#foo", Some("foo"), "hi there")
    );
    assert_eq!(
        chat.id.as_deref(),
        Some("b34ccfc7-4977-403a-8a94-33c6bac34fb8")
    );
    assert_eq!(
        chat.client_nonce.as_deref(),
        Some("459e3142897c7a22b7d275178f2259e0")
    );
    assert_eq!(chat.display_name.as_deref(), Some("Foo"));
    assert_eq!(chat.room_id.as_deref(), Some("713936733"));
    assert_eq!(chat.tmi_sent_ts_ns, Some(1_700_000_000_123_000_000));
    assert!(!chat.from_self);
    assert_eq!((m.start, m.end), (0, line.len() as u64));
}

#[test]
fn twitch_usernotice_without_a_message_is_chat_with_empty_text() {
    let l = b"@msg-id=raid;display-name=Bar;tmi-sent-ts=1700000000999 :tmi.twitch.tv USERNOTICE #foo\r\n";
    let mut s = Session::new(Framing::Plain);
    s.feed(Direction::ServerToClient, 0, l);
    let chat = s
        .drain()
        .next()
        .unwrap()
        .irc()
        .unwrap()
        .chat
        .clone()
        .unwrap();
    assert_eq!(chat.kind, ChatKind::UserNotice);
    // The server name is not a sender nick.
    assert_eq!((chat.nick, chat.text.as_str()), (None, ""));
}

#[test]
fn server_time_is_parsed_to_nanoseconds_with_any_fraction_and_offsets() {
    // The IRCv3 server-time spec example.
    assert_eq!(
        parse_rfc3339_ns("2011-10-19T16:40:51.620Z"),
        Some(1_319_042_451_620_000_000)
    );
    assert_eq!(
        parse_rfc3339_ns("2011-10-19T16:40:51Z"),
        Some(1_319_042_451_000_000_000)
    );
    assert_eq!(
        parse_rfc3339_ns("2011-10-19T16:40:51.123456789123Z"),
        Some(1_319_042_451_123_456_789)
    );
    assert_eq!(
        parse_rfc3339_ns("2011-10-19T18:40:51.620+02:00"),
        Some(1_319_042_451_620_000_000)
    );
    assert_eq!(
        parse_rfc3339_ns("1969-12-31T23:59:59.5Z"),
        Some(-500_000_000)
    );
    for bad in [
        "",
        "2011-10-19",
        "2011-13-19T16:40:51Z",
        "2011-10-19T16:40:51.Z",
        "2011-10-19T16:40:51",
        "2011-10-19T16:40:51Zjunk",
        "२०११-10-19T16:40:51Z",
    ] {
        assert_eq!(parse_rfc3339_ns(bad), None, "{bad}");
    }
}

#[test]
fn typed_views_cover_cap_numerics_ping_join_part_and_nick() {
    let cmd = |s: &str| Line::parse(s.as_bytes()).unwrap();
    let cap = cmd(":srv CAP * ACK :server-time message-tags");
    assert!(
        matches!(cap.command(), Command::Cap { subcommand: "ACK", args } if args == ["server-time message-tags"])
    );
    let cap = cmd("CAP REQ :twitch.tv/tags twitch.tv/commands");
    assert!(matches!(
        cap.command(),
        Command::Cap {
            subcommand: "REQ",
            ..
        }
    ));
    let welcome = cmd(":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!");
    assert!(matches!(
        welcome.command(),
        Command::Numeric {
            code: 1,
            target: Some("justinfan123"),
            ..
        }
    ));
    assert_eq!(
        cmd("PING :tmi.twitch.tv").command(),
        Command::Ping {
            token: "tmi.twitch.tv"
        }
    );
    assert_eq!(
        cmd(":s PONG s :tok").command(),
        Command::Pong { token: "tok" }
    );
    assert_eq!(
        cmd("JOIN #a,#b").command(),
        Command::Join { channels: "#a,#b" }
    );
    assert_eq!(
        cmd("PART #a :bye").command(),
        Command::Part {
            channels: "#a",
            reason: Some("bye")
        }
    );
    assert_eq!(
        cmd(":x!y@z NICK :new").command(),
        Command::Nick { nick: "new" }
    );
    assert_eq!(
        cmd("privmsg #a").command(),
        Command::Other,
        "PRIVMSG without text"
    );
}

#[test]
fn malformed_lines_are_errors_not_panics() {
    assert_eq!(
        Line::parse(b"@a=b :prefix").unwrap_err(),
        LineError::MissingCommand
    );
    assert_eq!(
        Line::parse(b"PRIV-MSG x").unwrap_err(),
        LineError::BadCommand
    );
    assert_eq!(Line::parse(b"1234 x").unwrap_err(), LineError::BadCommand);
    assert!(Line::parse(b"  PING   a   :b  c").is_ok());
}

#[test]
fn sent_lines_get_the_nick_from_nick_and_bare_lf_is_tolerated() {
    let mut s = Session::new(Framing::Plain);
    let c2s = b"PASS oauth:x\nNICK justinfan123\nPRIVMSG #foo :hello\r\n";
    assert_eq!(s.feed(Direction::ClientToServer, 0, c2s), c2s.len());
    let chat: Vec<_> = s.drain().filter_map(|m| m.irc()?.chat.clone()).collect();
    assert_eq!(chat[0].nick.as_deref(), Some("justinfan123"));
    assert!(chat[0].from_self);
}

#[test]
fn partial_lines_are_left_with_the_caller() {
    let mut s = Session::new(Framing::Plain);
    assert_eq!(
        s.feed(Direction::ServerToClient, 0, b"PING :a\r\nPING :b"),
        9
    );
    assert_eq!(s.feed(Direction::ServerToClient, 9, b"PING :b"), 0);
    assert_eq!(s.feed(Direction::ServerToClient, 9, b"PING :b\r\n"), 9);
    let ends: Vec<_> = s.drain().map(|m| (m.start, m.end)).collect();
    assert_eq!(ends, [(0, 9), (9, 18)]);
}

#[test]
fn over_long_lines_are_counted_and_skipped_to_the_next_newline() {
    let mut s = Session::new(Framing::Plain);
    let long = vec![b'a'; MAX_LINE_LEN + 10];
    // Without a newline in sight the session consumes the line rather than hold it.
    assert_eq!(s.feed(Direction::ServerToClient, 0, &long), long.len());
    let tail = b"aaa\r\nPING :ok\r\n";
    assert_eq!(
        s.feed(Direction::ServerToClient, long.len() as u64, tail),
        tail.len()
    );
    let msgs: Vec<_> = s.drain().collect();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].start, long.len() as u64 + 5);
    assert_eq!(s.anomalies(), &[("irc.line_too_long", 1)]);
}

#[test]
fn after_a_gap_the_session_resyncs_at_the_next_newline() {
    let mut s = Session::new(Framing::Plain);
    s.feed(Direction::ServerToClient, 0, b"PING :a\r\nPRIVMSG #x :hal");
    // The capture missed 10 bytes; the caller drops its tail "PRIVMSG #x :hal".
    s.gap(Direction::ServerToClient, 9, 25);
    let after = b"f a line\r\nPING :b\r\n";
    assert_eq!(s.feed(Direction::ServerToClient, 34, after), after.len());
    let tokens: Vec<_> = s
        .drain()
        .map(|m| m.irc().unwrap().line.params.last().cloned().unwrap())
        .collect();
    assert_eq!(tokens, ["a", "b"]);
    assert_eq!(s.anomalies(), &[("irc.gap", 1)]);
}

#[test]
fn a_capture_starting_mid_connection_skips_the_first_partial_line() {
    let mut s = Session::new(Framing::Plain);
    s.gap(Direction::ServerToClient, 0, 1000);
    s.feed(Direction::ServerToClient, 1000, b"ne\r\nPING :x\r\n");
    assert_eq!(s.drain().count(), 1);
}

#[test]
fn a_jump_in_offsets_counts_as_a_gap() {
    let mut s = Session::new(Framing::Plain);
    s.feed(Direction::ServerToClient, 0, b"PING :a\r\n");
    s.feed(Direction::ServerToClient, 20, b"xx\r\nPING :b\r\n");
    assert_eq!(s.drain().count(), 2);
    assert_eq!(s.anomalies(), &[("irc.gap", 1)]);
}

fn frame(opcode: u8, fin: bool, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n < 65536 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mut body = payload.to_vec();
    if let Some(k) = mask {
        f.extend_from_slice(&k);
        unmask(&mut body, k, 0);
    }
    f.extend(body);
    f
}

#[test]
fn twitch_style_frames_with_several_crlf_lines_yield_each_line_with_the_frame_bounds() {
    let one = frame(
        1,
        true,
        None,
        format!("{TWITCH_PRIVMSG}\r\nPING :tmi.twitch.tv\r\n").as_bytes(),
    );
    let two = frame(1, true, None, b":tmi.twitch.tv PONG tmi.twitch.tv :x\r\n");
    let stream = [one.clone(), two].concat();
    let mut s = Session::new(Framing::WebSocket);
    let msgs = feed_cut(&mut s, Direction::ServerToClient, &stream, &[]);
    let bounds: Vec<_> = msgs.iter().map(|m| (m.start, m.end)).collect();
    let n = one.len() as u64;
    assert_eq!(bounds, [(0, n), (0, n), (n, stream.len() as u64)]);
    assert!(msgs[0].irc().unwrap().chat.is_some());
}

#[test]
fn a_line_split_across_frames_of_one_message_spans_both_frames() {
    let key = Some([1, 2, 3, 4]);
    let a = frame(1, false, key, b"PRIVMSG #c :hel");
    let b = frame(0, true, key, b"lo\r\n");
    let stream = [a, b].concat();
    let mut s = Session::new(Framing::WebSocket);
    let msgs = feed_cut(&mut s, Direction::ClientToServer, &stream, &[]);
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].start, msgs[0].end), (0, stream.len() as u64));
    assert_eq!(msgs[0].irc().unwrap().chat.as_ref().unwrap().text, "hello");
}

#[test]
fn a_64_bit_length_frame_is_read_and_an_absurd_length_gives_the_direction_up() {
    let big = vec![b'x'; 70_000];
    let f = frame(2, true, None, &big);
    assert_eq!(parse_header(&f).unwrap().unwrap().payload_len, 70_000);
    let absurd = [0x81, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        parse_header(&absurd),
        Err(FrameError::TooLong(0x7fff_ffff_ffff_ffff))
    );
    let mut s = Session::new(Framing::WebSocket);
    assert_eq!(s.feed(Direction::ServerToClient, 0, &absurd), absurd.len());
    assert_eq!(
        s.feed(
            Direction::ServerToClient,
            10,
            &frame(1, true, None, b"PING :x")
        ),
        9
    );
    assert_eq!(s.drain().count(), 0);
    assert_eq!(
        s.anomalies(),
        &[("ws.frame_too_long", 1), ("ws.gave_up", 1)]
    );
}

#[test]
fn headers_split_anywhere_ask_for_more_bytes() {
    let f = frame(1, true, Some([9, 8, 7, 6]), &[b'a'; 300]);
    for cut in 0..8 {
        assert_eq!(parse_header(&f[..cut]), Ok(None), "cut {cut}");
    }
    assert_eq!(parse_header(&f[..8]).unwrap().unwrap().header_len, 8);
    assert_eq!(parse_header(&[0x83, 0]), Err(FrameError::ReservedOpcode(3)));
}

#[test]
fn a_gap_inside_a_frame_payload_resyncs_at_the_next_line() {
    let f = frame(
        1,
        true,
        Some([5, 6, 7, 8]),
        b"PRIVMSG #c :lost\r\nPING :kept\r\n",
    );
    let mut s = Session::new(Framing::WebSocket);
    // Header (6 bytes) and 4 payload bytes arrive, 6 are missed, the rest arrives.
    assert_eq!(s.feed(Direction::ClientToServer, 0, &f[..10]), 10);
    s.gap(Direction::ClientToServer, 10, 6);
    assert_eq!(
        s.feed(Direction::ClientToServer, 16, &f[16..]),
        f.len() - 16
    );
    let msgs: Vec<_> = s.drain().collect();
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0].irc().unwrap().line.command(),
        Command::Ping { token: "kept" }
    );
}

#[test]
fn a_gap_over_a_frame_header_gives_the_direction_up() {
    let mut s = Session::new(Framing::WebSocket);
    s.gap(Direction::ClientToServer, 0, 3);
    let f = frame(1, true, None, b"PING :x");
    s.feed(Direction::ClientToServer, 3, &f);
    assert_eq!(s.drain().count(), 0);
    assert_eq!(s.anomalies(), &[("irc.gap", 1), ("ws.gave_up", 1)]);
}

#[test]
fn a_refused_upgrade_gives_the_connection_up() {
    let mut s = Session::new(Framing::WebSocketWithHandshake);
    let resp = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(s.feed(Direction::ServerToClient, 0, resp), resp.len());
    assert!(s.anomalies().contains(&("ws.upgrade_refused", 1)));
}

#[test]
fn compressed_frames_are_counted_and_not_read_as_irc() {
    let mut f = frame(1, true, None, b"\xf2\x48\xcd\xc9\xc9\x07\x00");
    f[0] |= 0x40; // RSV1: permessage-deflate
    let mut s = Session::new(Framing::WebSocket);
    assert_eq!(s.feed(Direction::ServerToClient, 0, &f), f.len());
    assert_eq!(s.drain().count(), 0);
    assert_eq!(s.anomalies(), &[("ws.compressed_frame", 1)]);
}

#[test]
fn a_close_frame_reports_its_status_code() {
    let f = frame(8, true, Some([0, 0, 0, 0]), b"\x03\xe9going away");
    let mut s = Session::new(Framing::WebSocket);
    s.feed(Direction::ClientToServer, 0, &f);
    let m = s.drain().next().unwrap();
    assert_eq!(
        m.body,
        Body::WebSocketControl {
            opcode: Opcode::CLOSE,
            close_code: Some(1001)
        }
    );
}

/// Found by `cargo fuzz run session` (a mutated `time=` year): the year 1013 does not
/// fit in i64 nanoseconds and used to overflow.
#[test]
fn fuzz_regression_server_time_before_1677_is_none_not_an_overflow() {
    assert_eq!(parse_rfc3339_ns("1013-11-25T04:14:45.743Z"), None);
    assert_eq!(parse_rfc3339_ns("9999-12-31T23:59:59Z"), None);
    let l = Line::parse(b"@time=1013-11-25T04:14:45.743Z :a!b@c PRIVMSG #x :y").unwrap();
    assert_eq!(l.server_time_ns(), None);
}

/// CTCP ACTION ("/me"), as the CTCP draft (draft-oakley-irc-ctcp-02) frames it: a
/// PRIVMSG whose text is `\x01ACTION <text>\x01`; the closing delimiter may be missing.
#[test]
fn ctcp_action_is_its_own_kind_with_the_delimiters_stripped() {
    let lines: &[(&[u8], ChatKind, &str)] = &[
        (
            b":carol!c@h PRIVMSG #foo :\x01ACTION waves\x01\r\n",
            ChatKind::Action,
            "waves",
        ),
        (
            b":carol!c@h PRIVMSG #foo :\x01ACTION waves again\r\n",
            ChatKind::Action,
            "waves again",
        ),
        (
            b":carol!c@h PRIVMSG #foo :\x01ACTION\x01\r\n",
            ChatKind::Action,
            "",
        ),
        // Another CTCP command, and ACTION not at the start: ordinary text.
        (
            b":carol!c@h PRIVMSG #foo :\x01ACTIONS x\x01\r\n",
            ChatKind::Privmsg,
            "\x01ACTIONS x\x01",
        ),
        (
            b":carol!c@h PRIVMSG #foo :say \x01ACTION x\x01\r\n",
            ChatKind::Privmsg,
            "say \x01ACTION x\x01",
        ),
        (
            b":carol!c@h NOTICE #foo :\x01ACTION x\x01\r\n",
            ChatKind::Notice,
            "\x01ACTION x\x01",
        ),
    ];
    for (line, kind, text) in lines {
        let mut s = Session::new(Framing::Plain);
        s.feed(Direction::ServerToClient, 0, line);
        let m = s.drain().next().unwrap();
        let chat = m.irc().unwrap().chat.clone().unwrap();
        assert_eq!((chat.kind, chat.text.as_str()), (*kind, *text), "{line:?}");
    }
}
