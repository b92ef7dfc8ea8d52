//! NSS key log files (what `SSLKEYLOGFILE` makes browsers, curl, OpenSSL, GnuTLS and
//! Python's `ssl` write): one secret per line, `LABEL <client random> <secret>` in
//! hex. Comments (`#`) and blank lines are allowed; labels lagtap does not use are
//! skipped; a malformed line is counted and named, never fatal.
//!
//! Written by hand: the format is three whitespace-separated fields, and no crate
//! reads it without also wanting to own the TLS connection.

use std::collections::HashMap;

/// The client random that names a TLS session in a key log.
pub type ClientRandom = [u8; 32];

/// Longest secret accepted (TLS 1.3 with SHA-512 would be 64 bytes; the TLS 1.2
/// master secret is 48).
const MAX_SECRET: usize = 64;
/// Problems listed by line (all are counted).
const MAX_LISTED: usize = 32;

/// The secrets logged for one session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 and earlier: `CLIENT_RANDOM` (the 48-byte master secret).
    pub master: Option<Vec<u8>>,
    pub client_early: Option<Vec<u8>>,
    pub client_handshake: Option<Vec<u8>>,
    pub server_handshake: Option<Vec<u8>>,
    pub client_traffic0: Option<Vec<u8>>,
    pub server_traffic0: Option<Vec<u8>>,
}

/// One line lagtap could not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub source: String,
    pub line: usize,
    pub reason: &'static str,
}

/// Secrets by client random, from any number of key logs.
#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    sessions: HashMap<ClientRandom, Secrets>,
    /// Lines used, skipped as other labels, and malformed, over every source.
    pub used: u64,
    pub other_labels: u64,
    pub malformed: u64,
    /// The same label and random with a different secret: the first is kept.
    pub conflicting: u64,
    /// The first [`MAX_LISTED`] malformed or conflicting lines.
    pub problems: Vec<Problem>,
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.len() > 2 * 256 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl KeyLog {
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Number of sessions with at least one secret.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn get(&self, random: &ClientRandom) -> Option<&Secrets> {
        self.sessions.get(random)
    }

    fn problem(&mut self, source: &str, line: usize, reason: &'static str) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(Problem {
                source: source.to_string(),
                line,
                reason,
            });
        }
    }

    /// Adds every line of a key log; `source` names it in problems (a file name, or
    /// "pcapng DSB #3"). Bytes that are not UTF-8 make their line malformed.
    pub fn add(&mut self, source: &str, text: &[u8]) {
        for (n, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line_no = n + 1;
            let Ok(line) = std::str::from_utf8(raw) else {
                self.malformed += 1;
                self.problem(source, line_no, "not UTF-8");
                continue;
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_ascii_whitespace();
            let (Some(label), Some(random), Some(secret), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                self.malformed += 1;
                self.problem(source, line_no, "not LABEL CLIENT_RANDOM SECRET");
                continue;
            };
            let slot = match label {
                "CLIENT_RANDOM" => 0,
                "CLIENT_EARLY_TRAFFIC_SECRET" => 1,
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => 2,
                "SERVER_HANDSHAKE_TRAFFIC_SECRET" => 3,
                "CLIENT_TRAFFIC_SECRET_0" => 4,
                "SERVER_TRAFFIC_SECRET_0" => 5,
                _ => {
                    self.other_labels += 1;
                    continue;
                }
            };
            let Some(random) = hex(random).and_then(|r| ClientRandom::try_from(r).ok()) else {
                self.malformed += 1;
                self.problem(source, line_no, "client random is not 32 bytes of hex");
                continue;
            };
            let Some(secret) = hex(secret).filter(|s| !s.is_empty() && s.len() <= MAX_SECRET)
            else {
                self.malformed += 1;
                self.problem(source, line_no, "secret is not hex of a usable length");
                continue;
            };
            if slot == 0 && secret.len() != 48 {
                self.malformed += 1;
                self.problem(source, line_no, "CLIENT_RANDOM secret is not 48 bytes");
                continue;
            }
            let s = self.sessions.entry(random).or_default();
            let field = match slot {
                0 => &mut s.master,
                1 => &mut s.client_early,
                2 => &mut s.client_handshake,
                3 => &mut s.server_handshake,
                4 => &mut s.client_traffic0,
                _ => &mut s.server_traffic0,
            };
            match field {
                Some(old) if *old != secret => {
                    self.conflicting += 1;
                    self.problem(source, line_no, "a different secret for the same session");
                }
                Some(_) => {}
                None => {
                    *field = Some(secret);
                    self.used += 1;
                }
            }
        }
    }

    /// Takes every session of `other` this log does not have secrets for yet.
    pub fn merge(&mut self, other: &KeyLog) {
        for (random, s) in &other.sessions {
            let mine = self.sessions.entry(*random).or_default();
            for (m, o) in [
                (&mut mine.master, &s.master),
                (&mut mine.client_early, &s.client_early),
                (&mut mine.client_handshake, &s.client_handshake),
                (&mut mine.server_handshake, &s.server_handshake),
                (&mut mine.client_traffic0, &s.client_traffic0),
                (&mut mine.server_traffic0, &s.server_traffic0),
            ] {
                if m.is_none() {
                    m.clone_from(o);
                }
            }
        }
        self.used += other.used;
        self.other_labels += other.other_labels;
        self.malformed += other.malformed;
        self.conflicting += other.conflicting;
        for p in &other.problems {
            if self.problems.len() < MAX_LISTED {
                self.problems.push(p.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn reads_tls12_and_tls13_labels_and_skips_the_rest() {
        let text = format!(
            "# comment\n\nCLIENT_RANDOM {R} {m}\nCLIENT_TRAFFIC_SECRET_0 {R} {s}\n\
             EXPORTER_SECRET {R} {s}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {R} {s}\r\n",
            m = "ab".repeat(48),
            s = "cd".repeat(32)
        );
        let mut k = KeyLog::new();
        k.add("k", text.as_bytes());
        let s = k.get(&hex(R).unwrap().try_into().unwrap()).unwrap();
        assert_eq!(s.master.as_deref(), Some(&[0xab; 48][..]));
        assert_eq!(s.client_traffic0.as_deref(), Some(&[0xcd; 32][..]));
        assert!(s.server_handshake.is_some() && s.client_early.is_none());
        assert_eq!((k.used, k.other_labels, k.malformed), (3, 1, 0));
    }

    #[test]
    fn bad_lines_are_counted_and_named_never_fatal() {
        let text = format!(
            "CLIENT_RANDOM {R}\nCLIENT_RANDOM zz {m}\nCLIENT_RANDOM {R} abc\n\
             CLIENT_RANDOM {R} {short}\nCLIENT_RANDOM {R} {m}\nCLIENT_RANDOM {R} {m2}\n\
             CLIENT_RANDOM {R} {m}\n",
            m = "ab".repeat(48),
            m2 = "ac".repeat(48),
            short = "ab".repeat(20)
        );
        let mut k = KeyLog::new();
        k.add("keys.txt", text.as_bytes());
        k.add("bin", b"\xff\xfe CLIENT_RANDOM\n");
        assert_eq!(k.malformed, 5);
        assert_eq!(k.conflicting, 1);
        assert_eq!(
            k.used, 1,
            "the duplicate of the kept secret is no new secret"
        );
        assert_eq!(k.problems[0].line, 1);
        assert_eq!(k.problems[1].reason, "client random is not 32 bytes of hex");
        assert_eq!(
            k.problems[4].reason,
            "a different secret for the same session"
        );
        assert_eq!(k.problems[5].source, "bin");
    }
}
