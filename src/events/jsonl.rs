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

use super::{Event, Fingerprint, SegmentFrame};

/// Appends `event` and a newline to `out`.
pub fn write_line(event: &Event, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match event {
        Event::RtmpVideo {
            flow,
            stream_key,
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
        } => {
            let mut o = Obj::begin(out, "rtmp_video");
            o.uint("flow", *flow);
            o.opt_str("stream_key", stream_key.as_deref());
            o.uint("rtmp_ts_ms", u64::from(*rtmp_ts_ms));
            o.int("composition_ms", i64::from(*composition_ms));
            o.bool("keyframe", *keyframe);
            o.bool("config", *config);
            o.uint("size", u64::from(*size));
            o.key("nal_types");
            o.out.push(b'[');
            for (i, t) in nal_types.iter().enumerate() {
                if i > 0 {
                    o.out.push(b',');
                }
                o.number(u64::from(*t));
            }
            o.out.push(b']');
            o.fingerprint("fingerprint", *fingerprint);
            o.int("first_byte_ns", *first_byte_ns);
            o.int("last_byte_ns", *last_byte_ns);
            o.int("delivered_ns", *delivered_ns);
            o.end();
        }
        Event::RtmpAudio {
            flow,
            stream_key,
            rtmp_ts_ms,
            size,
            first_byte_ns,
            last_byte_ns,
        } => {
            let mut o = Obj::begin(out, "rtmp_audio");
            o.uint("flow", *flow);
            o.opt_str("stream_key", stream_key.as_deref());
            o.uint("rtmp_ts_ms", u64::from(*rtmp_ts_ms));
            o.uint("size", u64::from(*size));
            o.int("first_byte_ns", *first_byte_ns);
            o.int("last_byte_ns", *last_byte_ns);
            o.end();
        }
        Event::HlsSegment {
            flow,
            uri,
            channel,
            media_sequence,
            status,
            bytes,
            request_ns,
            first_byte_ns,
            complete_ns,
            frames,
        } => {
            let mut o = Obj::begin(out, "hls_segment");
            o.uint("flow", *flow);
            o.str("uri", uri)?;
            o.opt_str("channel", channel.as_deref());
            match media_sequence {
                Some(n) => o.uint("media_sequence", *n),
                None => o.null("media_sequence"),
            }
            o.uint("status", u64::from(*status));
            o.uint("bytes", *bytes);
            o.int("request_ns", *request_ns);
            o.int("first_byte_ns", *first_byte_ns);
            o.int("complete_ns", *complete_ns);
            o.key("frames");
            o.out.push(b'[');
            for (i, f) in frames.iter().enumerate() {
                if i > 0 {
                    o.out.push(b',');
                }
                segment_frame(f, o.out);
            }
            o.out.push(b']');
            o.end();
        }
        other => serde_json::to_writer(&mut *out, other)?,
    }
    out.push(b'\n');
    Ok(())
}

fn segment_frame(f: &SegmentFrame, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut o = Obj { out, first: true };
    o.int("pts", f.pts);
    o.int("dts", f.dts);
    o.bool("keyframe", f.keyframe);
    o.fingerprint("fingerprint", f.fingerprint);
    o.uint("size", u64::from(f.size));
    o.end();
}

/// A JSON object being written: keys are `'static` names that need no escaping.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an event object with its `kind` tag, as serde's internally tagged enum
    /// does.
    fn begin(out: &'a mut Vec<u8>, kind: &str) -> Obj<'a> {
        out.extend_from_slice(b"{\"kind\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.push(b'"');
        Obj { out, first: false }
    }

    #[inline(always)]
    fn key(&mut self, key: &str) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    #[inline(always)]
    fn number(&mut self, v: impl itoa::Integer) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    #[inline(always)]
    fn uint(&mut self, key: &str, v: u64) {
        self.key(key);
        self.number(v);
    }

    #[inline(always)]
    fn int(&mut self, key: &str, v: i64) {
        self.key(key);
        self.number(v);
    }

    #[inline(always)]
    fn bool(&mut self, key: &str, v: bool) {
        self.key(key);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    fn null(&mut self, key: &str) {
        self.key(key);
        self.out.extend_from_slice(b"null");
    }

    fn str(&mut self, key: &str, v: &str) -> serde_json::Result<()> {
        self.key(key);
        string(v, self.out)
    }

    fn opt_str(&mut self, key: &str, v: Option<&str>) {
        match v {
            // Writing into a Vec cannot fail.
            Some(s) => {
                let _infallible = self.str(key, s);
            }
            None => self.null(key),
        }
    }

    fn fingerprint(&mut self, key: &str, v: Option<Fingerprint>) {
        self.key(key);
        match v {
            Some(f) => {
                self.out.push(b'"');
                self.out.extend_from_slice(&f.hex());
                self.out.push(b'"');
            }
            None => self.out.extend_from_slice(b"null"),
        }
    }

    fn end(self) {
        self.out.push(b'}');
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
                rtmp_ts_ms: u32::MAX,
                composition_ms: i32::MIN,
                keyframe: true,
                config: false,
                size: 0,
                nal_types: vec![9, 7, 8, 6, 5],
                fingerprint: Some(Fingerprint(0x00ab_0000_0000_00cd)),
                first_byte_ns: i64::MIN,
                last_byte_ns: -1,
                delivered_ns: i64::MAX,
            },
            Event::RtmpVideo {
                flow: 0,
                stream_key: None,
                rtmp_ts_ms: 0,
                composition_ms: 33,
                keyframe: false,
                config: true,
                size: 57,
                nal_types: vec![],
                fingerprint: None,
                first_byte_ns: 0,
                last_byte_ns: 0,
                delivered_ns: 0,
            },
            Event::RtmpAudio {
                flow: 3,
                stream_key: Some(Arc::from("")),
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
                status: 206,
                bytes: 0,
                request_ns: -5,
                first_byte_ns: 0,
                complete_ns: 7,
                frames: vec![],
            },
            Event::HlsSegment {
                flow: 20,
                uri: "/hls/lagtap-0.ts".into(),
                channel: Some("lagtap".into()),
                media_sequence: Some(u64::MAX),
                status: 200,
                bytes: 103_588,
                request_ns: 1,
                first_byte_ns: 2,
                complete_ns: 3,
                frames: vec![
                    SegmentFrame {
                        pts: -1,
                        dts: -1,
                        keyframe: true,
                        fingerprint: None,
                        size: 3074,
                    },
                    SegmentFrame {
                        pts: 8_589_934_592 + 3000,
                        dts: 8_589_934_592,
                        keyframe: false,
                        fingerprint: Some(Fingerprint(u64::MAX)),
                        size: u32::MAX,
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
