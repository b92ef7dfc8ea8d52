//! The flow table: which packets belong together, who is client and who is server,
//! and when a flow is over.
//!
//! Both directions of a 5-tuple are one flow. The client is the sender of the SYN;
//! without a SYN, the side not on a well-known port; failing that, the first talker.
//! A flow ends on FIN in both directions or RST (then lingers briefly so late ACKs
//! and retransmitted FINs do not open a ghost flow), or after being idle. Memory is
//! bounded by the open flows: a finished flow is handed to the consumer and dropped.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::SocketAddr;

use rustc_hash::FxHasher;
use serde::Serialize;

use super::defrag::Defrag;
use super::reassembly::{Chunk, HalfStats, HalfStream, StreamEvent};
use crate::anomalies::Anomalies;
use crate::link::{self, IpFragment, TcpSegment, Transport, UdpDatagram};
use crate::time::Timestamp;

/// A TCP flow with no packet for this long is considered over. Chat connections can
/// be silent for minutes between PINGs, so this is generous.
pub const TCP_IDLE_TIMEOUT_NS: i64 = 600 * Timestamp::NANOS_PER_SEC;
/// UDP "flows" (NTP request/reply) are short.
pub const UDP_IDLE_TIMEOUT_NS: i64 = 120 * Timestamp::NANOS_PER_SEC;
/// A closed TCP flow absorbs stray packets this long before it is dropped.
pub const CLOSED_LINGER_NS: i64 = 30 * Timestamp::NANOS_PER_SEC;
/// How often (in capture time) idle flows are looked for.
const SWEEP_INTERVAL_NS: i64 = Timestamp::NANOS_PER_SEC;

/// Ports on which the listening side is recognised when the SYN was not captured.
const SERVER_PORTS: &[u16] = &[
    80, 123, 443, 554, 1935, 1936, 3478, 6667, 6697, 8080, 8443, 8554,
];

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Tcp,
    Udp,
}

/// Direction within a flow.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    ClientToServer = 0,
    ServerToClient = 1,
}

impl Dir {
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What is known about a flow, passed to the consumer with every callback.
#[derive(Clone, Debug)]
pub struct FlowMeta {
    /// Unique within one capture, in order of first packet.
    pub id: u64,
    pub transport: TransportKind,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_time: Timestamp,
    pub last_time: Timestamp,
    /// TCP: the connection's start (SYN) was captured.
    pub saw_syn: bool,
    pub packets: [u64; 2],
    pub wire_bytes: [u64; 2],
    /// TCP reassembly counters per direction (all zero for UDP, but `bytes`).
    pub stats: [HalfStats; 2],
}

/// The consumer of flows: protocol detection, protocol sessions, counters.
pub trait FlowHandler {
    type State;
    fn open(&mut self, meta: &FlowMeta) -> Self::State;
    fn data(&mut self, state: &mut Self::State, meta: &FlowMeta, dir: Dir, chunk: Chunk<'_>);
    fn gap(&mut self, state: &mut Self::State, meta: &FlowMeta, dir: Dir, offset: u64, len: u64);
    /// A direction's stream ended at `offset` (FIN reached, RST, expiry, end of capture).
    fn end(&mut self, state: &mut Self::State, meta: &FlowMeta, dir: Dir, offset: u64);
    fn datagram(
        &mut self,
        state: &mut Self::State,
        meta: &FlowMeta,
        dir: Dir,
        ts: Timestamp,
        payload: &[u8],
    );
    /// The flow is over; the last call for it.
    fn close(&mut self, state: Self::State, meta: &FlowMeta);
    /// Something TCP did that a consumer may chart over time (a broadcaster's uplink
    /// health): a retransmission, a zero window, a gap. Ignored unless wanted.
    fn tcp_event(
        &mut self,
        _state: &mut Self::State,
        _meta: &FlowMeta,
        _dir: Dir,
        _ts: Timestamp,
        _kind: TcpEventKind,
    ) {
    }
}

/// See [`FlowHandler::tcp_event`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TcpEventKind {
    /// A segment carrying bytes already seen (wholly or partly).
    Retransmission,
    /// The sender of this segment advertised a zero receive window.
    ZeroWindow,
    /// Bytes the capture never saw were skipped.
    Gap,
}

impl TcpEventKind {
    pub fn name(self) -> &'static str {
        match self {
            TcpEventKind::Retransmission => "retransmission",
            TcpEventKind::ZeroWindow => "zero_window",
            TcpEventKind::Gap => "gap",
        }
    }
}

