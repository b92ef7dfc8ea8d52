//! Helpers shared by the integration tests: feed a stream the way the flow layer
//! does (keeping the unconsumed tail) and collect the messages.
#![allow(dead_code)] // each test binary uses a different subset

use irc_parser::{Direction, Framing, Message, Session};

pub const PLAIN_C2S: &[u8] = include_bytes!("../data/plain.c2s.bin");
pub const PLAIN_S2C: &[u8] = include_bytes!("../data/plain.s2c.bin");
pub const WS_C2S: &[u8] = include_bytes!("../data/websocket.c2s.bin");
pub const WS_S2C: &[u8] = include_bytes!("../data/websocket.s2c.bin");

/// Feed one direction in pieces cut at `cuts` (ascending offsets into `data`).
pub fn feed_cut(
    session: &mut Session,
    dir: Direction,
    data: &[u8],
    cuts: &[usize],
) -> Vec<Message> {
    let mut out = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    let mut held_at = 0_u64;
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&data.len())) {
        held.extend_from_slice(&data[from..to]);
        from = to;
        let used = session.feed(dir, held_at, &held);
        assert!(used <= held.len());
        held.drain(..used);
        held_at += used as u64;
        out.extend(session.drain());
    }
    session.end(dir, data.len() as u64);
    out.extend(session.drain());
    out
}

/// Server-to-client first, then client-to-server: each direction's nick tracking
/// then sees its own confirmations in order (see the crate docs on ordering).
pub fn run(
    framing: Framing,
    c2s: &[u8],
    s2c: &[u8],
    c2s_cuts: &[usize],
    s2c_cuts: &[usize],
) -> (Vec<Message>, Session) {
    let mut session = Session::new(framing);
    let mut out = feed_cut(&mut session, Direction::ServerToClient, s2c, s2c_cuts);
    out.extend(feed_cut(
        &mut session,
        Direction::ClientToServer,
        c2s,
        c2s_cuts,
    ));
    (out, session)
}

pub fn whole(framing: Framing, c2s: &[u8], s2c: &[u8]) -> (Vec<Message>, Session) {
    run(framing, c2s, s2c, &[], &[])
}
