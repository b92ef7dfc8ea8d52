//! One frame, one fingerprint, whatever the container: HEVC, AV1 and VP9 frames
//! encoded by Debian's ffmpeg (libx265, libaom-av1, libvpx-vp9), written by ffmpeg
//! as fragmented MP4 (and, for HEVC, MPEG-TS), and carried in an Enhanced RTMP
//! publish, give each frame the same fingerprint in all of them.
//!
//! The frame list is ffprobe's (`-show_packets -show_data` of the fMP4: each
//! packet's timestamps, key flag and bytes), never lagtap's. Debian's ffmpeg (5.1)
//! cannot write Enhanced FLV, and nothing in Debian sends Enhanced RTMP, so the
//! publish is built here from the veovera Enhanced RTMP specification (v2,
//! "Enhanced Video": ExVideoTagHeader with IsExHeader, FrameType, PacketType
//! SequenceStart (0) / CodedFrames (1), the FourCC, a SI24 composition time for
//! `hvc1` only; the SequenceStart body is the codec's ISOBMFF configuration record,
//! `hvcC`/`av1C`/`vpcC`, as ffprobe reads it from the fMP4) around the bytes of
//! ffprobe's packets, which are what the specification says a CodedFrames body
//! holds: ISO/IEC 14496-15 length-prefixed NAL units for HEVC, the AV1 ISOBMFF
//! binding's sample format (§2.4: low overhead OBUs) for AV1, the frame for VP9.
//! The chunk layer is RTMP 1.0 §5.3.1. Debian's ffmpeg writes AV1 into MPEG-TS
//! without the AOM registration descriptor (its own demuxer cannot read it back),
//! so AV1 and VP9 are compared between FLV and fMP4 only.

mod common;
#[path = "../parsers/rtmp-parser/tests/common/mod.rs"]
mod rtmp_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::tools;
use mpegts_parser::{Codec, Fmp4Demuxer, Fmp4Message, TsDemuxer, TsMessage};
use rtmp_parser::{Direction, Fingerprint, Payload, Session, VideoPacket};

/// An RTMP message on chunk stream 6, message stream 1 (RTMP 1.0 §5.3.1: type-0
/// header, type-3 continuations every 128 bytes, the default chunk size).
fn chunks(ts: u32, type_id: u8, payload: &[u8]) -> Vec<u8> {
    rtmp_common::chunks(6, ts, type_id, 1, payload)
}

type Checked = (PathBuf, PathBuf, Vec<Packet>, Vec<Option<Fingerprint>>);

/// One packet as ffprobe lists it.
struct Packet {
    pts: i64,
    dts: i64,
    key: bool,
    data: Vec<u8>,
}

/// ffprobe's `-show_data` hex dump (`00000000: 0000 06b2 2801 ...  ascii`) as bytes.
fn from_hexdump(dump: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in dump.lines().filter(|l| l.len() > 10) {
        let hex: Vec<u8> = line[10..line.len().min(50)]
            .bytes()
            .filter(u8::is_ascii_hexdigit)
            .collect();
        for pair in hex.chunks(2) {
            let s = std::str::from_utf8(pair).unwrap();
            out.push(u8::from_str_radix(s, 16).unwrap());
        }
    }
    out
}

fn ffprobe_json(file: &Path, what: &str) -> serde_json::Value {
    let out = tools::output(Command::new("ffprobe").args([
        "-v",
        "error",
        "-select_streams",
        "v:0",
        what,
        "-show_data",
        "-of",
        "json",
        file.to_str().unwrap(),
    ]));
    serde_json::from_str(&out).unwrap()
}

/// ffprobe's packets of the first video stream, and the stream's extradata (the
/// ISOBMFF configuration record of an MP4).
fn probe(file: &Path) -> (Vec<Packet>, Vec<u8>) {
    let packets = ffprobe_json(file, "-show_packets")["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Packet {
            pts: p["pts"].as_i64().unwrap(),
            dts: p["dts"].as_i64().unwrap(),
            key: p["flags"].as_str().unwrap().starts_with('K'),
            data: from_hexdump(p["data"].as_str().unwrap()),
        })
        .collect();
    let streams = ffprobe_json(file, "-show_streams");
    let extradata = from_hexdump(streams["streams"][0]["extradata"].as_str().unwrap_or(""));
    (packets, extradata)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lagtap-codecs-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Encode one second of ffmpeg's test pattern (25 frames, 160x96, a key frame every
/// 12) with `encoder` into a fragmented MP4 (`moov` then `moof`/`mdat` per key frame).
fn encode(dir: &Path, encoder: &[&str]) -> PathBuf {
    let out = dir.join("clip.mp4");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "testsrc2=size=160x96:rate=25", "-t", "1", "-g", "12"])
        .args(["-pix_fmt", "yuv420p", "-c:v"])
        .args(encoder)
        .args(["-movflags", "+frag_keyframe+empty_moov+default_base_moof"])
        .arg(&out);
    tools::output(&mut cmd);
    out
}