/// Canonical 5-tuple: the lower endpoint first.
///
/// Built, hashed and compared for every packet, so it is plain integers rather than
/// `SocketAddr`s (an enum whose ordering and hashing walk its fields variant by variant,
/// which showed in `inspect`'s profile): each address as a `u128` (IPv4 in the low 32
/// bits), and the ports, the address family and the transport packed in one word. That
/// is five words for FxHash, and ordering two endpoints is one integer comparison
/// each. The family is in the key so an IPv4 address and an IPv4-mapped IPv6 address
/// stay different flows, as they were as `SocketAddr`s.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    a: u128,
    b: u128,
    /// `a`'s port in bits 32..48, `b`'s in 16..32, IPv6 in bit 8, the transport below.
    rest: u64,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether `src` is the key's first
    /// endpoint (which tells the direction without comparing addresses again).
    fn new(transport: TransportKind, src: &SocketAddr, dst: &SocketAddr) -> (Self, bool) {
        let (x, x_v6) = addr_bits(src);
        let (y, y_v6) = addr_bits(dst);
        let (x_port, y_port) = (src.port(), dst.port());
        let src_first = x < y || (x == y && x_port <= y_port);
        let ((a, a_port), (b, b_port)) = if src_first {
            ((x, x_port), (y, y_port))
        } else {
            ((y, y_port), (x, x_port))
        };
        let tag = u64::from(x_v6 | y_v6) << 8 | transport as u64;
        let key = FlowKey {
            a,
            b,
            rest: u64::from(a_port) << 32 | u64::from(b_port) << 16 | tag,
        };
        (key, src_first)
    }
}

/// An address as an integer, and whether it is IPv6. By reference, field by field:
/// copying the whole `SocketAddr` first was a wide load of narrower stores, which the
/// CPU cannot forward (it showed as a stall in the profile).
fn addr_bits(sa: &SocketAddr) -> (u128, bool) {
    match sa {
        SocketAddr::V4(v4) => (u128::from(v4.ip().to_bits()), false),
        SocketAddr::V6(v6) => (v6.ip().to_bits(), true),
    }
}

struct Flow<S> {
    key: FlowKey,
    /// The client is the key's first endpoint.
    client_first: bool,
    meta: FlowMeta,
    halves: [HalfStream; 2],
    client_isn: Option<u32>,
    rst: bool,
    /// The consumer has been told this direction ended.
    end_told: [bool; 2],
    /// `None` once the consumer has been told the flow closed.
    state: Option<S>,
}

impl<S> Flow<S> {
    /// A flow opened by a packet whose sender is (`src_first`) or is not the key's
    /// first endpoint.
    fn new(key: FlowKey, src_first: bool, src: SocketAddr, meta: FlowMeta, state: S) -> Self {
        Flow {
            key,
            client_first: src_first == (meta.client == src),
            meta,
            halves: Default::default(),
            client_isn: None,
            rst: false,
            end_told: [false; 2],
            state: Some(state),
        }
    }

    /// The direction of a packet whose sender is (`src_first`) or is not the key's
    /// first endpoint, counted in the flow's totals.
    fn account(&mut self, src_first: bool, ts: Timestamp, wire_len: u32) -> Dir {
        let dir = if src_first == self.client_first {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        };
        let d = dir.index();
        self.meta.last_time = ts;
        self.meta.packets[d] += 1;
        self.meta.wire_bytes[d] += u64::from(wire_len);
        dir
    }
}

