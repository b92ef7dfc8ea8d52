//! Picture timing read through `decode_video` with a stream's state
//! (`rtmp_parser::tracks`): the SPS comes from the sequence header, not the frame.

mod common;

use rtmp_parser::flv::decode_video;
use rtmp_parser::tracks::VideoTracks;

/// x264's own stream (`avc/tests/data`, see `avc/tests/timecode_ffmpeg.rs`):
/// NAL HRD and `pic_struct` present, a picture timing SEI on every picture.
const X264: &[u8] = include_bytes!("../../avc/tests/data/x264_ps.h264");

#[test]
fn picture_timing_is_read_with_the_sps_of_the_sequence_header() {
    let nals: Vec<&[u8]> = avc::iter_annexb(X264).map(|n| n.0).collect();
    let of = |t: u8| nals.iter().find(|n| n[0] & 0x1f == t).copied().unwrap();
    let seq = common::avc_sequence_header(of(7), of(8));
    // The last picture (SEI with picture timing only, one slice); ffmpeg's
    // trace_headers reads its cpb_removal_delay as 4, dpb_output_delay as 2 and
    // pic_struct as 0.
    let last = |t: u8| {
        nals.iter()
            .rev()
            .find(|n| n[0] & 0x1f == t)
            .copied()
            .unwrap()
    };
    let frame = [&[0x27, 1, 0, 0, 0][..], &common::avcc4(&[last(6), last(1)])].concat();

    let mut tracks = VideoTracks::default();
    decode_video(&seq, tracks.stream(1)).unwrap();
    let v = decode_video(&frame, tracks.stream(1)).unwrap().remove(0);
    let tc = v.timecode.expect("read with the sequence header's SPS");
    assert_eq!(
        (tc.cpb_removal_delay, tc.dpb_output_delay, tc.pic_struct),
        (Some(4), Some(2), Some(0))
    );
    assert!(tc.timestamps.is_empty());
    // Another message stream has not seen the SPS: nothing is guessed.
    let v = decode_video(&frame, tracks.stream(2)).unwrap().remove(0);
    assert_eq!(v.timecode, None);
    // Nor with a closure of the NAL length size alone.
    let v = decode_video(&frame, |_| Some(4)).unwrap().remove(0);
    assert_eq!(v.timecode, None);
}
