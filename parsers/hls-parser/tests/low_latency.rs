//! Low-latency HLS and Twitch's low-latency and ad tags, on playlists written after
//! the specification's own examples: RFC 8216bis (draft-pantos-hls-rfc8216bis-15,
//! the HTTP Live Streaming 2nd edition), §9.4 "Low-Latency Playlist" and §9.5
//! "Playlist Delta Update", and §6.2.5.2 for the blocking-reload query. Expected
//! values are read off the playlists by the rules of the sections named.

use hls_parser::{parse, DeliveryDirectives, Playlist};

fn media(text: &str) -> hls_parser::MediaPlaylist {
    match parse(text).expect("a playlist") {
        Playlist::Media(m) => *m,
        Playlist::Master(_) => panic!("expected a media playlist"),
    }
}

/// §9.4, shortened to its last two segments: parts of complete segments, parts of
/// the segment being made, a preload hint and rendition reports.
const LOW_LATENCY: &str = "#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=12.0
#EXT-X-PART-INF:PART-TARGET=0.33334
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-PROGRAM-DATE-TIME:2019-02-14T02:13:36.106Z
#EXT-X-MAP:URI=\"init.mp4\"
#EXTINF:4.00008,
fileSequence266.mp4
#EXT-X-PART:DURATION=0.33334,URI=\"filePart271.0.mp4\"
#EXT-X-PART:DURATION=0.33334,URI=\"filePart271.1.mp4\"
#EXT-X-PART:DURATION=0.33334,INDEPENDENT=YES,URI=\"filePart271.2.mp4\"
#EXTINF:4.00008,
fileSequence271.mp4
#EXT-X-PART:DURATION=0.33334,URI=\"filePart272.a.mp4\"
#EXT-X-PART:DURATION=0.33334,INDEPENDENT=YES,URI=\"filePart272.b.mp4\"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"filePart272.c.mp4\"
#EXT-X-RENDITION-REPORT:URI=\"../1M/waitForMSN.php\",LAST-MSN=273,LAST-PART=2
#EXT-X-RENDITION-REPORT:URI=\"../4M/waitForMSN.php\",LAST-MSN=273,LAST-PART=1
";

#[test]
fn parts_belong_to_the_segment_they_precede_and_the_rest_to_the_one_being_made() {
    let p = media(LOW_LATENCY);
    assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
    let sc = p.server_control.clone().expect("EXT-X-SERVER-CONTROL");
    assert!(sc.can_block_reload);
    assert_eq!(sc.part_hold_back_s, Some(1.0));
    assert_eq!(sc.can_skip_until_s, Some(12.0));
    assert_eq!(p.part_target_s, Some(0.33334));
    assert_eq!(p.segments.len(), 2);
    assert!(p.segments[0].parts.is_empty());
    let parts: Vec<(&str, bool)> = p.segments[1]
        .parts
        .iter()
        .map(|x| (x.uri.as_str(), x.independent))
        .collect();
    assert_eq!(
        parts,
        [
            ("filePart271.0.mp4", false),
            ("filePart271.1.mp4", false),
            ("filePart271.2.mp4", true)
        ]
    );
    // The segment being made: its two parts so far and the hinted third.
    let pending: Vec<&str> = p.pending_parts.iter().map(|x| x.uri.as_str()).collect();
    assert_eq!(pending, ["filePart272.a.mp4", "filePart272.b.mp4"]);
    assert_eq!(p.preload_hints.len(), 1);
    assert_eq!(p.preload_hints[0].kind, "PART");
    assert_eq!(p.preload_hints[0].uri, "filePart272.c.mp4");
    let reports: Vec<(&str, Option<u64>, Option<u64>)> = p
        .rendition_reports
        .iter()
        .map(|r| (r.uri.as_str(), r.last_msn, r.last_part))
        .collect();
    assert_eq!(
        reports,
        [
            ("../1M/waitForMSN.php", Some(273), Some(2)),
            ("../4M/waitForMSN.php", Some(273), Some(1))
        ]
    );
    assert!(p.other_tags.is_empty(), "{:?}", p.other_tags);
}

#[test]
fn byte_range_parts_follow_each_other_when_the_offset_is_left_out() {
    // §4.4.4.9: a BYTERANGE without an offset starts where the previous part of
    // the same resource ended.
    let p = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART-INF:PART-TARGET=0.5\n\
         #EXT-X-PART:DURATION=0.5,URI=\"seg9.mp4\",BYTERANGE=\"20000@0\"\n\
         #EXT-X-PART:DURATION=0.5,URI=\"seg9.mp4\",BYTERANGE=\"18000\"\n\
         #EXT-X-PART:DURATION=0.5,URI=\"seg9.mp4\",BYTERANGE=\"21000\",GAP=YES\n",
    );
    let ranges: Vec<_> = p.pending_parts.iter().map(|x| x.byte_range).collect();
    assert_eq!(
        ranges,
        [
            Some((20000, Some(0))),
            Some((18000, Some(20000))),
            Some((21000, Some(38000)))
        ]
    );
    assert!(p.pending_parts[2].gap);
}