pub struct FlowTable<H: FlowHandler> {
    pub handler: H,
    flows: Flows<H::State>,
    next_id: u64,
    last_sweep: Timestamp,
    now: Timestamp,
    pub anomalies: Anomalies,
    /// IP datagrams in reassembly.
    defrag: Defrag,
}

/// The open flows: kept in one vector, found by key through a hash index, and the
/// flow of the previous packet remembered. Packets of a flow come in runs (in a lab
/// capture of HLS and RTMP transfers, 98% of the packets belong to the flow of the
/// packet before), so one key comparison usually replaces hashing and probing.
struct Flows<S> {
    all: Vec<Flow<S>>,
    /// Position in `all` of each flow.
    index: HashMap<FlowKey, usize, BuildHasherDefault<FxHasher>>,
    /// The last flow found or added, and its position.
    last: Option<(FlowKey, usize)>,
}

impl<S> Default for Flows<S> {
    fn default() -> Self {
        Flows {
            all: Vec::new(),
            index: HashMap::default(),
            last: None,
        }
    }
}

impl<S> Flows<S> {
    fn len(&self) -> usize {
        self.all.len()
    }

    /// Always inlined (the index lookup is not), so the key just built stays in
    /// registers for the comparison with `last`: compared through memory it was a wide
    /// load of narrower stores, which the CPU cannot forward (a stall in the profile).
    #[inline(always)]
    fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow<S>> {
        let at = match self.last {
            Some((k, at)) if k == *key => at,
            _ => self.find(key)?,
        };
        Some(&mut self.all[at])
    }

    /// The position of `key`'s flow, which becomes `last`.
    fn find(&mut self, key: &FlowKey) -> Option<usize> {
        let at = *self.index.get(key)?;
        self.last = Some((*key, at));
        Some(at)
    }

    /// Adds a flow whose key is not in the table.
    fn insert(&mut self, flow: Flow<S>) -> &mut Flow<S> {
        let at = self.all.len();
        self.index.insert(flow.key, at);
        self.last = Some((flow.key, at));
        self.all.push(flow);
        &mut self.all[at]
    }

    fn remove(&mut self, key: &FlowKey) -> Option<Flow<S>> {
        let at = self.index.remove(key)?;
        let flow = self.all.swap_remove(at);
        if let Some(moved) = self.all.get(at) {
            self.index.insert(moved.key, at);
        }
        self.last = None;
        Some(flow)
    }

    fn take_all(&mut self) -> Vec<Flow<S>> {
        self.index.clear();
        self.last = None;
        std::mem::take(&mut self.all)
    }
}

impl<H: FlowHandler> FlowTable<H> {
    pub fn new(handler: H) -> Self {
        FlowTable {
            handler,
            flows: Flows::default(),
            next_id: 0,
            last_sweep: Timestamp(i64::MIN),
            now: Timestamp(i64::MIN),
            anomalies: Anomalies::default(),
            defrag: Defrag::default(),
        }
    }

    pub fn open_flows(&self) -> usize {
        self.flows.len()
    }

    /// Feeds one decoded packet captured at `ts`.
    pub fn packet(&mut self, ts: Timestamp, t: &Transport<'_>) {
        if ts > self.now {
            self.now = ts;
        }
        if self.now.0.saturating_sub(self.last_sweep.0) >= SWEEP_INTERVAL_NS {
            self.sweep();
            self.last_sweep = self.now;
        }
        match t {
            Transport::Tcp(seg) => self.tcp(ts, seg),
            Transport::Udp(dg) => self.udp(ts, dg),
            Transport::Fragment(f) => self.fragment(ts, f),
        }
    }

