//! `lagtap inspect`: what is in a capture — format, link types, time span, anomalies,
//! and every flow with its protocol and reassembly counters.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::anomalies::Anomalies;
use crate::capture::CaptureError;
use crate::flow::detect::{detect, Verdict, DETECT_PREFIX};
use crate::flow::{Chunk, Dir, FlowHandler, FlowMeta, Protocol, TransportKind};
use crate::pipeline::run_file;
use crate::time::Timestamp;

#[derive(Debug, Serialize)]
pub struct InspectReport {
    pub files: Vec<FileReport>,
}

#[derive(Debug, Serialize)]
pub struct FileReport {
    pub path: String,
    pub format: String,
    pub link_types: Vec<String>,
    pub packets: u64,
    /// Nanoseconds since the epoch.
    pub first_time: Option<i64>,
    pub last_time: Option<i64>,
    pub comments: Vec<String>,
    pub anomalies: Anomalies,
    pub flows: Vec<FlowRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowRow {
    pub id: u64,
    pub transport: TransportKind,
    pub protocol: Protocol,
    pub client: String,
    pub server: String,
    pub c2s_bytes: u64,
    pub s2c_bytes: u64,
    pub c2s_packets: u64,
    pub s2c_packets: u64,
    pub retransmissions: u64,
    /// Segments that filled a hole below data already seen (see `HalfStats`).
    pub hole_fills: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub out_of_order: u64,
    pub conflicting_overlaps: u64,
    pub zero_windows: u64,
    pub saw_syn: bool,
    pub first_time: i64,
    pub last_time: i64,
    /// A TLS flow's handshake as its first bytes show it (no keys needed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsHello>,
}

/// What a TLS flow's hellos say: enough to tell HTTPS from chat over TLS from RTMPS
/// and to know which key log a flow needs.
#[derive(Debug, Clone, Serialize)]
pub struct TlsHello {
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    pub alpn: Option<String>,
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
}

/// The hellos in a TLS flow's first bytes: the client's, then the server's, through
/// the same record and handshake reading `decode` uses, with no keys.
/// With the session's keys the server's choice of ALPN (in TLS 1.3's encrypted
/// EncryptedExtensions) is known too.
fn tls_hello(prefixes: &Prefixes, keylog: &std::sync::Arc<tls_decrypt::KeyLog>) -> TlsHello {
    use tls_decrypt::{Direction, Session};
    let mut s = Session::new(keylog.clone());
    for (dir, bytes) in [
        (Direction::ClientToServer, &prefixes.bytes[0]),
        (Direction::ServerToClient, &prefixes.bytes[1]),
    ] {
        s.feed(dir, 0, bytes);
    }
    let i = s.info();
    TlsHello {
        sni: i.sni.clone(),
        alpn_offered: i.alpn_offered.clone(),
        alpn: i.alpn.clone(),
        version: i.version.map(crate::decode::tls_version_name),
        cipher_suite: i.cipher_suite.map(tls_decrypt::suite_name),
    }
}

/// Keeps the first bytes of each direction for protocol detection.
#[derive(Default)]
pub struct Prefixes {
    bytes: [Vec<u8>; 2],
    /// Next expected offset per direction; a gap before the prefix is full ends it.
    complete: [bool; 2],
}

impl Prefixes {
    fn take(&mut self, dir: Dir, chunk: &Chunk<'_>) {
        let buf = &mut self.bytes[dir.index()];
        if self.complete[dir.index()] || buf.len() >= DETECT_PREFIX {
            return;
        }
        let room = DETECT_PREFIX - buf.len();
        buf.extend_from_slice(&chunk.data[..chunk.data.len().min(room)]);
    }
}

/// The flow consumer behind `inspect`: detection prefixes in, one row per flow out.
#[derive(Default)]
pub struct InspectHandler {
    pub rows: Vec<FlowRow>,
    /// Secrets for TLS flows (`--keylog`, a key log beside the file, its secrets
    /// blocks): only the hellos are read, so keys only add the server's ALPN.
    pub keylog: std::sync::Arc<tls_decrypt::KeyLog>,
}

impl FlowHandler for InspectHandler {
    type State = Prefixes;

    fn open(&mut self, _meta: &FlowMeta) -> Prefixes {
        Prefixes::default()
    }

    fn data(&mut self, st: &mut Prefixes, _meta: &FlowMeta, dir: Dir, chunk: Chunk<'_>) {
        st.take(dir, &chunk);
    }

    fn gap(&mut self, st: &mut Prefixes, _meta: &FlowMeta, dir: Dir, _offset: u64, _len: u64) {
        st.complete[dir.index()] = true;
    }

    fn end(&mut self, _st: &mut Prefixes, _meta: &FlowMeta, _dir: Dir, _offset: u64) {}

