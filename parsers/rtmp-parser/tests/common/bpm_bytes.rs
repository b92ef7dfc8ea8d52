//! OBS Broadcast Performance Metrics as bytes, built from OBS Studio's layout
//! (`shared/bpm/bpm.c`, `bpm-internal.h` of obsproject/obs-studio): the three
//! payloads of one key frame and their H.264/HEVC SEI NAL units. Shared by
//! rtmp-parser's `tests/bpm.rs` and lagtap's `tests/bpm_capture.rs` (`#[path]`).
#![allow(dead_code)] // each test binary uses a different subset

/// OBS's timestamp record: type 1 (RFC 3339 text with its NUL), event tag, text.
pub fn rfc3339(event: u8, text: &str) -> Vec<u8> {
    [&[1, event][..], text.as_bytes(), &[0]].concat()
}

/// The three BPM payloads (UUID + body) of one key frame, as `bpm_ts_sei_render`,
/// `bpm_sm_sei_render` and `bpm_erm_sei_render` write them.
pub fn payloads() -> Vec<Vec<u8>> {
    let ts = [
        &avc::bpm::UUID_TIMESTAMPS[..],
        &[3], // four timestamps
        &rfc3339(1, "2026-12-02T15:00:00.100Z"),
        &rfc3339(2, "2026-12-02T15:00:00.105Z"),
        &rfc3339(3, "2026-12-02T15:00:00.112Z"),
        &rfc3339(4, "2026-12-02T15:00:00.113Z"),
    ]
    .concat();
    let counters = |tags: &[(u8, u32)]| {
        let mut v = vec![(tags.len() - 1) as u8];
        for (t, n) in tags {
            v.push(*t);
            v.extend(n.to_be_bytes());
        }
        v
    };
    let sm = [
        &avc::bpm::UUID_SESSION[..],
        &[0],
        &rfc3339(4, "2026-12-02T15:00:00.113Z"),
        &counters(&[(1, 60), (2, 1), (3, 2), (4, 58)]),
    ]
    .concat();
    let erm = [
        &avc::bpm::UUID_RENDITION[..],
        &[0],
        &rfc3339(4, "2026-12-02T15:00:00.113Z"),
        &counters(&[(1, 60), (2, 0), (3, 60)]),
    ]
    .concat();
    vec![ts, sm, erm]
}

/// An SEI NAL unit holding one `user_data_unregistered` message: header, ff-coded
/// payloadType 5 and size, payload, rbsp_trailing_bits, emulation prevention.
pub fn sei_nal(header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut rbsp = vec![5u8];
    let mut n = payload.len();
    while n >= 255 {
        rbsp.push(0xff);
        n -= 255;
    }
    rbsp.push(n as u8);
    rbsp.extend_from_slice(payload);
    rbsp.push(0x80);
    let mut out = header.to_vec();
    let mut zeros = 0;
    for b in rbsp {
        if zeros == 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

pub fn avcc(nals: &[Vec<u8>]) -> Vec<u8> {
    nals.iter()
        .flat_map(|n| [&(n.len() as u32).to_be_bytes()[..], n].concat())
        .collect()
}
