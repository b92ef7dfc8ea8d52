//! TLS 1.2 and 1.3 decryption from the client's key log, streaming and I/O-free.
//!
//! A [`Session`] is fed a TLS connection's two byte streams (as the flow layer
//! reassembled them, with their stream offsets) and reports the application data
//! of every record it could open, with the stream offsets of the record it came
//! from, so the caller can give each plaintext byte its record's capture times. It
//! follows the handshake far enough to know the versions, suite, randoms, SNI and
//! ALPN, takes the secrets for the session's client random from a [`KeyLog`], and
//! keeps going when keys are missing (it still counts records and bytes).
//!
//! Decrypted: TLS 1.3 (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; handshake,
//! application and, when its secret is logged, 0-RTT early data; KeyUpdate;
//! HelloRetryRequest; resumption) and TLS 1.2 (any key exchange with AES-GCM or
//! ChaCha20-Poly1305: the key log gives the master secret, so extended master
//! secret and resumption by ID or ticket need nothing more). Other suites (CBC,
//! CCM, ...) are reported by name as undecryptable.
//!
//! Record parsing and the hellos come from `tls-parser`, the cryptography from
//! `ring`; what is written here is the record-layer state machine, which no crate
//! offers for a passive observer holding logged secrets.
#![forbid(unsafe_code)]

mod crypto;
mod handshake;
mod keylog;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use crypto::suite_name;
pub use keylog::{ClientRandom, KeyLog, Problem, Secrets};

use crypto::{DirKeys, Suite};

/// A TLS connection's two directions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    fn index(self) -> usize {
        self as usize
    }
}

/// Largest record accepted: TLSCiphertext is at most 2^14 + 2048 bytes of body.
pub const MAX_RECORD_BODY: usize = (1 << 14) + 2048;
/// Records held while the keys to open them are not known yet (0-RTT data before
/// the ServerHello), per direction.
const MAX_PENDING: usize = 1 << 20;
/// After a capture gap, how many lost records are tried to find the sequence
/// number again (each try is one AEAD open of a record).
const MAX_SKIPPED_RECORDS: u64 = 64;
/// How far into the bytes after a gap a record boundary is looked for.
const MAX_RESYNC_SCAN: usize = 64 * 1024;

/// What a session reports, in stream order per direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// The application data of one record. `offset` is its place in the
    /// direction's plaintext stream; `record_start..record_end` the record's bytes
    /// in the TLS stream.
    Data {
        dir: Direction,
        offset: u64,
        record_start: u64,
        record_end: u64,
        bytes: Vec<u8>,
    },
    /// Plaintext that could not be had (records lost to a capture gap, or whose tag
    /// did not verify): about `len` bytes at `offset` of the plaintext stream.
    Gap {
        dir: Direction,
        offset: u64,
        len: u64,
    },
}

/// Whether the session's keys were found.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum KeyStatus {
    /// No ServerHello seen (capture started mid-connection, or not yet).
    #[default]
    NoHandshake,
    /// The key log has no secrets for this client random.
    Missing,
    /// Keys derived.
    Found,
    /// The negotiated suite is not one lagtap decrypts (see [`suite_name`]).
    UnsupportedSuite,
}

/// What the handshake said, and what happened to the records.
#[derive(Clone, Debug, Default)]
pub struct Info {
    /// Negotiated version (0x0303 TLS 1.2, 0x0304 TLS 1.3).
    pub version: Option<u16>,
    pub cipher_suite: Option<u16>,
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    /// The protocol the server chose (ServerHello in TLS 1.2, EncryptedExtensions
    /// in 1.3: known only with keys).
    pub alpn: Option<String>,
    pub client_random: Option<ClientRandom>,
    pub keys: KeyStatus,
    pub hello_retry: bool,
    pub early_data_offered: bool,
    /// Per direction (client→server, server→client): records, record bytes, records
    /// opened, records left closed (no keys), records whose tag did not verify.
    pub records: [u64; 2],
    pub bytes: [u64; 2],
    pub decrypted: [u64; 2],
    pub undecrypted: [u64; 2],
    pub bad_mac: [u64; 2],
}

