//! Decoding the real nginx-rtmp + ffmpeg streams of `tests/data` (see its README).

mod common;

use common::*;
use rtmp_parser::{
    Direction, Event, FrameType, KnownCommand, Message, MessageType, Payload, Session, VideoPacket,
};

fn messages(events: &[Event]) -> Vec<&Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            Event::Handshake(_) => None,
        })
        .collect()
}

#[test]
fn real_streams_decode_without_anomalies_but_the_player_command_cut_by_exit() {
    for (name, dir, data) in fixtures() {
        let (_, anomalies) = decode_whole(dir, data);
        if name == "play.c2s" {
            assert_eq!(anomalies, vec![("rtmp.message_truncated_at_end", 1)]);
        } else {
            assert_eq!(anomalies, vec![], "{name}");
        }
    }
}

#[test]
fn publisher_sends_connect_publish_metadata_then_avc_and_aac() {
    let (events, _) = decode_whole(Direction::ClientToServer, PUBLISH_C2S);
    let msgs = messages(&events);
    let Payload::Command(connect) = &msgs[0].payload else {
        panic!("first message is not a command: {:?}", msgs[0]);
    };
    let KnownCommand::Connect(c) = &connect.known else {
        panic!("not connect: {connect:?}");
    };
    assert_eq!(c.app.as_deref(), Some("live"));
    assert_eq!(c.tc_url.as_deref(), Some("rtmp://127.0.0.1:19350/live"));
    assert_eq!(
        c.flash_ver.as_deref(),
        Some("FMLE/3.0 (compatible; Lavf59.27.100)")
    );
    // The first message starts right after C0+C1+C2 (1 + 1536 + 1536 bytes).
    assert_eq!((msgs[0].start, msgs[0].end), (3073, 3226));

    let publish = msgs
        .iter()
        .find_map(|m| match &m.payload {
            Payload::Command(c) => match &c.known {
                KnownCommand::Publish { stream_key, .. } => stream_key.clone(),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    assert_eq!(publish, "test");

    let meta = msgs
        .iter()
        .find_map(|m| match &m.payload {
            Payload::Command(c) => match &c.known {
                KnownCommand::Metadata(md) => Some(md.clone()),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    assert_eq!((meta.width, meta.height), (Some(320.0), Some(180.0)));
    assert_eq!(meta.framerate, Some(30.0));
    assert_eq!(meta.encoder.as_deref(), Some("Lavf59.27.100"));

    let videos: Vec<_> = msgs
        .iter()
        .filter_map(|m| match &m.payload {
            Payload::Video(v) => Some((m, v)),
            _ => None,
        })
        .collect();
    assert_eq!(videos.len(), 92);
    let (_, seq) = videos[0];
    assert_eq!(seq.packet, VideoPacket::SequenceHeader);
    let config = seq.config.as_ref().unwrap();
    assert_eq!((config.profile, config.nal_length_size), (100, 4));
    assert_eq!((config.sps.len(), config.pps.len()), (1, 1));
    // GOP of 60 at 30 fps over 3 s: keyframes at 0 s and 2 s (plus the sequence header).
    let keys: Vec<_> = videos
        .iter()
        .filter(|(_, v)| v.frame_type == FrameType::KEY && v.packet == VideoPacket::CodedFrames)
        .map(|(m, v)| (m.timestamp, v.nal_types.clone()))
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|(_, n)| n.contains(&5)));
    assert!(videos
        .iter()
        .filter(|(_, v)| v.packet == VideoPacket::CodedFrames)
        .all(|(_, v)| v.fingerprint.is_some() && !v.nal_truncated));
    let audio = msgs
        .iter()
        .filter(|m| m.message_type == MessageType::AUDIO)
        .count();
    assert_eq!(audio, 132);
}

/// nginx relays the publisher's frames to the player untouched: the same
/// fingerprints at the same RTMP timestamps, on different chunk streams and offsets.
#[test]
fn player_receives_the_frames_the_publisher_sent_with_the_same_fingerprints() {
    let frames = |dir, data| {
        let (events, _) = decode_whole(dir, data);
        messages(&events)
            .into_iter()
            .filter_map(|m| match &m.payload {
                Payload::Video(v) => v.fingerprint.map(|f| (m.timestamp.unwrap(), f)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let sent = frames(Direction::ClientToServer, PUBLISH_C2S);
    let received = frames(Direction::ServerToClient, PLAY_S2C);
    assert_eq!(received.len(), 51);
    for r in &received {
        assert!(sent.contains(r), "{r:?} not sent");
    }
    let unique: std::collections::HashSet<_> = sent.iter().map(|(_, f)| f).collect();
    assert_eq!(unique.len(), sent.len(), "fingerprints collide");
}

fn decode_with_cuts(dir: Direction, data: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut s = Session::new();
    feed_in_pieces(&mut s, dir, data, cuts);
    s.drain().collect()
}

/// Every split point in the first 8 KiB of each stream (handshake, commands, the
/// first frames, chunk boundaries of multi-chunk frames), then every 251st byte.
#[test]
fn splitting_real_streams_at_every_byte_gives_the_same_messages() {
    for (name, dir, data) in fixtures() {
        let whole = decode_with_cuts(dir, data, &[]);
        let dense = data.len().min(8 << 10);
        let prefix = &data[..dense];
        let whole_prefix = decode_with_cuts(dir, prefix, &[]);
        for cut in 0..=dense {
            assert_eq!(
                decode_with_cuts(dir, prefix, &[cut]),
                whole_prefix,
                "{name} cut at {cut}"
            );
        }
        for cut in (dense..data.len()).step_by(251) {
            assert_eq!(
                decode_with_cuts(dir, data, &[cut]),
                whole,
                "{name} cut at {cut}"
            );
        }
    }
}

#[test]
fn feeding_real_streams_one_byte_at_a_time_gives_the_same_messages() {
    for (name, dir, data) in fixtures() {
        let whole = decode_with_cuts(dir, data, &[]);
        let cuts: Vec<usize> = (1..data.len()).collect();
        assert_eq!(decode_with_cuts(dir, data, &cuts), whole, "{name}");
    }
}

#[test]
fn consumed_bytes_leave_at_most_a_chunk_header_unconsumed() {
    // The streaming contract: the caller never holds more than a header's worth
    // (or a handshake part) of unconsumed bytes.
    let mut s = Session::new();
    let mut pending = Vec::new();
    let mut offset = 0u64;
    for piece in PUBLISH_C2S.chunks(7) {
        pending.extend_from_slice(piece);
        let used = s.feed(Direction::ClientToServer, offset, &pending);
        pending.drain(..used);
        offset += used as u64;
        assert!(pending.len() <= 22, "holding {} bytes", pending.len());
    }
}