    /// A fragment: held until its datagram is whole, which then goes on as one packet.
    #[cold]
    fn fragment(&mut self, ts: Timestamp, f: &IpFragment<'_>) {
        let Some(d) = self.defrag.add(ts, f, &mut self.anomalies) else {
            return;
        };
        match link::reassembled(d.proto, d.src, d.dst, &d.payload) {
            // A fragment inside a tunnel inside fragments is not followed further.
            Ok(Transport::Fragment(_)) => self.anomalies.count("ip_fragment.nested"),
            Ok(t) => self.packet(ts, &t),
            Err(skip) => {
                if let Some(reason) = skip.reason() {
                    self.anomalies.count(reason);
                }
            }
        }
    }

    fn tcp(&mut self, ts: Timestamp, seg: &TcpSegment<'_>) {
        let (key, src_first) = FlowKey::new(TransportKind::Tcp, &seg.src, &seg.dst);
        // A new SYN on a finished flow, or one with another ISN, is a new connection
        // reusing the 5-tuple.
        if seg.syn && !seg.ack_flag {
            let reused = self.flows.get_mut(&key).is_some_and(|f| {
                f.state.is_none() || f.client_isn.is_some_and(|isn| isn != seg.seq)
            });
            if reused {
                if let Some(old) = self.flows.remove(&key) {
                    self.finish(old);
                }
            }
        }
        let flow = match self.flows.get_mut(&key) {
            Some(f) => f,
            None => {
                let (client, server) = if seg.syn {
                    if seg.ack_flag {
                        (seg.dst, seg.src)
                    } else {
                        (seg.src, seg.dst)
                    }
                } else {
                    guess_roles(seg.src, seg.dst)
                };
                let meta = new_meta(
                    &mut self.next_id,
                    TransportKind::Tcp,
                    client,
                    server,
                    ts,
                    seg.syn,
                );
                if !seg.syn {
                    self.anomalies.count("tcp_midstream_start");
                }
                let state = self.handler.open(&meta);
                self.flows
                    .insert(Flow::new(key, src_first, seg.src, meta, state))
            }
        };
        let dir = flow.account(src_first, ts, seg.wire_len);
        let d = dir.index();
        let Some(state) = flow.state.as_mut() else {
            // Closed and lingering: absorb.
            return;
        };
        let half = &mut flow.halves[d];
        half.stats.packets += 1;
        if seg.window == 0 && !seg.rst && !seg.syn {
            half.stats.zero_windows += 1;
            self.handler
                .tcp_event(state, &flow.meta, dir, ts, TcpEventKind::ZeroWindow);
        }
        let before = half.stats;
        let mut seq = seg.seq;
        if seg.syn {
            if dir == Dir::ClientToServer && !seg.ack_flag {
                flow.client_isn.get_or_insert(seg.seq);
            }
            half.syn(seg.seq);
            seq = seq.wrapping_add(1);
        }
        let handler = &mut self.handler;
        let meta = &flow.meta;
        if !seg.rst && (seg.wire_len > 0 || seg.fin) {
            half.segment(ts, seq, seg.payload, seg.wire_len, seg.fin, &mut |ev| {
                emit(handler, state, meta, dir, ev)
            });
            if half.stats.retransmissions > before.retransmissions
                || half.stats.hole_fills > before.hole_fills
            {
                handler.tcp_event(state, meta, dir, ts, TcpEventKind::Retransmission);
            }
            if half.stats.gaps > before.gaps {
                handler.tcp_event(state, meta, dir, ts, TcpEventKind::Gap);
            }
            if half.ended() && !flow.end_told[d] {
                flow.end_told[d] = true;
                let at = half.next_offset();
                handler.end(state, meta, dir, at);
            }
        }
        if seg.rst {
            flow.rst = true;
        }
        let both_ended = flow.halves.iter().all(|h| h.ended());
        if flow.rst || both_ended {
            // The ended() call above already told the consumer about a direction
            // that finished on this packet; close() flushes whatever is left.
            self.close_flow(key);
        }
    }

