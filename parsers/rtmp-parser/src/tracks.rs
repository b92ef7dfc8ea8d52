//! What decoding a video message needs from the earlier messages of its message
//! stream and (Enhanced RTMP) track: the NAL length size of the last sequence
//! header, and the timecode tracker that holds the stream's H.264 parameter sets
//! (`avc::timecode`: picture timing SEI cannot be read without the active SPS).

use avc::timecode::Tracker;

use crate::MAX_CHUNK_STREAMS;

/// What [`crate::flv::decode_video`] asks of the stream a message belongs to.
pub trait TrackState {
    /// The NAL length size learnt from the last sequence header of `track`
    /// (`None`: not seen; 4 is assumed).
    fn nal_length_size(&self, track: Option<u8>) -> Option<u8>;

    /// The timecode tracker of `track`, where the caller keeps one.
    fn timecode(&mut self, _track: Option<u8>) -> Option<&mut Tracker> {
        None
    }
}

/// A closure of the NAL length size alone: no timecode state.
impl<F: Fn(Option<u8>) -> Option<u8>> TrackState for F {
    fn nal_length_size(&self, track: Option<u8>) -> Option<u8> {
        self(track)
    }
}

#[derive(Debug)]
struct Track {
    msid: u32,
    track: u8,
    nal_length_size: Option<u8>,
    timecode: Box<Tracker>,
}

/// The video tracks of one direction of a connection, bounded: a connection uses a
/// handful of message streams and tracks, but their ids come from the wire, so
/// at most [`MAX_CHUNK_STREAMS`] are kept and later ones get no state.
#[derive(Debug, Default)]
pub struct VideoTracks {
    tracks: Vec<Track>,
}

impl VideoTracks {
    fn find(&self, msid: u32, track: u8) -> Option<&Track> {
        self.tracks
            .iter()
            .find(|t| t.msid == msid && t.track == track)
    }

    fn entry(&mut self, msid: u32, track: u8) -> Option<&mut Track> {
        let at = match self
            .tracks
            .iter()
            .position(|t| t.msid == msid && t.track == track)
        {
            Some(at) => at,
            None if self.tracks.len() < MAX_CHUNK_STREAMS => {
                self.tracks.push(Track {
                    msid,
                    track,
                    nal_length_size: None,
                    timecode: Box::default(),
                });
                self.tracks.len() - 1
            }
            None => return None,
        };
        self.tracks.get_mut(at)
    }

    /// The NAL length size of the last sequence header of `msid`'s `track`.
    pub fn nal_length_size(&self, msid: u32, track: u8) -> Option<u8> {
        self.find(msid, track).and_then(|t| t.nal_length_size)
    }

    pub fn set_nal_length_size(&mut self, msid: u32, track: u8, size: u8) {
        if let Some(t) = self.entry(msid, track) {
            t.nal_length_size = Some(size);
        }
    }

    /// The [`TrackState`] of message stream `msid`.
    pub fn stream(&mut self, msid: u32) -> StreamTracks<'_> {
        StreamTracks { tracks: self, msid }
    }
}

/// The tracks of one message stream (the default track of a message without a
/// multitrack header is track 0, E-RTMP v2 "Multitrack Streaming via Enhanced RTMP").
pub struct StreamTracks<'a> {
    tracks: &'a mut VideoTracks,
    msid: u32,
}

impl TrackState for StreamTracks<'_> {
    fn nal_length_size(&self, track: Option<u8>) -> Option<u8> {
        self.tracks.nal_length_size(self.msid, track.unwrap_or(0))
    }

    fn timecode(&mut self, track: Option<u8>) -> Option<&mut Tracker> {
        let t = self.tracks.entry(self.msid, track.unwrap_or(0))?;
        Some(&mut t.timecode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::decode_video;

    /// x264's own stream (`avc/tests/data`, see `avc/tests/timecode_ffmpeg.rs`):
    /// NAL HRD and `pic_struct` present, a picture timing SEI on every picture.
    const X264: &[u8] = include_bytes!("../../avc/tests/data/x264_ps.h264");

    fn avcc(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&(n.len() as u32).to_be_bytes()[..], n].concat())
            .collect()
    }

    #[test]
    fn picture_timing_is_read_with_the_sps_of_the_sequence_header() {
        let nals: Vec<&[u8]> = avc::iter_annexb(X264).map(|n| n.0).collect();
        let of = |t: u8| nals.iter().find(|n| n[0] & 0x1f == t).copied().unwrap();
        let (sps, pps) = (of(7), of(8));
        // AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1) behind the FLV
        // AVC video tag header (key frame, AVCPacketType 0, composition time 0).
        let mut seq = vec![0x17, 0, 0, 0, 0, 1, sps[1], sps[2], sps[3], 0xff, 0xe1];
        seq.extend((sps.len() as u16).to_be_bytes());
        seq.extend_from_slice(sps);
        seq.push(1);
        seq.extend((pps.len() as u16).to_be_bytes());
        seq.extend_from_slice(pps);
        // The last picture (SEI with picture timing only, one slice); ffmpeg's
        // trace_headers reads its cpb_removal_delay as 4, dpb_output_delay as 2
        // and pic_struct as 0.
        let last = |t: u8| {
            nals.iter()
                .rev()
                .find(|n| n[0] & 0x1f == t)
                .copied()
                .unwrap()
        };
        let (sei, slice) = (last(6), last(1));
        let mut frame = vec![0x27, 1, 0, 0, 0];
        frame.extend(avcc(&[sei, slice]));

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
}
