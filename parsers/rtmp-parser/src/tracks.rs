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
