//! One TCP connection carrying IRC, plain or inside WebSocket frames: finds the
//! lines, parses them, tracks the client's nick and reports chat.

use crate::line::{Command, Line};
use crate::websocket::{self, FrameError, FrameHeader, Opcode, MAX_CONTROL_PAYLOAD};
use std::collections::VecDeque;

/// Longest line accepted: IRCv3 allows 8191 bytes of tags plus the classic 512 bytes
/// of message. Longer lines are counted (`irc.line_too_long`) and skipped to the next
/// newline, so one bad line costs neither memory nor the rest of the stream.
pub const MAX_LINE_LEN: usize = 8191 + 512;

/// Longest HTTP upgrade head (request or 101 response) skipped in
/// [`Framing::WebSocketWithHandshake`]; browsers send well under 2 KiB.
pub const MAX_HANDSHAKE_LEN: usize = 16 * 1024;

/// Which way bytes flow on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }
}

/// How IRC is carried on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Lines straight on TCP (ports 6667/6697).
    Plain,
    /// WebSocket frames from the first byte fed: the HTTP layer saw the upgrade and
    /// feeds only what follows the request and the 101 response (offsets keep counting
    /// from the start of the TCP stream, as the flow layer knows them).
    WebSocket,
    /// WebSocket, with the session itself skipping the HTTP upgrade head (everything
    /// up to the first blank line) in each direction. A response other than
    /// `101` gives the connection up (`ws.upgrade_refused`).
    WebSocketWithHandshake,
}

/// Chat-relevant kinds of line. They are told apart because they are different
/// things to a viewer: a NOTICE is often a bot's or the server's, and must never be
/// taken for (or matched against) a user's chat line with the same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    Privmsg,
    /// A PRIVMSG whose text is a CTCP ACTION (`\x01ACTION waves\x01`, "/me waves"):
    /// [`Chat::text`] is what follows `ACTION `, without the CTCP delimiters.
    Action,
    Notice,
    /// Twitch USERNOTICE (subscription, raid…) with or without the user's text.
    UserNotice,
}

/// What a chat line means for the latency study: everything `ChatSent` /
/// `ChatReceived` events need besides times, which the flow layer adds from offsets.
/// Only lines to channels (`#`, `&`, `+`, `!`) are chat; private messages and server
/// notices to the user are not part of a stream's chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub kind: ChatKind,
    pub channel: String,
    /// The sender: the prefix's nick on received lines, the client's own nick (as
    /// learned so far) on sent lines, where IRC carries no prefix.
    pub nick: Option<String>,
    /// True when the sender is this client: every sent line, and received lines the
    /// server echoed back (IRCv3 echo-message) or relayed from our own nick.
    pub from_self: bool,
    pub text: String,
    /// Twitch `id` tag, else IRCv3 `msgid`: the server-assigned message id.
    pub id: Option<String>,
    /// Twitch `client-nonce` or the client-only `+client-nonce`: set by the sender,
    /// echoed by the server, so it matches a sent line to its copies.
    pub client_nonce: Option<String>,
    pub display_name: Option<String>,
    pub room_id: Option<String>,
    /// Twitch `tmi-sent-ts` in ns since the Unix epoch.
    pub tmi_sent_ts_ns: Option<i64>,
    /// IRCv3 `time=` in ns since the Unix epoch.
    pub server_time_ns: Option<i64>,
}

/// One IRC line with its chat meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcLine {
    pub line: Line,
    pub chat: Option<Chat>,
}

/// What a [`Message`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Irc(Box<IrcLine>),
    /// A WebSocket close, ping or pong frame; `close_code` from a close frame's payload.
    WebSocketControl {
        opcode: Opcode,
        close_code: Option<u16>,
    },
}

/// A decoded message with the stream offsets of its first byte and one past its last
/// byte in direction `dir`. For IRC over WebSocket these are the bounds of the
/// frames that carried the line (first byte of the frame holding its first byte, end
/// of the frame holding its last byte), because the frame is what the wire delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub dir: Direction,
    pub start: u64,
    pub end: u64,
    pub body: Body,
}