#[test]
fn a_delta_update_numbers_its_segments_after_the_skipped_ones() {
    // §9.5: the delta update of §9.4 skipping 3 segments: the first listed one is
    // media sequence 266 + 3.
    let p = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:9\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=12.0\n\
         #EXT-X-MEDIA-SEQUENCE:266\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n\
         #EXTINF:4.00008,\nfileSequence269.mp4\n#EXTINF:4.00008,\nfileSequence270.mp4\n",
    );
    assert_eq!(p.skipped_segments, 3);
    let seqs: Vec<u64> = p.segments.iter().map(|s| s.sequence).collect();
    assert_eq!(seqs, [269, 270]);
    assert_eq!(
        p.segment(269).map(|s| s.uri.as_str()),
        Some("fileSequence269.mp4")
    );
    assert!(p.segment(268).is_none());
}

#[test]
fn blocking_reload_directives_come_from_the_query() {
    // §6.2.5.2 and §6.2.5.1.
    let d =
        DeliveryDirectives::of_uri("https://x/live/1M.m3u8?_HLS_msn=273&_HLS_part=2&_HLS_skip=YES");
    assert_eq!(d.msn, Some(273));
    assert_eq!(d.part, Some(2));
    assert_eq!(d.skip.as_deref(), Some("YES"));
    assert!(d.blocking());
    assert!(!DeliveryDirectives::of_uri("/hls/a.m3u8").blocking());
    assert!(!DeliveryDirectives::of_uri("/hls/a.m3u8?token=1#_HLS_msn=3").blocking());
}

#[test]
fn twitch_stitched_ad_segments_are_marked_by_their_daterange() {
    // An ad break as Twitch announces it: a DATERANGE of class twitch-stitched-ad
    // from 04:14:00 for 4 s. The segments dated 04:14:00 and 04:14:02 are in it;
    // 04:13:58 and 04:14:04 are not.
    let p = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
         #EXT-X-TWITCH-LIVE-SEQUENCE:4100\n\
         #EXT-X-PROGRAM-DATE-TIME:2026-11-25T04:13:58.000Z\n#EXTINF:2.000,live\nlive10.ts\n\
         #EXT-X-DATERANGE:ID=\"stitched-ad-1\",CLASS=\"twitch-stitched-ad\",\
         START-DATE=\"2026-11-25T04:14:00.000Z\",DURATION=4.000,X-TV-TWITCH-AD-POD-LENGTH=\"1\"\n\
         #EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T04:14:00.000Z\n\
         #EXTINF:2.000,Amazon\nad11.ts\n#EXTINF:2.000,Amazon\nad12.ts\n\
         #EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T04:14:04.000Z\n\
         #EXTINF:2.000,live\nlive13.ts\n\
         #EXT-X-TWITCH-PREFETCH:live14.ts\n#EXT-X-TWITCH-PREFETCH:live15.ts\n",
    );
    let ads: Vec<(u64, bool)> = p.segments.iter().map(|s| (s.sequence, s.ad)).collect();
    assert_eq!(ads, [(10, false), (11, true), (12, true), (13, false)]);
    assert_eq!(p.twitch.live_sequence, Some(4100));
    assert_eq!(p.twitch.prefetch, ["live14.ts", "live15.ts"]);
}

/// ffmpeg 5.1's dash muxer with `-hls_playlist 1 -lhls 1` (captures/lowlatency): the
/// segment being written is named by `#EXT-X-PREFETCH` (the community LHLS draft)
/// after the listed ones, and numbered on from them like Twitch's prefetch.
#[test]
fn lhls_prefetch_as_ffmpeg_writes_it() {
    let p = media(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n\
         #EXT-X-MAP:URI=\"lagtap-init.m4s\"\n\
         #EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-02T14:30:49.000+0000\n\
         lagtap-00001.m4s\n\
         #EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-02T14:30:51.000+0000\n\
         lagtap-00002.m4s\n\
         #EXT-X-PREFETCH:lagtap-00003.m4s\n",
    );
    assert_eq!(p.segments.len(), 2);
    assert_eq!(p.prefetch, ["lagtap-00003.m4s"]);
    assert!(p.twitch.prefetch.is_empty());
    let all: Vec<&str> = p.prefetch_uris().collect();
    assert_eq!(all, ["lagtap-00003.m4s"]);
    assert!(p.other_tags.is_empty(), "{:?}", p.other_tags);
}
