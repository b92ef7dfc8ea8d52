//! Enhanced RTMP (veovera E-RTMP v1 and v2) on a publish built here byte by byte from
//! the specification, since no Debian package sends it: the `connect` fields
//! ("Enhancing NetConnection connect Command"), `onMetaData` with FourCC codec ids
//! and per-track maps ("Enhancing onMetaData"), the ExVideoTagHeader ("Enhanced
//! Video") and ExAudioTagHeader ("Enhanced Audio") with every packet type, ModEx
//! `TimestampOffsetNano` and the three multitrack types ("Multitrack Streaming via
//! Enhanced RTMP"). The chunk layer around them follows the RTMP 1.0 spec (5.3.1:
//! type-0 headers, type-3 continuations at the default chunk size of 128), the AMF
//! values AMF0 (2.2 number, 2.4 string, 2.5 object, 2.10 ECMA array, 2.12 strict
//! array). The stream is decoded whole, split at every byte and one byte at a time.

mod common;

use common::{chunks, feed_in_pieces};
use rtmp_parser::{
    Amf, Direction, Event, FrameType, KnownCommand, Message, Payload, Session, VideoCodec,
    VideoInfo, VideoPacket,
};

const C2S: Direction = Direction::ClientToServer;

/// AMF0 string (2.4) without its marker: UI16 length, UTF-8.
fn amf_key(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u16).to_be_bytes().to_vec();
    v.extend(s.as_bytes());
    v
}

fn amf_str(s: &str) -> Vec<u8> {
    let mut v = vec![0x02];
    v.extend(amf_key(s));
    v
}

fn amf_num(n: f64) -> Vec<u8> {
    let mut v = vec![0x00];
    v.extend(n.to_be_bytes());
    v
}

/// AMF0 object (2.5): properties, then the empty key and object-end marker (0x09).
fn amf_obj(props: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut v = vec![0x03];
    for (k, val) in props {
        v.extend(amf_key(k));
        v.extend(val);
    }
    v.extend([0, 0, 0x09]);
    v
}

/// AMF0 ECMA array (2.10): UI32 count, then properties as in an object.
fn amf_ecma(props: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut v = vec![0x08];
    v.extend((props.len() as u32).to_be_bytes());
    v.extend(&amf_obj(props)[1..]);
    v
}

/// `connect` with the E-RTMP fields (v1: `fourCcList`; v2: `videoFourCcInfoMap`,
/// `audioFourCcInfoMap`, `capsEx`), values from the spec's examples.
fn connect() -> Vec<u8> {
    let mut list = vec![0x0a];
    list.extend(3u32.to_be_bytes());
    for f in ["av01", "hvc1", "Opus"] {
        list.extend(amf_str(f));
    }
    let mut v = amf_str("connect");
    v.extend(amf_num(1.0));
    v.extend(amf_obj(&[
        ("app", amf_str("live")),
        ("tcUrl", amf_str("rtmp://ingest/live")),
        ("fourCcList", list),
        (
            "videoFourCcInfoMap",
            amf_obj(&[("*", amf_num(4.0)), ("vp09", amf_num(3.0))]),
        ),
        ("audioFourCcInfoMap", amf_obj(&[("Opus", amf_num(3.0))])),
        ("capsEx", amf_num(15.0)),
    ]));
    v
}

/// `@setDataFrame("onMetaData", {...})`: `videocodecid` as the FourCC number of
/// "hvc1" (0x68766331), `audiocodecid` as "Opus" (0x4F707573 = 1332770163, the
/// spec's example), and a `videoTrackIdInfoMap` for track 1 in av01.
fn metadata() -> Vec<u8> {
    let mut v = amf_str("@setDataFrame");
    v.extend(amf_str("onMetaData"));
    v.extend(amf_ecma(&[
        ("width", amf_num(1920.0)),
        ("videocodecid", amf_num(f64::from(0x6876_6331u32))),
        ("audiocodecid", amf_num(1_332_770_163.0)),
        (
            "videoTrackIdInfoMap",
            amf_obj(&[(
                "1",
                amf_obj(&[
                    ("width", amf_num(1024.0)),
                    ("videocodecid", amf_num(f64::from(0x6176_3031u32))),
                ]),
            )]),
        ),
    ]));
    v
}

/// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1): 22 fixed bytes
/// (general_profile_idc 1 = Main, general_level_idc 93 = level 3.1,
/// lengthSizeMinusOne 1: two-byte NAL lengths), then arrays of VPS, SPS, PPS.
fn hvcc() -> Vec<u8> {
    let mut v = vec![1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93];
    // min_spatial_segmentation_idc, parallelismType, chromaFormat 1 (4:2:0), bit
    // depths 8, avgFrameRate 0, then constantFrameRate 0, numTemporalLayers 1,
    // temporalIdNested 1, lengthSizeMinusOne 1.
    v.extend([0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0x00, 0x00, 0x0d]);
    assert_eq!(v.len(), 22);
    v.push(3);
    // NAL header: forbidden 0, nal_unit_type << 1, layer 0, tid 1.
    for (t, body) in [
        (32u8, &[0x0c, 0x01][..]),
        (33, &[0x01, 0x01]),
        (34, &[0xc1]),
    ] {
        v.push(0x80 | t);
        v.extend(1u16.to_be_bytes());
        let nal: Vec<u8> = [&[t << 1, 0x01][..], body].concat();
        v.extend((nal.len() as u16).to_be_bytes());
        v.extend(nal);
    }
    v
}

/// An HEVC IDR_W_RADL slice (nal_unit_type 19) and its prefix SEI (39), as
/// (type, NAL bytes). The slice holds 00 00 03, an emulation-prevention byte.
fn hevc_nals() -> Vec<(u8, Vec<u8>)> {
    vec![
        (39, vec![39 << 1, 0x01, 0x05, 0x01, 0xaa, 0x80]),
        (19, vec![19 << 1, 0x01, 0xaf, 0x00, 0x00, 0x03, 0x01, 0x42]),
    ]
}

/// NAL units with `size`-byte big-endian length prefixes (ISO/IEC 14496-15 4.3.2).
fn length_prefixed(nals: &[(u8, Vec<u8>)], size: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for (_, n) in nals {
        v.extend(&(n.len() as u32).to_be_bytes()[4 - size..]);
        v.extend(n);
    }
    v
}

/// The same NAL units with Annex B start codes (ITU-T H.265 Annex B), as MPEG-TS
/// carries them.
fn annexb(nals: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (_, n) in nals {
        v.extend([0, 0, 0, 1]);
        v.extend(n);
    }
    v
}

/// ExVideoTagHeader's first byte: IsExHeader, frame type, packet type.
fn ex_video(frame: u8, packet: u8) -> u8 {
    0x80 | (frame << 4) | packet
}

/// ExAudioTagHeader's first byte: SoundFormat 9 (ExHeader), packet type.
fn ex_audio(packet: u8) -> u8 {
    0x90 | packet
}

