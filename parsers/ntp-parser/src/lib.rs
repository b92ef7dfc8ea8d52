//! NTPv3/v4 packets, read from captured UDP payloads, and the request/reply pairing
//! that turns them into clock-offset samples.
//!
//! lagtap corrects every host's capture times to one reference clock. The NTP
//! exchanges in a host's own capture give that correction: T1 and T4 are the capture
//! times of the request and the reply (the caller passes them in; this crate has no
//! clock), T2 and T3 are the server's receive and transmit timestamps from the reply.
//!
//! # Design
//! - Pure: one datagram in, one [`Packet`] out ([`parse`]). No sockets, no time.
//! - Only the 48-byte header is decoded. Extension fields, a MAC, or any other bytes
//!   after it are counted in [`Packet::trailing_len`] and otherwise ignored, so an
//!   NTS-protected or authenticated packet still yields its timestamps.
//! - Registry values are open newtypes ([`Mode`]), so unusual values survive parsing.
//! - Timestamps stay raw ([`Timestamp`], the 64-bit NTP fixed-point value) until the
//!   caller asks for Unix nanoseconds, because the raw value is what pairing compares.
//!
//! # Era handling
//! An NTP timestamp holds seconds since 1900-01-01 modulo 2^32 (era 0 ends on
//! 2036-02-07). Following RFC 4330 section 3, a seconds value with the top bit clear
//! (era-0 dates before 1968-01-20) is read as era 1 (2036-02-07 onward): no capture
//! this tool reads predates 1968, and captures after 2036 then stay correct. The all-
//! zero timestamp means "not set" and converts to `None`.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;

/// Length of the fixed NTP header; everything after it is ignored.
pub const HEADER_LEN: usize = 48;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_SECS: i64 = 2_208_988_800;

/// How many unanswered requests a [`Pairer`] remembers. A client polls at most a few
/// times per second; older requests than this are lost (counted), which bounds memory
/// on captures with many unanswered requests.
pub const MAX_PENDING_REQUESTS: usize = 1024;

/// When the client's written transmit time and the capture time of its request differ
/// by more than this, the client is taken to have randomised its transmit timestamp
/// (chronyd and ntpsec do so for privacy). One hour is far beyond any clock error a
/// synced host has, and far below the years a random 64-bit value is off by.
pub const RANDOMIZED_TRANSMIT_THRESHOLD_NS: i64 = 3_600 * 1_000_000_000;

/// Why a datagram is not an NTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the 48-byte header.
    TooShort { len: usize },
    /// Version field outside 1..=4 (NTPv1 had the same header layout for our fields).
    BadVersion { version: u8 },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooShort { len } => {
                write!(
                    f,
                    "NTP packet of {len} bytes is shorter than the {HEADER_LEN}-byte header"
                )
            }
            Error::BadVersion { version } => write!(f, "NTP version {version} is not 1..=4"),
        }
    }
}

impl std::error::Error for Error {}

/// Association mode (RFC 5905 figure 10), kept open so unknown values survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mode(pub u8);

impl Mode {
    pub const SYMMETRIC_ACTIVE: Mode = Mode(1);
    pub const SYMMETRIC_PASSIVE: Mode = Mode(2);
    pub const CLIENT: Mode = Mode(3);
    pub const SERVER: Mode = Mode(4);
    pub const BROADCAST: Mode = Mode(5);
    pub const CONTROL: Mode = Mode(6);
    pub const PRIVATE: Mode = Mode(7);
}

/// A raw 64-bit NTP timestamp: seconds since 1900 in the high 32 bits, binary
/// fraction of a second in the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The "not set" value (e.g. the origin timestamp of a client request).
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Integer nanoseconds since the Unix epoch, `None` for the zero timestamp. The
    /// fraction is truncated to whole nanoseconds (as Wireshark does). See the crate
    /// docs for the era rule.
    pub fn unix_nanos(self) -> Option<i64> {
        if self.is_zero() {
            return None;
        }
        let secs = (self.0 >> 32) as i64;
        let era_secs = if secs & 0x8000_0000 == 0 {
            secs + (1_i64 << 32)
        } else {
            secs
        };
        let frac = self.0 & 0xffff_ffff;
        let nanos = ((frac * 1_000_000_000) >> 32) as i64;
        Some((era_secs - NTP_UNIX_OFFSET_SECS) * 1_000_000_000 + nanos)
    }
}

