//! RTMP decoding throughput on the real publisher stream (`tests/data/publish.c2s.bin`),
//! its media part repeated to 64 MiB, fed in 64 KiB pieces as the flow layer would.
//! Includes everything the decoder does per message: chunk reassembly, FLV headers,
//! NAL splitting and the xxh3 frame fingerprint.
//!
//! A plain harness (no criterion) so the workspace gains no dependencies; it reports
//! the best and median of several runs. Run: `cargo bench -p rtmp-parser`.

use std::time::Instant;

use rtmp_parser::{Direction, Event, Session};

const PUBLISH_C2S: &[u8] = include_bytes!("../tests/data/publish.c2s.bin");
const TARGET_LEN: usize = 64 << 20;
const PIECE: usize = 64 << 10;

fn build_input() -> Vec<u8> {
    // Media messages start with the AVC sequence header (type 0 on its chunk
    // stream); the last media message ends before the closing commands.
    let mut s = Session::new();
    s.feed(Direction::ClientToServer, 0, PUBLISH_C2S);
    let media: Vec<_> = s
        .drain()
        .filter_map(|e| match e {
            Event::Message(m) if matches!(m.message_type.0, 8 | 9) => Some((m.start, m.end)),
            _ => None,
        })
        .collect();
    let (first, last) = (media[0].0 as usize, media[media.len() - 1].1 as usize);
    let mut input = PUBLISH_C2S[..first].to_vec();
    while input.len() < TARGET_LEN {
        input.extend_from_slice(&PUBLISH_C2S[first..last]);
    }
    input
}

fn decode(input: &[u8]) -> (usize, usize) {
    let mut s = Session::new();
    let mut offset = 0usize;
    let mut messages = 0usize;
    let mut frames = 0usize;
    while offset < input.len() {
        let end = (offset + PIECE).min(input.len());
        // The tail left unconsumed is at most a chunk header: re-feed it with the
        // next piece, as the flow layer does.
        let used = s.feed(
            Direction::ClientToServer,
            offset as u64,
            &input[offset..end],
        );
        offset += used.max(if end == input.len() { end - offset } else { 0 });
        for e in s.drain() {
            if let Event::Message(m) = e {
                messages += 1;
                if let rtmp_parser::Payload::Video(v) = &m.payload {
                    frames += usize::from(v.fingerprint.is_some());
                }
            }
        }
    }
    (messages, frames)
}

fn main() {
    let input = build_input();
    let mut times = Vec::new();
    let mut counts = (0, 0);
    for _ in 0..7 {
        let t = Instant::now();
        counts = std::hint::black_box(decode(std::hint::black_box(&input)));
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let mb = input.len() as f64 / 1e6;
    println!(
        "rtmp decode: {:.1} MB, {} messages, {} fingerprinted frames per run",
        mb, counts.0, counts.1
    );
    println!(
        "rtmp decode: best {:.0} MB/s, median {:.0} MB/s (one core, 64 KiB feeds)",
        mb / times[0],
        mb / times[times.len() / 2]
    );
}
