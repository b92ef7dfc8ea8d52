//! Encoder timecodes from capture to report: a broadcaster's capture (a pcap written
//! here: RTMP 1.0 handshake, an AVC sequence header carrying x264's own SPS and PPS
//! — NAL HRD, `pic_struct` present, see `parsers/avc/tests/timecode_ffmpeg.rs` —
//! and 50 frames at 25 fps whose picture timing SEI (ITU-T H.264 §D.1.3) carries a
//! clock timestamp built from the specification: the encoder's time of day at
//! UTC+2) decodes to `rtmp_video` events with those timecodes, and source health
//! reports them as time of day with the encoder-to-wire time the pcap was written
//! with.

mod common;
#[path = "../parsers/rtmp-parser/tests/common/mod.rs"]
mod rtmp_common;
#[path = "../parsers/avc/tests/specbits/mod.rs"]
mod specbits;

use common::write::rtmp_publish;
use lagtap::correlate::{correlate, CorrelateOptions, HostEvents};
use lagtap::events::Event;
use specbits::{Bits, Tc};

const X264: &[u8] = include_bytes!("../parsers/avc/tests/data/x264_ps.h264");

/// 2026-12-02T15:00:00Z in ns since the Unix epoch.
const T0: i64 = 1_796_223_600_000_000_000;
const MS: i64 = 1_000_000;
/// Each frame is on the wire this long after its timecode.
const TO_WIRE: i64 = 80 * MS;

/// Frame `i`'s picture timing SEI in x264's SPS layout (§D.1.3: cpb_removal_delay
/// u(13), dpb_output_delay u(7), pic_struct u(4) = 0, one clock timestamp, no
/// time offset): 17:00:00 local (UTC+2) plus `i` frames at 25 fps.
fn pic_timing_sei(i: u32) -> Vec<u8> {
    let mut w = Bits::default();
    w.u(13, u64::from(2 * i)).u(7, 4).u(4, 0).flag(true);
    let tc = Tc {
        field_based: false,
        counting_type: 0,
        full: true,
        discontinuity: false,
        cnt_dropped: false,
        n_frames: (i % 25) as u16,
        seconds: Some((i / 25) as u8),
        minutes: Some(0),
        hours: Some(17),
        time_offset: (0, 0),
    };
    specbits::h264_clock(&mut w, 0, &tc);
    w.align_zero();
    specbits::sei_nal(&[0x06], &[specbits::sei_message(1, &w.bytes)])
}

#[test]
fn time_of_day_picture_timing_gives_timecodes_and_encoder_to_wire() {
    let nals: Vec<&[u8]> = avc::iter_annexb(X264).map(|n| n.0).collect();
    let of = |t: u8| nals.iter().find(|n| n[0] & 0x1f == t).copied().unwrap();
    let (sps, pps, idr, p) = (of(7), of(8), of(5), of(1));
    let seq = rtmp_common::avc_sequence_header(sps, pps);
    let mut messages = vec![(T0 - 6 * MS, rtmp_common::chunks(6, 0, 9, 1, &seq))];
    // The encoder's clock is UTC+2: frame i's timecode is 15:00:00Z + i × 40 ms.
    for i in 0..50u32 {
        let sei = pic_timing_sei(i);
        let (tag, slice) = if i == 0 { (0x17, idr) } else { (0x27, p) };
        let body = [&[tag, 1, 0, 0, 0][..], &rtmp_common::avcc4(&[&sei, slice])].concat();
        messages.push((
            T0 + i64::from(i) * 40 * MS + TO_WIRE,
            rtmp_common::chunks(6, i * 40, 9, 1, &body),
        ));
    }
    let events = common::decode_frames(&rtmp_publish(T0 - 10 * MS, &messages), "broadcaster");

    let timecodes: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::RtmpVideo {
                config: false,
                timecode,
                ..
            } => Some(timecode.as_deref().expect("every frame has its timecode")),
            _ => None,
        })
        .collect();
    assert_eq!(timecodes.len(), 50);
    for (i, t) in timecodes.iter().enumerate() {
        assert_eq!(t.source, "h264_pic_timing");
        assert_eq!(
            (t.num_clock_ts, t.clock_timestamps, t.pic_struct),
            (1, 1, Some(0))
        );
        assert_eq!(
            (t.hours, t.minutes, t.seconds, t.frames),
            (Some(17), Some(0), Some((i / 25) as u8), (i % 25) as u16)
        );
        assert!(!t.discontinuity && t.time_offset.is_none());
    }

    let hosts = vec![HostEvents {
        name: "broadcaster".into(),
        file: "broadcaster.pcap".into(),
        events,
    }];
    let c = correlate(hosts, &CorrelateOptions::default());
    let h = c.source_health.streams[0]
        .timecode
        .as_ref()
        .expect("timecodes");
    assert_eq!((h.frames, h.discontinuities, h.jumps), (50, 0, 0));
    assert!(h.time_of_day);
    assert_eq!(h.zone_offset_s, Some(7200));
    assert_eq!(
        (h.to_wire_mean_ns, h.to_wire_max_ns),
        (Some(TO_WIRE), Some(TO_WIRE))
    );
    let v = lagtap::report::json::to_value(&c);
    let stream = &v["source_health"]["streams"][0];
    assert_eq!(stream["timecode_time_of_day"], true);
    assert_eq!(stream["timecode_to_wire_mean_ms"], 80.0);
}
