//! Broadcast correlation on hand-made timelines: matching, legs, K and join
//! artefacts, each case small enough to check by hand.

use super::super::testutil::*;
use super::super::{correlate as correlate_all, CorrelateOptions};

const MS: i64 = 1_000_000;
const T0: i64 = 1_795_000_000_000_000_000;

/// Frames every 33 ms from T0 + 10 ms; frame 4 repeats frame 1's picture (a
/// static scene codes to the same slices), frame 5 has no fingerprint.
fn broadcaster() -> super::super::HostEvents {
    let fps = [
        Some("f0"),
        Some("f1"),
        Some("f2"),
        Some("f3"),
        Some("f1"),
        None,
    ];
    let mut ev = vec![publish(1, "lagtap")];
    for (i, fp) in fps.iter().enumerate() {
        let ts = i as u32 * 33;
        ev.push(video(1, ts, *fp, T0 + 10 * MS + ts as i64 * MS));
    }
    host("caster", ev)
}

/// The packager's DTS = rtmp_ts·90 + 126000 (1.4 s).
fn dts(ts: i64) -> i64 {
    ts * 90 + 126_000
}

#[test]
fn frames_are_matched_by_fingerprint_and_a_repeated_picture_by_its_timestamp() {
    let frames = (0..6)
        .map(|i| {
            let fp = [
                Some("f0"),
                Some("f1"),
                Some("f2"),
                Some("f3"),
                Some("f1"),
                None,
            ][i];
            frame(dts(i as i64 * 33), fp)
        })
        .collect();
    let viewer = host(
        "viewer",
        vec![
            // The viewer was watching before the frames were sent: no join artefacts.
            http(2, "/hls/lagtap.m3u8", T0),
            segment(
                2,
                "/hls/lagtap-0.ts",
                0,
                T0 + 1000 * MS,
                T0 + 1500 * MS,
                frames,
            ),
        ],
    );
    let opts = CorrelateOptions {
        startup_segments: Some(1),
        ..CorrelateOptions::default()
    };
    let c = correlate_all(vec![broadcaster(), viewer], &opts);
    let b = &c.broadcast;
    assert_eq!(b.samples.len(), 6, "{:?}", b.unmatched);
    assert_eq!(b.dts_mapping["lagtap"], (0, 126_000));
    let by_pts: Vec<(i64, Option<usize>, &str)> = b
        .samples
        .iter()
        .map(|s| (s.pts, s.tx.map(|t| t.1), s.method))
        .collect();
    // The repeated picture at ts 132 is frame 4, not frame 1.
    assert_eq!(by_pts[4], (dts(132), Some(4), "fingerprint"));
    assert_eq!(by_pts[1], (dts(33), Some(1), "fingerprint"));
    assert_eq!(by_pts[5], (dts(165), Some(5), "pts_map"));
    // Frame 0 left at T0+10 ms; the segment was complete at T0+1500 ms.
    assert_eq!(b.samples[0].latency_ns, 1490 * MS);
    assert!(b.samples[0].first_in_segment);
    assert_eq!(b.samples[0].source_latency_ns, Some(1490 * MS));
    assert_eq!(b.segments.len(), 1);
    assert_eq!(b.segments[0].first_sample, Some(0));
    assert_eq!(b.segment_summary.count, 1);
    assert_eq!(b.by_viewer["viewer"].count, 6);
    assert_eq!(b.by_stream["lagtap"].count, 6);
    // K = 1 (the option): frame 0 is shown as the segment completes, frame 5 five
    // frame intervals (5·33 ms of PTS) later.
    assert_eq!(b.players[0].k_source, super::KSource::Option);
    assert_eq!(b.samples[0].display_latency_ns, Some(1490 * MS));
    assert_eq!(b.samples[5].shown_ns, Some(T0 + 1500 * MS + 165 * MS));
    assert_eq!(b.samples[5].legs.buffering_ns, Some(165 * MS));
    assert!(b.samples.iter().all(|s| !s.join_artefact));
    // Roles come from what the hosts did.
    use super::super::Role;
    assert_eq!(c.hosts[0].roles, [Role::Broadcaster]);
    assert_eq!(c.hosts[1].roles, [Role::Viewer]);
}

