//! Events as JSON Lines: the output of `lagtap decode`.
//!
//! Byte for byte what `serde_json` writes for an [`Event`] (the derive in the parent
//! module is the schema, and the tests hold this writer to it). The three kinds a
//! capture holds by the hundred thousand — `rtmp_video`, `rtmp_audio` and
//! `hls_segment` with its frames — are written here directly: through serde each
//! key and value goes through the escaping string writer and the dynamic
//! serializer, which made JSON output the largest single cost of `decode` (about a
//! fifth of its time). Keys here are constants that need no escaping, numbers go
//! through `itoa`, and a string is copied as is unless it holds a byte JSON must
//! escape, in which case serde_json writes it. Every other kind goes through serde.

use super::{Event, Fingerprint, RtmpDirection};

/// `,"key":` as one constant, so that writing a key is a fixed-size copy the
/// compiler inlines.
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":").as_bytes()
    };
}

/// Appends `event` and a newline to `out`.
pub fn write_line(event: &Event, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match event {
        Event::RtmpVideo {
            flow,
            stream_key,
            direction,
            codec,
            track_id,
            rtmp_ts_ms,
            composition_ms,
            keyframe,
            config,
            size,
            nal_types,
            fingerprint,
            first_byte_ns,
            last_byte_ns,
            delivered_ns,
            encoder,
            timecode,
        } => {
            let mut o = Obj::begin(out, b"{\"kind\":\"rtmp_video\"");
            o.number(key!("flow"), *flow);
            o.opt_str(key!("stream_key"), stream_key.as_deref());
            o.rtmp_track(*direction, codec.as_deref(), *track_id);
            o.number(key!("rtmp_ts_ms"), *rtmp_ts_ms);
            o.number(key!("composition_ms"), *composition_ms);
            o.bool(key!("keyframe"), *keyframe);
            o.bool(key!("config"), *config);
            o.number(key!("size"), *size);
            o.raw(key!("nal_types"));
            o.raw(b"[");
            for (i, t) in nal_types.iter().enumerate() {
                if i > 0 {
                    o.raw(b",");
                }
                o.number(b"", *t);
            }
            o.raw(b"]");
            o.fingerprint(key!("fingerprint"), *fingerprint);
            o.number(key!("first_byte_ns"), *first_byte_ns);
            o.number(key!("last_byte_ns"), *last_byte_ns);
            o.number(key!("delivered_ns"), *delivered_ns);
            o.raw(key!("encoder"));
            match encoder {
                // Key frames of an OBS broadcast only: serde's writer is fast enough.
                Some(m) => serde_json::to_writer(&mut *o.out, m)?,
                None => o.raw(b"null"),
            }
            o.raw(key!("timecode"));
            match timecode {
                Some(t) => serde_json::to_writer(&mut *o.out, t)?,
                None => o.raw(b"null"),
            }
            o.raw(b"}");
        }
        Event::RtmpAudio {
            flow,
            stream_key,
            direction,
            codec,
            track_id,
            rtmp_ts_ms,
            size,
            first_byte_ns,
            last_byte_ns,
        } => {
            let mut o = Obj::begin(out, b"{\"kind\":\"rtmp_audio\"");
            o.number(key!("flow"), *flow);
            o.opt_str(key!("stream_key"), stream_key.as_deref());
            o.rtmp_track(*direction, codec.as_deref(), *track_id);
            o.number(key!("rtmp_ts_ms"), *rtmp_ts_ms);
            o.number(key!("size"), *size);
            o.number(key!("first_byte_ns"), *first_byte_ns);
            o.number(key!("last_byte_ns"), *last_byte_ns);
            o.raw(b"}");
        }
        Event::HlsSegment {
            flow,
            uri,
            channel,
            media_sequence,
            range_start,
            status,
            bytes,
            request_ns,
            first_byte_ns,
            complete_ns,
            frames,
            prft,
            emsg,
        } => {
            let mut o = Obj::begin(out, b"{\"kind\":\"hls_segment\"");
            o.number(key!("flow"), *flow);
            o.raw(key!("uri"));
            string(uri, o.out)?;
            o.opt_str(key!("channel"), channel.as_deref());
            match media_sequence {
                Some(n) => o.number(key!("media_sequence"), *n),
                None => o.raw(concat!(",\"media_sequence\":", "null").as_bytes()),
            }
            if let Some(r) = range_start {
                o.number(key!("range_start"), *r);
            }
            o.number(key!("status"), *status);
            o.number(key!("bytes"), *bytes);
            o.number(key!("request_ns"), *request_ns);
            o.number(key!("first_byte_ns"), *first_byte_ns);
            o.number(key!("complete_ns"), *complete_ns);
            o.raw(key!("frames"));
            o.raw(b"[");
            for (i, f) in frames.iter().enumerate() {
                o.raw(if i > 0 { b",{\"pts\":" } else { b"{\"pts\":" });
                o.number(b"", f.pts);
                o.number(key!("dts"), f.dts);
                o.bool(key!("keyframe"), f.keyframe);
                o.fingerprint(key!("fingerprint"), f.fingerprint);
                o.number(key!("size"), f.size);
                if let Some(t) = f.received_ns {
                    o.number(key!("received_ns"), t);
                }
                if let Some(t) = &f.timecode {
                    o.raw(key!("timecode"));
                    serde_json::to_writer(&mut *o.out, t)?;
                }
                o.raw(b"}");
            }
            o.raw(b"]");
            // Rare (fMP4 from packagers that write them): serde's own writing.
            if !prft.is_empty() {
                o.raw(key!("prft"));
                serde_json::to_writer(&mut *o.out, prft)?;
            }
            if !emsg.is_empty() {
                o.raw(key!("emsg"));
                serde_json::to_writer(&mut *o.out, emsg)?;
            }
            o.raw(b"}");
        }
        other => serde_json::to_writer(&mut *out, other)?,
    }
    out.push(b'\n');
    Ok(())
}