/// Key stages of one direction in TLS 1.3: early, handshake, application (and
/// each KeyUpdate's successor); in TLS 1.2 just one.
#[derive(Default)]
struct Stages {
    keys: Vec<(Stage, DirKeys)>,
    cur: usize,
    /// Records in a row that the current keys did not open.
    failed_run: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Stage {
    Early,
    Handshake,
    Application,
}

#[derive(Default)]
struct Dir {
    /// Records are protected from here on (TLS 1.2: after ChangeCipherSpec; 1.3:
    /// once the ServerHello is known).
    encrypted: bool,
    stages: Stages,
    hs: handshake::Reader,
    /// Records waiting for keys: (offset, record bytes).
    pending: Vec<(u64, Vec<u8>)>,
    pending_bytes: usize,
    plain_offset: u64,
    /// Plaintext output so far (gaps are reported only after some).
    produced: bool,
    /// A capture gap: look for the next record boundary and sequence number.
    resync: Option<u64>,
    /// The direction lost its record framing for good.
    dead: bool,
}

/// One TLS connection.
pub struct Session {
    keylog: Arc<KeyLog>,
    info: Info,
    server_random: Option<[u8; 32]>,
    suite: Option<Suite>,
    tls13: bool,
    dirs: [Dir; 2],
    /// 0-RTT plaintext held until the server's EncryptedExtensions says whether it
    /// accepted early data.
    early_held: Vec<Output>,
    early_decided: Option<bool>,
    out: Vec<Output>,
    anomalies: BTreeMap<&'static str, u64>,
}

const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

fn plausible_header(h: &[u8]) -> bool {
    h.len() >= 5
        && (20..=23).contains(&h[0])
        && h[1] == 3
        && h[2] <= 4
        && (u16::from_be_bytes([h[3], h[4]]) as usize) <= MAX_RECORD_BODY
}

impl Session {
    pub fn new(keylog: Arc<KeyLog>) -> Session {
        Session {
            keylog,
            info: Info::default(),
            server_random: None,
            suite: None,
            tls13: false,
            dirs: Default::default(),
            early_held: Vec::new(),
            early_decided: None,
            out: Vec::new(),
            anomalies: BTreeMap::new(),
        }
    }

    pub fn info(&self) -> &Info {
        &self.info
    }

    /// Anomalies by reason (`tls.bad_record_mac`, `tls.record_too_long`, ...).
    pub fn anomalies(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.anomalies.iter().map(|(k, v)| (*k, *v))
    }

    fn count(&mut self, what: &'static str) {
        *self.anomalies.entry(what).or_default() += 1;
    }

    /// Outputs so far, in order.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Output> {
        self.out.drain(..)
    }

    /// Feeds in-order bytes of one direction at stream offset `offset`; returns how
    /// many were consumed (whole records; the caller keeps the rest and passes it
    /// again with more).
    pub fn feed(&mut self, dir: Direction, offset: u64, input: &[u8]) -> usize {
        let d = dir.index();
        if self.dirs[d].dead {
            return input.len();
        }
        let mut pos = 0;
        if let Some(lost) = self.dirs[d].resync {
            match self.resync(dir, input, lost) {
                Some(at) => pos = at,
                None if input.len() > MAX_RESYNC_SCAN => {
                    self.count("tls.resync_failed");
                    self.dirs[d].dead = true;
                    return input.len();
                }
                None => return 0,
            }
        }
        while input.len() - pos >= 5 {
            let h = &input[pos..pos + 5];
            if !plausible_header(h) {
                self.count(if (20..=23).contains(&h[0]) {
                    "tls.record_too_long"
                } else {
                    "tls.bad_record_type"
                });
                self.dirs[d].dead = true;
                return input.len();
            }
            let len = u16::from_be_bytes([h[3], h[4]]) as usize;
            if input.len() - pos < 5 + len {
                break;
            }
            self.record(dir, offset + pos as u64, &input[pos..pos + 5 + len]);
            pos += 5 + len;
        }
        pos
    }

