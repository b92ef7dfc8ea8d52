//! Shared by the integration tests: feeding a body in pieces the way the HTTP
//! layer does (unconsumed tails kept and passed again).
#![allow(dead_code)] // each test binary uses a different subset

use mpegts_parser::{Fmp4Demuxer, Fmp4Message, TsDemuxer, TsMessage};

/// Feeds `bytes` cut at `cuts` through `feed(offset, tail) -> consumed`; returns
/// the stream offset of the end (consumed plus held back).
pub fn feed_pieces(
    bytes: &[u8],
    cuts: impl IntoIterator<Item = usize>,
    mut feed: impl FnMut(u64, &[u8]) -> usize,
) -> u64 {
    let (mut offset, mut tail, mut last) = (0u64, Vec::new(), 0);
    for cut in cuts.into_iter().chain([bytes.len()]) {
        tail.extend_from_slice(&bytes[last..cut]);
        last = cut;
        let n = feed(offset, &tail);
        offset += n as u64;
        tail.drain(..n);
    }
    offset + tail.len() as u64
}

/// Demuxes `bytes` cut at `cuts` with `d`, ended at the end: every message.
pub fn feed_fmp4(
    d: &mut Fmp4Demuxer,
    bytes: &[u8],
    cuts: impl IntoIterator<Item = usize>,
) -> Vec<Fmp4Message> {
    let mut out = Vec::new();
    let end = feed_pieces(bytes, cuts, |offset, tail| {
        let n = d.feed(offset, tail);
        out.extend(d.drain());
        n
    });
    d.end(end);
    out.extend(d.drain());
    out
}

/// Demuxes MPEG-TS `bytes` cut at `cuts` with `d`, ended at the end: every message.
pub fn feed_ts(
    d: &mut TsDemuxer,
    bytes: &[u8],
    cuts: impl IntoIterator<Item = usize>,
) -> Vec<TsMessage> {
    let mut out = Vec::new();
    let end = feed_pieces(bytes, cuts, |offset, tail| {
        let n = d.feed(offset, tail);
        out.extend(d.drain());
        n
    });
    d.end(end);
    out.extend(d.drain());
    out
}
