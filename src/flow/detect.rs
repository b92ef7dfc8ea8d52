//! Which application protocol a flow carries: content first, port second.
//!
//! Testbeds run ingest on odd ports and chat over WebSocket on 80, so a port is only
//! a tie-breaker. Content rules look at the first bytes each side sent.

use serde::Serialize;

use super::table::TransportKind;

/// How many leading bytes per direction detection looks at (and a consumer buffers
/// until it decides).
pub const DETECT_PREFIX: usize = 2048;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Rtmp,
    /// RTMPE/RTMPTE (encrypted handshake, version byte 6 or 8): recognised, unreadable.
    Rtmpe,
    Http,
    /// HTTP that upgraded to WebSocket (Twitch's browser chat).
    WebSocket,
    Irc,
    Ntp,
    /// TLS (RTMPS, HTTPS, IRC over TLS): decrypted with the key log when it has
    /// the session's secrets (`decode/tls.rs`).
    Tls,
    /// HTTP/2 (inside TLS, chosen by ALPN `h2`).
    Http2,
    Unknown,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rtmp => "rtmp",
            Protocol::Rtmpe => "rtmpe",
            Protocol::Http => "http",
            Protocol::WebSocket => "websocket",
            Protocol::Irc => "irc",
            Protocol::Ntp => "ntp",
            Protocol::Tls => "tls",
            Protocol::Http2 => "http2",
            Protocol::Unknown => "unknown",
        }
    }
}

/// The verdict on what has been seen so far.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Is(Protocol),
    /// Not enough bytes yet to tell.
    NeedMore,
}

const HTTP_METHODS: &[&[u8]] = &[
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
];
/// IRC commands a client opens with, and ones either side commonly sends.
const IRC_COMMANDS: &[&[u8]] = &[
    b"NICK ",
    b"PASS ",
    b"CAP ",
    b"USER ",
    b"PRIVMSG ",
    b"JOIN ",
    b"PING ",
    b"PONG ",
    b"NOTICE ",
];

/// Detects from the first bytes of each direction (`c2s`, `s2c`, either may be empty),
/// and the server's port.
pub fn detect(
    transport: TransportKind,
    server_port: u16,
    c2s: &[u8],
    s2c: &[u8],
    complete: bool,
) -> Verdict {
    if transport == TransportKind::Udp {
        // NTP on another port is recognised by an exactly 48-byte packet of a sane
        // version and mode; on port 123 the port is enough.
        let ntp = server_port == 123 || looks_like_ntp(c2s, s2c);
        return Verdict::Is(if ntp {
            Protocol::Ntp
        } else {
            Protocol::Unknown
        });
    }
    if let Some(p) = by_client_bytes(c2s) {
        return Verdict::Is(p);
    }
    if let Some(p) = by_server_bytes(s2c) {
        return Verdict::Is(p);
    }
    // Too little to go on: wait unless the flow is over or we have plenty.
    let enough = c2s.len() >= 16 || s2c.len() >= 16;
    if !complete && !enough {
        return Verdict::NeedMore;
    }
    Verdict::Is(by_port(server_port))
}

fn by_client_bytes(b: &[u8]) -> Option<Protocol> {
    let first = *b.first()?;
    // HTTP/2 with prior knowledge (h2c): the connection preface.
    if b.starts_with(b"PRI * HTTP/2.0") {
        return Some(Protocol::Http2);
    }
    if HTTP_METHODS.iter().any(|m| b.starts_with(m)) {
        return Some(if is_websocket_upgrade(b) {
            Protocol::WebSocket
        } else {
            Protocol::Http
        });
    }
    if is_tls_record(b) {
        return Some(Protocol::Tls);
    }
    if starts_irc_line(b) {
        return Some(Protocol::Irc);
    }
    // RTMP C0 is the version byte 3; C1 follows (time, then four zero bytes in the
    // plain handshake, or the digest scheme's version). Requiring the version byte and
    // at least the start of C1 keeps random binary protocols out.
    match first {
        3 if b.len() >= 9 => Some(Protocol::Rtmp),
        6 | 8 if b.len() >= 9 => Some(Protocol::Rtmpe),
        _ => None,
    }
}

fn by_server_bytes(b: &[u8]) -> Option<Protocol> {
    if b.starts_with(b"HTTP/1.") {
        return Some(Protocol::Http);
    }
    if is_tls_record(b) {
        return Some(Protocol::Tls);
    }
    // IRC servers often speak first (`:irc.example NOTICE * :*** Looking up...`).
    if b.first() == Some(&b':') && irc_numeric_or_command_follows(b) {
        return Some(Protocol::Irc);
    }
    if starts_irc_line(b) {
        return Some(Protocol::Irc);
    }
    match b.first() {
        Some(3) if b.len() >= 9 => Some(Protocol::Rtmp),
        _ => None,
    }
}