    /// The capture missed `len` bytes of `dir` at `offset`.
    pub fn gap(&mut self, dir: Direction, _offset: u64, len: u64) {
        let d = &mut self.dirs[dir.index()];
        d.hs.reset();
        if !d.dead {
            d.resync = Some(d.resync.unwrap_or(0).saturating_add(len));
        }
        self.count("tls.gap");
    }

    /// The direction ended. Records are whole or not at all, so nothing is pending
    /// here; 0-RTT data whose acceptance the server never announced stays unreported.
    pub fn end(&mut self, _dir: Direction, _offset: u64) {}

    /// After a gap: the first offset in `input` where a record opens with some
    /// sequence number at most [`MAX_SKIPPED_RECORDS`] ahead (or, before
    /// encryption, where a plausible record header starts).
    fn resync(&mut self, dir: Direction, input: &[u8], lost: u64) -> Option<usize> {
        let d = dir.index();
        let scan = input.len().min(MAX_RESYNC_SCAN);
        for at in 0..scan.saturating_sub(4) {
            let h = &input[at..at + 5];
            if !plausible_header(h) {
                continue;
            }
            let len = u16::from_be_bytes([h[3], h[4]]) as usize;
            if input.len() - at < 5 + len {
                // Could be the boundary but the record is not all here yet.
                return None;
            }
            let record = &input[at..at + 5 + len];
            let ok = if !self.dirs[d].encrypted || self.dirs[d].stages.keys.is_empty() {
                true
            } else {
                self.find_seq(dir, record)
            };
            if ok {
                let dd = &mut self.dirs[d];
                dd.resync = None;
                if dd.produced {
                    let len = lost.saturating_add(at as u64);
                    self.out.push(Output::Gap {
                        dir,
                        offset: dd.plain_offset,
                        len,
                    });
                    dd.plain_offset += len;
                }
                return Some(at);
            }
        }
        None
    }

    /// Moves the current stage's sequence number forward to the one that opens
    /// `record`, if one within [`MAX_SKIPPED_RECORDS`] does.
    fn find_seq(&mut self, dir: Direction, record: &[u8]) -> bool {
        let st = &mut self.dirs[dir.index()].stages;
        let Some((_, keys)) = st.keys.get_mut(st.cur) else {
            return false;
        };
        let header: [u8; 5] = record[..5].try_into().unwrap_or_default();
        let mut body = record[5..].to_vec();
        for skip in 0..=MAX_SKIPPED_RECORDS {
            body.copy_from_slice(&record[5..]);
            if keys.open(keys.seq + skip, &header, &mut body).is_some() {
                keys.seq += skip;
                return true;
            }
        }
        false
    }

    fn record(&mut self, dir: Direction, offset: u64, record: &[u8]) {
        let d = dir.index();
        self.info.records[d] += 1;
        self.info.bytes[d] += record.len() as u64;
        let ty = record[0];
        let body = &record[5..];
        match ty {
            // ChangeCipherSpec: TLS 1.2 protects what follows; in 1.3 it is only
            // for middlebox compatibility.
            20 => {
                if self.info.version.is_some() && !self.tls13 {
                    self.dirs[d].encrypted = true;
                }
            }
            22 if !self.dirs[d].encrypted => {
                let mut msgs = Vec::new();
                self.dirs[d]
                    .hs
                    .push(body, |t, b| msgs.push((t, b.to_vec())));
                for (t, b) in msgs {
                    self.plain_handshake(dir, t, &b);
                }
            }
            21 if !self.dirs[d].encrypted => {}
            _ => {
                if !self.dirs[d].encrypted {
                    if self.info.version.is_none() {
                        // Protected records before the ServerHello: 0-RTT data
                        // (or a capture that started mid-connection).
                        self.hold(dir, offset, record);
                        return;
                    }
                    self.dirs[d].encrypted = true;
                }
                self.protected(dir, offset, record);
            }
        }
    }