/// An NTP "short format" value (16.16 fixed point seconds), as in root delay and root
/// dispersion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Short(pub u32);

impl Short {
    /// Nanoseconds, truncated.
    pub fn nanos(self) -> i64 {
        ((u64::from(self.0) * 1_000_000_000) >> 16) as i64
    }
}

/// The decoded 48-byte NTP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Leap indicator (0 none, 1 +1 s, 2 −1 s, 3 unsynchronised).
    pub leap: u8,
    pub version: u8,
    pub mode: Mode,
    /// 0 unspecified / kiss-o'-death, 1 primary, 2..=15 secondary, 16 unsynchronised.
    pub stratum: u8,
    /// log2 seconds.
    pub poll: i8,
    /// log2 seconds.
    pub precision: i8,
    pub root_delay: Short,
    pub root_dispersion: Short,
    /// Reference id: an IPv4 address, the first bytes of an MD5 of an IPv6 address, a
    /// four-letter refclock code, or a kiss code when the stratum is 0.
    pub reference_id: [u8; 4],
    pub reference_ts: Timestamp,
    /// T1 of the exchange, copied by the server from the request's transmit timestamp.
    pub origin_ts: Timestamp,
    pub receive_ts: Timestamp,
    pub transmit_ts: Timestamp,
    /// Bytes after the header (extension fields, MAC, NTS), not decoded.
    pub trailing_len: usize,
}

/// Decode one UDP payload. Bytes after the 48-byte header are ignored.
pub fn parse(datagram: &[u8]) -> Result<Packet, Error> {
    let Some(h) = datagram.first_chunk::<HEADER_LEN>() else {
        return Err(Error::TooShort {
            len: datagram.len(),
        });
    };
    let version = (h[0] >> 3) & 0x7;
    if !(1..=4).contains(&version) {
        return Err(Error::BadVersion { version });
    }
    let u32_at = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let ts_at = |i: usize| Timestamp((u64::from(u32_at(i)) << 32) | u64::from(u32_at(i + 4)));
    Ok(Packet {
        leap: h[0] >> 6,
        version,
        mode: Mode(h[0] & 0x7),
        stratum: h[1],
        poll: h[2] as i8,
        precision: h[3] as i8,
        root_delay: Short(u32_at(4)),
        root_dispersion: Short(u32_at(8)),
        reference_id: [h[12], h[13], h[14], h[15]],
        reference_ts: ts_at(16),
        origin_ts: ts_at(24),
        receive_ts: ts_at(32),
        transmit_ts: ts_at(40),
        trailing_len: datagram.len() - HEADER_LEN,
    })
}

/// One paired client/server exchange: the material of one clock-offset sample.
///
/// The four times of the classic formula are `t1 = request_capture_ns`,
/// `t2 = server_receive_ns`, `t3 = server_transmit_ns`, `t4 = reply_capture_ns`. T1 is
/// the capture time, not what the client wrote, so randomised transmit timestamps do
/// not matter; what the client wrote is kept in `client_transmit` for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The request's transmit timestamp as the client wrote it (possibly random).
    pub client_transmit: Timestamp,
    /// True when `client_transmit` is far from the request's capture time (see
    /// [`RANDOMIZED_TRANSMIT_THRESHOLD_NS`]): the client randomised it, or its clock is
    /// wildly off; either way it is useless as T1.
    pub client_transmit_randomized: bool,
    /// Capture time of the request, in the capturing host's clock (T1).
    pub request_capture_ns: i64,
    /// Server receive timestamp (T2).
    pub server_receive_ns: i64,
    /// Server transmit timestamp (T3).
    pub server_transmit_ns: i64,
    /// Capture time of the reply, in the capturing host's clock (T4).
    pub reply_capture_ns: i64,
    /// Stratum of the server in the reply.
    pub stratum: u8,
    /// Leap indicator of the reply (3: the server is unsynchronised).
    pub leap: u8,
}

