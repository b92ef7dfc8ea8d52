//! AV1 in MPEG-TS, built byte by byte from the specifications (no Debian package
//! writes it: ffmpeg 5.1's mpegts muxer has no AV1): ISO/IEC 13818-1 for the TS
//! packets (§2.4.3.2), PAT and PMT sections (§2.4.4.3, §2.4.4.8) and PES packets
//! (§2.4.3.6); the AOM "Carriage of AV1 in MPEG-2 TS" v1.0.1 for the PMT entry
//! (`stream_type` 0x06, registration descriptor 'AV01' first, §2.1; AV1 video
//! descriptor 0x80, §2.2), the PES (`stream_id` 0xBD, one access unit, §3.4) and
//! the start-code format (§3.2); the AV1 bitstream specification §5.3 for the
//! OBUs. The demuxer must find every access unit with its PTS, key-frame flag and
//! the fingerprint of the same OBUs in the low overhead format (what an FLV or
//! fMP4 copy of the frame carries), however the bytes are cut.

mod common;

use mpegts_parser::{Codec, TsDemuxer, TsMessage};

const PMT_PID: u16 = 0x1000;
const VIDEO_PID: u16 = 0x100;

/// CRC_32 of ISO/IEC 13818-1 Annex A (polynomial 0x04C11DB7, MSB first, init
/// all ones, no final XOR).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A long-form PSI section: table_id, section_syntax_indicator 1, the length,
/// table_id_extension, version 0, current_next 1, section numbers 0, body, CRC.
fn section(table_id: u8, extension: u16, body: &[u8]) -> Vec<u8> {
    let len = 5 + body.len() + 4;
    let mut s = vec![table_id, 0xb0 | (len >> 8) as u8, len as u8];
    s.extend_from_slice(&extension.to_be_bytes());
    s.extend_from_slice(&[0xc1, 0x00, 0x00]);
    s.extend_from_slice(body);
    let crc = crc32(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// TS packets of `payload` on `pid`: payload_unit_start on the first, the last
/// padded by adaptation-field stuffing.
fn packets(pid: u16, payload: &[u8], cc: &mut u8, random_access: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = payload;
    let mut first = true;
    while first || !rest.is_empty() {
        let mut p = vec![
            0x47,
            ((pid >> 8) as u8) | if first { 0x40 } else { 0 },
            pid as u8,
        ];
        let mut af = Vec::new();
        if first && random_access {
            af = vec![0x40]; // flags: random_access_indicator
        }
        let room = 184 - if af.is_empty() { 0 } else { 1 + af.len() };
        if rest.len() < room {
            // Stuff the adaptation field to fill the packet.
            if af.is_empty() {
                af = vec![0x00];
            }
            let need = 184 - rest.len() - 1;
            af.resize(need, 0xff);
        }
        let has_af = !af.is_empty();
        p.push(if has_af { 0x30 } else { 0x10 } | (*cc & 0x0f));
        *cc = cc.wrapping_add(1);
        if has_af {
            p.push(af.len() as u8);
            p.extend_from_slice(&af);
        }
        let take = rest.len().min(188 - p.len());
        p.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        assert_eq!(p.len(), 188);
        out.extend_from_slice(&p);
        first = false;
    }
    out
}

/// A 33-bit PTS in the PES header's 5-byte form (§2.4.3.7), prefix '0010'.
fn pts_bytes(pts: u64) -> [u8; 5] {
    [
        0x21 | ((pts >> 29) as u8 & 0x0e),
        (pts >> 22) as u8,
        0x01 | ((pts >> 14) as u8 & 0xfe),
        (pts >> 7) as u8,
        0x01 | ((pts << 1) as u8 & 0xfe),
    ]
}

/// `ts_open_bitstream_unit()` of one OBU (§3.2): a start code, then the OBU with
/// 0x000000..0x000003 escaped by an emulation_prevention_three_byte.
fn ts_obu(obu: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 1];
    let mut zeros = 0;
    for &b in obu {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// An OBU with obu_has_size_field (§5.3.1): header byte, LEB128 size, payload.
fn obu(kind: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 128);
    let mut o = vec![(kind << 3) | 0x02, payload.len() as u8];
    o.extend_from_slice(payload);
    o
}

struct Frame {
    pts: u64,
    key: bool,
    /// The access unit's OBUs in the low overhead format.
    obus: Vec<u8>,
}

fn frames() -> Vec<Frame> {
    let seq = obu(1, &[0x00, 0x00, 0x00, 0x2a, 0x1f]); // seq_profile 0, reduced 0
    (0..6u64)
        .map(|i| {
            let key = i % 3 == 0;
            // Frame OBU (type 6): show_existing_frame 0, frame_type KEY (0) or
            // INTER (1) in its first bits; the rest made to need escapes.
            let mut payload = vec![if key { 0x10 } else { 0x30 }];
            payload.extend_from_slice(&[0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02]);
            payload.extend_from_slice(&[i as u8 + 1; 20]);
            let mut obus = obu(2, &[]); // temporal delimiter
            if key {
                obus.extend_from_slice(&seq);
            }
            obus.extend(obu(6, &payload));
            Frame {
                pts: 90_000 + i * 3000,
                key,
                obus,
            }
        })
        .collect()
}

fn segment(frames: &[Frame]) -> Vec<u8> {
    let mut ts = Vec::new();
    let (mut cc_pat, mut cc_pmt, mut cc_v) = (0u8, 0u8, 0u8);
    // PAT: program 1 on PMT_PID.
    let mut pat = vec![0x00];
    pat.extend(section(
        0x00,
        1,
        &[0x00, 0x01, 0xe0 | (PMT_PID >> 8) as u8, PMT_PID as u8],
    ));
    ts.extend(packets(0, &pat, &mut cc_pat, false));
    // PMT: PCR on the video PID, one stream of type 0x06 with the registration
    // descriptor (tag 5, length 4, 'AV01') and the AV1 video descriptor (tag
    // 0x80, length 4: marker 1, version 1; profile 0, level 8; tier 0 ...).
    let descriptors = [
        5, 4, b'A', b'V', b'0', b'1', 0x80, 4, 0x81, 0x08, 0x0c, 0x00,
    ];
    let mut body = vec![0xe0 | (VIDEO_PID >> 8) as u8, VIDEO_PID as u8, 0xf0, 0x00];
    body.extend_from_slice(&[0x06, 0xe0 | (VIDEO_PID >> 8) as u8, VIDEO_PID as u8]);
    body.extend_from_slice(&[0xf0, descriptors.len() as u8]);
    body.extend_from_slice(&descriptors);
    let mut pmt = vec![0x00];
    pmt.extend(section(0x02, 1, &body));
    ts.extend(packets(PMT_PID, &pmt, &mut cc_pmt, false));
    for f in frames {
        let es: Vec<u8> = mpegts_parser_obus(&f.obus);
        // PES (§2.4.3.6): stream_id 0xBD, length 0 (unbounded: video may be),
        // '10' marker, data_alignment_indicator 1, PTS only.
        let mut pes = vec![0, 0, 1, 0xbd, 0, 0, 0x84, 0x80, 5];
        pes.extend_from_slice(&pts_bytes(f.pts));
        pes.extend_from_slice(&es);
        ts.extend(packets(VIDEO_PID, &pes, &mut cc_v, f.key));
    }
    ts
}

/// The access unit as tsOBUs: each OBU of the low overhead stream behind its
/// start code.
fn mpegts_parser_obus(low_overhead: &[u8]) -> Vec<u8> {
    avc::obu::iter_obus(low_overhead)
        .flat_map(|o| {
            let mut whole = vec![o.header];
            whole.extend(o.extension);
            whole.push(o.payload.len() as u8);
            whole.extend_from_slice(o.payload);
            ts_obu(&whole)
        })
        .collect()
}

fn demux(ts: &[u8], cuts: impl IntoIterator<Item = usize>) -> Vec<TsMessage> {
    let mut d = TsDemuxer::new();
    let out = common::feed_ts(&mut d, ts, cuts);
    assert!(d.anomalies().is_empty(), "{:?}", d.anomalies());
    out
}

fn check(frames: &[Frame], msgs: &[TsMessage]) {
    let pmt = msgs
        .iter()
        .find_map(|m| match m {
            TsMessage::Pmt(p) => Some(p),
            _ => None,
        })
        .expect("the PMT");
    assert_eq!(pmt.streams[0].format_identifier, Some(*b"AV01"));
    assert_eq!(pmt.streams[0].video_codec(), Some(Codec::Av1));
    let units: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            TsMessage::AccessUnit(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(units.len(), frames.len(), "one access unit per PES");
    for (u, f) in units.iter().zip(frames) {
        assert_eq!(u.codec, Codec::Av1);
        assert_eq!(u.pid, VIDEO_PID);
        assert_eq!(u.pts.map(|t| t.raw), Some(f.pts));
        assert_eq!(u.keyframe, f.key);
        assert_eq!(u.random_access, f.key);
        assert_eq!(u.size, f.obus.len(), "start codes and escapes removed");
        // The same fingerprint as the frame in an FLV/Enhanced RTMP or fMP4
        // sample, which carries these OBUs as they are.
        assert_eq!(
            u.fingerprint,
            avc::fingerprint_frame(&f.obus, 4, Codec::Av1)
        );
        assert!(u.fingerprint.is_some());
    }
    let fps: std::collections::HashSet<_> = units.iter().map(|u| u.fingerprint).collect();
    assert_eq!(fps.len(), frames.len(), "each frame its own fingerprint");
}

#[test]
fn av1_access_units_come_out_whole_with_their_fingerprints() {
    let frames = frames();
    let ts = segment(&frames);
    // The escapes are really there: the tsOBU stream is longer than the OBUs.
    assert!(ts.windows(4).any(|w| w == [0, 0, 3, 1]));
    check(&frames, &demux(&ts, []));
}

#[test]
fn av1_in_ts_split_at_every_byte() {
    let frames = frames();
    let ts = segment(&frames);
    for cut in 1..ts.len() {
        check(&frames, &demux(&ts, [cut]));
    }
    check(&frames, &demux(&ts, (1..ts.len()).step_by(7)));
}

#[test]
fn a_private_stream_without_av01_is_not_video() {
    let frames = frames();
    let mut ts = segment(&frames);
    let at = ts.windows(4).position(|w| w == b"AV01").unwrap();
    ts[at..at + 4].copy_from_slice(b"XYZ1");
    let msgs = demux(&ts, []);
    assert!(!msgs.iter().any(|m| matches!(m, TsMessage::AccessUnit(_))));
    assert_eq!(
        msgs.iter()
            .filter(|m| matches!(m, TsMessage::Pes(_)))
            .count(),
        frames.len()
    );
}
