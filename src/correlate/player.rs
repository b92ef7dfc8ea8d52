//! The player models. HLS: playback starts once the first K segments are in, media
//! plays out in real time, and when the next segment is not complete by the time
//! it is due, playback stalls until it is. RTMP ([`play_frames`]): the same frame
//! by frame, with a buffer of media time in place of K segments.

/// One segment as the player sees it, in media-sequence order.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct PlayerSegment {
    /// Reference time the last byte was received.
    pub complete_ns: i64,
    /// Playout duration.
    pub duration_ns: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Playout {
    /// Playback start (the K-th segment complete); `None` with fewer than K segments.
    pub start_ns: Option<i64>,
    /// When each segment starts playing (`None` before playback starts).
    pub segment_start_ns: Vec<Option<i64>>,
    pub stalls: u32,
    pub stall_ns: i64,
}

/// Play `segments` (in order) with a startup buffer of `k` segments.
pub fn play(segments: &[PlayerSegment], k: usize) -> Playout {
    let k = k.max(1);
    let mut out = Playout {
        segment_start_ns: vec![None; segments.len()],
        ..Playout::default()
    };
    if segments.len() < k {
        return out;
    }
    let start = segments[..k]
        .iter()
        .map(|s| s.complete_ns)
        .max()
        .expect("k >= 1 segments");
    out.start_ns = Some(start);
    let mut t = start;
    for (i, s) in segments.iter().enumerate() {
        if s.complete_ns > t {
            out.stalls += 1;
            out.stall_ns = out.stall_ns.saturating_add(s.complete_ns.saturating_sub(t));
            t = s.complete_ns;
        }
        out.segment_start_ns[i] = Some(t);
        t = t.saturating_add(s.duration_ns.max(0));
    }
    out
}

/// One video frame as an RTMP player receives it, in stream (timestamp) order.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct PlayerFrame {
    /// Reference time the player had the whole message.
    pub received_ns: i64,
    /// Its place on the stream's media timeline (the RTMP timestamp).
    pub media_ns: i64,
}

/// When each frame of an RTMP player is shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FramePlayout {
    pub start_ns: Option<i64>,
    pub shown_ns: Vec<Option<i64>>,
    /// Playback ran dry (a frame was due before it arrived) and refilled its
    /// buffer: how often, and for how long in all.
    pub stalls: u32,
    pub stall_ns: i64,
}