fn by_port(port: u16) -> Protocol {
    match port {
        1935 => Protocol::Rtmp,
        80 | 8080 => Protocol::Http,
        6667 => Protocol::Irc,
        443 | 6697 | 8443 => Protocol::Tls,
        123 => Protocol::Ntp,
        _ => Protocol::Unknown,
    }
}

fn is_tls_record(b: &[u8]) -> bool {
    // ContentType handshake (22) or application data (23), version 3.x.
    b.len() >= 3 && (b[0] == 22 || b[0] == 23) && b[1] == 3 && b[2] <= 4
}

fn starts_irc_line(b: &[u8]) -> bool {
    let b = if b.first() == Some(&b'@') {
        // IRCv3 tags, then a space.
        match b.iter().position(|&c| c == b' ') {
            Some(i) => &b[i + 1..],
            None => return false,
        }
    } else {
        b
    };
    IRC_COMMANDS.iter().any(|c| b.starts_with(c))
}

/// `:prefix COMMAND` or `:prefix 001` after the prefix.
fn irc_numeric_or_command_follows(b: &[u8]) -> bool {
    let Some(sp) = b.iter().take(256).position(|&c| c == b' ') else {
        return false;
    };
    let rest = &b[sp + 1..];
    let word_len = rest
        .iter()
        .take(16)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if word_len == 0 || rest.get(word_len) != Some(&b' ') {
        return false;
    }
    let word = &rest[..word_len];
    word.iter().all(|c| c.is_ascii_digit()) && word_len == 3
        || word.iter().all(|c| c.is_ascii_uppercase())
}

fn is_websocket_upgrade(b: &[u8]) -> bool {
    let head = &b[..b.len().min(DETECT_PREFIX)];
    let lower: Vec<u8> = head.iter().map(|c| c.to_ascii_lowercase()).collect();
    lower.windows(18).any(|w| w == b"upgrade: websocket")
}

fn looks_like_ntp(c2s: &[u8], s2c: &[u8]) -> bool {
    let b = if c2s.is_empty() { s2c } else { c2s };
    b.len() == 48 && matches!((b[0] >> 3) & 7, 3 | 4) && matches!(b[0] & 7, 1..=5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(port: u16, c2s: &[u8], s2c: &[u8]) -> Verdict {
        detect(TransportKind::Tcp, port, c2s, s2c, true)
    }

    #[test]
    fn rtmp_is_recognised_on_any_port_by_its_handshake() {
        let mut c0c1 = vec![3u8];
        c0c1.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
        assert_eq!(tcp(41000, &c0c1, b""), Verdict::Is(Protocol::Rtmp));
    }

    #[test]
    fn http_request_and_websocket_upgrade_are_told_apart() {
        assert_eq!(
            tcp(9000, b"GET /hls/a.m3u8 HTTP/1.1\r\n", b""),
            Verdict::Is(Protocol::Http)
        );
        let up =
            b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        assert_eq!(tcp(80, up, b""), Verdict::Is(Protocol::WebSocket));
    }

    #[test]
    fn irc_is_recognised_from_the_client_or_a_server_that_speaks_first() {
        assert_eq!(
            tcp(7000, b"CAP LS 302\r\nNICK a\r\n", b""),
            Verdict::Is(Protocol::Irc)
        );
        let server_first = b":irc.lagtap.test NOTICE * :*** Looking up your hostname\r\n";
        assert_eq!(tcp(7000, b"", server_first), Verdict::Is(Protocol::Irc));
        assert_eq!(
            tcp(7000, b"", b":srv 001 alice :Welcome\r\n"),
            Verdict::Is(Protocol::Irc)
        );
    }

    #[test]
    fn tls_is_marked_whatever_the_port() {
        assert_eq!(
            tcp(1935, &[22, 3, 1, 0, 200, 1], b""),
            Verdict::Is(Protocol::Tls)
        );
    }

    #[test]
    fn port_breaks_the_tie_only_when_content_says_nothing() {
        assert_eq!(tcp(1935, b"", b""), Verdict::Is(Protocol::Rtmp));
        assert_eq!(tcp(5555, b"", b""), Verdict::Is(Protocol::Unknown));
        assert_eq!(
            detect(TransportKind::Tcp, 1935, b"\x03", b"", false),
            Verdict::NeedMore
        );
    }
}