/// An event's JSON object being written. Each value is written after its key, a
/// constant that includes the separating comma.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    /// The last number written and where its digits are: an event's times are often
    /// equal (a message in one packet was first seen and delivered at once, a frame's
    /// PTS is its DTS), and copying 19 digits is cheaper than formatting them again.
    last: Option<(i128, usize, usize)>,
}

impl<'a> Obj<'a> {
    /// Opens the object with its `kind` tag, first as serde's internally tagged enum
    /// writes it. Room for a typical event is made once.
    fn begin(out: &'a mut Vec<u8>, head: &[u8]) -> Obj<'a> {
        out.reserve(512);
        out.extend_from_slice(head);
        Obj { out, last: None }
    }

    #[inline(always)]
    fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    #[inline(always)]
    fn number<T: itoa::Integer + Into<i128> + Copy>(&mut self, key: &[u8], v: T) {
        self.raw(key);
        let n: i128 = v.into();
        if let Some((last, at, len)) = self.last {
            if last == n {
                self.out.extend_from_within(at..at + len);
                return;
            }
        }
        let at = self.out.len();
        self.raw(itoa::Buffer::new().format(v).as_bytes());
        self.last = Some((n, at, self.out.len() - at));
    }

    #[inline(always)]
    fn bool(&mut self, key: &[u8], v: bool) {
        self.raw(key);
        self.raw(if v { b"true" } else { b"false" });
    }

    fn opt_str(&mut self, key: &[u8], v: Option<&str>) {
        self.raw(key);
        match v {
            // Writing into a Vec cannot fail.
            Some(s) => {
                let _infallible = string(s, self.out);
            }
            None => self.raw(b"null"),
        }
    }

    /// The fields RTMP video and audio share after the stream key: direction, codec
    /// and (multitrack) track id.
    #[inline(always)]
    fn rtmp_track(&mut self, direction: RtmpDirection, codec: Option<&str>, track_id: Option<u8>) {
        self.raw(key!("direction"));
        self.raw(b"\"");
        self.raw(direction.name().as_bytes());
        self.raw(b"\"");
        self.opt_str(key!("codec"), codec);
        self.raw(key!("track_id"));
        match track_id {
            Some(t) => self.number(b"", t),
            None => self.raw(b"null"),
        }
    }

    #[inline(always)]
    fn fingerprint(&mut self, key: &[u8], v: Option<Fingerprint>) {
        self.raw(key);
        match v {
            Some(f) => {
                self.raw(b"\"");
                self.raw(&f.hex());
                self.raw(b"\"");
            }
            None => self.raw(b"null"),
        }
    }
}

/// A JSON string: copied as is when nothing in it needs escaping (the rule of RFC
/// 8259: quote, backslash and control characters), else written by serde_json.
fn string(s: &str, out: &mut Vec<u8>) -> serde_json::Result<()> {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return serde_json::to_writer(&mut *out, s);
    }
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::SegmentFrame;
    use std::sync::Arc;

