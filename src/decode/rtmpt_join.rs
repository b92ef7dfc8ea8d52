//! RTMPT tunnels put back together across HTTP connections: host-level state.
//!
//! A client may spread one tunnel over several keep-alive connections, sending each
//! request on whichever is free (a browser's connection pool under Flash Player):
//! the tunnel's RTMP bytes are then only a stream in the order of the requests'
//! sequence numbers (`/send/<id>/<seq>`), not of any one connection. The HTTP
//! connections ([`super::rtmpt`]) hand their tunnel pieces here as [`Piece`]s, with
//! each byte's two capture times; a tunnel, keyed by (client address, server
//! address and port, tunnel id), feeds the request bodies (client → server) and the
//! response bodies (server → client) to one RTMP decoder in sequence order. A piece
//! numbered past the next one waits, within bounds ([`MAX_WAITING`],
//! [`MAX_WAITING_BYTES`]); a number that never comes is skipped as a gap once the
//! bounds are hit or the tunnel ends, and counted.
//!
//! Where a tunnel starts: at seq 0 when that request is seen (ffmpeg's, and this
//! testbed's clients', first). Otherwise (a capture begun mid-tunnel, a client
//! counting from elsewhere) at the lowest number among its requests seen when the
//! first of them is answered: a server answers in order, so a request numbered
//! lower was on the wire before then.
//!
//! A tunnel ends when its `/close/` request is answered in order, or when the last
//! connection that carried it closes (so a one-connection tunnel ends with its
//! connection, as before the join). Its events name the connection that carried
//! its first request (`flow`, `client`, `server`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use super::rtmp::RtmpDecoder;
use super::timemap::{Fed, Tail, TimeMap};
use super::{Ctx, Decoder};
use crate::anomalies::Anomalies;
use crate::events::Event;
use crate::flow::{Dir, FlowMeta};

/// Requests of a tunnel waiting for a lower-numbered one (a pool of a few
/// connections has a few in flight; more is a request that will never come).
pub const MAX_WAITING: usize = 64;
/// Bytes of waiting requests per tunnel.
pub const MAX_WAITING_BYTES: usize = 8 << 20;
/// Tunnels followed per host at once (one per publishing or playing client).
const MAX_TUNNELS: usize = 64;
/// Requests in flight per host.
const MAX_EXCHANGES: usize = 4096;
/// Tunnel openings remembered per host, for telling a tunnel never opened.
const MAX_OPENED: usize = 1024;

/// Which request of which connection: (flow id, HTTP exchange id).
pub type ExchangeRef = (u64, u64);

/// What an HTTP connection hands over about the tunnels it carries, in the order
/// it met it.
#[derive(Debug)]
pub enum Piece {
    /// Exchange `at` is request `seq` of tunnel `id` (a close if `close`); `meta`
    /// is its connection's.
    Start {
        at: ExchangeRef,
        id: String,
        seq: u64,
        close: bool,
        meta: Box<FlowMeta>,
    },
    /// RTMP bytes of exchange `at` (its request body if client → server, its
    /// response body past the interval byte if server → client), with the capture
    /// times of each byte at offsets from 0.
    Bytes {
        at: ExchangeRef,
        dir: Dir,
        bytes: Vec<u8>,
        times: TimeMap,
    },
    /// `len` RTMP bytes of exchange `at` were not captured.
    Gap { at: ExchangeRef, dir: Dir, len: u64 },
    /// Exchange `at` is over: both its bodies are in.
    Done { at: ExchangeRef },
    /// The connection `flow` closed.
    Closed { flow: u64 },
    /// An `/open/1` on the connection `meta` was answered with tunnel id `id`.
    Opened { id: String, meta: Box<FlowMeta> },
}

#[derive(Debug)]
enum Frag {
    Bytes(Vec<u8>, TimeMap),
    Gap(u64),
}

/// One request of a tunnel waiting for its turn.
#[derive(Default)]
struct Slot {
    owner: Option<ExchangeRef>,
    frags: Vec<(Dir, Frag)>,
    done: bool,
    close: bool,
}

