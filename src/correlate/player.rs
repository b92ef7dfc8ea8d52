//! The player model: playback starts once the first K segments are in, media plays
//! out in real time, and when the next segment is not complete by the time it is
//! due, playback stalls until it is.

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

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn seg(complete_s: f64) -> PlayerSegment {
        PlayerSegment {
            complete_ns: (complete_s * 1e9) as i64,
            duration_ns: 4 * S,
        }
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
