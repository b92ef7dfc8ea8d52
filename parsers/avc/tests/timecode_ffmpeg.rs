//! Timecodes read by `avc::timecode` against ffmpeg 5.1's own reading of the same
//! bytes (`-bsf:v trace_headers`, its CBS parsers: an independent peer).
//!
//! - x264's picture timing SEI as x264 writes it (`tests/data/x264_ps.h264`, from
//!   `ffmpeg -f lavfi -i testsrc=size=64x64:rate=25 -frames:v 3 -c:v libx264
//!   -x264-params nal-hrd=vbr:pic-struct=1 -b:v 100k -maxrate 100k -bufsize 200k
//!   -f h264`): the SPS's VUI / HRD fields and each picture's delays and
//!   `pic_struct`, as ffmpeg prints them.
//! - Clock timestamps x264 does not write: picture timing SEI (H.264 §D.1.3), HEVC
//!   time code SEI (H.265 §D.2.27) and AV1 timecode metadata OBUs (AV1 §5.8.7)
//!   built from the syntax tables (`specbits`), put into real encoded streams
//!   (the same 3 frames of `testsrc=size=64x64:rate=25`: `x265.hevc` from
//!   `-c:v libx265 -x265-params log-level=none -f hevc`, `av1.obu` from
//!   `-c:v libaom-av1 -cpu-used 8 -f obu`) and checked against what they were
//!   built to say and against ffmpeg's trace.
//!
//! Without ffmpeg the checks are skipped (a failure in CI), see tests/common/tools.rs.

mod specbits;
#[path = "../../../tests/common/tools.rs"]
mod tools;

use std::process::Command;

use avc::timecode::{ClockTimestamp, Tracker};
use avc::{iter_annexb, Codec};
use specbits::access_units;
use specbits::{Bits, Tc};

const X264: &[u8] = include_bytes!("data/x264_ps.h264");
const X265: &[u8] = include_bytes!("data/x265.hevc");
const AV1: &[u8] = include_bytes!("data/av1.obu");

/// `name = value` pairs of ffmpeg's `trace_headers` over `bytes` read as `format`,
/// in order, the name without its `[i]` subscript. `None` where ffmpeg is missing.
fn trace(bytes: &[u8], format: &str, check: &str) -> Option<Vec<(String, i64)>> {
    if !tools::require("ffmpeg", check) {
        return None;
    }
    let path = std::env::temp_dir().join(format!(
        "avc-timecode-{}-{check}.{format}",
        std::process::id()
    ));
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-f", format, "-i"])
        .arg(&path)
        .args(["-c", "copy", "-bsf:v", "trace_headers", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stderr);
    // The decoder configuration ffmpeg builds from the first packet is traced
    // first ("Extradata"); only the packets count.
    let mut in_packet = false;
    let mut fields = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("[trace_headers")) {
        let Some(rest) = line.find("] ").map(|at| &line[at + 2..]) else {
            continue;
        };
        if rest.starts_with("Extradata") || rest.starts_with("Packet:") {
            in_packet = rest.starts_with("Packet:");
            continue;
        }
        let Some((left, value)) = rest.rsplit_once(" = ") else {
            continue;
        };
        let (Some(name), Ok(value)) = (left.split_whitespace().nth(1), value.trim().parse()) else {
            continue;
        };
        if in_packet {
            fields.push((name.split('[').next().unwrap_or(name).to_string(), value));
        }
    }
    Some(fields)
}

fn values(trace: &[(String, i64)], name: &str) -> Vec<i64> {
    trace
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .collect()
}