    fn udp(&mut self, ts: Timestamp, dg: &UdpDatagram<'_>) {
        let (key, src_first) = FlowKey::new(TransportKind::Udp, &dg.src, &dg.dst);
        let flow = match self.flows.get_mut(&key) {
            Some(f) => f,
            None => {
                let (client, server) = guess_roles(dg.src, dg.dst);
                let meta = new_meta(
                    &mut self.next_id,
                    TransportKind::Udp,
                    client,
                    server,
                    ts,
                    false,
                );
                let state = self.handler.open(&meta);
                self.flows
                    .insert(Flow::new(key, src_first, dg.src, meta, state))
            }
        };
        let dir = flow.account(src_first, ts, dg.wire_len);
        let d = dir.index();
        flow.meta.stats[d].packets += 1;
        flow.meta.stats[d].bytes += dg.payload.len() as u64;
        if let Some(state) = flow.state.as_mut() {
            self.handler
                .datagram(state, &flow.meta, dir, ts, dg.payload);
        }
    }

    /// Flushes both directions and tells the consumer the flow is over; the entry
    /// lingers to absorb stray packets.
    fn close_flow(&mut self, key: FlowKey) {
        if let Some(flow) = self.flows.get_mut(&key) {
            Self::flush(&mut self.handler, flow, self.now);
        }
    }

    fn flush(handler: &mut H, flow: &mut Flow<H::State>, now: Timestamp) {
        let Some(mut state) = flow.state.take() else {
            return;
        };
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            let d = dir.index();
            let half = &mut flow.halves[d];
            let meta = &flow.meta;
            if flow.meta.transport == TransportKind::Tcp && !flow.end_told[d] {
                flow.end_told[d] = true;
                if !half.ended() {
                    half.flush(now, &mut |ev| emit(handler, &mut state, meta, dir, ev));
                }
                let at = half.next_offset();
                handler.end(&mut state, meta, dir, at);
            }
        }
        if flow.meta.transport == TransportKind::Tcp {
            flow.meta.stats = [flow.halves[0].stats, flow.halves[1].stats];
        }
        handler.close(state, &flow.meta);
    }

    fn finish(&mut self, mut flow: Flow<H::State>) {
        Self::flush(&mut self.handler, &mut flow, self.now);
    }

    /// Drops flows idle past their timeout (closed ones after the linger time).
    fn sweep(&mut self) {
        self.defrag.expire(self.now, &mut self.anomalies);
        let now = self.now.0;
        let expired: Vec<FlowKey> = self
            .flows
            .all
            .iter()
            .filter(|f| {
                let idle = now.saturating_sub(f.meta.last_time.0);
                let limit = if f.state.is_none() {
                    CLOSED_LINGER_NS
                } else if f.meta.transport == TransportKind::Tcp {
                    TCP_IDLE_TIMEOUT_NS
                } else {
                    UDP_IDLE_TIMEOUT_NS
                };
                idle > limit
            })
            .map(|f| f.key)
            .collect();
        let flows = expired
            .into_iter()
            .filter_map(|key| self.flows.remove(&key))
            .collect();
        self.finish_in_order(flows);
    }

    /// End of input: every flow still open is flushed and closed, in order of id.
    pub fn finish_all(&mut self) {
        self.defrag.finish(&mut self.anomalies);
        let flows = self.flows.take_all();
        self.finish_in_order(flows);
    }

    /// Finishes `flows` in order of id, not in the table's order (which follows the
    /// hash of the key), so what the consumer sees does not depend on the hash.
    fn finish_in_order(&mut self, mut flows: Vec<Flow<H::State>>) {
        flows.sort_by_key(|f| f.meta.id);
        for flow in flows {
            self.finish(flow);
        }
    }
}

fn emit<H: FlowHandler>(
    handler: &mut H,
    state: &mut H::State,
    meta: &FlowMeta,
    dir: Dir,
    ev: StreamEvent<'_>,
) {
    match ev {
        StreamEvent::Data(chunk) => handler.data(state, meta, dir, chunk),
        StreamEvent::Gap { offset, len, .. } => handler.gap(state, meta, dir, offset, len),
    }
}