    fn datagram(
        &mut self,
        st: &mut Prefixes,
        _meta: &FlowMeta,
        dir: Dir,
        _ts: Timestamp,
        payload: &[u8],
    ) {
        let buf = &mut st.bytes[dir.index()];
        if buf.is_empty() {
            buf.extend_from_slice(&payload[..payload.len().min(DETECT_PREFIX)]);
        }
    }

    fn close(&mut self, st: Prefixes, meta: &FlowMeta) {
        let protocol = match detect(
            meta.transport,
            meta.server.port(),
            &st.bytes[0],
            &st.bytes[1],
            true,
        ) {
            Verdict::Is(p) => p,
            Verdict::NeedMore => Protocol::Unknown,
        };
        let [c, s] = &meta.stats;
        self.rows.push(FlowRow {
            id: meta.id,
            transport: meta.transport,
            protocol,
            client: meta.client.to_string(),
            server: meta.server.to_string(),
            c2s_bytes: c.bytes,
            s2c_bytes: s.bytes,
            c2s_packets: meta.packets[0],
            s2c_packets: meta.packets[1],
            retransmissions: c.retransmissions + s.retransmissions,
            hole_fills: c.hole_fills + s.hole_fills,
            gaps: c.gaps + s.gaps,
            gap_bytes: c.gap_bytes + s.gap_bytes,
            out_of_order: c.out_of_order + s.out_of_order,
            conflicting_overlaps: c.conflicting_overlaps + s.conflicting_overlaps,
            zero_windows: c.zero_windows + s.zero_windows,
            saw_syn: meta.saw_syn,
            first_time: meta.first_time.0,
            last_time: meta.last_time.0,
            tls: (protocol == Protocol::Tls).then(|| tls_hello(&st, &self.keylog)),
        });
    }
}

pub fn inspect_file(path: &Path) -> Result<FileReport, CaptureError> {
    inspect_file_with(path, &tls_decrypt::KeyLog::default())
}

/// [`inspect_file`] with the `--keylog` secrets besides the capture's own.
pub fn inspect_file_with(
    path: &Path,
    keylog: &tls_decrypt::KeyLog,
) -> Result<FileReport, CaptureError> {
    let keylog = crate::decode::keys::for_capture(path, keylog);
    let handler = InspectHandler {
        keylog,
        ..InspectHandler::default()
    };
    let run = run_file(path, handler)?;
    let mut flows = run.handler.rows;
    flows.sort_by_key(|r| r.id);
    Ok(FileReport {
        path: path.display().to_string(),
        format: run.info.format,
        link_types: run.info.link_types.into_iter().collect(),
        packets: run.info.packets,
        first_time: run.info.first_time.map(|t| t.0),
        last_time: run.info.last_time.map(|t| t.0),
        comments: run.info.comments,
        anomalies: run.anomalies,
        flows,
    })
}

/// The anomaly reasons that each stand for one packet lagtap could not use, with
/// what such packets are, in words.
const UNUSED_PACKETS: &[(&str, &str)] = &[
    ("unused.not_ip", "not IP (ARP, LLDP, ...)"),
    ("unused.other_transport", "neither TCP nor UDP (ICMP, ...)"),
    ("unknown_link_type", "of a link type lagtap does not read"),
    ("malformed_packet", "with unreadable headers"),
    (
        "truncated_transport_header",
        "cut inside their TCP/UDP header",
    ),
    ("wlan.management", "802.11 management frames"),
    ("wlan.control", "802.11 control frames"),
    ("wlan.extension", "802.11 extension frames"),
    (
        "wlan.no_data",
        "802.11 data frames without data (Null, QoS Null, ...)",
    ),
    ("wlan.protected", "encrypted 802.11 frames"),
    ("wlan.not_llc_snap", "802.11 data frames without LLC/SNAP"),
    ("wlan.bad_fcs", "802.11 frames that failed their FCS check"),
    (
        "wlan.unknown_version",
        "802.11 frames of an unknown version",
    ),
    ("nflog.no_payload", "NFLOG records without the packet"),
    ("gtpu.signalling", "GTP-U signalling"),
    ("tunnel.too_deep", "tunnels nested too deep"),
    ("ip_fragment.cut", "IP fragments cut by the snapshot length"),
    ("ip_fragment.bad", "IP fragments that fit no datagram"),
    ("packet_before_header", "before the file header"),
    (
        "unknown_interface",
        "of an interface the file never described",
    ),
];

/// Reasons that stop reading a file: what the warning says of each.
const DAMAGE: &[(&str, &str)] = &[
    (
        "truncated_file",
        "it ends inside a packet record (cut short)",
    ),
    ("corrupt_block", "a corrupt block stopped reading"),
    ("read_error", "a read error stopped reading"),
    (
        "oversized_block",
        "a block too large for a packet stopped reading",
    ),
    (
        "compressed_stream_truncated",
        "its compressed stream is cut short",
    ),
    (
        "compressed_stream_corrupt",
        "its compressed stream is corrupt",
    ),
];

/// The share of unused packets from which a file gets a warning.
const UNUSED_WARNING_SHARE: f64 = 0.10;

impl FileReport {
    /// Packets lagtap could not use, by what they are, most first.
    pub fn unused_packets(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = UNUSED_PACKETS
            .iter()
            .map(|(reason, what)| (*what, self.anomalies.get(reason)))
            .filter(|(_, n)| *n > 0)
            .collect();
        v.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        v
    }