#[test]
fn x264_picture_timing_reads_as_ffmpeg_prints_it() {
    let Some(trace) = trace(X264, "h264", "x264_picture_timing") else {
        return;
    };
    let sps_nal = iter_annexb(X264)
        .find(|n| n.h264_type() == Some(7))
        .unwrap();
    let mut rbsp = Vec::new();
    avc::nal::for_each_rbsp_run(&sps_nal.0[1..], |r| rbsp.extend_from_slice(r));
    let sps = avc::timecode::h264::parse_sps(&rbsp).expect("x264's SPS reads");
    let ours = [
        ("nal_hrd_parameters_present_flag", i64::from(sps.nal_hrd)),
        ("vcl_hrd_parameters_present_flag", i64::from(sps.vcl_hrd)),
        ("pic_struct_present_flag", i64::from(sps.pic_struct_present)),
        (
            "cpb_removal_delay_length_minus1",
            i64::from(sps.cpb_removal_delay_length_minus1),
        ),
        (
            "dpb_output_delay_length_minus1",
            i64::from(sps.dpb_output_delay_length_minus1),
        ),
        ("time_offset_length", i64::from(sps.time_offset_length)),
        (
            "num_units_in_tick",
            sps.num_units_in_tick.map_or(-1, i64::from),
        ),
        ("time_scale", sps.time_scale.map_or(-1, i64::from)),
    ];
    for (name, value) in ours {
        assert_eq!(value, values(&trace, name)[0], "{name}");
    }

    let mut tracker = Tracker::new();
    let mut got = Vec::new();
    for au in access_units(X264, Codec::H264) {
        let f = tracker
            .frame_nals(au, Codec::H264)
            .expect("x264 times every picture");
        assert!(f.timestamps.is_empty(), "x264 writes no clock timestamp");
        got.push([
            f.cpb_removal_delay.map(i64::from),
            f.dpb_output_delay.map(i64::from),
            f.pic_struct.map(i64::from),
        ]);
    }
    let want: Vec<_> = values(&trace, "cpb_removal_delay")
        .into_iter()
        .zip(values(&trace, "dpb_output_delay"))
        .zip(values(&trace, "pic_struct"))
        .map(|((c, d), p)| [Some(c), Some(d), Some(p)])
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got, want);
    assert_eq!(values(&trace, "clock_timestamp_flag"), [0, 0, 0]);
}

/// The timecodes the tests write: a full one, a compact one with seconds only
/// (minutes and hours inferred from the first), and a discontinuity with a
/// negative time offset (where the syntax lets the test choose its length).
fn written() -> [Tc; 3] {
    let base = Tc {
        field_based: false,
        counting_type: 0,
        full: true,
        discontinuity: false,
        cnt_dropped: false,
        n_frames: 7,
        seconds: Some(30),
        minutes: Some(20),
        hours: Some(10),
        time_offset: (0, 0),
    };
    [
        base,
        Tc {
            full: false,
            n_frames: 8,
            seconds: Some(31),
            minutes: None,
            hours: None,
            counting_type: 4,
            cnt_dropped: true,
            ..base
        },
        Tc {
            discontinuity: true,
            n_frames: 0,
            seconds: Some(0),
            minutes: Some(0),
            hours: Some(23),
            field_based: true,
            time_offset: (12, -1234),
            ..base
        },
    ]
}

/// What a reader should report for `t`: its fields, with left-out hours and
/// minutes those of `prev` (H.264 §D.2.3, H.265 §D.3.27, AV1 §6.7.7).
fn expected(
    t: &Tc,
    prev: Option<&ClockTimestamp>,
    offset: Option<i64>,
) -> (u16, [Option<u8>; 3], bool, u8, Option<i64>) {
    (
        t.n_frames,
        [
            t.hours.or(prev.and_then(|p| p.hours)),
            t.minutes.or(prev.and_then(|p| p.minutes)),
            t.seconds.or(prev.and_then(|p| p.seconds)),
        ],
        t.discontinuity,
        t.counting_type,
        offset,
    )
}

fn reported(c: &ClockTimestamp) -> (u16, [Option<u8>; 3], bool, u8, Option<i64>) {
    (
        c.n_frames,
        [c.hours, c.minutes, c.seconds],
        c.discontinuity,
        c.counting_type,
        c.time_offset,
    )
}