/// The publish: (RTMP timestamp, type id, payload) in order, after the handshake.
fn publish_messages() -> Vec<(u32, u8, Vec<u8>)> {
    let mut m = vec![(0, 20, connect()), (0, 18, metadata())];
    // Video SequenceStart (0), hvc1.
    m.push((0, 9, [&[ex_video(1, 0)][..], b"hvc1", &hvcc()].concat()));
    // CodedFrames (1), hvc1: SI24 composition time 66, then two-byte NAL lengths.
    m.push((
        0,
        9,
        [
            &[ex_video(1, 1)][..],
            b"hvc1",
            &[0, 0, 66],
            &length_prefixed(&hevc_nals(), 2),
        ]
        .concat(),
    ));
    // CodedFramesX (3), hvc1: no composition time (it is zero).
    m.push((
        33,
        9,
        [
            &[ex_video(2, 3)][..],
            b"hvc1",
            &length_prefixed(&hevc_nals()[1..], 2),
        ]
        .concat(),
    ));
    // av01 SequenceStart: AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3.3: marker
    // 1, version 1; seq_profile 0, seq_level_idx 8; flags), then av01 CodedFrames:
    // a temporal delimiter OBU (type 2, has_size, size 0).
    m.push((
        33,
        9,
        [&[ex_video(1, 0)][..], b"av01", &[0x81, 0x08, 0x0c, 0x00]].concat(),
    ));
    m.push((
        33,
        9,
        [&[ex_video(1, 1)][..], b"av01", &[0x12, 0x00]].concat(),
    ));
    // MPEG2TSSequenceStart (5), av01: the AV1 video descriptor (tag 0x80).
    m.push((
        33,
        9,
        [
            &[ex_video(1, 5)][..],
            b"av01",
            &[0x80, 0x04, 0x81, 0x08, 0x0c, 0x00],
        ]
        .concat(),
    ));
    // Metadata (4), vp09: AMF "colorInfo" object; frame type 1.
    m.push((
        33,
        9,
        [
            &[ex_video(1, 4)][..],
            b"vp09",
            &amf_str("colorInfo"),
            &amf_obj(&[("colorConfig", amf_obj(&[("bitDepth", amf_num(10.0))]))]),
        ]
        .concat(),
    ));
    // ModEx (7) TimestampOffsetNano (ModEx type 0): size byte 2 (3 bytes of data,
    // UI24 500000 ns), then the byte of ModEx type and the real packet type
    // (CodedFramesX, 3) on vp09.
    m.push((
        66,
        9,
        [
            &[ex_video(2, 7), 2, 0x07, 0xa1, 0x20, 0x03][..],
            b"vp09",
            &[0xde, 0xad],
        ]
        .concat(),
    ));
    // Multitrack (6), ManyTracks (1), CodedFramesX for all, one FourCC hvc1: track
    // 0 and track 2, each UI24 sized. Track 0 uses the hvcC's two-byte lengths,
    // track 2 has no sequence header of its own (four-byte lengths assumed).
    let t0 = length_prefixed(&hevc_nals()[1..], 2);
    let t2 = length_prefixed(&hevc_nals()[1..], 4);
    m.push((
        66,
        9,
        [
            &[ex_video(2, 6), 0x13][..],
            b"hvc1",
            &[0],
            &(t0.len() as u32).to_be_bytes()[1..],
            &t0,
            &[2],
            &(t2.len() as u32).to_be_bytes()[1..],
            &t2,
        ]
        .concat(),
    ));
    // Multitrack, ManyTracksManyCodecs (2), SequenceEnd (2): each track its FourCC.
    m.push((
        99,
        9,
        [
            &[ex_video(1, 6), 0x22][..],
            b"av01",
            &[1, 0, 0, 0],
            b"hvc1",
            &[0, 0, 0, 0],
        ]
        .concat(),
    ));
    // Multitrack, OneTrack (0), CodedFrames on avc1 track 5: SI24 composition time
    // -33, an IDR slice (type 5) with a four-byte length.
    m.push((
        99,
        9,
        [
            &[ex_video(1, 6), 0x01][..],
            b"avc1",
            &[5, 0xff, 0xff, 0xdf],
            &[0, 0, 0, 3, 0x65, 0x88, 0x84],
        ]
        .concat(),
    ));
    // Command frame (frame type 5), packet type CodedFrames: a VideoCommand byte
    // (1, EndSeek) and nothing else, no FourCC.
    m.push((99, 9, vec![ex_video(5, 1), 1]));
    // Audio: Opus SequenceStart with an OpusHead (RFC 7845 5.1), Opus CodedFrames,
    // ac-3 CodedFrames (a sync word 0x0B77), legacy AAC raw.
    let mut head = b"OpusHead".to_vec();
    head.extend([1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0]);
    m.push((0, 8, [&[ex_audio(0)][..], b"Opus", &head].concat()));
    m.push((
        20,
        8,
        [&[ex_audio(1)][..], b"Opus", &[0xfc, 0xff, 0xfe]].concat(),
    ));
    m.push((
        20,
        8,
        [&[ex_audio(1)][..], b"ac-3", &[0x0b, 0x77, 0, 0]].concat(),
    ));
    m.push((21, 8, vec![0xaf, 0x01, 0x21, 0x10]));
    // Audio multitrack (5), ManyTracksManyCodecs (2), CodedFrames (1): Opus track
    // 0 (3 bytes), mp4a track 1 (2 bytes). Longer than 16 bytes on purpose: the
    // decoder must keep the whole payload of an Enhanced RTMP audio message.
    m.push((
        40,
        8,
        [
            &[ex_audio(5), 0x21][..],
            b"Opus",
            &[0, 0, 0, 3, 0xfc, 0xff, 0xfe],
            b"mp4a",
            &[1, 0, 0, 2, 0x21, 0x10],
        ]
        .concat(),
    ));
    // Audio ModEx TimestampOffsetNano (UI24 999999 ns) then CodedFrames, mp4a.
    m.push((
        60,
        8,
        [
            &[ex_audio(7), 2, 0x0f, 0x42, 0x3f, 0x01][..],
            b"mp4a",
            &[0x21],
        ]
        .concat(),
    ));
    m
}