type Key = (IpAddr, SocketAddr, String);

struct Tunnel {
    /// The connection of the tunnel's first request: its events' flow.
    meta: Box<FlowMeta>,
    rtmp: RtmpDecoder,
    times: [TimeMap; 2],
    tails: [Tail; 2],
    len: [u64; 2],
    /// The sequence number fed next; `None` until the start is known.
    next: Option<u64>,
    slots: BTreeMap<u64, Slot>,
    waiting_bytes: usize,
    /// Open connections that carried requests of the tunnel.
    flows: HashSet<u64>,
    /// Its close request was answered in order.
    closed: bool,
}

/// The tunnels of one host's capture.
#[derive(Default)]
pub struct Join {
    tunnels: HashMap<Key, Tunnel>,
    /// Request → (tunnel, seq); `None` for a request whose bytes are dropped (a
    /// duplicate or late number, a tunnel over the bound).
    exchanges: HashMap<ExchangeRef, Option<(Key, u64)>>,
    /// Tunnels whose `/open/1` was seen and which have not started yet.
    opened: HashSet<Key>,
    anomalies: Anomalies,
}

impl Join {
    /// Takes the pieces the connections handed over, turning what the tunnels
    /// decode into events (`out`); anomalies of finished tunnels go to `anomalies`.
    pub fn take(
        &mut self,
        pieces: &mut Vec<Piece>,
        out: &mut Vec<Event>,
        anomalies: &mut Anomalies,
    ) {
        for p in pieces.drain(..) {
            match p {
                Piece::Start {
                    at,
                    id,
                    seq,
                    close,
                    meta,
                } => self.start(at, id, seq, close, meta, out, anomalies),
                Piece::Bytes {
                    at,
                    dir,
                    bytes,
                    times,
                } => self.frag(at, dir, Frag::Bytes(bytes, times), out, anomalies),
                Piece::Gap { at, dir, len } => self.frag(at, dir, Frag::Gap(len), out, anomalies),
                Piece::Done { at } => self.done(at, out, anomalies),
                Piece::Closed { flow } => self.closed(flow, out, anomalies),
                Piece::Opened { id, meta } => {
                    if self.opened.len() >= MAX_OPENED {
                        // Openings whose tunnel never started: forgotten, counted.
                        self.anomalies
                            .add("decode.rtmpt_opened_forgotten", self.opened.len() as u64);
                        self.opened.clear();
                    }
                    self.opened.insert((meta.client.ip(), meta.server, id));
                }
            }
        }
        anomalies.merge(&self.anomalies);
        self.anomalies = Anomalies::default();
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        at: ExchangeRef,
        id: String,
        seq: u64,
        close: bool,
        meta: Box<FlowMeta>,
        out: &mut Vec<Event>,
        anomalies: &mut Anomalies,
    ) {
        if self.exchanges.len() >= MAX_EXCHANGES {
            self.anomalies.count("decode.rtmpt_too_many_exchanges");
            return;
        }
        let key = (meta.client.ip(), meta.server, id);
        if !self.tunnels.contains_key(&key) {
            if self.tunnels.len() >= MAX_TUNNELS {
                self.anomalies.count("decode.rtmpt_too_many_tunnels");
                self.exchanges.insert(at, None);
                return;
            }
            if !self.opened.remove(&key) {
                // Decoded all the same (the capture may have begun mid-tunnel; the
                // RTMP decoder then counts what it cannot place).
                self.anomalies.count("decode.rtmpt_not_opened");
            }
            self.tunnels.insert(key.clone(), Tunnel::new(meta.clone()));
        }
        let Some(t) = self.tunnels.get_mut(&key) else {
            return;
        };
        t.flows.insert(meta.id);
        let late = t.next.is_some_and(|n| seq < n);
        if late || t.slots.get(&seq).is_some_and(|s| s.owner.is_some()) {
            // A number already fed or already taken: its bytes cannot be placed.
            self.anomalies.count("decode.rtmpt_duplicate_seq");
            self.exchanges.insert(at, None);
            return;
        }
        let slot = t.slots.entry(seq).or_default();
        slot.owner = Some(at);
        slot.close = close;
        self.exchanges.insert(at, Some((key.clone(), seq)));
        if t.next.is_none() && seq == 0 {
            t.next = Some(0);
        }
        self.advance(&key, out, anomalies);
    }

