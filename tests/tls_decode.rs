//! TLS flows through `lagtap decode`: real OpenSSL connections (the captures of
//! parsers/tls-decrypt/tests/data) decrypted with the key log beside the capture,
//! given with --keylog, or embedded as pcapng Decryption Secrets Blocks, and the
//! HTTP exchanges inside compared with what tshark decrypts with the same key log.

mod common;

use std::path::{Path, PathBuf};

use common::tools;
use lagtap::events::{Event, TlsSession};
use tls_decrypt::KeyLog;

const DECRYPTABLE: &[&str] = &[
    "tls12-aes128gcm",
    "tls12-aes256gcm",
    "tls12-chacha20",
    "tls13-aes128gcm",
    "tls13-aes256gcm",
    "tls13-chacha20",
];

fn data(name: &str) -> PathBuf {
    common::repo()
        .join("parsers/tls-decrypt/tests/data")
        .join(name)
}

fn temp_dir(tag: &str) -> PathBuf {
    common::scratch(&format!("tls-{tag}"))
}

/// (method, uri, status, request time ns) of each decoded exchange, and the
/// TLS session event.
type Exchanges = Vec<(String, String, Option<u16>, i64)>;
fn exchanges(events: &[Event]) -> (Exchanges, Option<&Event>) {
    let ex = events
        .iter()
        .filter_map(|e| match e {
            Event::HttpExchange(x) => {
                Some((x.method.clone(), x.uri.clone(), x.status, x.request_ns))
            }
            _ => None,
        })
        .collect();
    let tls = events.iter().find(|e| matches!(e, Event::TlsSession(_)));
    (ex, tls)
}

/// What tshark decrypts with the same key log: (method, uri) of each request with
/// the capture time of the frame that completed it, and the response codes.
fn tshark_exchanges(pcap: &Path, keys: &Path) -> (Vec<(String, String, i64)>, Vec<u16>) {
    let keylog = format!("tls.keylog_file:{}", keys.display());
    let fields = |filter: &str, f: &[&str]| -> Vec<Vec<String>> {
        let mut args = vec!["-r", pcap.to_str().unwrap(), "-o", &keylog, "-Y", filter];
        args.extend(["-T", "fields"]);
        for x in f {
            args.extend(["-e", x]);
        }
        let out = std::process::Command::new("tshark")
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    };
    let reqs = fields(
        "http.request",
        &[
            "frame.time_epoch",
            "http.request.method",
            "http.request.uri",
        ],
    )
    .into_iter()
    .map(|r| (r[1].clone(), r[2].clone(), epoch_ns(&r[0])))
    .collect();
    let codes = fields("http.response", &["http.response.code"])
        .into_iter()
        .map(|r| r[0].parse().unwrap())
        .collect();
    (reqs, codes)
}

fn epoch_ns(s: &str) -> i64 {
    let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<9}");
    secs.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

/// A copy of a test capture with no key log beside it (the originals have theirs).
fn alone(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = temp_dir(&format!("alone-{name}"));
    let p = dir.join(format!("{name}.pcap"));
    // Tests run at once and copy the same capture: each copies to a name of its
    // own and renames it in place, so no test reads a copy half written.
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let part = dir.join(format!("{name}.pcap.{n}"));
    std::fs::copy(data(&format!("{name}.pcap")), &part).unwrap();
    std::fs::rename(&part, &p).unwrap();
    p
}

fn decode(path: &Path, keylog: &KeyLog) -> Vec<Event> {
    lagtap::decode::decode_file_with(path, "host", keylog)
        .unwrap()
        .events
}