fn stream() -> Vec<u8> {
    let mut v = vec![3u8];
    v.resize(1 + 2 * 1536, 0);
    for (ts, t, p) in publish_messages() {
        let csid = match t {
            20 | 18 => 3,
            9 => 6,
            _ => 4,
        };
        v.extend(chunks(csid, ts, t, 1, &p));
    }
    v
}

fn decode(cuts: &[usize]) -> (Vec<Message>, Vec<(&'static str, u64)>) {
    let mut s = Session::new();
    feed_in_pieces(&mut s, C2S, &stream(), cuts);
    let msgs = s.drain_messages().collect();
    (msgs, s.anomalies().to_vec())
}

fn videos(msgs: &[Message]) -> Vec<(&Message, &VideoInfo)> {
    msgs.iter()
        .filter_map(|m| match &m.payload {
            Payload::Video(v) => Some((m, v)),
            _ => None,
        })
        .collect()
}

#[test]
fn connect_declares_the_enhanced_codecs_and_capabilities() {
    let (msgs, _) = decode(&[]);
    let Payload::Command(c) = &msgs[0].payload else {
        panic!("{:?}", msgs[0]);
    };
    let KnownCommand::Connect(c) = &c.known else {
        panic!("{c:?}");
    };
    assert_eq!(c.fourcc_list, ["av01", "hvc1", "Opus"]);
    assert_eq!(
        c.video_fourcc_info,
        [("*".to_string(), 4.0), ("vp09".to_string(), 3.0)]
    );
    assert_eq!(c.audio_fourcc_info, [("Opus".to_string(), 3.0)]);
    assert_eq!(c.caps_ex, Some(15.0));
}

#[test]
fn metadata_fourcc_numbers_and_track_maps() {
    let (msgs, _) = decode(&[]);
    let Payload::Command(c) = &msgs[1].payload else {
        panic!("{:?}", msgs[1]);
    };
    let KnownCommand::Metadata(md) = &c.known else {
        panic!("{c:?}");
    };
    assert_eq!(md.video_fourcc(), Some(*b"hvc1"));
    assert_eq!(md.audio_fourcc(), Some(*b"Opus"));
    let tracks = md.video_tracks();
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].0, 1);
    let codec = tracks[0]
        .1
        .iter()
        .find(|(k, _)| k == "videocodecid")
        .unwrap();
    assert_eq!(rtmp_parser::amf_fourcc(&codec.1), Some(*b"av01"));
    // A legacy numeric codec id is no FourCC.
    assert_eq!(rtmp_parser::amf_fourcc(&Amf::Number(7.0)), None);
}