/// ffmpeg's reading of the clock timestamps, field by field, against `tcs`.
fn assert_ffmpeg_read(trace: &[(String, i64)], tcs: &[Tc], signed_offset: &str) {
    let get = |name| values(trace, name);
    assert_eq!(
        get("n_frames"),
        tcs.iter()
            .map(|t| i64::from(t.n_frames))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        get("counting_type"),
        tcs.iter()
            .map(|t| i64::from(t.counting_type))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        get("discontinuity_flag"),
        tcs.iter()
            .map(|t| i64::from(t.discontinuity))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        get("full_timestamp_flag"),
        tcs.iter().map(|t| i64::from(t.full)).collect::<Vec<_>>()
    );
    let written =
        |f: fn(&Tc) -> Option<u8>| tcs.iter().filter_map(f).map(i64::from).collect::<Vec<_>>();
    assert_eq!(get("seconds_value"), written(|t| t.seconds));
    assert_eq!(get("minutes_value"), written(|t| t.minutes));
    assert_eq!(get("hours_value"), written(|t| t.hours));
    let offsets: Vec<i64> = tcs
        .iter()
        .filter(|t| t.time_offset.0 > 0)
        .map(|t| t.time_offset.1)
        .collect();
    assert_eq!(get(signed_offset), offsets);
}

#[test]
fn h264_clock_timestamps_built_from_the_spec_read_as_written_and_as_ffmpeg_reads_them() {
    // x264's SPS: NAL HRD with cpb_removal_delay 13 bits, dpb_output_delay 7,
    // time_offset_length 0, pic_struct present (the test above checks these).
    let tcs = written();
    let stream = specbits::with_sei_per_picture(X264, Codec::H264, |i| {
        let t = Tc {
            time_offset: (0, 0),
            ..tcs[i]
        };
        // §D.1.3: cpb_removal_delay u(13), dpb_output_delay u(7), pic_struct u(4)
        // (picture 1: 3, top-bottom: NumClockTS 2, the second left out), then per
        // clock timestamp its flag and clock_timestamp().
        let mut w = Bits::default();
        w.u(13, 2 * i as u64)
            .u(7, 4)
            .u(4, if i == 1 { 3 } else { 0 });
        w.flag(true);
        specbits::h264_clock(&mut w, 0, &t);
        if i == 1 {
            w.flag(false);
        }
        w.align_zero();
        specbits::sei_nal(&[0x06], &[specbits::sei_message(1, &w.bytes)])
    });
    let tcs: Vec<Tc> = tcs
        .iter()
        .map(|t| Tc {
            time_offset: (0, 0),
            ..*t
        })
        .collect();

    let mut tracker = Tracker::new();
    let mut prev = None;
    for (i, au) in access_units(&stream, Codec::H264).into_iter().enumerate() {
        let f = tracker.frame_nals(au, Codec::H264).unwrap();
        assert_eq!(f.num_clock_ts, if i == 1 { 2 } else { 1 });
        assert_eq!(f.timestamps.len(), 1);
        let c = f.timestamps[0];
        assert_eq!(reported(&c), expected(&tcs[i], prev.as_ref(), None));
        assert_eq!(c.ct_type, Some(0));
        assert_eq!(c.field_based, tcs[i].field_based);
        assert_eq!(c.cnt_dropped, tcs[i].cnt_dropped);
        prev = Some(c);
    }
    if let Some(trace) = trace(&stream, "h264", "h264_clock_timestamps") {
        assert_ffmpeg_read(&trace, &tcs, "time_offset");
        // ffmpeg 5.1 traces one picture timing message per access unit, the
        // first: the one built here (pic_struct 3 on the second picture, delays
        // 2 × i and 4), not x264's behind it.
        assert_eq!(values(&trace, "pic_struct"), [0, 3, 0]);
        assert_eq!(values(&trace, "cpb_removal_delay"), [0, 2, 4]);
        assert_eq!(values(&trace, "dpb_output_delay"), [4, 4, 4]);
    }
}