#[test]
fn source_clock_latency_includes_the_senders_backlog() {
    // Frame 3 (ts 99) only reached the wire 400 ms late (a full socket buffer).
    let ev = vec![
        publish(1, "lagtap"),
        video(1, 0, Some("a"), T0),
        video(1, 33, Some("b"), T0 + 33 * MS),
        video(1, 66, Some("c"), T0 + 66 * MS),
        video(1, 99, Some("d"), T0 + 499 * MS),
    ];
    let viewer = host(
        "viewer",
        vec![segment(
            2,
            "/hls/lagtap-0.ts",
            0,
            T0 + 900 * MS,
            T0 + 1000 * MS,
            vec![frame(dts(66), Some("c")), frame(dts(99), Some("d"))],
        )],
    );
    let c = correlate_all(
        vec![host("caster", ev), viewer],
        &CorrelateOptions::default(),
    );
    let s = &c.broadcast.samples;
    assert_eq!(s[1].latency_ns, 501 * MS);
    assert_eq!(s[1].source_latency_ns, Some(901 * MS));
    assert_eq!(s[0].latency_ns, s[0].source_latency_ns.unwrap());
}

#[test]
fn a_segment_without_matching_frames_falls_back_to_program_date_time() {
    // No broadcaster capture: the viewer alone, with a playlist carrying dates.
    let viewer = host(
        "viewer",
        vec![
            playlist(
                2,
                "/hls/lagtap.m3u8",
                T0,
                &[("lagtap-0.ts", Some(T0 - 6000 * MS)), ("lagtap-1.ts", None)],
            ),
            segment(
                2,
                "/hls/lagtap-0.ts",
                0,
                T0 + 10 * MS,
                T0 + 50 * MS,
                vec![frame(dts(0), Some("x")), frame(dts(33), Some("y"))],
            ),
            segment(
                2,
                "/hls/lagtap-1.ts",
                1,
                T0 + 60 * MS,
                T0 + 90 * MS,
                vec![frame(dts(4000), Some("z"))],
            ),
        ],
    );
    let c = correlate_all(vec![viewer], &CorrelateOptions::default());
    let b = &c.broadcast;
    assert_eq!(b.samples.len(), 1);
    assert_eq!(b.samples[0].method, "program_date_time");
    assert_eq!(b.samples[0].latency_ns, 6050 * MS);
    assert_eq!(b.samples[0].source_latency_ns, None);
    assert_eq!(b.segments.len(), 2);
    assert_eq!(b.segments[1].first_sample, None);
    assert_eq!(b.unmatched.get("fingerprint_not_sent"), Some(&3));
    assert!(c
        .warnings
        .iter()
        .any(|w| w.contains("no broadcaster capture")));
    // The first playlist listed 2 segments: the player starts with 2, not 3.
    assert_eq!(b.players[0].k, 2);
    assert_eq!(b.players[0].playback_start_ns, Some(T0 + 90 * MS));
}

#[test]
fn segments_of_a_stitched_ad_are_counted_and_never_taken_for_the_broadcast() {
    // The viewer of the program-date-time test above, its second segment now listed
    // inside a Twitch ad break: dated like the broadcast, but an ad.
    let mut list = playlist(
        2,
        "/hls/lagtap.m3u8",
        T0,
        &[
            ("lagtap-0.ts", Some(T0 - 6000 * MS)),
            ("lagtap-1.ts", Some(T0 - 2000 * MS)),
        ],
    );
    if let crate::events::Event::HlsPlaylist { segments, .. } = &mut list {
        segments[1].ad = true;
    }
    let viewer = host(
        "viewer",
        vec![
            list,
            segment(
                2,
                "/hls/lagtap-0.ts",
                0,
                T0 + 10 * MS,
                T0 + 50 * MS,
                vec![frame(dts(0), Some("x"))],
            ),
            segment(
                2,
                "/hls/lagtap-1.ts",
                1,
                T0 + 60 * MS,
                T0 + 90 * MS,
                vec![frame(dts(4000), Some("ad"))],
            ),
        ],
    );
    let c = correlate_all(vec![viewer], &CorrelateOptions::default());
    let b = &c.broadcast;
    assert_eq!(b.ad_segments, 1);
    assert_eq!(
        b.segments.len(),
        1,
        "only the broadcast segment is a segment record"
    );
    assert_eq!(b.samples.len(), 1);
    assert_eq!(
        b.samples[0].latency_ns,
        6050 * MS,
        "the broadcast segment's sample"
    );
}