impl Exchange {
    /// θ of RFC 5905, ((T2 − T1) + (T3 − T4)) / 2: the server's clock minus the
    /// capturing host's clock. In DESIGN.md's terms (`t_ref = t_capture − offset`) the
    /// host's offset is `-offset_ns()`. Computed in i128 so no input overflows.
    pub fn offset_ns(&self) -> i64 {
        let (t1, t2, t3, t4) = self.times128();
        (((t2 - t1) + (t3 - t4)) / 2) as i64
    }

    /// Round-trip delay (T4 − T1) − (T3 − T2); half of it bounds the offset's error.
    pub fn delay_ns(&self) -> i64 {
        let (t1, t2, t3, t4) = self.times128();
        ((t4 - t1) - (t3 - t2)) as i64
    }

    fn times128(&self) -> (i128, i128, i128, i128) {
        (
            i128::from(self.request_capture_ns),
            i128::from(self.server_receive_ns),
            i128::from(self.server_transmit_ns),
            i128::from(self.reply_capture_ns),
        )
    }
}

/// Pairs client requests (mode 3) with server replies (mode 4) of one client/server
/// pair of addresses: a reply belongs to the request whose transmit timestamp it
/// echoes in its origin field. Feed packets in capture order; use one `Pairer` per
/// (client address, server address), since the parser does not see addresses.
///
/// Pairing on the echoed value works whether or not the client randomised it.
/// Interleaved mode (chrony `xleave`), where the origin echoes an earlier receive
/// timestamp, is not paired (counted as `ntp.reply_unmatched`).
#[derive(Debug, Default)]
pub struct Pairer {
    pending: VecDeque<(Timestamp, i64)>,
    anomalies: Vec<(&'static str, u64)>,
}

impl Pairer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Offer any packet with its capture time; returns an exchange when it is a reply
    /// that completes a pending request. Other modes are ignored.
    pub fn push(&mut self, packet: &Packet, capture_ns: i64) -> Option<Exchange> {
        match packet.mode {
            Mode::CLIENT => {
                self.request(packet, capture_ns);
                None
            }
            Mode::SERVER => self.reply(packet, capture_ns),
            _ => None,
        }
    }

    /// Remember a client request.
    pub fn request(&mut self, packet: &Packet, capture_ns: i64) {
        if packet.transmit_ts.is_zero() {
            self.count("ntp.request_without_transmit");
            return;
        }
        if self.pending.len() == MAX_PENDING_REQUESTS {
            self.pending.pop_front();
            self.count("ntp.request_unanswered_evicted");
        }
        self.pending.push_back((packet.transmit_ts, capture_ns));
    }

    /// Match a server reply against the pending requests.
    pub fn reply(&mut self, packet: &Packet, capture_ns: i64) -> Option<Exchange> {
        let Some(pos) = self
            .pending
            .iter()
            .rposition(|(t, _)| *t == packet.origin_ts)
        else {
            self.count("ntp.reply_unmatched");
            return None;
        };
        let (client_transmit, request_capture_ns) = self.pending.remove(pos)?;
        let (Some(t2), Some(t3)) = (
            packet.receive_ts.unix_nanos(),
            packet.transmit_ts.unix_nanos(),
        ) else {
            self.count("ntp.reply_without_timestamps");
            return None;
        };
        let client_transmit_randomized = client_transmit.unix_nanos().is_none_or(|t| {
            (i128::from(t) - i128::from(request_capture_ns)).abs()
                > i128::from(RANDOMIZED_TRANSMIT_THRESHOLD_NS)
        });
        Some(Exchange {
            client_transmit,
            client_transmit_randomized,
            request_capture_ns,
            server_receive_ns: t2,
            server_transmit_ns: t3,
            reply_capture_ns: capture_ns,
            stratum: packet.stratum,
            leap: packet.leap,
        })
    }

