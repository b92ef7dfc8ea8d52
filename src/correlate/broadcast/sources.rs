//! The broadcasters' side: each published stream's video frames as they left the
//! broadcaster, and when the ingest server had each of them (from the server's own
//! capture, where one was given).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::events::{Event, Fingerprint, RtmpDirection};

use super::super::Ctx;
use super::{EncoderLeg, TimecodeMark, TxFrame, TxStream};

/// The video bitrate an encoder was told, in kb/s (10³ bit/s), from its
/// onMetaData.
///
/// ffmpeg's FLV muxer writes `videodatarate` as bit_rate / 1024 (kibibits per
/// second: `-b:v 800k` is written as 781.25), so a stream whose `encoder` names
/// libavformat (`Lavf…`) is scaled by 1.024 to give back the figure the encoder
/// was told. OBS and other encoders write kilobits and are taken as they are.
pub fn encoder_kbps(metadata: &BTreeMap<String, Value>) -> Option<f64> {
    let rate = metadata.get("videodatarate")?.as_f64()?;
    if !rate.is_finite() || rate <= 0.0 {
        return None;
    }
    let lavf = metadata
        .get("encoder")
        .and_then(Value::as_str)
        .is_some_and(|e| e.starts_with("Lavf"));
    Some(if lavf { rate * 1.024 } else { rate })
}

/// Stream key of each RTMP flow of one host, from its publish commands.
fn publish_keys(events: &[Event]) -> HashMap<u64, (String, Option<f64>)> {
    let mut keys = HashMap::new();
    for e in events {
        if let Event::RtmpPublish {
            flow,
            stream_key,
            metadata,
            ..
        } = e
        {
            keys.insert(*flow, (stream_key.clone(), encoder_kbps(metadata)));
        }
    }
    keys
}

/// The stream key of a video or audio message: its own, else the flow's publish's.
fn key_of(
    key: &Option<Arc<str>>,
    flow: u64,
    publish: &HashMap<u64, (String, Option<f64>)>,
) -> Option<String> {
    key.as_deref()
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .or_else(|| {
            publish
                .get(&flow)
                .map(|p| p.0.clone())
                .filter(|k| !k.is_empty())
        })
}