#[test]
fn hevc_time_code_built_from_the_spec_reads_as_written_and_as_ffmpeg_reads_it() {
    let tcs = written();
    let stream = specbits::with_sei_per_picture(X265, Codec::Hevc, |i| {
        // §D.2.27: num_clock_ts u(2) (2 here, the second left out), then per clock
        // timestamp its flag and fields.
        let mut w = Bits::default();
        w.u(2, 2).flag(true);
        specbits::hevc_clock(&mut w, &tcs[i]);
        w.flag(false).align_zero();
        // Prefix SEI NAL header (§7.3.1.2): type 39, layer 0, TemporalId + 1 = 1.
        specbits::sei_nal(&[39 << 1, 1], &[specbits::sei_message(136, &w.bytes)])
    });
    let mut tracker = Tracker::new();
    let mut prev = None;
    let aus = access_units(&stream, Codec::Hevc);
    assert_eq!(aus.len(), 3);
    for (i, au) in aus.into_iter().enumerate() {
        let f = tracker.frame_nals(au, Codec::Hevc).unwrap();
        assert_eq!((f.num_clock_ts, f.timestamps.len()), (2, 1));
        let c = f.timestamps[0];
        let offset = (tcs[i].time_offset.0 > 0).then_some(tcs[i].time_offset.1);
        assert_eq!(reported(&c), expected(&tcs[i], prev.as_ref(), offset));
        assert_eq!((c.ct_type, c.field_based), (None, tcs[i].field_based));
        prev = Some(c);
    }
    if let Some(trace) = trace(&stream, "hevc", "hevc_time_code") {
        assert_ffmpeg_read(&trace, &tcs, "time_offset_value");
        assert_eq!(values(&trace, "num_clock_ts"), [2, 2, 2]);
    }
}

#[test]
fn av1_timecode_metadata_built_from_the_spec_reads_as_written_and_as_ffmpeg_reads_it() {
    let tcs: Vec<Tc> = written()
        .iter()
        .map(|t| Tc {
            time_offset: (t.time_offset.0, t.time_offset.1.abs()),
            ..*t
        })
        .collect();
    // Each temporal unit of `ffmpeg -f obu` starts with a temporal delimiter OBU
    // (§7.5); the metadata OBU goes right after it.
    let mut stream = Vec::new();
    let mut units = 0;
    for o in avc::obu::iter_obus(AV1) {
        let mut obu = vec![o.header | 0x02];
        obu.extend(o.extension);
        assert!(o.payload.len() < 16384);
        if o.payload.len() < 128 {
            obu.push(o.payload.len() as u8);
        } else {
            obu.extend([
                (o.payload.len() & 0x7f) as u8 | 0x80,
                (o.payload.len() >> 7) as u8,
            ]);
        }
        obu.extend_from_slice(o.payload);
        stream.extend_from_slice(&obu);
        if o.obu_type() == avc::obu::obu_type::TEMPORAL_DELIMITER {
            let mut w = Bits::default();
            specbits::av1_timecode(&mut w, &tcs[units]);
            stream.extend(specbits::av1_metadata_obu(5, &w));
            units += 1;
        }
    }
    assert_eq!(units, 3);
    // Temporal units again, split at each delimiter.
    let mut tracker = Tracker::new();
    let mut prev = None;
    let starts: Vec<usize> = {
        let mut at = 0;
        let mut v = Vec::new();
        for o in avc::obu::iter_obus(&stream) {
            if o.obu_type() == avc::obu::obu_type::TEMPORAL_DELIMITER {
                v.push(at);
            }
            at += 2 + o.payload.len() + usize::from(o.payload.len() >= 128);
        }
        v.push(stream.len());
        v
    };
    for (i, w) in starts.windows(2).enumerate() {
        let f = tracker.frame_obus(&stream[w[0]..w[1]]).unwrap();
        assert_eq!(f.timestamps.len(), 1);
        let c = f.timestamps[0];
        let offset = (tcs[i].time_offset.0 > 0).then_some(tcs[i].time_offset.1);
        assert_eq!(reported(&c), expected(&tcs[i], prev.as_ref(), offset));
        prev = Some(c);
    }
    if let Some(trace) = trace(&stream, "obu", "av1_timecode") {
        assert_ffmpeg_read(&trace, &tcs, "time_offset_value");
    }
}
