//! Event builders for the correlation unit tests.

use std::collections::BTreeMap;

use crate::events::{Event, Fingerprint, HttpExchange, RtmpDirection, SegmentFrame};

use super::HostEvents;

pub const BCAST: &str = "10.0.0.11";
pub const VIEWER: &str = "10.0.0.21";
pub const SERVER: &str = "10.0.0.1";

pub fn host(name: &str, events: Vec<Event>) -> HostEvents {
    HostEvents {
        name: name.into(),
        file: format!("{name}.pcap"),
        events,
    }
}

pub fn publish(flow: u64, key: &str) -> Event {
    Event::RtmpPublish {
        flow,
        client: format!("{BCAST}:50000"),
        server: format!("{SERVER}:1935"),
        app: Some("live".into()),
        tc_url: None,
        tunnel: None,
        stream_key: key.into(),
        time_ns: 0,
        metadata: BTreeMap::new(),
    }
}

/// A play command of stream `key` on `flow` from `client` to `server` (addresses).
pub fn play(flow: u64, key: &str, client: &str, server: &str) -> Event {
    Event::RtmpPlay {
        flow,
        client: format!("{client}:50000"),
        server: format!("{server}:1935"),
        app: Some("live".into()),
        tc_url: None,
        tunnel: None,
        stream_key: key.into(),
        time_ns: 0,
    }
}

/// A distinct fingerprint per short test name ("a", "b", ...): its bytes as a number.
pub fn named_fingerprint(name: &str) -> Fingerprint {
    assert!(
        name.len() <= 8,
        "test fingerprint names are at most 8 bytes"
    );
    Fingerprint(name.bytes().fold(0u64, |acc, b| (acc << 8) | u64::from(b)))
}

pub fn video(flow: u64, ts: u32, fp: Option<&str>, first_byte_ns: i64) -> Event {
    Event::RtmpVideo {
        flow,
        stream_key: None,
        direction: RtmpDirection::ClientToServer,
        codec: Some("avc1".into()),
        track_id: None,
        rtmp_ts_ms: ts,
        composition_ms: 0,
        keyframe: ts == 0,
        config: false,
        size: 1000,
        nal_types: [5].into_iter().collect(),
        fingerprint: fp.map(named_fingerprint),
        first_byte_ns,
        last_byte_ns: first_byte_ns.saturating_add(1000),
        delivered_ns: first_byte_ns.saturating_add(2000),
        encoder: None,
        timecode: None,
    }
}

/// An NTP exchange `client` (an address) made with `server` (an address).
pub fn ntp(flow: u64, client: &str, server: &str) -> Event {
    Event::NtpExchange {
        flow,
        client: format!("{client}:40000"),
        server: format!("{server}:123"),
        t1_ns: 0,
        t2_ns: 0,
        t3_ns: 0,
        t4_ns: 0,
        offset_ns: 0,
        delay_ns: 0,
        stratum: 2,
    }
}

pub fn http(flow: u64, uri: &str, request_ns: i64) -> Event {
    Event::HttpExchange(Box::new(HttpExchange {
        flow,
        client: format!("{VIEWER}:40000"),
        server: format!("{SERVER}:80"),
        method: "GET".into(),
        uri: uri.into(),
        host: None,
        status: Some(200),
        content_type: None,
        body_bytes: 100,
        request_ns,
        response_first_ns: Some(request_ns + 1_000_000),
        response_last_ns: Some(request_ns + 2_000_000),
    }))
}

pub fn frame(dts: i64, fp: Option<&str>) -> SegmentFrame {
    SegmentFrame {
        pts: dts,
        dts,
        keyframe: false,
        fingerprint: fp.map(named_fingerprint),
        size: 1000,
        received_ns: None,
        timecode: None,
    }
}

pub fn segment(
    flow: u64,
    uri: &str,
    seq: u64,
    request_ns: i64,
    complete_ns: i64,
    frames: Vec<SegmentFrame>,
) -> Event {
    Event::HlsSegment {
        range_start: None,
        flow,
        uri: uri.into(),
        channel: None,
        media_sequence: Some(seq),
        status: 200,
        bytes: 10_000,
        request_ns,
        first_byte_ns: request_ns.saturating_add(1_000_000),
        complete_ns,
        frames,
        prft: Box::new([]),
        emsg: Box::new([]),
    }
}

pub fn playlist(flow: u64, uri: &str, request_ns: i64, entries: &[(&str, Option<i64>)]) -> Event {
    Event::HlsPlaylist {
        flow,
        uri: uri.into(),
        channel: None,
        master: false,
        media_sequence: Some(0),
        target_duration_s: Some(4.0),
        endlist: false,
        segments: entries
            .iter()
            .enumerate()
            .map(|(i, (u, pdt))| crate::events::PlaylistEntry {
                prefetch: false,
                uri: (*u).into(),
                media_sequence: i as u64,
                duration_s: 4.0,
                program_date_time_ns: *pdt,
                discontinuity: false,
                ad: false,
                parts: 0,
            })
            .collect(),
        parts: Vec::new(),
        variants: Vec::new(),
        request_ns,
        received_ns: request_ns + 1_000_000,
    }
}