    fn hold(&mut self, dir: Direction, offset: u64, record: &[u8]) {
        let dd = &mut self.dirs[dir.index()];
        if dd.pending_bytes + record.len() > MAX_PENDING {
            self.info.undecrypted[dir.index()] += 1;
            self.count("tls.pending_overflow");
            return;
        }
        dd.pending_bytes += record.len();
        dd.pending.push((offset, record.to_vec()));
    }

    fn plain_handshake(&mut self, dir: Direction, ty: u8, body: &[u8]) {
        use tls_parser::TlsExtension as X;
        match (dir, ty) {
            (Direction::ClientToServer, handshake::CLIENT_HELLO) if !body.is_empty() => {
                let Ok((_, ch)) = tls_parser::parse_tls_handshake_client_hello(body) else {
                    self.count("tls.bad_client_hello");
                    return;
                };
                self.info.client_random = ch.random.try_into().ok();
                let exts = ch
                    .ext
                    .and_then(|e| tls_parser::parse_tls_client_hello_extensions(e).ok())
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                for x in exts {
                    match x {
                        X::SNI(names) => {
                            self.info.sni = names
                                .first()
                                .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                        }
                        X::ALPN(protos) => {
                            self.info.alpn_offered = protos
                                .iter()
                                .map(|p| String::from_utf8_lossy(p).into_owned())
                                .collect();
                        }
                        X::EarlyData(_) => self.info.early_data_offered = true,
                        _ => {}
                    }
                }
            }
            (Direction::ServerToClient, handshake::SERVER_HELLO) if !body.is_empty() => {
                let Ok((_, sh)) = tls_parser::parse_tls_handshake_server_hello(body) else {
                    self.count("tls.bad_server_hello");
                    return;
                };
                let random: Option<[u8; 32]> = sh.random.try_into().ok();
                if random == Some(HRR_RANDOM) {
                    // HelloRetryRequest: the real ServerHello follows a second
                    // ClientHello with the same random.
                    self.info.hello_retry = true;
                    self.tls13 = true;
                    return;
                }
                self.server_random = random;
                let mut version = sh.version.0;
                let exts = sh
                    .ext
                    .and_then(|e| tls_parser::parse_tls_server_hello_extensions(e).ok())
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                for x in exts {
                    match x {
                        X::SupportedVersions(v) => {
                            if let Some(v) = v.first() {
                                version = v.0;
                            }
                        }
                        X::ALPN(p) => {
                            self.info.alpn =
                                p.first().map(|p| String::from_utf8_lossy(p).into_owned());
                        }
                        _ => {}
                    }
                }
                self.info.version = Some(version);
                self.info.cipher_suite = Some(sh.cipher.0);
                self.tls13 = version == 0x0304;
                self.establish();
            }
            _ => {}
        }
    }