#[test]
fn keys_beside_the_capture_decrypt_every_flow_as_tshark_does() {
    let dir = temp_dir("beside");
    for name in DECRYPTABLE {
        let pcap = dir.join(format!("{name}.pcap"));
        std::fs::copy(data(&format!("{name}.pcap")), &pcap).unwrap();
        std::fs::copy(
            data(&format!("{name}.keys")),
            dir.join(format!("{name}.keys")),
        )
        .unwrap();
        let events = decode(&pcap, &KeyLog::new());
        let (ex, tls) = exchanges(&events);
        let Some(Event::TlsSession(t)) = tls else {
            panic!("{name}: no tls_session event");
        };
        let TlsSession {
            keys,
            inner,
            undecrypted,
            bad_mac,
            decrypted,
            sni,
            ..
        } = &**t;
        assert_eq!(keys, "found", "{name}");
        assert_eq!(inner.as_deref(), Some("http"), "{name}");
        assert_eq!(*undecrypted, [0, 0], "{name}: every record decrypts");
        assert_eq!(*bad_mac, [0, 0], "{name}");
        assert!(decrypted[1] >= 4, "{name}");
        assert_eq!(sni.as_deref(), Some("lagtap.test"));
        assert_eq!(ex.len(), 3, "{name}: {ex:?}");
        assert!(ex.iter().all(|e| e.2 == Some(200)), "{name}");
        if tools::require(
            "tshark",
            "decrypted HTTP against tshark with the same key log",
        ) {
            let (reqs, codes) = tshark_exchanges(&pcap, &data(&format!("{name}.keys")));
            let ours: Vec<(String, String, i64)> =
                ex.iter().map(|e| (e.0.clone(), e.1.clone(), e.3)).collect();
            // Each request is one record in one packet: the record's first byte was
            // first seen in the frame tshark names.
            assert_eq!(ours, reqs, "{name}");
            assert_eq!(codes, vec![200; 3], "{name}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keylog_option_and_secrets_blocks_give_the_same_events() {
    let dir = temp_dir("dsb");
    for name in ["tls12-chacha20", "tls13-aes256gcm"] {
        let keys = data(&format!("{name}.keys"));
        let mut k = KeyLog::new();
        k.add("k", &std::fs::read(&keys).unwrap());
        let given = decode(&alone(name), &k);
        assert_eq!(exchanges(&given).0.len(), 3, "{name}");
        if !tools::require(
            "editcap",
            "keys embedded as pcapng Decryption Secrets Blocks",
        ) {
            continue;
        }
        let dsb = dir.join(format!("{name}-dsb.pcapng"));
        let out = std::process::Command::new("editcap")
            .arg("--inject-secrets")
            .arg(format!("tls,{}", keys.display()))
            .arg(data(&format!("{name}.pcap")))
            .arg(&dsb)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let embedded = decode(&dsb, &KeyLog::new());
        assert_eq!(exchanges(&embedded).0, exchanges(&given).0, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_keys_the_flow_is_described_and_the_summary_says_how_to_get_them() {
    let events = decode(&alone("tls13-chacha20"), &KeyLog::new());
    let (ex, tls) = exchanges(&events);
    assert!(ex.is_empty());
    let Some(Event::TlsSession(t)) = tls else {
        panic!("no tls_session event");
    };
    let TlsSession {
        keys,
        version,
        cipher_suite,
        alpn_offered,
        records,
        undecrypted,
        ..
    } = &**t;
    assert_eq!(keys, "missing");
    assert_eq!(version.as_deref(), Some("TLS 1.3"));
    assert_eq!(
        cipher_suite.as_deref(),
        Some("TLS_CHACHA20_POLY1305_SHA256")
    );
    assert_eq!(alpn_offered, &["http/1.1"]);
    assert!(records[1] > 0 && undecrypted[1] > 0);
    let Some(Event::Summary { undecodable, .. }) = events.last() else {
        panic!("no summary");
    };
    assert_eq!(lagtap::decode::keys::flows_without_keys(undecodable), 1);
    // The CLI says so on stderr, with the three ways to get keys.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .arg("decode")
        .arg(alone("tls13-chacha20"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim_end(),
        "lagtap: tls13-chacha20: 1 TLS flow(s) had no keys and were not decrypted. Capture \
         with SSLKEYLOGFILE=FILE set for the client (browsers, curl, Python's ssl and GnuTLS \
         write it), then pass --keylog FILE, put it beside the capture as \
         tls13-chacha20.keys, or embed it with editcap --inject-secrets tls,FILE"
    );
}

#[test]
fn bad_key_logs_give_counted_anomalies_never_a_panic() {
    let name = "tls13-aes128gcm";
    let good = std::fs::read_to_string(data(&format!("{name}.keys"))).unwrap();
    let foreign = std::fs::read_to_string(data("tls12-aes128gcm.keys")).unwrap();
    let wrong: String = good
        .lines()
        .map(|l| format!("{}0\n", &l[..l.len() - 1]))
        .collect();
    let truncated = &good[..good.len() / 2];
    let cases: [(&str, String); 4] = [
        ("wrong secrets", wrong),
        ("truncated", truncated.to_string()),
        ("duplicated", format!("{good}{good}")),
        ("foreign", foreign),
    ];
    for (what, text) in cases {
        let mut k = KeyLog::new();
        k.add(what, text.as_bytes());
        let events = decode(&alone(name), &k);
        let (ex, tls) = exchanges(&events);
        let Some(Event::TlsSession(t)) = tls else {
            panic!("{what}: no tls_session");
        };
        let TlsSession { keys, bad_mac, .. } = &**t;
        let Some(Event::Summary { anomalies, .. }) = events.last() else {
            panic!("{what}: no summary");
        };
        match what {
            "duplicated" => assert_eq!(ex.len(), 3, "{what}: duplicates are harmless"),
            "foreign" => {
                assert_eq!(keys, "missing", "{what}");
                assert!(ex.is_empty());
            }
            "wrong secrets" => {
                assert!(ex.is_empty(), "{what}");
                assert!(bad_mac[0] > 0 && bad_mac[1] > 0, "{what}");
                assert!(anomalies.get("tls.bad_record_mac").is_some(), "{what}");
            }
            _ => {
                // The first half of the lines: some secrets, the last line cut.
                assert!(
                    anomalies.get("tls.keylog_malformed_lines") == Some(&1)
                        || anomalies.get("tls.bad_record_mac").is_some()
                        || keys == "missing",
                    "{what}: {anomalies:?} {keys}"
                );
            }
        }
    }
}

#[test]
fn inspect_shows_each_tls_flows_hellos_without_keys() {
    for (name, version, suite) in [
        (
            "tls12-chacha20",
            "TLS 1.2",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ),
        ("tls13-aes256gcm", "TLS 1.3", "TLS_AES_256_GCM_SHA384"),
    ] {
        let report = lagtap::inspect::inspect_file(&alone(name)).unwrap();
        let tls = report.flows[0].tls.as_ref().expect("a tls row");
        assert_eq!(tls.sni.as_deref(), Some("lagtap.test"), "{name}");
        assert_eq!(tls.alpn_offered, ["http/1.1"], "{name}");
        assert_eq!(tls.version.as_deref(), Some(version), "{name}");
        assert_eq!(tls.cipher_suite.as_deref(), Some(suite), "{name}");
        // TLS 1.3 says the server's ALPN only inside the encrypted handshake.
        let alpn = tls.alpn.as_deref();
        assert_eq!(alpn, (version == "TLS 1.2").then_some("http/1.1"), "{name}");
        // With the key log, that too.
        let mut k = KeyLog::new();
        k.add("k", &std::fs::read(data(&format!("{name}.keys"))).unwrap());
        let report = lagtap::inspect::inspect_file_with(&alone(name), &k).unwrap();
        let tls = report.flows[0].tls.as_ref().unwrap();
        assert_eq!(tls.alpn.as_deref(), Some("http/1.1"), "{name}");
    }
}
