//! OBS's Broadcast Performance Metrics from capture to report: a broadcaster's
//! capture (a pcap written here: RTMP 1.0 handshake and one H.264 key frame whose
//! SEI carries the three BPM messages built from OBS Studio's layout, see
//! `parsers/rtmp-parser/tests/common/bpm_bytes.rs`) decodes to an `rtmp_video`
//! event with the encoder's clock and counters, and source health reports the
//! encoder's dropped and lagged frames and the encoder-to-wire time: the packet's
//! capture time − the PIR time OBS wrote (both the broadcaster's clock). With a
//! viewer that received the frame, its broadcast sample carries that leg too, and
//! the sample tables have both (`broadcast.csv`, `source_health.csv`).

#[path = "../parsers/rtmp-parser/tests/common/bpm_bytes.rs"]
mod bpm_bytes;
mod common;
#[path = "../parsers/rtmp-parser/tests/common/mod.rs"]
mod rtmp_common;

use common::write::rtmp_publish;
use lagtap::correlate::{correlate, CorrelateOptions, HostEvents};
use lagtap::events::{Event, SegmentFrame};

/// An RTMP message on chunk stream 6, message stream 1 (RTMP 1.0 §5.3.1).
fn chunks(ts: u32, type_id: u8, payload: &[u8]) -> Vec<u8> {
    rtmp_common::chunks(6, ts, type_id, 1, payload)
}

/// 2026-12-02T15:00:00Z in ns since the Unix epoch: `bpm_bytes::payloads` writes
/// CTS at .100, FER .105, FERC .112 and PIR .113 past it.
const T0: i64 = 1_796_223_600_000_000_000;
const MS: i64 = 1_000_000;

#[test]
fn bpm_key_frame_gives_encoder_clock_counters_and_encoder_to_wire() {
    let mut nals: Vec<Vec<u8>> = bpm_bytes::payloads()
        .iter()
        .map(|p| bpm_bytes::sei_nal(&[0x06], p))
        .collect();
    nals.push(vec![0x65, 0x88, 0x84, 0x00, 0x10]);
    // AVC sequence header (AVCDecoderConfigurationRecord, 4-byte NAL lengths,
    // no parameter sets), then the key frame.
    let seq = [0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe0, 0];
    let key = [&[0x17, 1, 0, 0, 0][..], &bpm_bytes::avcc(&nals)].concat();
    let (media_a, media_b) = (chunks(0, 9, &seq), chunks(0, 9, &key));
    // The key frame reaches the wire 12 ms after OBS's PIR (.113).
    let wire_ns = T0 + 125 * MS;
    let frames = rtmp_publish(T0, &[(T0 + 4 * MS, media_a), (wire_ns, media_b)]);
    let events = common::decode_frames(&frames, "broadcaster");

    let encoders: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::RtmpVideo {
                config: false,
                encoder,
                first_byte_ns,
                ..
            } => Some((encoder.clone(), *first_byte_ns)),
            _ => None,
        })
        .collect();
    assert_eq!(encoders.len(), 1);
    let (m, first_byte_ns) = &encoders[0];
    assert_eq!(*first_byte_ns, wire_ns);
    let m = m.as_ref().expect("the key frame's metrics");
    assert_eq!(m.composed_ns, Some(T0 + 100 * MS));
    assert_eq!(m.encode_start_ns, Some(T0 + 105 * MS));
    assert_eq!(m.encoded_ns, Some(T0 + 112 * MS));
    assert_eq!(m.output_ns, Some(T0 + 113 * MS));
    assert_eq!(
        (m.rendered, m.lagged, m.dropped, m.output),
        (Some(60), Some(1), Some(2), Some(58))
    );
    assert_eq!(
        (m.encoder_input, m.encoder_skipped, m.encoded),
        (Some(60), Some(0), Some(60))
    );

    // A viewer that received the key frame in an HLS segment (its events, built
    // here: the packager copies the coded slices, so the segment's frame has the
    // published frame's fingerprint).
    let fingerprint = events.iter().find_map(|e| match e {
        Event::RtmpVideo {
            config: false,
            fingerprint,
            ..
        } => *fingerprint,
        _ => None,
    });
    assert!(fingerprint.is_some(), "the key frame's fingerprint");
    let viewer = vec![Event::HlsSegment {
        range_start: None,
        flow: 1,
        uri: "/hls/flow0-0.ts".into(),
        channel: None,
        media_sequence: Some(0),
        status: 200,
        bytes: 1000,
        request_ns: wire_ns + 3000 * MS,
        first_byte_ns: wire_ns + 3001 * MS,
        complete_ns: wire_ns + 3002 * MS,
        frames: vec![SegmentFrame {
            pts: 126_000,
            dts: 126_000,
            keyframe: true,
            fingerprint,
            size: 100,
            received_ns: None,
            timecode: None,
        }],
        prft: Box::new([]),
        emsg: Box::new([]),
    }];
    let hosts = vec![
        HostEvents {
            name: "broadcaster".into(),
            file: "broadcaster.pcap".into(),
            events,
        },
        HostEvents {
            name: "viewer".into(),
            file: "viewer.pcap".into(),
            events: viewer,
        },
    ];
    let c = correlate(hosts, &CorrelateOptions::default());
    let h = &c.source_health.streams[0];
    assert_eq!((h.encoder_dropped, h.encoder_lagged), (Some(2), Some(1)));
    assert_eq!(h.encoder_to_wire_max_ns, Some(12 * MS));
    assert_eq!(h.encoder_to_wire_mean_ns, Some(12 * MS));
    // The frame's sample carries its encoder-to-wire leg beside the latencies.
    assert_eq!(c.broadcast.samples.len(), 1);
    let s = &c.broadcast.samples[0];
    assert_eq!(s.encoder_to_wire_ns, Some(12 * MS));
    assert_eq!(
        s.sent_ns, wire_ns,
        "the leg ends where broadcast latency starts"
    );

    // And in the sample tables: the frame's row, and the key frame's window.
    let dir = std::env::temp_dir().join(format!("lagtap-bpm-samples-{}", std::process::id()));
    lagtap::report::write_samples(&dir, &c).unwrap();
    let column = |table: &str, name: &str| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join(format!("{table}.csv"))).unwrap();
        let mut lines = text.lines();
        let i = lines
            .next()
            .unwrap()
            .split(',')
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("{table}.csv has no {name}"));
        lines
            .map(|l| l.split(',').nth(i).unwrap().to_string())
            .collect()
    };
    assert_eq!(column("broadcast", "encoder_to_wire_ms"), ["12.000000"]);
    // Only the key frame's window has metrics; the others' cells are empty.
    let rows: Vec<(String, String, String)> = column("source_health", "encoder_dropped")
        .into_iter()
        .zip(column("source_health", "encoder_lagged"))
        .zip(column("source_health", "encoder_to_wire_max_ms"))
        .map(|((d, l), w)| (d, l, w))
        .filter(|r| r != &(String::new(), String::new(), String::new()))
        .collect();
    assert_eq!(
        rows,
        [("2".to_string(), "1".to_string(), "12.000000".to_string())]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