    /// Derives the keys once the ServerHello is known, then opens what was held.
    fn establish(&mut self) {
        let (Some(id), Some(cr)) = (self.info.cipher_suite, self.info.client_random) else {
            return;
        };
        let Some(suite) = crypto::suite(id, self.tls13) else {
            self.info.keys = KeyStatus::UnsupportedSuite;
            self.count("tls.unsupported_suite");
            return;
        };
        self.suite = Some(suite);
        let Some(secrets) = self.keylog.get(&cr).cloned() else {
            self.info.keys = KeyStatus::Missing;
            return;
        };
        let mut found = false;
        if self.tls13 {
            for (d, list) in [
                (
                    0,
                    [
                        (Stage::Early, &secrets.client_early),
                        (Stage::Handshake, &secrets.client_handshake),
                        (Stage::Application, &secrets.client_traffic0),
                    ],
                ),
                (
                    1,
                    [
                        (Stage::Early, &None),
                        (Stage::Handshake, &secrets.server_handshake),
                        (Stage::Application, &secrets.server_traffic0),
                    ],
                ),
            ] {
                for (stage, secret) in list {
                    if let Some(k) = secret.as_deref().and_then(|s| DirKeys::tls13(&suite, s)) {
                        self.dirs[d].stages.keys.push((stage, k));
                        found = true;
                    }
                }
            }
            // The server's handshake records follow its ServerHello at once.
            self.dirs[1].encrypted = true;
        } else if let (Some(master), Some(sr)) = (&secrets.master, self.server_random) {
            if let Some((c, s)) = DirKeys::tls12(&suite, master, &cr, &sr) {
                self.dirs[0].stages.keys.push((Stage::Application, c));
                self.dirs[1].stages.keys.push((Stage::Application, s));
                found = true;
            }
        }
        self.info.keys = if found {
            KeyStatus::Found
        } else {
            KeyStatus::Missing
        };
        for d in [Direction::ClientToServer, Direction::ServerToClient] {
            let held = std::mem::take(&mut self.dirs[d.index()].pending);
            self.dirs[d.index()].pending_bytes = 0;
            for (offset, record) in held {
                self.dirs[d.index()].encrypted = true;
                self.protected(d, offset, &record);
            }
        }
    }