    /// Requests still waiting for a reply.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Anomalies counted by reason.
    pub fn anomalies(&self) -> &[(&'static str, u64)] {
        &self.anomalies
    }

    fn count(&mut self, reason: &'static str) {
        match self.anomalies.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.anomalies.push((reason, 1)),
        }
    }
}

/// The body of the fuzz target (`fuzz/fuzz_targets/parse.rs`), here so that a normal
/// test runs it over the seeds too. Treats the input as a run of datagrams of
/// 48..=60 bytes (the first byte of each picks its length) and pushes every one that
/// parses through a [`Pairer`], with capture times taken from the bytes.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    let _ = parse(data);
    let mut pairer = Pairer::new();
    let mut rest = data;
    let mut clock: i64 = 0;
    while let Some(&first) = rest.first() {
        let len = (HEADER_LEN + usize::from(first % 13)).min(rest.len());
        let (datagram, tail) = rest.split_at(len);
        rest = tail;
        clock = clock.wrapping_add(i64::from(first) << 20);
        if let Ok(p) = parse(datagram) {
            let _ = p.reference_ts.unix_nanos();
            let _ = (p.root_delay.nanos(), p.root_dispersion.nanos());
            if let Some(x) = pairer.push(&p, clock) {
                let _ = (x.offset_ns(), x.delay_ns());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // tests/data/ntp.pcap frame 1: ntpdig request to chronyd on 127.0.0.1:123.
    const NTPDIG_REQUEST: &str = "e3000000000000000000000000000000000000000000000000000000000000000000000000000000eeb0df6594bf6000";
    // tests/data/ntp.pcap frame 2: chronyd's reply to frame 1.
    const CHRONY_REPLY: &str = "240800e700000000000000007f7f0101eeb0df5390433f85eeb0df6594bf6000eeb0df6594c3b47deeb0df6594cb78e8";
    // tests/data/ntp.pcap frame 12: chronyd -Q client request with a randomised transmit.
    const CHRONY_CLIENT_RANDOM_REQUEST: &str = "230006200000000000000000000000000000000000000000000000000000000000000000000000008d888dc9f0868edf";
    // tests/data/ntp.pcap frame 13: chronyd's reply to frame 12.
    const CHRONY_REPLY_TO_RANDOM: &str = "240806e700000000000000007f7f0101eeb0df5390433f858d888dc9f0868edfeeb0df66860982cfeeb0df66860d5e58";
    // tests/data/ntp.pcap frame 9: a request with 4 stray bytes after the header.
    const REQUEST_WITH_TRAILER: &str = "230006ec000000000000000000000000000000000000000000000000000000000000000000000000eeb0df661a761c00deadbeef";

    #[test]
    fn ntpdig_request_reads_as_unsynchronised_v4_client_with_only_transmit_set() {
        let p = parse(&hex(NTPDIG_REQUEST)).unwrap();
        assert_eq!(
            (p.leap, p.version, p.mode, p.stratum),
            (3, 4, Mode::CLIENT, 0)
        );
        assert!(p.origin_ts.is_zero() && p.receive_ts.is_zero());
        // tshark: Nov 25, 2026 04:15:33.581045150 UTC
        assert_eq!(p.transmit_ts.unix_nanos(), Some(1_795_580_133_581_045_150));
    }

    #[test]
    fn chrony_reply_carries_stratum_refid_and_echoes_the_request_transmit() {
        let req = parse(&hex(NTPDIG_REQUEST)).unwrap();
        let p = parse(&hex(CHRONY_REPLY)).unwrap();
        assert_eq!(
            (p.leap, p.version, p.mode, p.stratum),
            (0, 4, Mode::SERVER, 8)
        );
        assert_eq!(p.reference_id, [127, 127, 1, 1]);
        assert_eq!(p.precision, -25);
        assert_eq!(p.origin_ts, req.transmit_ts);
        assert_eq!(p.transmit_ts.unix_nanos(), Some(1_795_580_133_581_229_740));
        assert_eq!(p.trailing_len, 0);
    }

    #[test]
    fn bytes_after_the_header_are_counted_not_rejected() {
        let p = parse(&hex(REQUEST_WITH_TRAILER)).unwrap();
        assert_eq!(p.trailing_len, 4);
        assert_eq!(p.mode, Mode::CLIENT);
    }

    #[test]
    fn short_datagrams_and_bad_versions_are_errors() {
        assert_eq!(parse(&[0x23; 47]), Err(Error::TooShort { len: 47 }));
        let mut b = hex(NTPDIG_REQUEST);
        b[0] = 0x03; // version 0
        assert_eq!(parse(&b), Err(Error::BadVersion { version: 0 }));
    }

    #[test]
    fn seconds_with_top_bit_clear_are_read_as_era_one() {
        // 2036-02-07T06:28:16Z is the first second of era 1 (NTP seconds 0 again).
        assert_eq!(
            Timestamp(1).unix_nanos(),
            Some(2_085_978_496 * 1_000_000_000)
        );
        // 1968-01-20T03:14:08Z, the first era-0 second with the top bit set, stays in era 0.
        assert_eq!(
            Timestamp(0x8000_0000_u64 << 32).unix_nanos(),
            Some((0x8000_0000_i64 - NTP_UNIX_OFFSET_SECS) * 1_000_000_000)
        );
        assert_eq!(Timestamp(0).unix_nanos(), None);
    }

    #[test]
    fn short_format_converts_to_nanoseconds() {
        assert_eq!(Short(0x0001_8000).nanos(), 1_500_000_000);
    }

    #[test]
    fn a_reply_pairs_with_the_request_whose_transmit_it_echoes() {
        let mut pairer = Pairer::new();
        let req = parse(&hex(NTPDIG_REQUEST)).unwrap();
        let rep = parse(&hex(CHRONY_REPLY)).unwrap();
        // Capture times of frames 1 and 2 (tests/data/ntp.tsv).
        assert_eq!(pairer.push(&req, 1_795_580_133_581_111_000), None);
        let x = pairer.push(&rep, 1_795_580_133_581_241_000).unwrap();
        assert!(!x.client_transmit_randomized);
        // tshark: ntp.rec of frame 2 is Nov 25, 2026 04:15:33.581111221 UTC.
        assert_eq!(x.server_receive_ns, 1_795_580_133_581_111_221);
        assert!(x.delay_ns() > 0 && x.delay_ns() < 1_000_000, "{x:?}");
        assert!(x.offset_ns().abs() < 1_000_000, "{x:?}");
        assert_eq!(pairer.pending(), 0);
    }

    #[test]
    fn a_randomised_client_transmit_still_pairs_and_is_flagged() {
        let mut pairer = Pairer::new();
        let req = parse(&hex(CHRONY_CLIENT_RANDOM_REQUEST)).unwrap();
        let rep = parse(&hex(CHRONY_REPLY_TO_RANDOM)).unwrap();
        pairer.push(&req, 1_795_580_134_523_000_000);
        let x = pairer.push(&rep, 1_795_580_134_524_000_000).unwrap();
        assert!(x.client_transmit_randomized);
        assert_eq!(x.request_capture_ns, 1_795_580_134_523_000_000);
    }

    #[test]
    fn an_unmatched_reply_is_counted() {
        let mut pairer = Pairer::new();
        let rep = parse(&hex(CHRONY_REPLY)).unwrap();
        assert_eq!(pairer.push(&rep, 0), None);
        assert_eq!(pairer.anomalies(), &[("ntp.reply_unmatched", 1)]);
    }

    #[test]
    fn pending_requests_are_bounded() {
        let mut pairer = Pairer::new();
        let mut req = parse(&hex(NTPDIG_REQUEST)).unwrap();
        for i in 0..(MAX_PENDING_REQUESTS as u64 + 10) {
            req.transmit_ts = Timestamp(i + 1);
            pairer.request(&req, 0);
        }
        assert_eq!(pairer.pending(), MAX_PENDING_REQUESTS);
        assert_eq!(
            pairer.anomalies(),
            &[("ntp.request_unanswered_evicted", 10)]
        );
    }
}
