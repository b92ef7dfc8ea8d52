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
        if let Frag::Bytes(b, _) = &frag {
            t.waiting_bytes += b.len();
        }
        if let Some(slot) = t.slots.get_mut(&seq) {
            slot.frags.push((dir, frag));
        }
        if t.waiting_bytes > MAX_WAITING_BYTES {
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
mod tests {
    use super::*;
    use crate::flow::{Chunk, HalfStats, TransportKind};
    use crate::time::Timestamp;

    /// The RTMP streams of a publish cut into RTMPT requests: the client's bytes
    /// of each request and the server's bytes of each response, by seq. Built from
    /// Adobe's RTMP specification 1.0: §5.2 (C0/C1/C2, S0/S1/S2, 1 + 1536 bytes),
    /// §5.3.1 (a chunk with a type 0 message header on chunk stream 6, messages
    /// shorter than the default chunk size of 128), §7.1.5 (video message, type 9)
    /// with an FLV VIDEODATA body (video_file_format_spec_v10, E.4.3.1: 0x27, an
    /// inter frame of AVC, AVCPacketType 1, composition time 0).
    struct Tunnelled {
        c2s: Vec<Vec<u8>>,
        s2c: Vec<Vec<u8>>,
        /// Per video message: (seq, offset in that request's body) of its first byte.
        frames: Vec<(u64, usize)>,
    }

    const FRAMES: u32 = 6;

    fn video_message(ts: u32) -> Vec<u8> {
        let mut body = vec![0x27, 0x01, 0, 0, 0];
        // One NAL unit, length-prefixed (AVCC): a non-IDR slice (type 1).
        body.extend_from_slice(&[0, 0, 0, 8, 0x41, 0x9a, 1, 2, 3, 4, 5, ts as u8]);
        let mut m = vec![0x06]; // fmt 0, chunk stream 6
        m.extend_from_slice(&ts.to_be_bytes()[1..]);
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.push(9);
        m.extend_from_slice(&1u32.to_le_bytes()); // message stream id, little-endian
        m.extend_from_slice(&body);
        m
    }

    fn tunnelled() -> Tunnelled {
        let handshake = |fill: u8| {
            let mut v = vec![0u8; 1536];
            for (i, b) in v.iter_mut().enumerate().skip(8) {
                *b = fill.wrapping_add(i as u8);
            }
            v
        };
        let mut c0c1 = vec![3];
        c0c1.extend(handshake(1));
        let mut s012 = vec![3];
        s012.extend(handshake(2));
        s012.extend(handshake(1));
        // seq 0: C0+C1, answered with S0+S1+S2; seq 1: C2 and the first frame; then
        // one frame a request; an idle poll in between; the close last.
        let mut c2s = vec![c0c1, handshake(2)];
        let mut s2c = vec![s012, Vec::new()];
        let mut frames = vec![(1, 1536)];
        c2s[1].extend(video_message(0));
        for k in 1..FRAMES {
            if k == 3 {
                c2s.push(Vec::new());
                s2c.push(Vec::new());
            }
            frames.push((c2s.len() as u64, 0));
            c2s.push(video_message(k * 40));
            s2c.push(Vec::new());
        }
        c2s.push(Vec::new()); // the close
        s2c.push(Vec::new());
        Tunnelled { c2s, s2c, frames }
    }

    fn meta(id: u64, port: u16) -> Box<FlowMeta> {
        Box::new(FlowMeta {
            id,
            transport: TransportKind::Tcp,
            client: format!("10.0.0.2:{port}").parse().unwrap(),
            server: "10.0.0.1:80".parse().unwrap(),
            first_time: Timestamp(0),
            last_time: Timestamp(0),
            saw_syn: true,
            packets: [0; 2],
            wire_bytes: [0; 2],
            stats: [HalfStats::default(); 2],
        })
    }

    /// The capture time given to byte `i` of request `seq`'s body in `dir`.
    fn time_of(seq: u64, dir: Dir, i: usize) -> i64 {
        1_000_000 * seq as i64 + 10 * i as i64 + dir.index() as i64
    }

    /// The pieces of request `seq` carried as exchange `seq` of connection
    /// `flow`, its bodies cut into pieces of `step` bytes.
    fn request(t: &Tunnelled, seq: u64, flow: u64, step: usize) -> Vec<Piece> {
        let close = seq as usize == t.c2s.len() - 1;
        let at = (flow, seq);
        let mut out = vec![Piece::Start {
            at,
            id: "T1".into(),
            seq,
            close,
            meta: meta(flow, 40000 + flow as u16),
        }];
        for (dir, body) in [
            (Dir::ClientToServer, &t.c2s[seq as usize]),
            (Dir::ServerToClient, &t.s2c[seq as usize]),
        ] {
            for (n, part) in body.chunks(step).enumerate() {
                let mut times = TimeMap::default();
                for (j, b) in part.iter().enumerate() {
                    let i = n * step + j;
                    times.push(&Chunk {
                        offset: j as u64,
                        data: std::slice::from_ref(b),
                        first_seen: Timestamp(time_of(seq, dir, i)),
                        delivered: Timestamp(time_of(seq, dir, i) + 5),
                    });
                }
                out.push(Piece::Bytes {
                    at,
                    dir,
                    bytes: part.to_vec(),
                    times,
                });
            }
        }
        out.push(Piece::Done { at });
        out
    }

    fn opened() -> Piece {
        Piece::Opened {
            id: "T1".into(),
            meta: meta(1, 40001),
        }
    }

    /// Anomalies but the one every crafted stream has (its frames come without an
    /// AVC sequence header, which the join has nothing to do with).
    fn damage(a: &Anomalies) -> Vec<(&'static str, u64)> {
        a.iter()
            .filter(|(k, _)| *k != "rtmp.video_without_sequence_header")
            .collect()
    }

    /// Runs the pieces through a join, handed over one at a time, then closes the
    /// connections: (video timestamps, their first bytes' times, anomalies).
    fn run(pieces: Vec<Piece>) -> (Vec<u32>, Vec<i64>, Anomalies) {
        let mut join = Join::default();
        let (mut out, mut anomalies) = (Vec::new(), Anomalies::default());
        for p in pieces {
            join.take(&mut vec![p], &mut out, &mut anomalies);
        }
        for flow in [1, 2] {
            join.take(&mut vec![Piece::Closed { flow }], &mut out, &mut anomalies);
        }
        assert!(join.tunnels.is_empty() && join.exchanges.is_empty());
        let (mut ts, mut times) = (Vec::new(), Vec::new());
        for e in out {
            if let Event::RtmpVideo {
                rtmp_ts_ms,
                first_byte_ns,
                flow,
                ..
            } = e
            {
                assert_eq!(flow, 1, "the tunnel's events name its first connection");
                ts.push(rtmp_ts_ms);
                times.push(first_byte_ns);
            }
        }
        (ts, times, anomalies)
    }

    fn expected_times(t: &Tunnelled) -> Vec<i64> {
        t.frames
            .iter()
            .map(|&(seq, off)| time_of(seq, Dir::ClientToServer, off))
            .collect()
    }

    /// Requests alternate between two connections; each pair of neighbours comes
    /// in swapped (request n+1 wholly before request n), bodies cut at every byte
    /// (and whole): every frame once, in order, each with its own byte's time.
    #[test]
    fn requests_over_two_connections_are_put_back_in_order() {
        let t = tunnelled();
        let n = t.c2s.len() as u64;
        let want_ts: Vec<u32> = (0..FRAMES).map(|k| k * 40).collect();
        for step in [1, 7, usize::MAX] {
            let mut pieces = vec![opened()];
            pieces.extend(request(&t, 0, 1, step));
            let mut seq = 1;
            while seq < n {
                if seq + 1 < n {
                    pieces.extend(request(&t, seq + 1, 1 + (seq + 1) % 2, step));
                }
                pieces.extend(request(&t, seq, 1 + seq % 2, step));
                seq += 2;
            }
            let (ts, times, anomalies) = run(pieces);
            assert_eq!(ts, want_ts, "step {step}");
            assert_eq!(times, expected_times(&t), "step {step}");
            assert!(damage(&anomalies).is_empty(), "step {step}: {anomalies:?}");
        }
    }

    /// Bytes of requests interleaved piece by piece (a frame's request still
    /// streaming in on one connection while the next one's streams in on the other).
    #[test]
    fn interleaved_requests_are_put_back_in_order() {
        let t = tunnelled();
        let n = t.c2s.len() as u64;
        let mut pieces = vec![opened()];
        pieces.extend(request(&t, 0, 1, 1));
        let mut seq = 1;
        while seq < n {
            let a = request(&t, seq, 1 + seq % 2, 3);
            let b = if seq + 1 < n {
                request(&t, seq + 1, 1 + (seq + 1) % 2, 3)
            } else {
                Vec::new()
            };
            let (mut a, mut b) = (a.into_iter(), b.into_iter());
            // The later request first, then alternately.
            loop {
                let (y, x) = (b.next(), a.next());
                if x.is_none() && y.is_none() {
                    break;
                }
                pieces.extend(y);
                pieces.extend(x);
            }
            seq += 2;
        }
        let (ts, times, anomalies) = run(pieces);
        assert_eq!(ts, (0..FRAMES).map(|k| k * 40).collect::<Vec<_>>());
        assert_eq!(times, expected_times(&t));
        assert!(damage(&anomalies).is_empty(), "{anomalies:?}");
    }

    /// A request that never comes: counted once the tunnel ends, the frame it
    /// carried lost, the RTMP parser resyncing after it; no panic.
    #[test]
    fn a_seq_gap_is_counted() {
        let t = tunnelled();
        let lost = t.frames[2].0;
        let mut pieces = vec![opened()];
        for seq in (0..t.c2s.len() as u64).filter(|&s| s != lost) {
            pieces.extend(request(&t, seq, 1 + seq % 2, 5));
        }
        let (ts, _, anomalies) = run(pieces);
        assert_eq!(
            anomalies.get("decode.rtmpt_seq_missing"),
            1,
            "{anomalies:?}"
        );
        assert!(!ts.contains(&80), "the lost frame: {ts:?}");
        assert_eq!(&ts[..2], &[0, 40]);
    }

    /// The same seq twice (a retried request on another connection): the second
    /// is counted and dropped, every frame still comes once.
    #[test]
    fn a_duplicate_seq_is_counted() {
        let t = tunnelled();
        let mut pieces = vec![opened()];
        for seq in 0..t.c2s.len() as u64 {
            pieces.extend(request(&t, seq, 1, 4));
            if seq == 2 {
                // After it was fed, and while a later one waits.
                pieces.extend(request(&t, 2, 2, 4));
            }
        }
        let mut early = request(&t, 4, 2, 4);
        early.truncate(2); // its start and first bytes, before 3 is in
        let at3 = pieces
            .iter()
            .position(|p| matches!(p, Piece::Start { seq: 3, .. }))
            .unwrap();
        let dup4: Vec<Piece> = early;
        pieces.splice(at3..at3, dup4);
        let (ts, _, anomalies) = run(pieces);
        assert_eq!(damage(&anomalies), [("decode.rtmpt_duplicate_seq", 2)]);
        assert_eq!(ts, (0..FRAMES).map(|k| k * 40).collect::<Vec<_>>());
    }

    /// A tunnel whose `/open/1` was not seen is counted, and decoded all the same.
    #[test]
    fn a_tunnel_never_opened_is_counted() {
        let t = tunnelled();
        let pieces: Vec<Piece> = (0..t.c2s.len() as u64)
            .flat_map(|seq| request(&t, seq, 1, 64))
            .collect();
        let (ts, _, anomalies) = run(pieces);
        assert_eq!(damage(&anomalies), [("decode.rtmpt_not_opened", 1)]);
        assert_eq!(ts.len(), FRAMES as usize);
    }

    /// Requests waiting for one that never comes are bounded: past the bound the
    /// missing one is skipped (counted), and memory stays within it.
    #[test]
    fn waiting_requests_are_bounded() {
        let t = tunnelled();
        let mut join = Join::default();
        let (mut out, mut anomalies) = (Vec::new(), Anomalies::default());
        let mut pieces = request(&t, 0, 1, 64);
        // Request 1 never comes; 2.. are idle polls on the other connection.
        for seq in 2..(MAX_WAITING as u64 + 10) {
            let at = (2, seq);
            pieces.push(Piece::Start {
                at,
                id: "T1".into(),
                seq,
                close: false,
                meta: meta(2, 40002),
            });
            pieces.push(Piece::Done { at });
        }
        join.take(&mut pieces, &mut out, &mut anomalies);
        let t = join.tunnels.values().next().unwrap();
        assert!(t.slots.len() <= MAX_WAITING + 1);
        join.take(
            &mut vec![Piece::Closed { flow: 1 }],
            &mut out,
            &mut anomalies,
        );
        join.take(
            &mut vec![Piece::Closed { flow: 2 }],
            &mut out,
            &mut anomalies,
        );
        assert!(
            anomalies.get("decode.rtmpt_waiting_bound") >= 1,
            "{anomalies:?}"
        );
        assert_eq!(
            anomalies.get("decode.rtmpt_seq_missing"),
            1,
            "{anomalies:?}"
        );
        assert!(join.tunnels.is_empty());
    }
}