    /// A protected record: open it with the direction's current keys, or a later
    /// stage's (a missed Finished, 0-RTT the server skipped), and hand on what it
    /// holds.
    fn protected(&mut self, dir: Direction, offset: u64, record: &[u8]) {
        let d = dir.index();
        if self.dirs[d].stages.keys.is_empty() {
            if self.info.keys == KeyStatus::NoHandshake && self.suite.is_none() {
                self.count("tls.no_handshake");
            }
            self.info.undecrypted[d] += 1;
            return;
        }
        let header: [u8; 5] = record[..5].try_into().unwrap_or_default();
        let mut body = record[5..].to_vec();
        let st = &mut self.dirs[d].stages;
        let mut opened = None;
        let mut tried = false;
        'stages: for i in st.cur..st.keys.len() {
            let keys = &mut st.keys[i].1;
            // After records that did not open (damaged, or 0-RTT the server skipped
            // without a logged early secret), the right number is the next one if
            // they were sequenced, or one of the numbers they were given if not.
            let back = if i == st.cur { st.failed_run } else { 0 };
            for k in 0..=back {
                if tried {
                    body.copy_from_slice(&record[5..]);
                }
                tried = true;
                let seq = keys.seq - k;
                if let Some(r) = keys.open(seq, &header, &mut body) {
                    keys.seq = seq + 1;
                    st.cur = i;
                    st.failed_run = 0;
                    opened = Some((st.keys[i].0, r));
                    break 'stages;
                }
            }
        }
        let Some((stage, range)) = opened else {
            if let Some((_, keys)) = st.keys.get_mut(st.cur) {
                keys.seq += 1;
                st.failed_run = (st.failed_run + 1).min(MAX_SKIPPED_RECORDS).min(keys.seq);
            }
            self.info.bad_mac[d] += 1;
            self.count("tls.bad_record_mac");
            let dd = &mut self.dirs[d];
            if dd.produced {
                let len = body.len() as u64;
                self.out.push(Output::Gap {
                    dir,
                    offset: dd.plain_offset,
                    len,
                });
                dd.plain_offset += len;
            }
            return;
        };
        self.info.decrypted[d] += 1;
        let (content_type, plain) = if self.tls13 {
            // TLSInnerPlaintext: content, the real type, then zero padding.
            let inner = &body[range.clone()];
            let Some(end) = inner.iter().rposition(|&b| b != 0) else {
                self.count("tls.empty_inner_plaintext");
                return;
            };
            (inner[end], end)
        } else {
            (header[0], range.end - range.start)
        };
        // `open` puts the plaintext at the start of `body` for every version.
        let start = range.start;
        match content_type {
            23 => {
                let mut bytes = body;
                bytes.truncate(start + plain);
                bytes.drain(..start);
                let dd = &mut self.dirs[d];
                let out = Output::Data {
                    dir,
                    offset: dd.plain_offset,
                    record_start: offset,
                    record_end: offset + record.len() as u64,
                    bytes,
                };
                dd.plain_offset += plain as u64;
                dd.produced = true;
                if stage == Stage::Early && self.early_decided != Some(true) {
                    if self.early_decided.is_none() {
                        self.early_held.push(out);
                    }
                } else {
                    self.out.push(out);
                }
            }
            22 => {
                let mut msgs = Vec::new();
                self.dirs[d].hs.push(&body[start..start + plain], |t, b| {
                    msgs.push((t, b.to_vec()))
                });
                for (t, b) in msgs {
                    self.protected_handshake(dir, t, &b);
                }
            }
            _ => {}
        }
    }

    fn protected_handshake(&mut self, dir: Direction, ty: u8, body: &[u8]) {
        let d = dir.index();
        match ty {
            handshake::ENCRYPTED_EXTENSIONS if dir == Direction::ServerToClient => {
                let exts = body
                    .get(2..)
                    .and_then(|e| tls_parser::parse_tls_extensions(e).ok())
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                let mut early = false;
                for x in exts {
                    match x {
                        tls_parser::TlsExtension::ALPN(p) => {
                            self.info.alpn =
                                p.first().map(|p| String::from_utf8_lossy(p).into_owned());
                        }
                        tls_parser::TlsExtension::EarlyData(_) => early = true,
                        _ => {}
                    }
                }
                self.decide_early(early);
            }
            // The peer's handshake keys are done with: application keys next.
            handshake::FINISHED | handshake::END_OF_EARLY_DATA if self.tls13 => {
                let st = &mut self.dirs[d].stages;
                if let Some(next) = (st.cur + 1..st.keys.len()).find(|&i| {
                    let want = if ty == handshake::FINISHED {
                        Stage::Application
                    } else {
                        Stage::Handshake
                    };
                    st.keys[i].0 == want
                }) {
                    st.cur = next;
                }
            }
            handshake::KEY_UPDATE if self.tls13 => {
                let Some(suite) = self.suite else { return };
                let st = &mut self.dirs[d].stages;
                if let Some(next) = st.keys.get(st.cur).and_then(|(_, k)| k.updated(&suite)) {
                    st.keys.truncate(st.cur + 1);
                    st.keys.push((Stage::Application, next));
                    st.cur += 1;
                }
            }
            _ => {}
        }
    }

    /// Whether the server took the client's 0-RTT data: release or drop what was
    /// held for it.
    fn decide_early(&mut self, accepted: bool) {
        if self.early_decided.is_some() {
            return;
        }
        self.early_decided = Some(accepted);
        let held = std::mem::take(&mut self.early_held);
        if accepted {
            // Early data precedes everything else the client sent: it goes out
            // first, before any later client record already reported.
            let at = self
                .out
                .iter()
                .position(|o| {
                    matches!(
                        o,
                        Output::Data {
                            dir: Direction::ClientToServer,
                            ..
                        }
                    )
                })
                .unwrap_or(self.out.len());
            self.out.splice(at..at, held);
        } else if !held.is_empty() {
            *self.anomalies.entry("tls.early_data_rejected").or_default() += held.len() as u64;
        }
    }
}

/// The fuzz target's body (`fuzz/`), also run over the test captures and mutations
/// of them by `tests/fuzz_body.rs`.
pub mod fuzzing {
    use std::sync::{Arc, OnceLock};

    use super::{Direction, KeyLog, Output, Session};