#[test]
fn every_video_packet_type_track_and_codec() {
    let (msgs, anomalies) = decode(&[]);
    let v = videos(&msgs);
    let got: Vec<_> = v
        .iter()
        .map(|(m, v)| {
            (
                m.timestamp.unwrap(),
                v.codec,
                v.packet,
                v.frame_type,
                v.track_id,
                v.composition_time,
            )
        })
        .collect();
    let f = |s: &[u8; 4]| VideoCodec::FourCc(*s);
    use FrameType as F;
    use VideoPacket as P;
    assert_eq!(
        got,
        vec![
            (0, f(b"hvc1"), P::SequenceHeader, F::KEY, None, 0),
            (0, f(b"hvc1"), P::CodedFrames, F::KEY, None, 66),
            (33, f(b"hvc1"), P::CodedFrames, F::INTER, None, 0),
            (33, f(b"av01"), P::SequenceHeader, F::KEY, None, 0),
            (33, f(b"av01"), P::CodedFrames, F::KEY, None, 0),
            (33, f(b"av01"), P::Mpeg2TsSequenceStart, F::KEY, None, 0),
            (33, f(b"vp09"), P::Metadata, F::KEY, None, 0),
            (66, f(b"vp09"), P::CodedFrames, F::INTER, None, 0),
            (66, f(b"hvc1"), P::CodedFrames, F::INTER, Some(0), 0),
            (66, f(b"hvc1"), P::CodedFrames, F::INTER, Some(2), 0),
            (99, f(b"av01"), P::EndOfSequence, F::KEY, Some(1), 0),
            (99, f(b"hvc1"), P::EndOfSequence, F::KEY, Some(0), 0),
            (99, f(b"avc1"), P::CodedFrames, F::KEY, Some(5), -33),
            (99, VideoCodec::Unnamed, P::Raw, F::COMMAND, None, 0),
        ]
    );
    // The hvcC's two-byte lengths split the frames of the default track and of
    // multitrack track 0; track 2 had no sequence header (four bytes assumed, as
    // it was sent), counted once.
    assert_eq!(v[0].1.config.as_ref().unwrap().nal_length_size, 2);
    assert_eq!(v[1].1.nal_types[..], [39, 19]);
    assert_eq!(v[2].1.nal_types[..], [19]);
    assert_eq!(v[8].1.nal_types[..], [19]);
    assert_eq!(v[9].1.nal_types[..], [19]);
    assert_eq!(v[12].1.nal_types[..], [5]);
    let t0 = length_prefixed(&hevc_nals()[1..], 2).len() as u32;
    assert_eq!(
        (v[8].1.track_len, v[9].1.track_len),
        (Some(t0), Some(t0 + 2))
    );
    assert_eq!(v[7].1.timestamp_offset_ns, Some(500_000));
    assert_eq!(
        anomalies,
        vec![("rtmp.video_without_sequence_header", 2)],
        "track 2 (hvc1) and track 5 (avc1) had no sequence header"
    );
}

#[test]
fn hevc_fingerprint_is_the_same_in_enhanced_rtmp_and_annex_b() {
    let (msgs, _) = decode(&[]);
    let v = videos(&msgs);
    let ts = avc::fingerprint_annexb(&annexb(&hevc_nals()), avc::Codec::Hevc);
    assert!(ts.is_some());
    // The SEI is not part of the picture's identity: the slice alone gives the
    // same value, whatever the length size.
    assert_eq!(v[1].1.fingerprint, ts);
    assert_eq!(v[2].1.fingerprint, ts);
    assert_eq!(v[8].1.fingerprint, ts);
    assert_eq!(v[9].1.fingerprint, ts);
    assert_eq!(v[4].1.fingerprint, None, "no AV1 fingerprint yet");
}

