//! Decryption of real OpenSSL connections (tests/data, made by make_captures.py),
//! against the plaintext the two programs logged they sent.

use std::sync::Arc;

use serde_json::Value;
use tls_decrypt::{Direction, KeyLog, KeyStatus, Output, Session};

mod common;
use common::{connections, data, keylog, segments};

use common::{C2S, S2C};

/// What the session decrypted per direction, and the gaps it reported.
#[derive(Default, Debug, PartialEq)]
struct Plain {
    streams: [Vec<u8>; 2],
    gaps: Vec<(Direction, u64, u64)>,
    /// The plaintext offset the next output of each direction must have.
    next: [u64; 2],
}

/// Feeds the segments in capture order, each cut into pieces of `piece` bytes (0:
/// whole), keeping unconsumed tails as the flow layer does.
fn decrypt(session: &mut Session, segs: &[(Direction, Vec<u8>)], piece: usize) -> Plain {
    let mut tails: [Vec<u8>; 2] = Default::default();
    let mut offsets = [0u64; 2];
    let mut plain = Plain::default();
    for (dir, payload) in segs {
        let d = *dir as usize;
        let pieces: Vec<&[u8]> = if piece == 0 {
            vec![payload]
        } else {
            payload.chunks(piece).collect()
        };
        for p in pieces {
            tails[d].extend_from_slice(p);
            let n = session.feed(*dir, offsets[d], &tails[d]);
            offsets[d] += n as u64;
            tails[d].drain(..n);
            collect(session, &mut plain);
        }
    }
    for dir in [C2S, S2C] {
        session.end(dir, offsets[dir as usize]);
    }
    collect(session, &mut plain);
    plain
}

fn collect(session: &mut Session, plain: &mut Plain) {
    for o in session.drain() {
        match o {
            Output::Data {
                dir, offset, bytes, ..
            } => {
                let d = dir as usize;
                assert_eq!(offset, plain.next[d], "plaintext offsets are contiguous");
                plain.next[d] += bytes.len() as u64;
                plain.streams[d].extend_from_slice(&bytes);
            }
            Output::Gap { dir, offset, len } => {
                let d = dir as usize;
                assert_eq!(offset, plain.next[d], "a gap's offset follows the data");
                plain.next[d] += len;
                plain.gaps.push((dir, offset, len));
            }
        }
    }
}

