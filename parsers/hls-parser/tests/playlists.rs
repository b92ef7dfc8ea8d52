//! Parsing real (nginx, ffmpeg) and Twitch-style playlists.

use hls_parser::{parse, parse_bytes, resolve_uri, MediaPlaylist, Playlist};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn media(name: &str) -> MediaPlaylist {
    match parse_bytes(&data(name)).unwrap() {
        Playlist::Media(m) => *m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn nginx_live_playlist_lists_two_segments_with_sequence_numbers() {
    let p = media("nginx-live.m3u8");
    assert_eq!(p.version, Some(3));
    assert_eq!(p.target_duration, Some(4));
    assert_eq!(p.media_sequence, 0);
    assert!(!p.end_list);
    let got: Vec<(u64, f64, &str, bool)> = p
        .segments
        .iter()
        .map(|s| (s.sequence, s.duration, s.uri.as_str(), s.discontinuity))
        .collect();
    // nginx-rtmp starts every stream with EXT-X-DISCONTINUITY.
    assert_eq!(
        got,
        [(0, 4.0, "test-0.ts", true), (1, 4.0, "test-1.ts", false)]
    );
    assert_eq!(p.segments[0].discontinuity_sequence, 1);
    assert_eq!(
        resolve_uri("/hls/test.m3u8", &p.segments[1].uri),
        "/hls/test-1.ts"
    );
    assert!(p.anomalies.is_empty() && p.other_tags.is_empty());
}

#[test]
fn ffmpeg_fmp4_playlist_has_a_map_and_ends() {
    let p = media("ffmpeg-fmp4-vod.m3u8");
    assert!(p.end_list);
    assert_eq!(p.playlist_type.as_deref(), Some("VOD"));
    assert_eq!(p.segments.len(), 2);
    assert!(p
        .segments
        .iter()
        .all(|s| s.map_uri.as_deref() == Some("init.mp4")));
    assert_eq!(p.segments[1].uri, "seg1.m4s");
    assert_eq!(p.segments[1].duration, 1.0);
}

#[test]
fn twitch_master_playlist_labels_variants_by_their_video_rendition_name() {
    let Playlist::Master(m) = parse_bytes(&data("twitch-style-master.m3u8")).unwrap() else {
        panic!()
    };
    let labels: Vec<_> = m
        .variants
        .iter()
        .map(|v| (v.name.as_deref(), v.bandwidth, v.resolution))
        .collect();
    assert_eq!(
        labels,
        [
            (Some("1080p60 (source)"), Some(6371082), Some((1920, 1080))),
            (Some("720p60"), Some(3422999), Some((1280, 720))),
            (Some("480p"), Some(1427999), Some((852, 480))),
            (Some("audio_only"), Some(160000), None),
        ]
    );
    assert_eq!(m.variants[0].video_group.as_deref(), Some("chunked"));
    assert_eq!(
        m.variants[0].codecs.as_deref(),
        Some("avc1.64002A,mp4a.40.2")
    );
    assert_eq!(m.variants[0].frame_rate, Some(60.0));
    assert!(m.other_tags[0].starts_with("#EXT-X-TWITCH-INFO:NODE="));
    assert!(m.anomalies.is_empty());
}

#[test]
fn program_date_time_becomes_ns_since_epoch_and_is_carried_forward_until_a_discontinuity() {
    let p = media("twitch-style-media.m3u8");
    assert_eq!(p.media_sequence, 4711);
    let t0 = 1_795_580_032_000_000_000i64; // 2026-11-25T04:13:52Z
    assert_eq!(p.segments[0].program_date_time_ns, Some(t0));
    assert_eq!(p.segments[0].title, "live");
    assert!(p.segments[0].tags[0].starts_with("#EXT-X-DATERANGE:ID="));
    assert_eq!(
        p.segment_start_times_ns(),
        [
            Some(t0),
            Some(t0 + 2_000_000_000),
            Some(t0 + 4_000_000_000),
            Some(t0 + 6_500_000_000)
        ]
    );
    assert!(p.segments[3].discontinuity);
    assert_eq!(p.segment(4714).unwrap().title, "Amazon");
    assert!(p.segment(4710).is_none());
    // Twitch's own tags are read, not left as unknown ones.
    assert!(p.other_tags.is_empty(), "{:?}", p.other_tags);
    assert_eq!(p.twitch.elapsed_s, Some(9420.0));
    assert_eq!(p.twitch.total_s, Some(9438.0));
    assert_eq!(
        p.twitch.prefetch,
        ["http://127.0.0.1:18080/v1/segment/4715.ts"]
    );
    // The DATERANGE there is the stream source's, not an ad's.
    assert!(p.segments.iter().all(|s| !s.ad));
}

#[test]
fn text_without_extm3u_is_not_a_playlist() {
    assert!(parse("<html>404</html>").is_err());
    assert!(parse("").is_err());
}

#[test]
fn fuzz_body_survives_seeds_and_pseudo_random_mutations() {
    let names = [
        "nginx-live.m3u8",
        "ffmpeg-fmp4-vod.m3u8",
        "twitch-style-master.m3u8",
        "twitch-style-media.m3u8",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in names {
        let seed = data(name);
        hls_parser::fuzzing::playlist(&seed);
        for _ in 0..1000 {
            let mut m = seed.clone();
            for _ in 0..(next() % 8 + 1) {
                if m.is_empty() {
                    break;
                }
                let i = (next() as usize) % m.len();
                const INTERESTING: &[u8] = b"#:,=\"\n-.0123456789ZT+@x";
                match next() % 4 {
                    0 => m[i] = next() as u8,
                    1 => m[i] = INTERESTING[next() as usize % INTERESTING.len()],
                    2 => drop(m.remove(i)),
                    _ => m.insert(i, next() as u8),
                }
            }
            hls_parser::fuzzing::playlist(&m);
        }
    }
}