impl Message {
    /// The IRC line, unless this is a WebSocket control frame.
    pub fn irc(&self) -> Option<&IrcLine> {
        match &self.body {
            Body::Irc(l) => Some(l),
            Body::WebSocketControl { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WsStage {
    Handshake,
    Header,
    Payload(FramePayload),
    /// Framing lost: everything else in this direction is ignored.
    Dead,
}

/// Where the decoder is inside a frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FramePayload {
    remaining: u64,
    /// Payload bytes already passed (for the masking key's phase).
    pos: u64,
    mask: Option<[u8; 4]>,
    fin: bool,
    opcode: Opcode,
    /// Data frame of a message whose payload is IRC (not compressed).
    text: bool,
    /// Stream offsets of the whole frame, header included.
    start: u64,
    end: u64,
}

#[derive(Debug)]
struct DirState {
    /// Stream offset of the next byte expected, once `started`.
    next: u64,
    started: bool,
    /// Skip up to the next line boundary (after a gap or an over-long line).
    skipping: bool,
    ws: WsStage,
    /// WebSocket only: inside a fragmented data message.
    in_message: bool,
    /// WebSocket only: bytes of the current line, which may span frames.
    pending: Vec<u8>,
    pending_start: u64,
    control_payload: Vec<u8>,
}

impl DirState {
    fn new(framing: Framing) -> Self {
        DirState {
            next: 0,
            started: false,
            skipping: false,
            ws: match framing {
                Framing::WebSocketWithHandshake => WsStage::Handshake,
                _ => WsStage::Header,
            },
            in_message: false,
            pending: Vec::new(),
            pending_start: 0,
            control_payload: Vec::new(),
        }
    }
}

/// An IRC session over one TCP connection, both directions. See the crate docs.
#[derive(Debug)]
pub struct Session {
    framing: Framing,
    dirs: [DirState; 2],
    own_nick: Option<String>,
    out: VecDeque<Message>,
    anomalies: Vec<(&'static str, u64)>,
}

impl Session {
    pub fn new(framing: Framing) -> Self {
        Session {
            framing,
            dirs: [DirState::new(framing), DirState::new(framing)],
            own_nick: None,
            out: VecDeque::new(),
            anomalies: Vec::new(),
        }
    }

    /// The client's nick as learned so far: from its `NICK`, the server's 001
    /// welcome, and the server's confirmation of a nick change.
    pub fn own_nick(&self) -> Option<&str> {
        self.own_nick.as_deref()
    }

    /// Feed in-order bytes of `dir` whose first byte is at stream offset `offset`;
    /// returns how many were consumed. Plain IRC consumes whole lines only (the caller
    /// keeps the partial last line and passes it again); WebSocket consumes whole frame
    /// headers and any amount of payload. Bytes at offsets already consumed are
    /// skipped (`irc.overlap`); a jump forward is treated as a gap.
    pub fn feed(&mut self, dir: Direction, offset: u64, input: &[u8]) -> usize {
        if offset.checked_add(input.len() as u64).is_none() {
            // No real stream is 2^64 bytes long; refuse rather than wrap offsets.
            self.count("irc.offset_overflow");
            return input.len();
        }
        let d = &mut self.dirs[dir.index()];
        if !d.started {
            d.started = true;
            d.next = offset;
        }
        let next = d.next;
        let mut skip = 0;
        if offset < next {
            self.count("irc.overlap");
            skip = (next - offset).min(input.len() as u64) as usize;
            if skip == input.len() {
                return skip;
            }
        } else if offset > next {
            self.gap(dir, next, offset - next);
        }
        let start = offset + skip as u64;
        let used = match self.framing {
            Framing::Plain => self.feed_plain(dir, start, &input[skip..]),
            Framing::WebSocket | Framing::WebSocketWithHandshake => {
                self.feed_ws(dir, start, &input[skip..])
            }
        };
        self.dirs[dir.index()].next = start + used as u64;
        skip + used
    }

    /// The capture missed `len` bytes of `dir` from `offset`. Plain IRC resyncs at the
    /// next newline; WebSocket resyncs at the next line or message end when the gap
    /// lies inside one frame's payload, and gives the direction up when the gap hides a
    /// frame header (`ws.gave_up`), since frame boundaries cannot be found again
    /// reliably. Call it before the first `feed` when a capture starts mid-connection.
    pub fn gap(&mut self, dir: Direction, offset: u64, len: u64) {
        self.count("irc.gap");
        let framing = self.framing;
        let d = &mut self.dirs[dir.index()];
        d.started = true;
        d.next = offset.saturating_add(len);
        d.skipping = true;
        d.pending.clear();
        if framing == Framing::Plain {
            return;
        }
        let gave_up = match &mut d.ws {
            WsStage::Payload(p) if len < p.remaining => {
                p.remaining -= len;
                p.pos += len;
                false
            }
            WsStage::Payload(p) if len == p.remaining => {
                // The gap ends with the frame: framing survives. If the frame ended
                // its message, the next frame starts a new line.
                if p.fin {
                    d.in_message = false;
                    d.skipping = false;
                }
                d.ws = WsStage::Header;
                false
            }
            WsStage::Dead => false,
            _ => {
                d.ws = WsStage::Dead;
                true
            }
        };
        if gave_up {
            self.count("ws.gave_up");
        }
    }

    /// The direction ended. IRC has no close-delimited data: a last line without its
    /// newline is not a message (servers drop it too), so in plain IRC the tail the
    /// caller still holds is simply not reported. WebSocket: a partial line of an
    /// unfinished message is dropped and counted (`ws.truncated_message`).
    pub fn end(&mut self, dir: Direction, _offset: u64) {
        let d = &mut self.dirs[dir.index()];
        if !d.pending.is_empty() || matches!(d.ws, WsStage::Payload(_)) {
            d.pending.clear();
            d.ws = WsStage::Dead;
            self.count("ws.truncated_message");
        }
    }

    /// Messages decoded so far, in the order they completed.
    pub fn drain(&mut self) -> impl Iterator<Item = Message> + '_ {
        self.out.drain(..)
    }

    /// Anomalies counted by reason.
    pub fn anomalies(&self) -> &[(&'static str, u64)] {
        &self.anomalies
    }

    fn count(&mut self, reason: &'static str) {
        match self.anomalies.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.anomalies.push((reason, 1)),
        }
    }

    fn feed_plain(&mut self, dir: Direction, offset: u64, input: &[u8]) -> usize {
        let mut pos = 0;
        while let Some(nl) = input[pos..].iter().position(|&b| b == b'\n') {
            let line = &input[pos..pos + nl];
            let (start, end) = (offset + pos as u64, offset + (pos + nl + 1) as u64);
            pos += nl + 1;
            let d = &mut self.dirs[dir.index()];
            if d.skipping {
                d.skipping = false;
            } else if line.len() > MAX_LINE_LEN {
                self.count("irc.line_too_long");
            } else {
                self.emit_line(dir, start, end, line);
            }
        }
        let rest = input.len() - pos;
        let d = &mut self.dirs[dir.index()];
        if d.skipping {
            return input.len();
        }
        if rest > MAX_LINE_LEN {
            d.skipping = true;
            self.count("irc.line_too_long");
            return input.len();
        }
        pos
    }

    fn feed_ws(&mut self, dir: Direction, offset: u64, input: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            let di = dir.index();
            match self.dirs[di].ws {
                WsStage::Dead => return input.len(),
                WsStage::Handshake => {
                    let Some(end) = input[pos..].windows(4).position(|w| w == b"\r\n\r\n") else {
                        if input.len() - pos > MAX_HANDSHAKE_LEN {
                            self.give_up(dir, "ws.handshake_too_long");
                            return input.len();
                        }
                        return pos;
                    };
                    let head = &input[pos..pos + end];
                    if dir == Direction::ServerToClient
                        && !(head.starts_with(b"HTTP/1.1 101") || head.starts_with(b"HTTP/1.0 101"))
                    {
                        self.give_up(dir, "ws.upgrade_refused");
                        return input.len();
                    }
                    pos += end + 4;
                    self.dirs[di].ws = WsStage::Header;
                }
                WsStage::Header => match websocket::parse_header(&input[pos..]) {
                    Ok(None) => return pos,
                    Err(FrameError::TooLong(_)) => {
                        self.give_up(dir, "ws.frame_too_long");
                        return input.len();
                    }
                    Err(FrameError::ReservedOpcode(_)) => {
                        self.give_up(dir, "ws.reserved_opcode");
                        return input.len();
                    }
                    Ok(Some(h)) => {
                        let start = offset + pos as u64;
                        pos += h.header_len;
                        self.begin_frame(dir, start, h);
                    }
                },
                WsStage::Payload(mut p) => {
                    let n = p.remaining.min((input.len() - pos) as u64) as usize;
                    if n == 0 && p.remaining > 0 {
                        return pos;
                    }
                    let mut chunk = input[pos..pos + n].to_vec();
                    if let Some(key) = p.mask {
                        websocket::unmask(&mut chunk, key, p.pos);
                    }
                    pos += n;
                    if p.text {
                        self.push_ws_text(dir, p.start, p.end, &chunk);
                    } else if p.opcode.is_control() {
                        let buf = &mut self.dirs[di].control_payload;
                        let room = (MAX_CONTROL_PAYLOAD as usize).saturating_sub(buf.len());
                        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    }
                    p.remaining -= n as u64;
                    p.pos += n as u64;
                    if p.remaining > 0 {
                        self.dirs[di].ws = WsStage::Payload(p);
                        return pos;
                    }
                    self.dirs[di].ws = WsStage::Header;
                    self.end_frame(dir, p.start, p.end, p.fin, p.opcode);
                }
            }
        }
    }

    fn give_up(&mut self, dir: Direction, reason: &'static str) {
        let d = &mut self.dirs[dir.index()];
        d.ws = WsStage::Dead;
        d.pending.clear();
        self.count(reason);
        self.count("ws.gave_up");
    }

    fn begin_frame(&mut self, dir: Direction, start: u64, h: FrameHeader) {
        let end = start.saturating_add(h.header_len as u64 + h.payload_len);
        let d = &mut self.dirs[dir.index()];
        let mut text = false;
        let mut anomaly = None;
        if h.opcode.is_control() {
            d.control_payload.clear();
            if h.payload_len > MAX_CONTROL_PAYLOAD || !h.fin {
                anomaly = Some("ws.bad_control_frame");
            }
        } else if h.opcode == Opcode::CONTINUATION {
            if d.in_message {
                text = h.rsv == 0;
            } else {
                anomaly = Some("ws.orphan_continuation");
            }
        } else {
            // A new message starts at a line boundary, whatever was lost before.
            d.skipping = false;
            if d.in_message {
                // The previous message never finished: its partial line is unreliable.
                d.pending.clear();
                anomaly = Some("ws.unfinished_message");
            }
            d.in_message = true;
            text = h.rsv == 0;
            if h.rsv != 0 {
                anomaly = Some("ws.compressed_frame");
            }
        }
        d.ws = WsStage::Payload(FramePayload {
            remaining: h.payload_len,
            pos: 0,
            mask: h.mask,
            fin: h.fin,
            opcode: h.opcode,
            text,
            start,
            end,
        });
        if let Some(a) = anomaly {
            self.count(a);
        }
    }

    fn end_frame(&mut self, dir: Direction, start: u64, end: u64, fin: bool, opcode: Opcode) {
        let di = dir.index();
        if opcode.is_control() {
            let payload = std::mem::take(&mut self.dirs[di].control_payload);
            let close_code = (opcode == Opcode::CLOSE && payload.len() >= 2)
                .then(|| u16::from_be_bytes([payload[0], payload[1]]));
            self.out.push_back(Message {
                dir,
                start,
                end,
                body: Body::WebSocketControl { opcode, close_code },
            });
            return;
        }
        if !fin || !self.dirs[di].in_message {
            return;
        }
        // End of a data message ends its last line even without a newline:
        // InspIRCd and the IRCv3 WebSocket spec send one line per message, bare.
        let d = &mut self.dirs[di];
        d.in_message = false;
        let skipping = std::mem::replace(&mut d.skipping, false);
        let pending = std::mem::take(&mut d.pending);
        if !skipping && !pending.is_empty() {
            let line_start = d.pending_start;
            self.emit_line(dir, line_start, end, &pending);
        }
    }

    /// Payload bytes of a data frame spanning `start..end` on the wire.
    fn push_ws_text(&mut self, dir: Direction, start: u64, end: u64, mut chunk: &[u8]) {
        let di = dir.index();
        while !chunk.is_empty() {
            let nl = chunk.iter().position(|&b| b == b'\n');
            let piece = &chunk[..nl.unwrap_or(chunk.len())];
            chunk = nl.map_or(&[][..], |i| &chunk[i + 1..]);
            let d = &mut self.dirs[di];
            if !d.skipping {
                if d.pending.is_empty() {
                    d.pending_start = start;
                }
                if d.pending.len() + piece.len() > MAX_LINE_LEN {
                    d.pending.clear();
                    d.skipping = true;
                    self.count("irc.line_too_long");
                } else {
                    d.pending.extend_from_slice(piece);
                }
            }
            if nl.is_some() {
                let d = &mut self.dirs[di];
                let skipping = std::mem::replace(&mut d.skipping, false);
                let pending = std::mem::take(&mut d.pending);
                if !skipping {
                    let line_start = d.pending_start;
                    self.emit_line(dir, line_start, end, &pending);
                }
            }
        }
    }

    fn emit_line(&mut self, dir: Direction, start: u64, end: u64, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(|&b| b == b' ') {
            return; // RFC 2812: empty lines are silently ignored.
        }
        let line = match Line::parse(raw) {
            Ok(line) => line,
            Err(_) => {
                self.count("irc.malformed_line");
                return;
            }
        };
        self.learn_nick(dir, &line);
        let chat = self.chat(dir, &line);
        self.out.push_back(Message {
            dir,
            start,
            end,
            body: Body::Irc(Box::new(IrcLine { line, chat })),
        });
    }

    fn learn_nick(&mut self, dir: Direction, line: &Line) {
        let new = match (dir, line.command()) {
            (Direction::ClientToServer, Command::Nick { nick }) => nick,
            (
                Direction::ServerToClient,
                Command::Numeric {
                    code: 1,
                    target: Some(t),
                    ..
                },
            ) => t,
            (Direction::ServerToClient, Command::Nick { nick })
                if self.is_own(line.source_nick()) =>
            {
                nick
            }
            _ => return,
        };
        self.own_nick = Some(new.to_owned());
    }

    fn is_own(&self, nick: Option<&str>) -> bool {
        match (nick, &self.own_nick) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }

    fn chat(&self, dir: Direction, line: &Line) -> Option<Chat> {
        let (kind, channel, text) = match line.command() {
            Command::Privmsg { target, text } => match ctcp_action(text) {
                Some(action) => (ChatKind::Action, target, action),
                None => (ChatKind::Privmsg, target, text),
            },
            Command::Notice { target, text } => (ChatKind::Notice, target, text),
            Command::UserNotice { channel, text } => {
                (ChatKind::UserNotice, channel, text.unwrap_or(""))
            }
            _ => return None,
        };
        if !channel.starts_with(['#', '&', '+', '!']) {
            return None;
        }
        let (nick, from_self) = match dir {
            Direction::ClientToServer => (self.own_nick.clone(), true),
            Direction::ServerToClient => {
                let nick = line
                    .prefix
                    .as_ref()
                    .filter(|p| p.user.is_some() || p.host.is_some());
                let nick = nick.map(|p| p.name.clone());
                let own = self.is_own(nick.as_deref());
                (nick, own)
            }
        };
        let tag = |k: &str| line.tag(k).filter(|v| !v.is_empty()).map(str::to_owned);
        Some(Chat {
            kind,
            channel: channel.to_owned(),
            nick,
            from_self,
            text: text.to_owned(),
            id: tag("id").or_else(|| tag("msgid")),
            client_nonce: tag("client-nonce").or_else(|| tag("+client-nonce")),
            display_name: tag("display-name"),
            room_id: tag("room-id"),
            tmi_sent_ts_ns: line.tmi_sent_ts_ns(),
            server_time_ns: line.server_time_ns(),
        })
    }
}

/// The text of a CTCP ACTION (Client-to-Client Protocol, draft-oakley-irc-ctcp-02:
/// a `\x01` delimiter, the command, a space and its parameters, then a closing `\x01`
/// that senders must write and receivers should not insist on), or `None` for any
/// other PRIVMSG text.
fn ctcp_action(text: &str) -> Option<&str> {
    let body = text.strip_prefix("\x01ACTION")?;
    let body = body.strip_suffix('\x01').unwrap_or(body);
    match body.strip_prefix(' ') {
        Some(action) => Some(action),
        None if body.is_empty() => Some(""),
        // `\x01ACTIONS...`: another CTCP command that starts with the same letters.
        None => None,
    }
}