/// ffmpeg's own remux (`-c copy`) of `src` into MPEG-TS: Annex B, with the AUD and
/// parameter sets its muxer adds.
fn remux_ts(src: &Path) -> Vec<u8> {
    let out = src.with_extension("ts");
    tools::output(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
            .arg(src)
            .args(["-c", "copy", "-f", "mpegts"])
            .arg(&out),
    );
    std::fs::read(out).unwrap()
}

/// The client → server stream of an Enhanced RTMP publish of `packets` (timescale
/// `timescale`): C0/C1/C2 (RTMP 1.0 §5.2), the SequenceStart with `config`, one
/// CodedFrames message per packet at its DTS in milliseconds.
fn ertmp_publish(fourcc: &[u8; 4], config: &[u8], packets: &[Packet], timescale: i64) -> Vec<u8> {
    let mut v = vec![3u8];
    v.resize(1 + 2 * 1536, 0);
    // ExVideoTagHeader: IsExHeader (0x80) | FrameType << 4 | PacketType.
    let seq = [&[0x80 | (1 << 4)][..], fourcc, config].concat();
    v.extend(chunks(0, 9, &seq));
    let ms = |t: i64| t * 1000 / timescale;
    for p in packets {
        let frame_type: u8 = if p.key { 1 } else { 2 };
        let mut m = vec![0x80 | (frame_type << 4) | 1];
        m.extend_from_slice(fourcc);
        if fourcc == b"hvc1" {
            let ct = (ms(p.pts) - ms(p.dts)) as i32;
            m.extend(&ct.to_be_bytes()[1..]);
        }
        m.extend_from_slice(&p.data);
        v.extend(chunks(ms(p.dts) as u32, 9, &m));
    }
    v
}

/// (key frame, fingerprint) of each coded frame the RTMP parser reads from `stream`
/// fed in pieces cut at `cuts`, and the anomalies it counted.
fn rtmp_frames(stream: &[u8], cuts: &[usize]) -> Vec<(bool, Option<Fingerprint>)> {
    let dir = Direction::ClientToServer;
    let mut s = Session::new();
    let (mut pending, mut offset, mut last) = (Vec::new(), 0u64, 0);
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        pending.extend_from_slice(&stream[last..cut]);
        last = cut;
        let used = s.feed(dir, offset, &pending);
        pending.drain(..used);
        offset += used as u64;
    }
    s.end(dir, stream.len() as u64);
    assert_eq!(s.anomalies(), &[], "RTMP anomalies");
    s.drain_messages()
        .filter_map(|m| match m.payload {
            Payload::Video(v) if v.packet == VideoPacket::CodedFrames => {
                Some((v.frame_type.0 == 1, v.fingerprint))
            }
            _ => None,
        })
        .collect()
}

/// (sync sample, fingerprint) of each video sample of an fMP4 file fed whole.
fn fmp4_frames(file: &[u8]) -> Vec<(bool, Option<Fingerprint>)> {
    let mut d = Fmp4Demuxer::new();
    let used = d.feed(0, file);
    assert_eq!(used, file.len());
    d.end(file.len() as u64);
    assert_eq!(d.anomalies(), &[], "fMP4 anomalies");
    d.drain()
        .filter_map(|m| match m {
            Fmp4Message::Sample(s) if s.track_id == 1 => Some((s.sync, s.fingerprint)),
            _ => None,
        })
        .collect()
}