    fn both(e: &Event) -> (String, String) {
        let mut mine = Vec::new();
        write_line(e, &mut mine).unwrap();
        let mut serde = serde_json::to_vec(e).unwrap();
        serde.push(b'\n');
        (
            String::from_utf8(mine).unwrap(),
            String::from_utf8(serde).unwrap(),
        )
    }

    #[test]
    fn hand_written_kinds_match_serde_on_edge_values() {
        let events = [
            Event::RtmpVideo {
                flow: u64::MAX,
                stream_key: Some(Arc::from("key \"quoted\" \\ back\nline\u{1}é")),
                direction: RtmpDirection::ServerToClient,
                codec: Some(Arc::from("av\"1")),
                track_id: Some(255),
                rtmp_ts_ms: u32::MAX,
                composition_ms: i32::MIN,
                keyframe: true,
                config: false,
                size: 0,
                nal_types: [9, 7, 8, 6, 5].into_iter().collect(),
                fingerprint: Some(Fingerprint(0x00ab_0000_0000_00cd)),
                first_byte_ns: i64::MIN,
                last_byte_ns: -1,
                delivered_ns: i64::MAX,
                encoder: Some(Box::new(crate::events::EncoderMetrics {
                    composed_ns: Some(i64::MIN),
                    output_ns: Some(1_796_223_600_113_000_000),
                    dropped: Some(u32::MAX),
                    ..Default::default()
                })),
                timecode: Some(crate::events::timecode::edge_case("h264_pic_timing", -5)),
            },
            Event::RtmpVideo {
                flow: 0,
                stream_key: None,
                direction: RtmpDirection::ClientToServer,
                codec: None,
                track_id: None,
                rtmp_ts_ms: 0,
                composition_ms: 33,
                keyframe: false,
                config: true,
                size: 57,
                nal_types: Default::default(),
                fingerprint: None,
                first_byte_ns: 0,
                last_byte_ns: 0,
                delivered_ns: 0,
                encoder: None,
                timecode: None,
            },
            Event::RtmpAudio {
                flow: 3,
                stream_key: Some(Arc::from("")),
                direction: RtmpDirection::ServerToClient,
                codec: Some(Arc::from("Opus")),
                track_id: Some(0),
                rtmp_ts_ms: 21,
                size: 9,
                first_byte_ns: 1_795_581_163_035_352_000,
                last_byte_ns: 1_795_581_163_035_352_001,
            },
            Event::HlsSegment {
                flow: 20,
                uri: "/hls/ch\t1-0.ts?a=\"b\"".into(),
                channel: None,
                media_sequence: None,
                range_start: Some(4096),
                status: 206,
                bytes: 0,
                request_ns: -5,
                first_byte_ns: 0,
                complete_ns: 7,
                frames: vec![],
                prft: Box::new([crate::events::SegmentPrft {
                    track_id: 1,
                    flags: 0x18,
                    time_ns: None,
                    media_time: u64::MAX,
                    pts: Some(-3),
                }]),
                emsg: Box::new([crate::events::SegmentEmsg {
                    version: 1,
                    scheme_id_uri: "urn:scte:scte35:2013:bin\"\u{1}".into(),
                    value: String::new(),
                    timescale: 90_000,
                    presentation_time: 1,
                    event_duration: u32::MAX,
                    id: 7,
                    data: "fc30".into(),
                    data_bytes: 2,
                }]),
            },
            Event::HlsSegment {
                flow: 20,
                uri: "/hls/lagtap-0.ts".into(),
                channel: Some("lagtap".into()),
                media_sequence: Some(u64::MAX),
                range_start: None,
                status: 200,
                bytes: 103_588,
                request_ns: 1,
                first_byte_ns: 2,
                complete_ns: 3,
                prft: Box::new([]),
                emsg: Box::new([]),
                frames: vec![
                    SegmentFrame {
                        pts: -1,
                        dts: -1,
                        keyframe: true,
                        fingerprint: None,
                        size: 3074,
                        received_ns: None,
                        timecode: None,
                    },
                    SegmentFrame {
                        pts: 8_589_934_592 + 3000,
                        dts: 8_589_934_592,
                        keyframe: false,
                        fingerprint: Some(Fingerprint(u64::MAX)),
                        size: u32::MAX,
                        received_ns: Some(i64::MIN),
                        timecode: Some(crate::events::timecode::edge_case("hevc_time_code", 7)),
                    },
                ],
            },
            Event::TcpEvent {
                flow: 1,
                from_client: true,
                what: "retransmission".into(),
                time_ns: 5,
            },
        ];
        for e in &events {
            let (mine, serde) = both(e);
            assert_eq!(mine, serde);
        }
    }
}