    fn frag(
        &mut self,
        at: ExchangeRef,
        dir: Dir,
        frag: Frag,
        out: &mut Vec<Event>,
        anomalies: &mut Anomalies,
    ) {
        let Some(Some((key, seq))) = self.exchanges.get(&at).cloned() else {
            return;
        };
        let Some(t) = self.tunnels.get_mut(&key) else {
            return;
        };
        if t.next == Some(seq) {
            t.feed(dir, frag, &mut self.anomalies);
            t.collect(out);
            return;
        }
        // A request skipped while it was still coming in has no slot: the rest of
        // it is dropped (counted when it was skipped).
        let Some(slot) = t.slots.get_mut(&seq) else {
            return;
        };
        if let Frag::Bytes(b, _) = &frag {
            t.waiting_bytes += b.len();
        }
        slot.frags.push((dir, frag));
        // Each skip feeds or drops a request: the waiting bytes shrink to the bound.
        while let Some(t) = self
            .tunnels
            .get_mut(&key)
            .filter(|t| t.waiting_bytes > MAX_WAITING_BYTES)
        {
            self.anomalies.count("decode.rtmpt_waiting_bound");
            t.skip(&mut self.anomalies);
            self.advance(&key, out, anomalies);
        }
    }

    fn done(&mut self, at: ExchangeRef, out: &mut Vec<Event>, anomalies: &mut Anomalies) {
        let Some(Some((key, seq))) = self.exchanges.remove(&at) else {
            return;
        };
        let Some(t) = self.tunnels.get_mut(&key) else {
            return;
        };
        if let Some(slot) = t.slots.get_mut(&seq) {
            slot.done = true;
        }
        if t.next.is_none() {
            // The first request answered: every lower number was sent by now.
            t.next = t.slots.keys().next().copied();
        }
        self.advance(&key, out, anomalies);
    }

    /// Feeds every request whose turn has come; ends the tunnel after its close.
    fn advance(&mut self, key: &Key, out: &mut Vec<Event>, anomalies: &mut Anomalies) {
        let Some(t) = self.tunnels.get_mut(key) else {
            return;
        };
        if t.slots.len() > MAX_WAITING {
            self.anomalies.count("decode.rtmpt_waiting_bound");
            t.skip(&mut self.anomalies);
        }
        t.drain(&mut self.anomalies);
        t.collect(out);
        if t.closed {
            self.finish(key, out, anomalies);
        }
    }

    fn closed(&mut self, flow: u64, out: &mut Vec<Event>, anomalies: &mut Anomalies) {
        // Requests of the connection still unanswered never will be.
        let cut: Vec<ExchangeRef> = self
            .exchanges
            .keys()
            .filter(|(f, _)| *f == flow)
            .copied()
            .collect();
        for at in cut {
            if matches!(self.exchanges.get(&at), Some(Some(_))) {
                self.anomalies.count("decode.rtmpt_exchange_unfinished");
            }
            self.done(at, out, anomalies);
            self.exchanges.remove(&at);
        }
        let ended: Vec<Key> = self
            .tunnels
            .iter_mut()
            .filter_map(|(k, t)| (t.flows.remove(&flow) && t.flows.is_empty()).then(|| k.clone()))
            .collect();
        for key in ended {
            self.finish(&key, out, anomalies);
        }
    }

    /// The tunnel is over: requests still waiting are fed past the numbers that
    /// never came, then its RTMP streams end.
    fn finish(&mut self, key: &Key, out: &mut Vec<Event>, anomalies: &mut Anomalies) {
        let Some(mut t) = self.tunnels.remove(key) else {
            return;
        };
        if t.next.is_none() {
            t.next = t.slots.keys().next().copied();
        }
        loop {
            t.drain(&mut self.anomalies);
            if t.slots.is_empty() {
                break;
            }
            t.skip(&mut self.anomalies);
        }
        self.exchanges
            .retain(|_, v| v.as_ref().is_none_or(|(k, _)| k != key));
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            t.rtmp.end(dir, t.len[dir.index()]);
        }
        t.collect(out);
        let mut handoff = Vec::new();
        t.rtmp.finish(&mut Ctx {
            meta: &t.meta,
            times: &mut t.times,
            out,
            handoff: &mut handoff,
        });
        t.rtmp.anomalies(anomalies);
    }
}