/// The broadcasters' streams. Video messages that carry no picture (decoder
/// configuration, and the 5-byte AVC end-of-sequence message) are left out.
pub(super) fn tx_streams(ctx: &Ctx) -> Vec<TxStream> {
    let mut streams: Vec<TxStream> = Vec::new();
    for (h, host) in ctx.hosts.iter().enumerate() {
        let side = &ctx.sides[h];
        let publish = publish_keys(&host.events);
        let mut by_flow: BTreeMap<u64, usize> = BTreeMap::new();
        let mut stream_of = |flow: u64, key: &Option<Arc<str>>, streams: &mut Vec<TxStream>| {
            *by_flow.entry(flow).or_insert_with(|| {
                let rate = publish.get(&flow).and_then(|p| p.1);
                streams.push(TxStream {
                    host: h,
                    broadcaster: host.name.clone(),
                    key: key_of(key, flow, &publish).unwrap_or_else(|| format!("flow{flow}")),
                    flow,
                    bitrate_kbps: rate,
                    video: Vec::new(),
                    audio: Vec::new(),
                    wire_start_ns: None,
                    ingest_host: None,
                });
                streams.len() - 1
            })
        };
        for e in &host.events {
            match e {
                // Published frames only: frames a client plays are not a source.
                Event::RtmpVideo {
                    flow,
                    stream_key,
                    direction: RtmpDirection::ClientToServer,
                    rtmp_ts_ms,
                    keyframe,
                    config,
                    size,
                    fingerprint,
                    first_byte_ns,
                    encoder,
                    timecode,
                    ..
                } if !side.served(*flow) && !*config && *size > 5 => {
                    let si = stream_of(*flow, stream_key, &mut streams);
                    streams[si].video.push(TxFrame {
                        rtmp_ts_ms: *rtmp_ts_ms,
                        keyframe: *keyframe,
                        size: *size,
                        fingerprint: *fingerprint,
                        first_byte_ns: ctx.to_ref(h, *first_byte_ns),
                        ingest_ns: None,
                        encoder: encoder.as_deref().map(|m| EncoderLeg {
                            to_wire_ns: m.output_ns.map(|t| first_byte_ns.saturating_sub(t)),
                            dropped: m.dropped,
                            lagged: m.lagged,
                        }),
                        timecode: timecode.as_deref().map(|t| TimecodeMark {
                            host_first_byte_ns: *first_byte_ns,
                            second_of_day: t.second_of_day(),
                            frames: t.frames,
                            discontinuity: t.discontinuity,
                        }),
                    });
                }
                Event::RtmpAudio {
                    flow,
                    stream_key,
                    direction: RtmpDirection::ClientToServer,
                    size,
                    first_byte_ns,
                    ..
                } if !side.served(*flow) => {
                    let si = stream_of(*flow, stream_key, &mut streams);
                    streams[si]
                        .audio
                        .push((ctx.to_ref(h, *first_byte_ns), *size));
                }
                _ => {}
            }
        }
    }
    streams.retain(|s| !s.video.is_empty());
    // Within a host, by flow: an order the groups' results can be put back in
    // (`super::merge`).
    streams.sort_by_key(|s| (s.host, s.flow));
    for s in &mut streams {
        s.video.sort_by_key(|f| f.first_byte_ns);
        s.audio.sort();
        // The earliest wire time consistent with every frame: frames can be held
        // back before the wire (socket buffer, a relay probing its input), never
        // sent ahead of the media clock.
        s.wire_start_ns = s
            .video
            .iter()
            .map(|f| {
                f.first_byte_ns
                    .saturating_sub(f.rtmp_ts_ms as i64 * 1_000_000)
            })
            .min();
    }
    add_ingest_times(ctx, &mut streams);
    streams
}

/// What an ingest server received of one stream key: (RTMP timestamp, fingerprint)
/// → when it had the whole message in order (reference clock).
type Received = HashMap<(u32, Option<Fingerprint>), i64>;

/// Fills `ingest_ns` from the RTMP flows some captured host served (the ingest
/// server's view of the publish), matched by stream key, RTMP timestamp and
/// fingerprint. Where several captures served the same key (a relay chain), the
/// first host to receive the frame is the ingest.
fn add_ingest_times(ctx: &Ctx, streams: &mut [TxStream]) {
    let mut received: HashMap<String, (usize, Received)> = HashMap::new();
    for (h, host) in ctx.hosts.iter().enumerate() {
        let side = &ctx.sides[h];
        let publish = publish_keys(&host.events);
        for e in &host.events {
            // What the ingest received from the publisher, not what it sent on to
            // players.
            if let Event::RtmpVideo {
                flow,
                stream_key,
                direction: RtmpDirection::ClientToServer,
                rtmp_ts_ms,
                config: false,
                fingerprint,
                delivered_ns,
                ..
            } = e
            {
                if !side.served(*flow) {
                    continue;
                }
                let Some(key) = key_of(stream_key, *flow, &publish) else {
                    continue;
                };
                let t = ctx.to_ref(h, *delivered_ns);
                let (_, map) = received.entry(key).or_insert_with(|| (h, HashMap::new()));
                let slot = map.entry((*rtmp_ts_ms, *fingerprint)).or_insert(t);
                *slot = (*slot).min(t);
            }
        }
    }
    for s in streams {
        let Some((h, map)) = received.get(&s.key) else {
            continue;
        };
        if *h == s.host {
            continue;
        }
        s.ingest_host = Some(ctx.name(*h).to_string());
        for f in &mut s.video {
            f.ingest_ns = map.get(&(f.rtmp_ts_ms, f.fingerprint)).copied();
        }
    }
}