fn new_meta(
    next_id: &mut u64,
    transport: TransportKind,
    client: SocketAddr,
    server: SocketAddr,
    ts: Timestamp,
    saw_syn: bool,
) -> FlowMeta {
    let id = *next_id;
    *next_id += 1;
    FlowMeta {
        id,
        transport,
        client,
        server,
        first_time: ts,
        last_time: ts,
        saw_syn,
        packets: [0; 2],
        wire_bytes: [0; 2],
        stats: Default::default(),
    }
}

/// Client and server of a flow whose start was not seen: the side on a well-known
/// port serves; otherwise the first talker is taken as the client.
fn guess_roles(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let known = |p: u16| SERVER_PORTS.contains(&p);
    match (known(src.port()), known(dst.port())) {
        (true, false) => (dst, src),
        (false, true) => (src, dst),
        _ if src.port() < 1024 && dst.port() >= 1024 => (dst, src),
        _ => (src, dst),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::capture::testdata;

    /// Bytes and packets each way.
    #[derive(Debug, Default, PartialEq)]
    struct Seen {
        bytes: [Vec<u8>; 2],
        packets: [u64; 2],
    }

    /// Per flow id: its client, server and what it carried.
    #[derive(Default)]
    struct Log {
        flows: BTreeMap<u64, (SocketAddr, SocketAddr, Seen)>,
    }

    impl FlowHandler for Log {
        type State = ();
        fn open(&mut self, meta: &FlowMeta) {
            let flow = (meta.client, meta.server, Seen::default());
            assert!(self.flows.insert(meta.id, flow).is_none());
        }
        fn data(&mut self, _: &mut (), meta: &FlowMeta, dir: Dir, chunk: Chunk<'_>) {
            let seen = &mut self.flows.get_mut(&meta.id).unwrap().2;
            seen.bytes[dir.index()].extend(chunk.data);
        }
        fn gap(&mut self, _: &mut (), _: &FlowMeta, _: Dir, _: u64, _: u64) {}
        fn end(&mut self, _: &mut (), _: &FlowMeta, _: Dir, _: u64) {}
        fn datagram(&mut self, _: &mut (), m: &FlowMeta, dir: Dir, _: Timestamp, p: &[u8]) {
            self.flows.get_mut(&m.id).unwrap().2.bytes[dir.index()].extend(p);
        }
        fn close(&mut self, _: (), meta: &FlowMeta) {
            self.flows.get_mut(&meta.id).unwrap().2.packets = meta.packets;
        }
    }

    fn tcp<'a>(
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        flags: &str,
        p: &'a [u8],
    ) -> Transport<'a> {
        Transport::Tcp(TcpSegment {
            src,
            dst,
            seq,
            ack: 0,
            syn: flags.contains('S'),
            ack_flag: flags.contains('A'),
            fin: false,
            rst: flags.contains('R'),
            window: 1000,
            payload: p,
            wire_len: p.len() as u32,
        })
    }

    type Endpoints = (SocketAddr, SocketAddr, bool);

    /// What a test sent: per (flow, generation), its id and the bytes and packets sent
    /// each way; the next sequence numbers per flow.
    #[derive(Default)]
    struct Sent {
        want: BTreeMap<(usize, u32), (u64, Seen)>,
        seq: BTreeMap<usize, [u32; 2]>,
    }

    impl Sent {
        /// Opens flow `f` (generation `g`) anew: a handshake, or a first datagram.
        fn open(
            &mut self,
            table: &mut FlowTable<Log>,
            ends: Endpoints,
            f: usize,
            g: u32,
            isn: u32,
        ) {
            let (c, s, udp) = ends;
            let ts = Timestamp(0);
            let seen = if udp {
                let dg = UdpDatagram {
                    src: c,
                    dst: s,
                    payload: b"u",
                    wire_len: 1,
                };
                table.packet(ts, &Transport::Udp(dg));
                Seen {
                    bytes: [b"u".to_vec(), vec![]],
                    packets: [1, 0],
                }
            } else {
                table.packet(ts, &tcp(c, s, isn, "S", b""));
                table.packet(ts, &tcp(s, c, 7, "SA", b""));
                self.seq.insert(f, [isn + 1, 8]);
                Seen {
                    bytes: Default::default(),
                    packets: [1, 1],
                }
            };
            self.want.insert((f, g), (table.next_id - 1, seen));
        }
    }

    /// Packets of several flows, in runs and interleaved, with flows ending (RST) and
    /// their 5-tuples reused: every byte and packet lands in its own flow and
    /// direction, whatever the last-flow memory and the reshuffling on removal.
    #[test]
    fn interleaved_flows_ending_and_reused_each_get_their_own_packets() {
        let addr = |i: u8, port: u16| SocketAddr::from(([10, 0, 0, i], port));
        let v6 = |i: u16, port: u16| SocketAddr::from(([0xfd00, 0, 0, 0, 0, 0, 0, i], port));
        // Flow 5 is IPv6; flow 6 is flow 0's endpoints, over UDP.
        let flows: [Endpoints; 7] = [
            (addr(1, 40000), addr(9, 80), false),
            (addr(2, 40001), addr(9, 80), false),
            (addr(3, 40002), addr(9, 1935), false),
            (addr(1, 40003), addr(9, 443), false),
            (addr(4, 50000), addr(9, 123), true),
            (v6(2, 40004), v6(1, 443), false),
            (addr(1, 40000), addr(9, 80), true),
        ];
        let mut table = FlowTable::new(Log::default());
        let mut sent = Sent::default();
        let mut next = testdata::rng(7);
        let mut generation = [0u32; 7];
        for (f, ends) in flows.iter().enumerate() {
            sent.open(&mut table, *ends, f, 0, 100);
        }
        let mut f = 0;
        for step in 0..3000u32 {
            if next() % 10 < 3 {
                f = (next() % flows.len() as u64) as usize;
            }
            let ts = Timestamp(i64::from(step));
            let (c, s, udp) = flows[f];
            if step % 700 == 699 && !udp {
                // The client resets the flow; a new connection reuses the 5-tuple.
                table.packet(ts, &tcp(c, s, sent.seq[&f][0], "R", b""));
                sent.want.get_mut(&(f, generation[f])).unwrap().1.packets[0] += 1;
                generation[f] += 1;
                sent.open(&mut table, flows[f], f, generation[f], 1000 * step);
                continue;
            }
            let d = (next() % 2) as usize;
            let (src, dst) = if d == 0 { (c, s) } else { (s, c) };
            let byte = [(f as u8) << 4 | (generation[f] as u8 & 0xf)];
            if udp {
                let dg = UdpDatagram {
                    src,
                    dst,
                    payload: &byte,
                    wire_len: 1,
                };
                table.packet(ts, &Transport::Udp(dg));
            } else {
                let seq = sent.seq.get_mut(&f).unwrap();
                table.packet(ts, &tcp(src, dst, seq[d], "A", &byte));
                seq[d] += 1;
            }
            let w = sent.want.get_mut(&(f, generation[f])).unwrap();
            w.1.bytes[d].push(byte[0]);
            w.1.packets[d] += 1;
        }
        table.finish_all();
        let got = &table.handler.flows;
        assert_eq!(got.len(), sent.want.len());
        assert!(sent.want.len() > flows.len() + 2, "too few reconnections");
        for ((f, g), (id, seen)) in &sent.want {
            let (client, server, got_seen) = &got[id];
            assert_eq!(
                (client, server),
                (&flows[*f].0, &flows[*f].1),
                "flow {f}/{g}"
            );
            assert_eq!(got_seen, seen, "flow {f}/{g}");
        }
    }
}
