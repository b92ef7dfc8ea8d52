//! The chunk layer on chunk sequences built here, one feature per test, plus a few
//! hex constants cut from the real streams in `tests/data`.

mod common;

use rtmp_parser::{
    Direction, Event, FrameType, HandshakePart, Message, MessageType, Payload, Session,
    UserControl, VideoCodec, VideoPacket,
};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

/// C0 (version 3) + C1 + C2, all zeros.
fn handshake() -> Vec<u8> {
    let mut v = vec![3u8];
    v.resize(1 + 2 * 1536, 0);
    v
}

fn basic(fmt: u8, csid: u32) -> Vec<u8> {
    match csid {
        2..=63 => vec![(fmt << 6) | csid as u8],
        64..=319 => vec![fmt << 6, (csid - 64) as u8],
        _ => {
            let c = csid - 64;
            vec![(fmt << 6) | 1, (c & 0xff) as u8, (c >> 8) as u8]
        }
    }
}

fn be24(v: u32) -> [u8; 3] {
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// Type-0 header; a timestamp ≥ 0xFFFFFF is sent as an extended timestamp.
fn type0(csid: u32, ts: u32, len: u32, t: u8, msid: u32) -> Vec<u8> {
    let mut v = basic(0, csid);
    v.extend(be24(ts.min(0xff_ffff)));
    v.extend(be24(len));
    v.push(t);
    v.extend(msid.to_le_bytes());
    if ts >= 0xff_ffff {
        v.extend(ts.to_be_bytes());
    }
    v
}

fn type1(csid: u32, delta: u32, len: u32, t: u8) -> Vec<u8> {
    let mut v = basic(1, csid);
    v.extend(be24(delta.min(0xff_ffff)));
    v.extend(be24(len));
    v.push(t);
    if delta >= 0xff_ffff {
        v.extend(delta.to_be_bytes());
    }
    v
}

fn type2(csid: u32, delta: u32) -> Vec<u8> {
    let mut v = basic(2, csid);
    v.extend(be24(delta));
    v
}

fn type3(csid: u32) -> Vec<u8> {
    basic(3, csid)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// An AAC raw frame payload of `n` bytes (0xAF 0x01 then filler).
fn aac(n: usize) -> Vec<u8> {
    let mut v = vec![0xaf, 0x01];
    v.resize(n, 0x21);
    v
}

/// An AVC NALU video payload of `n` bytes: one non-IDR slice NAL filling it.
fn avc_frame(n: usize) -> Vec<u8> {
    assert!(n > 9);
    let mut v = vec![0x27, 0x01, 0, 0, 0];
    v.extend(((n - 9) as u32).to_be_bytes());
    v.push(0x41);
    v.resize(n, 0x9a);
    v
}

fn set_chunk_size(size: u32) -> Vec<u8> {
    cat(&[&type0(2, 0, 4, 1, 0), &size.to_be_bytes()])
}

struct Decoded {
    messages: Vec<Message>,
    handshakes: Vec<HandshakePart>,
    session: Session,
}

fn decode(dir: Direction, body: &[u8]) -> Decoded {
    let mut stream = handshake();
    stream.extend_from_slice(body);
    decode_raw(dir, &stream)
}

fn decode_raw(dir: Direction, stream: &[u8]) -> Decoded {
    let mut session = Session::new();
    common::feed_in_pieces(&mut session, dir, stream, &[]);
    collect(session)
}

fn collect(mut session: Session) -> Decoded {
    let mut messages = Vec::new();
    let mut handshakes = Vec::new();
    for e in session.drain() {
        match e {
            Event::Message(m) => messages.push(m),
            Event::Handshake(h) => handshakes.push(h.part),
        }
    }
    Decoded {
        messages,
        handshakes,
        session,
    }
}

fn anomaly(s: &Session, reason: &str) -> u64 {
    s.anomalies()
        .iter()
        .find(|(r, _)| *r == reason)
        .map_or(0, |(_, n)| *n)
}

/// Anomalies other than the one these synthetic streams always have: coded frames
/// without a preceding AVC sequence header (NAL length size 4 assumed).
fn unexpected_anomalies(s: &Session) -> Vec<(&'static str, u64)> {
    s.anomalies()
        .iter()
        .filter(|(r, _)| *r != "rtmp.video_without_sequence_header")
        .copied()
        .collect()
}

const HS: u64 = 3073;

#[test]
fn handshake_parts_are_reported_with_their_offsets() {
    let d = decode(C2S, &[]);
    assert_eq!(
        d.handshakes,
        [HandshakePart::C0, HandshakePart::C1, HandshakePart::C2]
    );
    let d = decode(S2C, &[]);
    assert_eq!(
        d.handshakes,
        [HandshakePart::S0, HandshakePart::S1, HandshakePart::S2]
    );
    assert!(d.messages.is_empty());
    assert_eq!(unexpected_anomalies(&d.session), []);
}

#[test]
fn rtmpe_handshake_is_reported_unsupported_and_the_stream_given_up() {
    for version in [6u8, 8] {
        let mut stream = vec![version];
        stream.resize(5000, 0x55);
        let d = decode_raw(C2S, &stream);
        assert_eq!(anomaly(&d.session, "rtmp.rtmpe_unsupported"), 1);
        assert!(d.session.is_given_up(C2S));
        assert!(d.messages.is_empty());
        // The C0 is still reported, with its version.
        assert_eq!(d.handshakes, [HandshakePart::C0]);
    }
}

#[test]
fn handshake_with_unknown_version_gives_the_stream_up() {
    let mut stream = vec![0x16, 0x03, 0x01]; // a TLS ClientHello: RTMPS on the RTMP port
    stream.resize(4000, 0);
    let d = decode_raw(C2S, &stream);
    assert_eq!(anomaly(&d.session, "rtmp.handshake_bad_version"), 1);
    assert!(d.messages.is_empty());
}

#[test]
fn can_read_set_chunk_size_cut_from_ffmpeg_publisher() {
    // publish.c2s.bin bytes 3226..3242: ffmpeg's Set Chunk Size 4096 after connect.
    let bytes = hex("02000000000004010000000000001000");
    let d = decode(C2S, &bytes);
    let m = &d.messages[0];
    assert_eq!(m.payload, Payload::SetChunkSize(4096));
    assert_eq!(
        (m.chunk_stream_id, m.message_stream_id, m.length),
        (2, 0, 4)
    );
    assert_eq!((m.start, m.end), (HS, HS + 16));
    assert_eq!(d.session.chunk_size(C2S), 4096);
    assert_eq!(d.session.chunk_size(S2C), 128);
}

#[test]
fn can_read_aac_sequence_header_cut_from_ffmpeg_publisher() {
    // publish.c2s.bin bytes 3783..3802: type 0 on chunk stream 4, AAC sequence header.
    let d = decode(C2S, &hex("040000000000070801000000af00120856e500"));
    let Payload::Audio(a) = &d.messages[0].payload else {
        panic!("{:?}", d.messages[0]);
    };
    assert_eq!((a.format, a.rate, a.aac_packet_type), (10, 3, Some(0)));
    assert!(a.stereo && a.sample_16bit);
}

#[test]
fn can_read_avc_sequence_header_cut_from_ffmpeg_publisher() {
    // publish.c2s.bin bytes 3720..3783: type 0 on chunk stream 6, AVCDecoderConfigurationRecord.
    let bytes = hex(concat!(
        "06000000000033090100000017000000000164000dffe1001a6764000dac",
        "d941419f9f0110000003001000000303c0f142996001000568ebecb22cfd",
        "f8f800"
    ));
    let d = decode(C2S, &bytes);
    let Payload::Video(v) = &d.messages[0].payload else {
        panic!("{:?}", d.messages[0]);
    };
    assert_eq!(v.packet, VideoPacket::SequenceHeader);
    assert_eq!(v.frame_type, FrameType::KEY);
    let c = v.config.as_ref().unwrap();
    assert_eq!((c.profile, c.level, c.nal_length_size), (100, 13, 4));
    assert_eq!(c.sps[0].len(), 26);
    assert_eq!(c.pps[0], [0x68, 0xeb, 0xec, 0xb2, 0x2c]);
}

#[test]
fn can_read_stream_begin_cut_from_nginx() {
    // play.s2c.bin bytes 3365..3383: User Control Stream Begin 1.
    let d = decode(S2C, &hex("020000000000060400000000000000000001"));
    assert_eq!(
        d.messages[0].payload,
        Payload::UserControl(UserControl::StreamBegin(1))
    );
}

#[test]
fn can_read_type_0_chunks_with_one_two_and_three_byte_chunk_stream_ids() {
    let mut body = Vec::new();
    for csid in [3u32, 64, 319, 320, 65599] {
        body.extend(type0(csid, 10, 6, 8, 1));
        body.extend(aac(6));
    }
    let d = decode(C2S, &body);
    let ids: Vec<_> = d.messages.iter().map(|m| m.chunk_stream_id).collect();
    assert_eq!(ids, [3, 64, 319, 320, 65599]);
    assert_eq!(unexpected_anomalies(&d.session), []);
}

#[test]
fn type_1_chunk_inherits_stream_id_and_adds_its_delta_to_the_timestamp() {
    let body = cat(&[
        &type0(4, 1000, 6, 8, 1),
        &aac(6),
        &type1(4, 23, 8, 8),
        &aac(8),
    ]);
    let d = decode(C2S, &body);
    let m = &d.messages[1];
    assert_eq!(
        (m.timestamp, m.length, m.message_stream_id),
        (Some(1023), 8, 1)
    );
}

#[test]
fn type_2_chunk_inherits_length_and_type() {
    let body = cat(&[
        &type0(4, 1000, 6, 8, 1),
        &aac(6),
        &type1(4, 23, 8, 8),
        &aac(8),
        &type2(4, 24),
        &aac(8),
    ]);
    let d = decode(C2S, &body);
    let m = &d.messages[2];
    assert_eq!(
        (m.timestamp, m.length, m.message_type),
        (Some(1047), 8, MessageType::AUDIO)
    );
}

#[test]
fn type_3_chunk_that_starts_a_message_repeats_the_previous_delta() {
    let body = cat(&[
        &type0(4, 1000, 6, 8, 1),
        &aac(6),
        &type1(4, 23, 8, 8),
        &aac(8),
        &type3(4),
        &aac(8),
        &type3(4),
        &aac(8),
    ]);
    let d = decode(C2S, &body);
    let ts: Vec<_> = d.messages.iter().map(|m| m.timestamp.unwrap()).collect();
    assert_eq!(ts, [1000, 1023, 1046, 1069]);
    // Offsets: each message starts at its one-byte header.
    assert_eq!(d.messages[2].start, HS + 12 + 6 + 8 + 8);
    assert_eq!(d.messages[2].end, d.messages[2].start + 1 + 8);
}

#[test]
fn type_3_chunk_after_type_0_repeats_the_type_0_timestamp_as_delta() {
    // ffmpeg and nginx-rtmp both take the type-0 timestamp as the delta of a
    // following type-3 message.
    let body = cat(&[&type0(4, 40, 6, 8, 1), &aac(6), &type3(4), &aac(6)]);
    let d = decode(C2S, &body);
    assert_eq!(d.messages[1].timestamp, Some(80));
}

#[test]
fn message_longer_than_chunk_size_is_reassembled_from_type_3_continuations() {
    let frame = avc_frame(300);
    let body = cat(&[
        &type0(6, 0, 300, 9, 1),
        &frame[..128],
        &type3(6),
        &frame[128..256],
        &type3(6),
        &frame[256..],
    ]);
    let d = decode(C2S, &body);
    assert_eq!(d.messages.len(), 1);
    let m = &d.messages[0];
    assert_eq!((m.start, m.end), (HS, HS + 12 + 300 + 2));
    let Payload::Video(v) = &m.payload else {
        panic!()
    };
    assert_eq!(v.nal_types[..], [1]);
    assert!(v.fingerprint.is_some());
    assert!(!v.nal_truncated);
}

#[test]
fn type_0_header_with_extended_timestamp_gives_the_full_32_bit_timestamp() {
    let body = cat(&[&type0(4, 0x0123_4567, 6, 8, 1), &aac(6)]);
    let d = decode(C2S, &body);
    assert_eq!(d.messages[0].timestamp, Some(0x0123_4567));
    assert_eq!(d.messages[0].end - d.messages[0].start, 16 + 6);
}

#[test]
fn can_read_type_3_chunk_that_follows_type_0_with_extended_timestamp() {
    // ffmpeg and nginx-rtmp repeat the extended timestamp on continuation chunks.
    let ts = 0x0100_0000u32;
    let frame = avc_frame(200);
    let body = cat(&[
        &type0(6, ts, 200, 9, 1),
        &frame[..128],
        &type3(6),
        &ts.to_be_bytes(),
        &frame[128..],
        &type0(4, ts, 6, 8, 1),
        &aac(6),
    ]);
    let d = decode(C2S, &body);
    assert_eq!(d.messages.len(), 2);
    assert_eq!(d.messages[0].timestamp, Some(ts));
    assert_eq!(d.messages[0].end, HS + 16 + 128 + 5 + 72);
    let Payload::Video(v) = &d.messages[0].payload else {
        panic!()
    };
    assert!(!v.nal_truncated);
    assert_eq!(
        anomaly(&d.session, "rtmp.type3_without_extended_timestamp"),
        0
    );
}

#[test]
fn can_read_type_3_continuation_that_omits_the_extended_timestamp() {
    // Some encoders do not repeat it: accepted, and counted.
    let ts = 0x0100_0000u32;
    let frame = avc_frame(200);
    let body = cat(&[
        &type0(6, ts, 200, 9, 1),
        &frame[..128],
        &type3(6),
        &frame[128..],
        &type0(4, ts, 6, 8, 1),
        &aac(6),
    ]);
    let d = decode(C2S, &body);
    assert_eq!(d.messages.len(), 2);
    let Payload::Video(v) = &d.messages[0].payload else {
        panic!()
    };
    assert!(!v.nal_truncated);
    assert_eq!(
        anomaly(&d.session, "rtmp.type3_without_extended_timestamp"),
        1
    );
}

#[test]
fn type_3_message_after_extended_type_1_adds_the_extended_delta() {
    let delta = 0x0100_0000u32;
    let body = cat(&[
        &type0(4, 5, 6, 8, 1),
        &aac(6),
        &type1(4, delta, 6, 8),
        &aac(6),
        &type3(4),
        &delta.to_be_bytes(),
        &aac(6),
    ]);
    let d = decode(C2S, &body);
    let ts: Vec<_> = d.messages.iter().map(|m| m.timestamp.unwrap()).collect();
    assert_eq!(ts, [5, 5 + delta, 5 + 2 * delta]);
}

#[test]
fn set_chunk_size_applies_to_later_chunks_of_its_own_direction_only() {
    let frame = avc_frame(300);
    let body = cat(&[
        &set_chunk_size(256),
        &type0(6, 0, 300, 9, 1),
        &frame[..256],
        &type3(6),
        &frame[256..],
    ]);
    let d = decode(C2S, &body);
    assert_eq!(d.messages.len(), 2);
    assert_eq!(d.messages[1].end - d.messages[1].start, 12 + 300 + 1);
    assert_eq!(d.session.chunk_size(C2S), 256);
    assert_eq!(d.session.chunk_size(S2C), 128);
}

#[test]
fn chunk_size_can_change_again_mid_stream() {
    let frame = avc_frame(300);
    let body = cat(&[
        &set_chunk_size(4096),
        &type0(6, 0, 300, 9, 1),
        &frame,
        &set_chunk_size(100),
        &type1(6, 33, 300, 9),
        &frame[..100],
        &type3(6),
        &frame[100..200],
        &type3(6),
        &frame[200..],
    ]);
    let d = decode(C2S, &body);
    let videos: Vec<_> = d
        .messages
        .iter()
        .filter(|m| m.message_type == MessageType::VIDEO)
        .collect();
    assert_eq!(videos.len(), 2);
    assert_eq!(videos[0].payload, videos[1].payload);
    assert_eq!(unexpected_anomalies(&d.session), []);
}

#[test]
fn interleaved_chunk_streams_reassemble_each_message() {
    let frame = avc_frame(300);
    let body = cat(&[
        &type0(6, 0, 300, 9, 1),
        &frame[..128],
        &type0(4, 0, 10, 8, 1),
        &aac(10),
        &type3(6),
        &frame[128..256],
        &type1(4, 23, 10, 8),
        &aac(10),
        &type3(6),
        &frame[256..],
    ]);
    let d = decode(C2S, &body);
    let order: Vec<_> = d
        .messages
        .iter()
        .map(|m| (m.message_type, m.timestamp.unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            (MessageType::AUDIO, 0),
            (MessageType::AUDIO, 23),
            (MessageType::VIDEO, 0)
        ]
    );
    let video = &d.messages[2];
    assert_eq!((video.start, video.end), (HS, HS + body.len() as u64));
    let Payload::Video(v) = &video.payload else {
        panic!()
    };
    assert!(!v.nal_truncated && v.nal_types[..] == [1]);
}

#[test]
fn abort_drops_the_partial_message_of_its_chunk_stream() {
    let frame = avc_frame(300);
    let body = cat(&[
        &type0(6, 0, 300, 9, 1),
        &frame[..128],
        &type0(2, 0, 4, 2, 0),
        &6u32.to_be_bytes(),
        // The chunk stream starts over with a new message.
        &type1(6, 33, 20, 9),
        &avc_frame(20),
    ]);
    let d = decode(C2S, &body);
    assert_eq!(d.messages.len(), 2);
    assert_eq!(d.messages[0].payload, Payload::Abort(6));
    assert_eq!(
        (d.messages[1].length, d.messages[1].timestamp),
        (20, Some(33))
    );
    assert_eq!(unexpected_anomalies(&d.session), []);
}

#[test]
fn new_header_interrupting_a_partial_message_is_counted() {
    let frame = avc_frame(300);
    let body = cat(&[
        &type0(6, 0, 300, 9, 1),
        &frame[..128],
        &type1(6, 33, 20, 9),
        &avc_frame(20),
    ]);
    let d = decode(C2S, &body);
    assert_eq!(d.messages.len(), 1);
    assert_eq!(anomaly(&d.session, "rtmp.message_interrupted"), 1);
}

#[test]
fn zero_length_message_is_reported() {
    let body = cat(&[&type0(3, 0, 0, 20, 0), &type0(4, 0, 6, 8, 1), &aac(6)]);
    let d = decode(C2S, &body);
    assert_eq!(d.messages.len(), 2);
    assert_eq!(
        d.messages[0].payload,
        Payload::Malformed("rtmp.command_bad_amf")
    );
}

#[test]
fn aggregate_message_is_split_into_sub_messages_with_rebased_timestamps() {
    // Two FLV tags with tag timestamps 5000 and 5033, aggregate timestamp 100.
    let mut agg = Vec::new();
    for (t, ts, data) in [(9u8, 5000u32, avc_frame(20)), (8, 5033, aac(7))] {
        agg.push(t);
        agg.extend(be24(data.len() as u32));
        agg.extend(be24(ts & 0xff_ffff));
        agg.push((ts >> 24) as u8);
        agg.extend([0, 0, 0]);
        agg.extend(&data);
        agg.extend((11 + data.len() as u32).to_be_bytes());
    }
    let body = cat(&[&type0(5, 100, agg.len() as u32, 22, 1), &agg]);
    let d = decode(S2C, &body);
    assert_eq!(d.messages.len(), 2);
    let (v, a) = (&d.messages[0], &d.messages[1]);
    assert_eq!(
        (v.message_type, v.timestamp, v.length),
        (MessageType::VIDEO, Some(100), 20)
    );
    assert_eq!(
        (a.message_type, a.timestamp, a.length),
        (MessageType::AUDIO, Some(133), 7)
    );
    assert!(v.from_aggregate && a.from_aggregate);
    assert_eq!((v.start, v.end), (HS, HS + body.len() as u64));
    assert!(matches!(v.payload, Payload::Video(_)));
}

#[test]
fn aggregate_with_a_sub_message_longer_than_itself_is_counted() {
    let mut agg = vec![9u8];
    agg.extend(be24(0xff_ffff));
    agg.extend([0; 7]);
    agg.extend(avc_frame(20));
    let body = cat(&[&type0(5, 100, agg.len() as u32, 22, 1), &agg]);
    let d = decode(S2C, &body);
    assert!(d.messages.is_empty());
    assert_eq!(anomaly(&d.session, "rtmp.aggregate_truncated"), 1);
}

#[test]
fn message_split_across_many_feeds_is_reported_once_with_its_offsets() {
    let frame = avc_frame(1000);
    let mut body = cat(&[&set_chunk_size(4096), &type0(6, 0, 1000, 9, 1), &frame]);
    body.extend(type0(4, 0, 6, 8, 1));
    body.extend(aac(6));
    let mut stream = handshake();
    stream.extend(&body);
    let whole = decode_raw(C2S, &stream).messages;
    for step in [1, 2, 3, 5, 17, 128, 999] {
        let cuts: Vec<usize> = (step..stream.len()).step_by(step).collect();
        let mut s = Session::new();
        common::feed_in_pieces(&mut s, C2S, &stream, &cuts);
        let d = collect(s);
        assert_eq!(d.messages, whole, "pieces of {step}");
    }
    assert_eq!(whole.len(), 3);
    assert_eq!(
        (whole[1].start, whole[1].end),
        (HS + 16, HS + 16 + 12 + 1000)
    );
}

#[test]
fn absurd_chunk_size_gives_the_direction_up() {
    for size in [0u32, 0x7fff_ffff, 0x0100_0000] {
        let body = cat(&[&set_chunk_size(size), &type0(4, 0, 6, 8, 1), &aac(6)]);
        let d = decode(C2S, &body);
        assert_eq!(anomaly(&d.session, "rtmp.bad_chunk_size"), 1, "{size}");
        assert!(d.session.is_given_up(C2S));
        // The Set Chunk Size itself is reported, nothing after it.
        assert_eq!(d.messages.len(), 1);
    }
}

#[test]
fn largest_declared_length_is_buffered_only_as_bytes_arrive() {
    // A type-0 header declaring 16 MiB - 1: nothing is allocated up front, and the
    // truncated message is counted at the end.
    let body = cat(&[
        &set_chunk_size(0xff_ffff),
        &type0(6, 0, 0xff_ffff, 9, 1),
        &[0x17, 1],
    ]);
    let d = decode(C2S, &body);
    assert_eq!(anomaly(&d.session, "rtmp.message_truncated_at_end"), 1);
}

#[test]
fn too_many_chunk_streams_give_the_direction_up() {
    let mut body = Vec::new();
    for csid in 3..200u32 {
        body.extend(type0(csid, 0, 6, 8, 1));
        body.extend(aac(6));
    }
    let d = decode(C2S, &body);
    assert_eq!(d.messages.len(), rtmp_parser::MAX_CHUNK_STREAMS);
    assert_eq!(anomaly(&d.session, "rtmp.too_many_chunk_streams"), 1);
}

#[test]
fn type_1_on_a_chunk_stream_never_seen_gives_the_direction_up() {
    let body = cat(&[&type1(7, 0, 6, 8), &aac(6)]);
    let d = decode(C2S, &body);
    assert!(d.messages.is_empty());
    assert_eq!(anomaly(&d.session, "rtmp.chunk_stream_unknown"), 1);
    assert!(d.session.is_given_up(C2S));
}

#[test]
fn enhanced_rtmp_hevc_and_av1_are_recognised() {
    // Ex-header bit, frame type 1 (key), packet type 1 CodedFrames, FourCC hvc1,
    // composition time 0, one IDR_W_RADL NAL (type 19).
    let mut hvc = vec![0x91, b'h', b'v', b'c', b'1', 0, 0, 0];
    hvc.extend(4u32.to_be_bytes());
    hvc.extend([0x26, 0x01, 0xaf, 0x11]);
    let av1 = vec![0x93, b'a', b'v', b'0', b'1', 0x12, 0x00];
    let body = cat(&[
        &type0(6, 0, hvc.len() as u32, 9, 1),
        &hvc,
        &type1(6, 33, av1.len() as u32, 9),
        &av1,
    ]);
    let d = decode(C2S, &body);
    let Payload::Video(h) = &d.messages[0].payload else {
        panic!()
    };
    assert!(h.enhanced);
    assert_eq!(h.codec, VideoCodec::FourCc(*b"hvc1"));
    assert_eq!(
        (h.packet, h.frame_type),
        (VideoPacket::CodedFrames, FrameType::KEY)
    );
    assert_eq!(h.nal_types[..], [19]);
    assert!(h.fingerprint.is_some());
    let Payload::Video(a) = &d.messages[1].payload else {
        panic!()
    };
    assert_eq!(a.codec, VideoCodec::FourCc(*b"av01"));
    assert_eq!(a.packet, VideoPacket::CodedFrames);
    assert_eq!(a.fingerprint, None);
}

#[test]
fn composition_time_is_a_signed_24_bit_value() {
    let mut frame = avc_frame(20);
    frame[2..5].copy_from_slice(&[0xff, 0xff, 0xdf]); // -33
    let d = decode(C2S, &cat(&[&type0(6, 0, 20, 9, 1), &frame]));
    let Payload::Video(v) = &d.messages[0].payload else {
        panic!()
    };
    assert_eq!(v.composition_time, -33);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