/// Play `frames` (in timestamp order) as a buffering RTMP player does (Flash
/// Player's `NetStream.bufferTime`, the players modelled on it): playback starts
/// once `buffer_ns` of media is in hand (every frame less than `buffer_ns` after
/// the first on the media timeline has arrived; 0: the first frame), frames are
/// shown at their media time from there, and a frame not in hand when due empties
/// the buffer: playback waits until `buffer_ns` of media from that frame on is in
/// hand again, and goes on from it.
pub fn play_frames(frames: &[PlayerFrame], buffer_ns: i64) -> FramePlayout {
    let mut out = FramePlayout {
        shown_ns: vec![None; frames.len()],
        ..FramePlayout::default()
    };
    // When `buffer_ns` of media from frame i on is in hand: the last arrival among
    // the frames within it (frame i itself at least).
    let filled = |i: usize| {
        let end = frames[i].media_ns.saturating_add(buffer_ns.max(0));
        frames[i..]
            .iter()
            .take_while(|f| f.media_ns < end || std::ptr::eq(*f, &frames[i]))
            .map(|f| f.received_ns)
            .max()
            .unwrap_or(frames[i].received_ns)
    };
    let Some(first) = frames.first() else {
        return out;
    };
    let start = filled(0);
    out.start_ns = Some(start);
    // `origin`: the wall time at which media time 0 is shown.
    let mut origin = start.saturating_sub(first.media_ns);
    for (i, f) in frames.iter().enumerate() {
        let due = origin.saturating_add(f.media_ns);
        let shown = if f.received_ns > due {
            let resume = filled(i);
            out.stalls += 1;
            out.stall_ns = out.stall_ns.saturating_add(resume.saturating_sub(due));
            origin = resume.saturating_sub(f.media_ns);
            resume
        } else {
            due
        };
        out.shown_ns[i] = Some(shown);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;

    fn seg(complete_s: f64) -> PlayerSegment {
        PlayerSegment {
            complete_ns: (complete_s * 1e9) as i64,
            duration_ns: 4 * S,
        }
    }

    fn frames(list: &[(i64, i64)]) -> Vec<PlayerFrame> {
        list.iter()
            .map(|&(received_ms, media_ms)| PlayerFrame {
                received_ns: received_ms * MS,
                media_ns: media_ms * MS,
            })
            .collect()
    }

    #[test]
    fn rtmp_playback_starts_with_the_buffer_full_and_runs_on_media_time() {
        // 100 ms buffer, frames every 40 ms arriving 5 ms apart at first: the
        // frames at media 0, 40 and 80 are in hand at 1010 ms; frame 120 is due
        // at 1130 and came at 1020, so it is shown at 1130.
        let f = frames(&[(1000, 0), (1005, 40), (1010, 80), (1020, 120), (1100, 160)]);
        let p = play_frames(&f, 100 * MS);
        assert_eq!(p.start_ns, Some(1010 * MS));
        assert_eq!(p.stalls, 0);
        let shown: Vec<i64> = p.shown_ns.iter().map(|t| t.unwrap() / MS).collect();
        assert_eq!(shown, [1010, 1050, 1090, 1130, 1170]);
    }

    #[test]
    fn a_late_rtmp_frame_empties_the_buffer_until_it_refills() {
        // Playing from 1010 ms; frame 120 is due at 1130 but arrives at 1300; the
        // buffer (100 ms of media from it: frames 120, 160, 200) is full again when
        // frame 200 arrives at 1320, and playback goes on from there.
        let f = frames(&[
            (1000, 0),
            (1005, 40),
            (1010, 80),
            (1300, 120),
            (1310, 160),
            (1320, 200),
        ]);
        let p = play_frames(&f, 100 * MS);
        assert_eq!(p.start_ns, Some(1010 * MS));
        assert_eq!((p.stalls, p.stall_ns), (1, 190 * MS));
        let shown: Vec<i64> = p.shown_ns.iter().map(|t| t.unwrap() / MS).collect();
        assert_eq!(shown, [1010, 1050, 1090, 1320, 1360, 1400]);
        // With no buffer a frame is shown when due, or when it arrives if later.
        let p = play_frames(&f, 0);
        assert_eq!(p.start_ns, Some(1000 * MS));
        assert_eq!((p.stalls, p.stall_ns), (1, 180 * MS));
        let shown: Vec<i64> = p.shown_ns.iter().map(|t| t.unwrap() / MS).collect();
        assert_eq!(shown, [1000, 1040, 1080, 1300, 1340, 1380]);
    }

    #[test]
    fn starts_after_k_segments_and_plays_in_real_time() {
        let p = play(&[seg(0.1), seg(0.2), seg(0.3), seg(4.0), seg(8.0)], 3);
        assert_eq!(p.start_ns, Some(300_000_000));
        assert_eq!(p.stalls, 0);
        assert_eq!(p.segment_start_ns[3], Some(12 * S + 300_000_000));
    }

    #[test]
    fn a_late_segment_stalls_playback_until_it_arrives() {
        // K=1: segment 0 plays 1..5 s, segment 1 arrives at 7 s: a 2 s stall; then
        // segment 2 (complete at 8 s) is due at 11 s: no stall.
        let p = play(&[seg(1.0), seg(7.0), seg(8.0)], 1);
        assert_eq!(p.start_ns, Some(S));
        assert_eq!(p.stalls, 1);
        assert_eq!(p.stall_ns, 2 * S);
        assert_eq!(p.segment_start_ns, [Some(S), Some(7 * S), Some(11 * S)]);
    }

    #[test]
    fn fewer_than_k_segments_never_start() {
        let p = play(&[seg(1.0), seg(2.0)], 3);
        assert_eq!(p.start_ns, None);
        assert_eq!(p.segment_start_ns, [None, None]);
    }
}
