//! The join's unit tests: RTMPT pieces built from the RTMP specification, handed
//! over out of order, cut at every byte, and damaged.

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

/// The connections of the tests close.
fn close_all(join: &mut Join, out: &mut Vec<Event>, anomalies: &mut Anomalies) {
    for flow in [1, 2, 3] {
        join.take(&mut vec![Piece::Closed { flow }], out, anomalies);
    }
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
    close_all(&mut join, &mut out, &mut anomalies);
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
    close_all(&mut join, &mut out, &mut anomalies);
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

/// Bytes of requests waiting are bounded too: one large request past a missing
/// one is fed after a counted skip rather than held.
#[test]
fn waiting_bytes_are_bounded() {
    let t = tunnelled();
    let mut join = Join::default();
    let (mut out, mut anomalies) = (Vec::new(), Anomalies::default());
    let mut pieces = request(&t, 0, 1, 64);
    let at = (2, 5);
    pieces.push(Piece::Start {
        at,
        id: "T1".into(),
        seq: 5,
        close: false,
        meta: meta(2, 40002),
    });
    for _ in 0..(MAX_WAITING_BYTES / 65536 + 2) {
        pieces.push(Piece::Bytes {
            at,
            dir: Dir::ClientToServer,
            bytes: vec![0; 65536],
            times: TimeMap::default(),
        });
    }
    join.take(&mut pieces, &mut out, &mut anomalies);
    let tunnel = join.tunnels.values().next().unwrap();
    assert!(tunnel.waiting_bytes <= MAX_WAITING_BYTES);
    assert_eq!(tunnel.next, Some(5), "the missing 1 to 4 skipped");
    assert!(anomalies.get("decode.rtmpt_waiting_bound") >= 1);
    close_all(&mut join, &mut out, &mut anomalies);
    assert!(join.tunnels.is_empty());
}

/// Pieces in any order, with any numbers, duplicates, gaps and closes, from
/// three connections and two tunnels: never a panic, waiting stays bounded, and
/// everything is let go once the connections close.
#[test]
fn random_pieces_never_panic() {
    let t = tunnelled();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    };
    for _round in 0..200 {
        let mut join = Join::default();
        let (mut out, mut anomalies) = (Vec::new(), Anomalies::default());
        for _ in 0..300 {
            let flow = 1 + rnd(3);
            let at = (flow, rnd(12));
            let dir = if rnd(2) == 0 {
                Dir::ClientToServer
            } else {
                Dir::ServerToClient
            };
            let piece = match rnd(7) {
                0 | 1 => Piece::Start {
                    at,
                    id: format!("T{}", rnd(2)),
                    seq: rnd(14),
                    close: rnd(10) == 0,
                    meta: meta(flow, 40000 + flow as u16),
                },
                2 | 3 => {
                    let body = &t.c2s[rnd(t.c2s.len() as u64) as usize];
                    let from = rnd(body.len() as u64 + 1) as usize;
                    let to = from + rnd((body.len() - from) as u64 + 1) as usize;
                    Piece::Bytes {
                        at,
                        dir,
                        bytes: body[from..to].to_vec(),
                        times: TimeMap::default(),
                    }
                }
                4 => Piece::Gap {
                    at,
                    dir,
                    len: rnd(5000),
                },
                5 => Piece::Done { at },
                _ if rnd(8) == 0 => Piece::Closed { flow },
                _ => Piece::Opened {
                    id: format!("T{}", rnd(2)),
                    meta: meta(flow, 40000 + flow as u16),
                },
            };
            join.take(&mut vec![piece], &mut out, &mut anomalies);
            for t in join.tunnels.values() {
                assert!(t.slots.len() <= MAX_WAITING + 1);
                assert!(t.waiting_bytes <= MAX_WAITING_BYTES);
            }
        }
        close_all(&mut join, &mut out, &mut anomalies);
        assert!(join.tunnels.is_empty() && join.exchanges.is_empty());
    }
}
