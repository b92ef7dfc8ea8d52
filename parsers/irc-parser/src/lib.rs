//! IRC chat from captured TCP streams: plain IRC lines, or IRC inside WebSocket
//! frames (RFC 6455) as browsers (Twitch's web chat) send it.
//!
//! lagtap's messaging latency is "a chat line left the sender's host" → "the line
//! carrying it arrived at the receiver's host". This crate finds those lines and what
//! they mean: a [`Session`] per TCP connection takes the in-order bytes of both
//! directions with their stream offsets (see `docs/parsers.md`) and yields
//! [`Message`]s, each with its direction, the offsets of its first byte and one past
//! its last byte, the parsed [`Line`], and for chat lines a [`Chat`] with channel,
//! sender nick, text and the tags used to match it across hosts (`id`/`msgid`,
//! `client-nonce`, `tmi-sent-ts`, `time=`).
//!
//! # Design
//! - Pure and streaming: no clocks, files or threads. Plain IRC consumes whole lines
//!   and leaves the partial last line with the caller; WebSocket frames are decoded
//!   incrementally, and only the current line is buffered (capped at
//!   [`MAX_LINE_LEN`]), since a line may span frames.
//! - WebSocket: the HTTP layer usually detects the upgrade and feeds only what
//!   follows it ([`Framing::WebSocket`]); a caller without an HTTP layer can let the
//!   session skip the upgrade head itself ([`Framing::WebSocketWithHandshake`]).
//!   A line ends at a newline or at the end of a data message, so both Twitch (many
//!   CRLF-terminated lines per frame) and the IRCv3 WebSocket spec (one bare line per
//!   message) work.
//! - The client's own nick is learned from the stream, so sent lines (which carry no
//!   prefix) get a sender. The session sees each direction in the order it is fed;
//!   feed both directions in capture order so a nick change lands before the lines
//!   that follow it.
//! - Bad input never panics or grows memory: over-long lines, gaps, malformed lines
//!   and broken frames are counted by reason in [`Session::anomalies`].
#![forbid(unsafe_code)]

mod line;
mod session;
pub mod websocket;

pub use line::{
    parse_rfc3339_ns, unescape_tag_value, Command, Line, LineError, Prefix, Tag, MAX_PARAMS,
};
pub use session::{
    Body, Chat, ChatKind, Direction, Framing, IrcLine, Message, Session, MAX_HANDSHAKE_LEN,
    MAX_LINE_LEN,
};

/// The body of the fuzz target (`fuzz/fuzz_targets/session.rs`), here so that a
/// normal test runs it over the seeds too. The first byte picks the framing and a
/// chunk size; the rest is fed as both directions in chunks, with a gap now and then.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let framing = match ctl % 3 {
        0 => Framing::Plain,
        1 => Framing::WebSocket,
        _ => Framing::WebSocketWithHandshake,
    };
    let chunk = 1 + usize::from(ctl >> 2);
    let mut session = Session::new(framing);
    let mut held: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut offsets = [0_u64; 2];
    for (i, piece) in rest.chunks(chunk).enumerate() {
        let dir = if i % 3 == 2 {
            Direction::ServerToClient
        } else {
            Direction::ClientToServer
        };
        let di = i % 3 / 2;
        if piece.first() == Some(&0xff) && i % 7 == 6 {
            // A missed segment: the caller drops what it held and reports the gap.
            let missed = held[di].len() as u64 + piece.len() as u64;
            session.gap(dir, offsets[di], missed);
            offsets[di] += missed;
            held[di].clear();
            continue;
        }
        held[di].extend_from_slice(piece);
        let used = session.feed(dir, offsets[di], &held[di]);
        assert!(used <= held[di].len(), "consumed more than it was given");
        held[di].drain(..used);
        offsets[di] += used as u64;
        for m in session.drain() {
            assert!(m.start <= m.end, "message ends before it starts");
        }
    }
    session.end(Direction::ClientToServer, offsets[0]);
    session.end(Direction::ServerToClient, offsets[1]);
    let _ = session.drain().count();
}