    /// The key logs of the test captures: seeds made from them decrypt, so the
    /// fuzzer starts inside the protected record layer, not only at its door.
    fn keylog() -> Arc<KeyLog> {
        static K: OnceLock<Arc<KeyLog>> = OnceLock::new();
        K.get_or_init(|| {
            let mut k = KeyLog::new();
            for text in [
                &include_bytes!("../tests/data/tls12-aes128gcm.keys")[..],
                include_bytes!("../tests/data/tls12-chacha20.keys"),
                include_bytes!("../tests/data/tls13-aes128gcm.keys"),
                include_bytes!("../tests/data/tls13-chacha20.keys"),
            ] {
                k.add("fuzz", text);
            }
            Arc::new(k)
        })
        .clone()
    }

    /// Interprets `data` as one control byte, then a connection's bytes in pieces
    /// that alternate direction (piece size from the control byte; its bit 6 turns
    /// every 13th piece into a gap). Feeds them as the flow layer would and checks
    /// what must hold for any input.
    pub fn session(data: &[u8]) {
        let Some((&control, rest)) = data.split_first() else {
            return;
        };
        let mut s = Session::new(keylog());
        let mut tails: [Vec<u8>; 2] = Default::default();
        let mut offsets = [0u64; 2];
        let mut next = [0u64; 2];
        let piece = usize::from(control % 61) + 1;
        let mut check = |s: &mut Session| {
            for o in s.drain() {
                let (dir, offset, len) = match &o {
                    Output::Data {
                        dir, offset, bytes, ..
                    } => (*dir, *offset, bytes.len() as u64),
                    Output::Gap { dir, offset, len } => (*dir, *offset, *len),
                };
                assert_eq!(offset, next[dir as usize], "plaintext offsets run on");
                next[dir as usize] += len;
            }
        };
        for (k, chunk) in rest.chunks(piece).enumerate() {
            let d = (k + usize::from(control >> 7)) % 2;
            let dir = [Direction::ClientToServer, Direction::ServerToClient][d];
            if control & 0x40 != 0 && k % 13 == 12 {
                let lost = chunk.len() as u64;
                s.gap(dir, offsets[d] + tails[d].len() as u64, lost);
                offsets[d] += tails[d].len() as u64 + lost;
                tails[d].clear();
                continue;
            }
            tails[d].extend_from_slice(chunk);
            let n = s.feed(dir, offsets[d], &tails[d]);
            assert!(n <= tails[d].len(), "consumed more than given");
            offsets[d] += n as u64;
            tails[d].drain(..n);
            check(&mut s);
        }
        s.end(Direction::ClientToServer, offsets[0]);
        s.end(Direction::ServerToClient, offsets[1]);
        check(&mut s);
        let i = s.info();
        for d in 0..2 {
            assert!(i.decrypted[d] + i.undecrypted[d] + i.bad_mac[d] <= i.records[d]);
        }
    }

    /// A fuzz input from a real connection's two streams: control byte 60
    /// (61-byte pieces, no gaps, client first), then c2s and s2c pieces
    /// alternating; the shorter direction is padded with zeros at its end (where
    /// they only end that direction's framing). The client runs ahead of the
    /// server's ServerHello this way, which exercises the records held for keys.
    pub fn seed(segments: &[(Direction, Vec<u8>)]) -> Vec<u8> {
        const PIECE: usize = 61;
        let mut streams: [Vec<u8>; 2] = Default::default();
        for (d, p) in segments {
            streams[*d as usize].extend_from_slice(p);
        }
        let mut out = vec![60u8];
        let pieces = streams[0].len().max(streams[1].len()).div_ceil(PIECE);
        for k in 0..pieces {
            for s in &streams {
                let start = (k * PIECE).min(s.len());
                let piece = &s[start..(start + PIECE).min(s.len())];
                out.extend_from_slice(piece);
                out.resize(out.len() + PIECE - piece.len(), 0);
            }
        }
        out
    }
}