impl Tunnel {
    fn new(meta: Box<FlowMeta>) -> Tunnel {
        Tunnel {
            meta,
            rtmp: RtmpDecoder::tunnelled("rtmpt"),
            times: Default::default(),
            tails: Default::default(),
            len: [0; 2],
            next: None,
            slots: BTreeMap::new(),
            waiting_bytes: 0,
            flows: HashSet::new(),
            closed: false,
        }
    }

    fn feed(&mut self, dir: Dir, frag: Frag, anomalies: &mut Anomalies) {
        let d = dir.index();
        match frag {
            Frag::Bytes(bytes, mut times) => {
                let at = self.len[d];
                self.len[d] += bytes.len() as u64;
                times.copy_into(0, bytes.len() as u64, &mut self.times[d], at);
                let rtmp = &mut self.rtmp;
                if let Fed::Stuck { offset, len } =
                    self.tails[d].feed(at, &bytes, |off, b| rtmp.feed(dir, off, b))
                {
                    anomalies.count("decode.parser_stuck");
                    self.rtmp.gap(dir, offset, len);
                }
            }
            Frag::Gap(len) => self.gap(dir, len),
        }
    }

    /// Feeds what a request brought while it waited.
    fn feed_waiting(&mut self, frags: Vec<(Dir, Frag)>, anomalies: &mut Anomalies) {
        for (dir, frag) in frags {
            if let Frag::Bytes(b, _) = &frag {
                self.waiting_bytes = self.waiting_bytes.saturating_sub(b.len());
            }
            self.feed(dir, frag, anomalies);
        }
    }

    fn gap(&mut self, dir: Dir, len: u64) {
        let d = dir.index();
        self.tails[d].clear();
        self.rtmp.gap(dir, self.len[d], len);
        self.len[d] += len;
    }

    /// Feeds the requests whose turn has come, in order, up to one still open.
    fn drain(&mut self, anomalies: &mut Anomalies) {
        while let Some(next) = self.next {
            let Some(slot) = self.slots.get_mut(&next) else {
                return;
            };
            let frags = std::mem::take(&mut slot.frags);
            self.feed_waiting(frags, anomalies);
            let Some(slot) = self.slots.get(&next) else {
                return;
            };
            if !slot.done {
                return;
            }
            self.closed |= slot.close;
            self.slots.remove(&next);
            self.next = Some(next + 1);
        }
    }

    /// Gives up on the request due next (never seen, or never answered): a gap of
    /// unknown length in both streams, then on to the lowest number waiting. The
    /// gap is given as one byte (the rebuilt streams' offsets are lagtap's own, so
    /// the length is free): the RTMP parser resyncs rather than read on across it.
    fn skip(&mut self, anomalies: &mut Anomalies) {
        let Some(next) = self.next else { return };
        if let Some(slot) = self.slots.remove(&next) {
            // Seen but not over: what it still brings is dropped.
            anomalies.count("decode.rtmpt_request_abandoned");
            self.feed_waiting(slot.frags, anomalies);
        } else {
            anomalies.count("decode.rtmpt_seq_missing");
        }
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            self.gap(dir, 1);
        }
        self.next = self
            .slots
            .keys()
            .next()
            .copied()
            .or(Some(next + 1))
            .map(|n| n.max(next + 1));
    }

    fn collect(&mut self, out: &mut Vec<Event>) {
        let mut handoff = Vec::new();
        self.rtmp.collect(&mut Ctx {
            meta: &self.meta,
            times: &mut self.times,
            out,
            handoff: &mut handoff,
        });
    }
}

#[cfg(test)]
mod tests;
