//! Encoder timecodes on the viewer side: x264's, x265's and libaom's own streams
//! with a picture timing SEI (ITU-T H.264 §D.1.3), a time code SEI (H.265 §D.2.27)
//! or a timecode metadata OBU (AV1 §5.8.7) built from the specifications in every
//! picture, put into MPEG-TS and fragmented MP4 by ffmpeg's own muxers (`-c copy`),
//! come out of the demuxers with those timecodes (H.264: read with the SPS the
//! stream carries in band). Skipped without ffmpeg (a failure in CI).

#[path = "../../avc/tests/specbits/mod.rs"]
mod specbits;
#[path = "../../../tests/common/tools.rs"]
mod tools;

use std::process::Command;

use avc::Codec;
use mpegts_parser::{Fmp4Demuxer, Fmp4Message, TsDemuxer, TsMessage};
use specbits::{Bits, Tc};

const X264: &[u8] = include_bytes!("../../avc/tests/data/x264_ps.h264");
const X265: &[u8] = include_bytes!("../../avc/tests/data/x265.hevc");
const AV1: &[u8] = include_bytes!("../../avc/tests/data/av1.obu");

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

/// `stream` muxed by ffmpeg (`-c copy`) into MPEG-TS (`mp4` false) or fragmented
/// MP4; `None` without ffmpeg.
fn ffmpeg_mux(stream: &[u8], format: &str, mp4: bool, check: &str) -> Option<Vec<u8>> {
    if !tools::require("ffmpeg", check) {
        return None;
    }
    let dir = std::env::temp_dir();
    let input = dir.join(format!(
        "mpegts-timecode-{}-{check}.{format}",
        std::process::id()
    ));
    let output = input.with_extension(if mp4 { "mp4" } else { "ts" });
    std::fs::write(&input, stream).unwrap();
    let container: &[&str] = if mp4 {
        &["-movflags", "frag_keyframe+empty_moov", "-f", "mp4"]
    } else {
        &["-f", "mpegts"]
    };
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
        // A raw stream has no timestamps the muxers accept: one every 40 ms of the
        // raw demuxer's 1/1200000 time base.
        .args(["-c", "copy", "-bsf:v", "setts=ts=N*48000"])
        .args(container)
        .arg(&output)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    let out = std::fs::read(&output).unwrap();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    Some(out)
}

fn first_clock(t: Option<Box<avc::timecode::FrameTimecode>>) -> Read {
    let c = *t?.timestamps.first()?;
    Some((c.hours, c.minutes, c.seconds, c.n_frames, c.discontinuity))
}

/// The timecodes of the samples the fMP4 demuxer gives.
fn demux_fmp4_timecodes(mp4: &[u8]) -> Vec<Read> {
    let mut d = Fmp4Demuxer::new();
    d.feed(0, mp4);
    d.end(mp4.len() as u64);
    d.drain()
        .filter_map(|m| match m {
            Fmp4Message::Sample(s) => Some(first_clock(s.timecode)),
            _ => None,
        })
        .collect()
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
            TsMessage::AccessUnit(a) => Some(first_clock(a.timecode)),
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
    let Some(ts) = ffmpeg_mux(&stream, "h264", false, "h264_timecode_mpegts") else {
        return;
    };
    assert_eq!(demux_timecodes(&ts), want());
    let mp4 = ffmpeg_mux(&stream, "h264", true, "h264_timecode_fmp4").unwrap();
    assert_eq!(demux_fmp4_timecodes(&mp4), want());
    // The avcC ffmpeg wrote holds x264's SPS and PPS, which the demuxer keeps for
    // the timecode trackers of later segments' demuxers.
    let mut d = Fmp4Demuxer::new();
    d.feed(0, &mp4);
    let in_band: Vec<Vec<u8>> = avc::iter_annexb(X264)
        .filter(|n| matches!(n.h264_type(), Some(7 | 8)))
        .map(|n| n.0.to_vec())
        .collect();
    // ffmpeg 5.1 writes the PPS with the zero byte of the 4-byte start code after
    // it (a trailing_zero_8bits, H.264 §B.1.1), which the in-band NAL leaves out.
    let kept: Vec<Vec<u8>> = d.tracks()[0]
        .parameter_sets
        .iter()
        .map(|n| {
            let end = n.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            n[..end].to_vec()
        })
        .collect();
    assert_eq!(kept, in_band);
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
    let Some(ts) = ffmpeg_mux(&stream, "hevc", false, "hevc_timecode_mpegts") else {
        return;
    };
    assert_eq!(demux_timecodes(&ts), want());
    let mp4 = ffmpeg_mux(&stream, "hevc", true, "hevc_timecode_fmp4").unwrap();
    assert_eq!(demux_fmp4_timecodes(&mp4), want());
}

#[test]
fn av1_timecode_metadata_survives_ffmpeg_fmp4_and_mpegts() {
    // A timecode metadata OBU after each temporal delimiter of libaom's stream
    // (`ffmpeg -f obu`, every OBU with a size field).
    let mut stream = Vec::new();
    let mut i = 0;
    for o in avc::obu::iter_obus(AV1) {
        let size = o.payload.len();
        assert!(o.header & 0x02 != 0 && size < 16384);
        stream.push(o.header);
        stream.extend(o.extension);
        if size < 128 {
            stream.push(size as u8);
        } else {
            stream.extend([(size & 0x7f) as u8 | 0x80, (size >> 7) as u8]);
        }
        stream.extend_from_slice(o.payload);
        if o.obu_type() == avc::obu::obu_type::TEMPORAL_DELIMITER {
            let mut w = Bits::default();
            specbits::av1_timecode(&mut w, &tc(i));
            stream.extend(specbits::av1_metadata_obu(5, &w));
            i += 1;
        }
    }
    let Some(mp4) = ffmpeg_mux(&stream, "obu", true, "av1_timecode_fmp4") else {
        return;
    };
    assert_eq!(demux_fmp4_timecodes(&mp4), want());
    // And in ffmpeg's MPEG-TS (its own AV1 carriage: the OBUs as they are).
    let ts = ffmpeg_mux(&stream, "obu", false, "av1_timecode_mpegts").unwrap();
    assert_eq!(demux_timecodes(&ts), want());
}