/// Checks one codec: every ffprobe packet is a frame in both containers, with the
/// same key flag, a fingerprint, and the same fingerprint; distinct frames differ.
/// Returns the scratch directory, the fMP4, ffprobe's packets and the fingerprints.
fn check(name: &str, encoder: &[&str], fourcc: &[u8; 4]) -> Option<Checked> {
    let check = format!("{name} fingerprints equal in Enhanced RTMP and fMP4");
    if !tools::require("ffmpeg", &check) || !tools::require("ffprobe", &check) {
        return None;
    }
    let dir = scratch(name);
    let mp4 = encode(&dir, encoder);
    let (packets, mut config) = probe(&mp4);
    assert_eq!(packets.len(), 25, "{name}: ffprobe's packets");
    if fourcc == b"vp09" {
        // ffprobe shows no extradata for VP9: the vpcC record (VP Codec ISO Media
        // File Format Binding §2.2, version 1): profile 0, level 1.0 (10), bit depth
        // 8, 4:2:0 colocated (1), limited range, colour 2/2/2 (unspecified), no
        // codec initialization data.
        config = vec![1, 0, 0, 0, 0, 10, (8 << 4) | (1 << 1), 2, 2, 2, 0, 0];
    }
    assert!(!config.is_empty(), "{name}: no configuration record");
    let timescale = 12_800; // ffmpeg's mp4 muxer: 512 ticks per frame at 25 fps
    let stream = ertmp_publish(fourcc, &config, &packets, timescale);
    let flv = rtmp_frames(&stream, &[]);
    let mp4_bytes = std::fs::read(&mp4).unwrap();
    let fmp4 = fmp4_frames(&mp4_bytes);
    let truth: Vec<bool> = packets.iter().map(|p| p.key).collect();
    assert_eq!(
        flv.iter().map(|f| f.0).collect::<Vec<_>>(),
        truth,
        "{name}: FLV keys"
    );
    assert_eq!(
        fmp4.iter().map(|f| f.0).collect::<Vec<_>>(),
        truth,
        "{name}: fMP4 keys"
    );
    let fps: Vec<_> = flv.iter().map(|f| f.1).collect();
    assert_eq!(fps, fmp4.iter().map(|f| f.1).collect::<Vec<_>>(), "{name}");
    assert!(
        fps.iter().all(Option::is_some),
        "{name}: a frame without fingerprint"
    );
    // Frames share a fingerprint only where ffprobe's packets are the same bytes
    // (AV1's show-existing-frame headers repeat).
    let mut distinct = fps.clone();
    distinct.sort();
    distinct.dedup();
    let mut bytes: Vec<&[u8]> = packets.iter().map(|p| &p.data[..]).collect();
    bytes.sort();
    bytes.dedup();
    assert_eq!(distinct.len(), bytes.len(), "{name}: distinct frames");
    // Split at every byte of the first two frames' worth of stream, and in one-byte
    // pieces: the same frames.
    let head = ertmp_publish(fourcc, &config, &packets[..2], timescale);
    let whole = rtmp_frames(&head, &[]);
    assert_eq!(whole.len(), 2);
    for cut in 0..head.len() {
        assert_eq!(rtmp_frames(&head, &[cut]), whole, "{name}: split at {cut}");
    }
    let ones: Vec<usize> = (1..head.len()).collect();
    assert_eq!(rtmp_frames(&head, &ones), whole, "{name}: one-byte pieces");
    Some((dir, mp4, packets, fps))
}

#[test]
fn hevc_frames_fingerprint_alike_in_ertmp_fmp4_and_mpegts() {
    let encoder = ["libx265", "-bf", "2", "-x265-params", "log-level=error"];
    let Some((dir, mp4, packets, fps)) = check("hevc", &encoder, b"hvc1") else {
        return;
    };
    check_ts(&mp4, &packets, &fps, Codec::Hevc);
    let _ = std::fs::remove_dir_all(&dir);
}

/// ffmpeg's own MPEG-TS of the same encode: one access unit per ffprobe packet, in
/// decode order, with the key flag and fingerprint the other containers gave.
fn check_ts(mp4: &Path, packets: &[Packet], fps: &[Option<Fingerprint>], codec: Codec) {
    let ts = remux_ts(mp4);
    let mut d = TsDemuxer::new();
    d.feed(0, &ts);
    d.end(ts.len() as u64);
    let units: Vec<_> = d
        .drain()
        .filter_map(|m| match m {
            TsMessage::AccessUnit(a) => Some((a.codec, a.keyframe, a.fingerprint)),
            _ => None,
        })
        .collect();
    assert!(units.iter().all(|u| u.0 == codec), "{codec:?}");
    let keys: Vec<bool> = packets.iter().map(|p| p.key).collect();
    assert_eq!(units.iter().map(|u| u.1).collect::<Vec<_>>(), keys);
    assert_eq!(units.iter().map(|u| u.2).collect::<Vec<_>>(), fps);
}

#[test]
fn av1_frames_fingerprint_alike_in_ertmp_fmp4_and_mpegts() {
    let encoder = ["libaom-av1", "-cpu-used", "8", "-threads", "1"];
    if let Some((dir, mp4, packets, fps)) = check("av1", &encoder, b"av01") {
        // ffmpeg 5.1 muxes AV1 into MPEG-TS its own way (no registration
        // descriptor, the low overhead format in the PES): read as such.
        check_ts(&mp4, &packets, &fps, Codec::Av1);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn vp9_frames_fingerprint_alike_in_ertmp_and_fmp4() {
    let encoder = [
        "libvpx-vp9",
        "-deadline",
        "good",
        "-cpu-used",
        "8",
        "-threads",
        "1",
    ];
    if let Some((dir, ..)) = check("vp9", &encoder, b"vp09") {
        let _ = std::fs::remove_dir_all(dir);
    }
}