fn sha256(b: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn truth(name: &str) -> Value {
    serde_json::from_slice(&data(&format!("{name}.sent.json"))).unwrap()
}

const DECRYPTABLE: &[(&str, u16, &str)] = &[
    (
        "tls12-aes128gcm",
        0x0303,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "tls12-aes256gcm",
        0x0303,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "tls12-chacha20",
        0x0303,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    ("tls13-aes128gcm", 0x0304, "TLS_AES_128_GCM_SHA256"),
    ("tls13-aes256gcm", 0x0304, "TLS_AES_256_GCM_SHA384"),
    ("tls13-chacha20", 0x0304, "TLS_CHACHA20_POLY1305_SHA256"),
];

#[test]
fn every_record_of_every_suite_decrypts_to_what_was_sent() {
    for &(name, version, suite) in DECRYPTABLE {
        let mut s = Session::new(keylog(name));
        let plain = decrypt(&mut s, &segments(name), 0);
        let t = truth(name);
        for (dir, who) in [(C2S, "client"), (S2C, "server")] {
            let got = &plain.streams[dir as usize];
            assert_eq!(got.len() as u64, t["sent"][who]["bytes"], "{name} {who}");
            assert_eq!(sha256(got), t["sent"][who]["sha256"], "{name} {who}");
        }
        let i = s.info();
        assert_eq!(i.keys, KeyStatus::Found, "{name}");
        assert_eq!(i.version, Some(version), "{name}");
        assert_eq!(tls_decrypt::suite_name(i.cipher_suite.unwrap()), suite);
        assert_eq!(i.sni.as_deref(), Some("lagtap.test"), "{name}");
        assert_eq!(i.alpn.as_deref(), Some("http/1.1"), "{name}");
        assert_eq!(i.alpn_offered, ["http/1.1"], "{name}");
        assert_eq!(i.undecrypted, [0, 0], "{name}");
        assert_eq!(i.bad_mac, [0, 0], "{name}");
        assert!(plain.gaps.is_empty(), "{name}");
        assert_eq!(s.anomalies().count(), 0, "{name}");
    }
}

#[test]
fn byte_by_byte_feeding_gives_the_same_plaintext() {
    for name in ["tls12-aes128gcm", "tls13-chacha20"] {
        let segs = segments(name);
        let whole = decrypt(&mut Session::new(keylog(name)), &segs, 0);
        for piece in [1, 7, 1000] {
            let split = decrypt(&mut Session::new(keylog(name)), &segs, piece);
            assert_eq!(split, whole, "{name} in pieces of {piece}");
        }
    }
}

#[test]
fn a_cbc_suite_is_named_and_counted_not_decrypted() {
    let name = "tls12-cbc";
    let mut s = Session::new(keylog(name));
    let plain = decrypt(&mut s, &segments(name), 0);
    assert!(plain.streams.iter().all(Vec::is_empty));
    let i = s.info();
    assert_eq!(i.keys, KeyStatus::UnsupportedSuite);
    assert_eq!(
        tls_decrypt::suite_name(i.cipher_suite.unwrap()),
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
    );
    assert!(i.undecrypted[0] > 0 && i.undecrypted[1] > 0);
}

#[test]
fn without_keys_records_are_counted_and_the_handshake_still_read() {
    for &(name, version, _) in DECRYPTABLE {
        let mut s = Session::new(Arc::new(KeyLog::new()));
        let plain = decrypt(&mut s, &segments(name), 0);
        assert!(plain.streams.iter().all(Vec::is_empty), "{name}");
        let i = s.info();
        assert_eq!(i.keys, KeyStatus::Missing, "{name}");
        assert_eq!(i.version, Some(version));
        assert_eq!(i.sni.as_deref(), Some("lagtap.test"));
        assert!(i.undecrypted[1] >= 3, "{name}: {:?}", i.undecrypted);
        assert_eq!(i.decrypted, [0, 0]);
    }
}

#[test]
fn wrong_secrets_fail_their_tags_and_never_panic() {
    for &(name, _, _) in DECRYPTABLE {
        // Every secret's last byte flipped.
        let text = String::from_utf8(data(&format!("{name}.keys"))).unwrap();
        let bad: String = text
            .lines()
            .map(|l| {
                let mut l = l.to_string();
                let last = l.pop().unwrap();
                l.push(if last == '0' { '1' } else { '0' });
                l + "\n"
            })
            .collect();
        let mut k = KeyLog::new();
        k.add("bad", bad.as_bytes());
        let mut s = Session::new(Arc::new(k));
        let plain = decrypt(&mut s, &segments(name), 0);
        assert!(plain.streams.iter().all(Vec::is_empty), "{name}");
        let i = s.info();
        assert!(i.bad_mac[0] > 0 && i.bad_mac[1] > 0, "{name}: {i:?}");
        assert!(s.anomalies().any(|(k, _)| k == "tls.bad_record_mac"));
    }
}

#[test]
fn a_flipped_byte_loses_its_record_only() {
    for &(name, _, _) in DECRYPTABLE {
        let mut segs = segments(name);
        let whole = decrypt(&mut Session::new(keylog(name)), &segs, 0);
        // The server's last segment: flip a byte in its middle.
        let last = segs
            .iter()
            .rposition(|(d, p)| *d == S2C && p.len() > 100)
            .unwrap();
        let mid = segs[last].1.len() / 2;
        segs[last].1[mid] ^= 0x40;
        let mut s = Session::new(keylog(name));
        let plain = decrypt(&mut s, &segs, 0);
        assert_eq!(s.info().bad_mac, [0, 1], "{name}");
        assert_eq!(
            plain.streams[0], whole.streams[0],
            "{name}: the client side is intact"
        );
        assert_eq!(plain.gaps.len(), 1, "{name}");
        let (_, at, len) = plain.gaps[0];
        // What is left around the lost record is what was sent there.
        let srv = &whole.streams[1];
        assert!(
            plain.streams[1].len() as u64 + len >= srv.len() as u64 - 64,
            "{name}"
        );
        assert_eq!(
            &plain.streams[1][..at as usize],
            &srv[..at as usize],
            "{name}"
        );
    }
}

#[test]
fn after_a_capture_gap_decryption_resumes_at_the_next_record() {
    for &(name, _, _) in DECRYPTABLE {
        let segs = segments(name);
        let whole = decrypt(&mut Session::new(keylog(name)), &segs, 0);
        // Drop 3000 bytes from the middle of the server's stream.
        let mut s = Session::new(keylog(name));
        let mut offsets = [0u64; 2];
        let mut tails: [Vec<u8>; 2] = Default::default();
        let mut plain = Plain::default();
        let mut stream_pos = 0usize;
        let (cut_from, cut_len) = (20_000usize, 3000usize);
        for (dir, payload) in &segs {
            let d = *dir as usize;
            let mut p: &[u8] = payload;
            if *dir == S2C {
                let start = stream_pos;
                stream_pos += p.len();
                if start < cut_from + cut_len && stream_pos > cut_from {
                    // Keep what lies outside the cut, report the cut as a gap.
                    let before = cut_from.saturating_sub(start).min(p.len());
                    let after = (cut_from + cut_len).saturating_sub(start).min(p.len());
                    tails[d].extend_from_slice(&p[..before]);
                    let n = s.feed(*dir, offsets[d], &tails[d]);
                    offsets[d] += n as u64;
                    tails[d].drain(..n);
                    if before < after {
                        let lost = tails[d].len() as u64 + (after - before) as u64;
                        s.gap(*dir, offsets[d], lost);
                        offsets[d] += lost;
                        tails[d].clear();
                    }
                    p = &p[after..];
                }
            }
            tails[d].extend_from_slice(p);
            let n = s.feed(*dir, offsets[d], &tails[d]);
            offsets[d] += n as u64;
            tails[d].drain(..n);
            collect(&mut s, &mut plain);
        }
        assert_eq!(plain.gaps.len(), 1, "{name}: {:?}", plain.gaps);
        let srv = &whole.streams[1];
        let got = &plain.streams[1];
        // Everything after the lost records is there, byte for byte.
        let tail_len = got.len() - plain.gaps[0].1 as usize;
        // Records are up to 16 kB: the first whole one after the cut starts within
        // 16 kB of its end, and the 40 kB body leaves at least 4 kB after that.
        assert!(tail_len > 4_000, "{name}: {tail_len}");
        assert_eq!(
            &got[got.len() - tail_len..],
            &srv[srv.len() - tail_len..],
            "{name}"
        );
        assert_eq!(s.info().bad_mac, [0, 0], "{name}");
    }
}

/// OpenSSL's s_client and s_server (tests/data/make_openssl_captures.sh).
#[test]
fn a_key_update_switches_to_the_next_traffic_secret() {
    let name = "tls13-keyupdate";
    let mut s = Session::new(keylog(name));
    let plain = decrypt(&mut s, &segments(name), 0);
    assert_eq!(plain.streams[0], data(&format!("{name}.sent")));
    let i = s.info();
    assert_eq!(i.bad_mac, [0, 0]);
    assert_eq!(i.undecrypted, [0, 0]);
}

#[test]
fn a_resumed_session_and_its_accepted_early_data_decrypt() {
    let name = "tls13-resume-0rtt";
    let conns = connections(name);
    assert_eq!(conns.len(), 2);
    for (n, segs) in conns.iter().enumerate() {
        let mut s = Session::new(keylog(name));
        let plain = decrypt(&mut s, segs, 0);
        // The 0-RTT line comes first, as the server read it.
        assert_eq!(
            plain.streams[0],
            data(&format!("{name}.{}.sent", n + 1)),
            "connection {}",
            n + 1
        );
        let i = s.info();
        assert_eq!(i.bad_mac, [0, 0], "connection {}", n + 1);
        assert_eq!(i.early_data_offered, n == 1);
    }
}