#[test]
fn audio_fourcc_tracks_and_nano_offset() {
    let (msgs, _) = decode(&[]);
    let got: Vec<_> = msgs
        .iter()
        .filter_map(|m| match &m.payload {
            Payload::Audio(a) => Some((
                m.timestamp.unwrap(),
                a.codec_fourcc(),
                a.ex_packet_type,
                a.track_id,
                a.track_len,
                a.timestamp_offset_ns,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (0, Some(*b"Opus"), Some(0), None, None, None),
            (20, Some(*b"Opus"), Some(1), None, None, None),
            (20, Some(*b"ac-3"), Some(1), None, None, None),
            (21, Some(*b"mp4a"), None, None, None, None),
            (40, Some(*b"Opus"), Some(1), Some(0), Some(3), None),
            (40, Some(*b"mp4a"), Some(1), Some(1), Some(2), None),
            (60, Some(*b"mp4a"), Some(1), None, None, Some(999_999)),
        ]
    );
}

#[test]
fn enhanced_stream_split_at_every_byte_and_byte_by_byte_decodes_the_same() {
    let whole = decode(&[]);
    let len = stream().len();
    for cut in 1..len {
        assert_eq!(decode(&[cut]), whole, "cut at {cut}");
    }
    let all: Vec<usize> = (1..len).collect();
    assert_eq!(decode(&all), whole, "one byte at a time");
}

#[test]
fn malformed_enhanced_headers_are_counted_not_guessed() {
    // Each payload alone on a fresh stream: (payload, anomaly).
    let cases: Vec<(u8, Vec<u8>, &str)> = vec![
        (
            9,
            [&[ex_video(1, 1)][..], b"hv"].concat(),
            "rtmp.video_truncated_header",
        ),
        (
            9,
            vec![ex_video(1, 6), 0x36],
            "rtmp.video_multitrack_nested",
        ),
        (
            9,
            [&[ex_video(1, 6), 0x31][..], b"avc1"].concat(),
            "rtmp.video_multitrack_unknown_type",
        ),
        // ManyTracks whose track claims 9 bytes but has 1.
        (
            9,
            [&[ex_video(1, 6), 0x13][..], b"hvc1", &[0, 0, 0, 9, 0x26]].concat(),
            "rtmp.video_truncated_header",
        ),
        // ModEx whose data runs past the message.
        (9, vec![ex_video(1, 7), 5, 1], "rtmp.video_truncated_header"),
        (8, vec![ex_audio(5), 0x55], "rtmp.audio_multitrack_nested"),
        (
            8,
            [&[ex_audio(1)][..], b"Op"].concat(),
            "rtmp.audio_truncated_header",
        ),
    ];
    for (t, payload, reason) in cases {
        let mut v = vec![3u8];
        v.resize(1 + 2 * 1536, 0);
        v.extend(chunks(6, 0, t, 1, &payload));
        let mut s = Session::new();
        feed_in_pieces(&mut s, C2S, &v, &[]);
        let msgs: Vec<_> = s.drain().collect();
        assert!(
            matches!(&msgs[..], [.., Event::Message(Message { payload: Payload::Malformed(r), .. })] if *r == reason),
            "{payload:02x?}: {msgs:?}"
        );
        assert_eq!(s.anomalies(), &[(reason, 1)], "{payload:02x?}");
    }
}

#[test]
fn multitrack_message_beyond_max_tracks_is_refused() {
    // ManyTracks with MAX_TRACKS + 1 empty tracks (trackId, UI24 size 0).
    let mut p = [&[ex_video(2, 6), 0x13][..], b"hvc1"].concat();
    for i in 0..=rtmp_parser::MAX_TRACKS {
        p.extend([i as u8, 0, 0, 0]);
    }
    let mut v = vec![3u8];
    v.resize(1 + 2 * 1536, 0);
    v.extend(chunks(6, 0, 9, 1, &p));
    let mut s = Session::new();
    feed_in_pieces(&mut s, C2S, &v, &[]);
    assert_eq!(s.drain_messages().count(), 1);
    assert_eq!(s.anomalies(), &[("rtmp.too_many_tracks", 1)]);
}

/// The fuzz target's seed `fuzz/seeds/enhanced_c2s` is this stream (steering byte:
/// handshake prepended, pieces of 64 bytes), so the fuzzer starts from every
/// Enhanced RTMP header; `LAGTAP_WRITE_SEEDS=1` rewrites it after a change here.
#[test]
fn fuzz_seed_is_this_stream() {
    let seed = [&[0x01 | (63 << 2)][..], &stream()[1 + 2 * 1536..]].concat();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/enhanced_c2s");
    if std::env::var_os("LAGTAP_WRITE_SEEDS").is_some() {
        std::fs::write(path, &seed).unwrap();
    }
    assert_eq!(
        std::fs::read(path).unwrap(),
        seed,
        "LAGTAP_WRITE_SEEDS=1 rewrites it"
    );
    rtmp_parser::fuzz::session(&seed);
}
