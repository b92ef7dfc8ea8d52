//! Encoder timecodes on the viewer side: x264's and x265's own streams with a
//! picture timing SEI (ITU-T H.264 §D.1.3) or a time code SEI (H.265 §D.2.27)
//! built from the specifications in every picture, put into MPEG-TS by ffmpeg's
//! own muxer (`-c copy -f mpegts`), come out of the demuxer with those timecodes
//! (H.264: read with the SPS the segment carries in band). Skipped without ffmpeg
//! (a failure in CI).

#[path = "../../avc/tests/specbits/mod.rs"]
mod specbits;
#[path = "../../../tests/common/tools.rs"]
mod tools;

use std::process::Command;

use avc::Codec;
use mpegts_parser::{TsDemuxer, TsMessage};
use specbits::{Bits, Tc};

const X264: &[u8] = include_bytes!("../../avc/tests/data/x264_ps.h264");
const X265: &[u8] = include_bytes!("../../avc/tests/data/x265.hevc");

/// Picture `i`'s timecode: 10:20:30 and `i` frames, full.
fn tc(i: usize) -> Tc {
    Tc {
        field_based: false,
        counting_type: 0,
        full: true,
        discontinuity: i == 2,
        cnt_dropped: false,
        n_frames: i as u16,
        seconds: Some(30),
        minutes: Some(20),
        hours: Some(10),
        time_offset: (0, 0),
    }
}

/// `stream` muxed into MPEG-TS by ffmpeg (`-c copy`); `None` without ffmpeg.
fn ffmpeg_mpegts(stream: &[u8], format: &str, check: &str) -> Option<Vec<u8>> {
    if !tools::require("ffmpeg", check) {
        return None;
    }
    let dir = std::env::temp_dir();
    let input = dir.join(format!(
        "mpegts-timecode-{}-{check}.{format}",
        std::process::id()
    ));
    let output = input.with_extension("ts");
    std::fs::write(&input, stream).unwrap();
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            format,
            "-i",
        ])
        .arg(&input)
        // A raw stream has no timestamps the muxer accepts: one every 40 ms of the
        // raw demuxer's 1/1200000 time base.
        .args(["-c", "copy", "-bsf:v", "setts=ts=N*48000", "-f", "mpegts"])
        .arg(&output)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    let ts = std::fs::read(&output).unwrap();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    Some(ts)
}

/// The timecodes of the access units the demuxer gives, as (hours, minutes,
/// seconds, frames, discontinuity) of their first clock timestamp.
type Read = Option<(Option<u8>, Option<u8>, Option<u8>, u16, bool)>;

fn demux_timecodes(ts: &[u8]) -> Vec<Read> {
    let mut d = TsDemuxer::new();
    d.feed(0, ts);
    d.end(ts.len() as u64);
    d.drain()
        .filter_map(|m| match m {
            TsMessage::AccessUnit(a) => Some(a.timecode.and_then(|t| {
                let c = t.timestamps.first()?;
                Some((c.hours, c.minutes, c.seconds, c.n_frames, c.discontinuity))
            })),
            _ => None,
        })
        .collect()
}

fn want() -> Vec<Read> {
    (0..3)
        .map(|i| {
            let t = tc(i);
            Some((t.hours, t.minutes, t.seconds, t.n_frames, t.discontinuity))
        })
        .collect()
}

#[test]
fn h264_picture_timing_clock_timestamps_survive_ffmpeg_mpegts() {
    // x264's SPS: cpb_removal_delay u(13), dpb_output_delay u(7), pic_struct
    // present, time_offset_length 0 (avc/tests/timecode_ffmpeg.rs checks these
    // against ffmpeg's reading).
    let stream = specbits::with_sei_per_picture(X264, Codec::H264, |i| {
        let mut w = Bits::default();
        w.u(13, 2 * i as u64).u(7, 4).u(4, 0).flag(true);
        specbits::h264_clock(&mut w, 0, &tc(i));
        w.align_zero();
        specbits::sei_nal(&[0x06], &[specbits::sei_message(1, &w.bytes)])
    });
    let Some(ts) = ffmpeg_mpegts(&stream, "h264", "h264_timecode_mpegts") else {
        return;
    };
    assert_eq!(demux_timecodes(&ts), want());
}

#[test]
fn hevc_time_code_survives_ffmpeg_mpegts() {
    let stream = specbits::with_sei_per_picture(X265, Codec::Hevc, |i| {
        // §D.2.27: num_clock_ts 1, its flag, the timestamp.
        let mut w = Bits::default();
        w.u(2, 1).flag(true);
        specbits::hevc_clock(&mut w, &tc(i));
        w.align_zero();
        specbits::sei_nal(&[39 << 1, 1], &[specbits::sei_message(136, &w.bytes)])
    });
    let Some(ts) = ffmpeg_mpegts(&stream, "hevc", "hevc_timecode_mpegts") else {
        return;
    };
    assert_eq!(demux_timecodes(&ts), want());
}