    /// One line each for a damaged file and for a file of which a sizeable share of
    /// packets went unused (what `inspect` prints on stderr).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let damage: Vec<&str> = DAMAGE
            .iter()
            .filter(|(reason, _)| self.anomalies.get(reason) > 0)
            .map(|(_, what)| *what)
            .collect();
        if !damage.is_empty() {
            out.push(format!(
                "warning: {}: damaged: {}; read up to there",
                self.path,
                damage.join(", ")
            ));
        }
        let unused = self.unused_packets();
        let total: u64 = unused.iter().map(|(_, n)| n).sum();
        if self.packets > 0 && total as f64 >= UNUSED_WARNING_SHARE * self.packets as f64 {
            let pct = |n: u64| 100.0 * n as f64 / self.packets as f64;
            let parts: Vec<String> = unused
                .iter()
                .take(3)
                .map(|(what, n)| format!("{:.0}% {what}", pct(*n)))
                .collect();
            let unknown: Vec<&str> = self
                .link_types
                .iter()
                .filter(|l| l.starts_with("LINKTYPE_"))
                .map(String::as_str)
                .collect();
            let link = if unknown.is_empty() {
                String::new()
            } else {
                format!(" (unread link types: {})", unknown.join(", "))
            };
            out.push(format!(
                "warning: {}: {:.0}% of packets ({total} of {}) were of no use to lagtap: {}{}{link}",
                self.path,
                pct(total),
                self.packets,
                parts.join(", "),
                if unused.len() > 3 { ", ..." } else { "" },
            ));
        }
        out
    }
}

/// Each file's [`FileReport::warnings`], a line each.
pub fn write_warnings(err: &mut dyn Write, report: &InspectReport) -> io::Result<()> {
    for f in &report.files {
        for w in f.warnings() {
            writeln!(err, "{w}")?;
        }
    }
    Ok(())
}

/// The human table.
pub fn write_table(out: &mut dyn Write, report: &InspectReport) -> io::Result<()> {
    for f in &report.files {
        writeln!(out, "{}", f.path)?;
        writeln!(
            out,
            "  format {}  link {}  packets {}",
            f.format,
            f.link_types.join(","),
            f.packets
        )?;
        if let (Some(a), Some(b)) = (f.first_time, f.last_time) {
            writeln!(
                out,
                "  from {}  to {}  ({:.3} s)",
                Timestamp(a),
                Timestamp(b),
                Timestamp(b).secs_since(Timestamp(a))
            )?;
        }
        for c in &f.comments {
            writeln!(out, "  comment: {c}")?;
        }
        if !f.anomalies.is_empty() {
            let list: Vec<String> = f
                .anomalies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            writeln!(out, "  anomalies: {}", list.join(" "))?;
        }
        writeln!(
            out,
            "  {:>4} {:<4} {:<9} {:<28} {:<28} {:>12} {:>12} {:>8} {:>8} {:>6} {:>5} {:>9}",
            "id",
            "l4",
            "protocol",
            "client",
            "server",
            "c2s bytes",
            "s2c bytes",
            "c2s pkts",
            "s2c pkts",
            "retx",
            "gaps",
            "duration"
        )?;
        for r in &f.flows {
            writeln!(
                out,
                "  {:>4} {:<4} {:<9} {:<28} {:<28} {:>12} {:>12} {:>8} {:>8} {:>6} {:>5} {:>8.3}s",
                r.id,
                match r.transport {
                    TransportKind::Tcp => "tcp",
                    TransportKind::Udp => "udp",
                },
                r.protocol.name(),
                r.client,
                r.server,
                r.c2s_bytes,
                r.s2c_bytes,
                r.c2s_packets,
                r.s2c_packets,
                r.retransmissions,
                r.gaps,
                Timestamp(r.last_time).secs_since(Timestamp(r.first_time)),
            )?;
            if let Some(t) = &r.tls {
                let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                writeln!(
                    out,
                    "       tls: sni {}  alpn {} (offered {})  {}  {}",
                    or(&t.sni),
                    or(&t.alpn),
                    if t.alpn_offered.is_empty() {
                        "-".to_string()
                    } else {
                        t.alpn_offered.join(",")
                    },
                    or(&t.version),
                    or(&t.cipher_suite)
                )?;
            }
        }
    }
    Ok(())
}