/// LL-HLS byte-range parts (RFC 8216bis §4.4.4.9: `BYTERANGE`, a hint's
/// `BYTERANGE-START`): three range requests of one file are three parts of the
/// segment the playlist lists them under, told apart by their first byte, not by
/// the file's name; latency by part completion counts to each part, by segment
/// completion to the last; the player counts K in parts.
#[test]
fn byte_range_parts_are_tied_to_their_segment_by_their_first_byte() {
    let file = "/hls/lagtap-999.m4s"; // its name's number is not its sequence
    let part = |index: u32, start: u64, hint: bool| crate::events::PartEntry {
        uri: file.into(),
        media_sequence: 7,
        index,
        duration_s: if hint { 0.0 } else { 0.066 },
        byte_range_start: Some(start),
        independent: index == 0,
        hint,
    };
    let mut pl = playlist(2, "/hls/lagtap.m3u8", T0, &[]);
    if let crate::events::Event::HlsPlaylist { parts, .. } = &mut pl {
        *parts = vec![part(0, 0, false), part(1, 3000, false), part(2, 6000, true)];
    }
    let fetch = |start: u64, request_ms: i64, complete_ms: i64, frames: &[(i64, &str)]| {
        let mut e = segment(
            2,
            file,
            999,
            T0 + request_ms * MS,
            T0 + complete_ms * MS,
            frames
                .iter()
                .map(|&(ts, fp)| frame(dts(ts), Some(fp)))
                .collect(),
        );
        if let crate::events::Event::HlsSegment { range_start, .. } = &mut e {
            *range_start = Some(start);
        }
        e
    };
    let viewer = host(
        "viewer",
        vec![
            pl,
            fetch(0, 5, 120, &[(0, "f0"), (33, "f1")]),
            fetch(3000, 121, 200, &[(66, "f2"), (99, "f3")]),
            fetch(6000, 201, 300, &[(132, "f1")]),
        ],
    );
    let c = correlate_all(vec![broadcaster(), viewer], &CorrelateOptions::default());
    let b = &c.broadcast;
    let parts: Vec<(Option<u64>, Option<u32>)> = b
        .segments
        .iter()
        .map(|s| (s.media_sequence, s.part))
        .collect();
    assert_eq!(
        parts,
        [(Some(7), Some(0)), (Some(7), Some(1)), (Some(7), Some(2))]
    );
    assert_eq!(b.samples.len(), 5, "{:?}", b.unmatched);
    for s in &b.samples {
        // By part: its own part's completion; by segment: the last part's (300 ms).
        assert_eq!(s.part_latency_ns, Some(s.received_ns - s.sent_ns));
        assert_eq!(s.latency_ns, T0 + 300 * MS - s.sent_ns);
    }
    assert_eq!(b.samples[0].received_ns, T0 + 120 * MS);
    // K read from the capture in parts: the first part fetched was the third from
    // the end of those the playlist named, the hinted one live.
    let p = &b.players[0];
    assert_eq!((p.k, p.k_source), (3, super::KSource::Capture));
    assert_eq!((p.listed_at_start, p.prefetch_at_start), (Some(3), Some(1)));
    assert_eq!(p.segments, 3);
    // Listed parts were there at the join: artefacts; the hinted one is live.
    let artefacts: Vec<bool> = b.samples.iter().map(|s| s.join_artefact).collect();
    assert_eq!(artefacts, [true, true, true, true, false]);
}
