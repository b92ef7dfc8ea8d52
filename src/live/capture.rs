//! `lagtap capture`: libpcap interface → pcapng files that carry their own context.
//!
//! Every file starts with a section comment naming the host, its role, lagtap's
//! version, the OS and the clock's sync state, and ends with an interface statistics
//! block (received, dropped by the kernel, dropped by the interface). With `--ntp`
//! the capture sends its own NTP queries so each file holds clock evidence that
//! `lagtap correlate` turns into the host's offset.
//!
//! Durability: complete blocks are handed to the kernel at least every second (or
//! every 1000 packets), so a capture killed hard is readable up to its last flush;
//! SIGINT/SIGTERM end the capture cleanly (statistics block written, file closed);
//! a write error (disk full, permission) cuts the file back to its last complete
//! block and says so.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use pcap::{Active, Capture, Device, Precision};

use super::pcapng_writer::{InterfaceInfo, InterfaceStats, PcapngWriter, SectionInfo};
use super::HostFacts;
use crate::capture::Packet;
use crate::link::{self, Transport};
use crate::time::Timestamp;

/// RTMP (1935), RTMPS (443, 1936), HTTP(S) and WebSocket chat (80, 443, 8080), IRC
/// (6667, 6697) and NTP (udp 123).
pub const DEFAULT_FILTER: &str = "tcp port 1935 or tcp port 1936 or tcp port 443 or tcp port 80 \
     or tcp port 8080 or tcp port 6667 or tcp port 6697 or udp port 123";

/// Complete blocks reach the kernel at least this often...
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// ...and after this many packets...
const FLUSH_PACKETS: u64 = 1000;
/// ...or this many buffered bytes.
const FLUSH_BYTES: usize = 1 << 20;
/// Packets read back to back before the loop looks at the clock and the stop flag.
const BURST: usize = 256;
/// libpcap read timeout: how often the loop looks at the clock and the stop flag.
const READ_TIMEOUT_MS: i32 = 100;

/// How to open an interface.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    pub interface: String,
    pub filter: String,
    pub snaplen: i32,
    /// Kernel buffer in bytes.
    pub buffer_size: i32,
    pub promisc: bool,
}

/// An open libpcap capture in immediate mode with nanosecond timestamps.
pub struct LiveSource {
    cap: Capture<Active>,
    pub link_type: i32,
    pub options: SourceOptions,
    /// The last read returned a packet, so more may be waiting without a poll.
    pending: bool,
}

impl LiveSource {
    pub fn open(o: &SourceOptions) -> anyhow::Result<Self> {
        let cap = Capture::from_device(o.interface.as_str())
            .with_context(|| format!("interface {}", o.interface))?
            .snaplen(o.snaplen)
            .buffer_size(o.buffer_size)
            .promisc(o.promisc)
            .immediate_mode(true)
            .timeout(READ_TIMEOUT_MS)
            // Linux libpcap (>= 1.5) delivers nanoseconds on every capture type; the
            // pcap crate gives no way to read the precision back, so lagtap capture
            // is documented as Linux-only for now.
            .precision(Precision::Nano);
        let cap = cap.open().map_err(|e| match e {
            pcap::Error::PcapError(ref m) if m.contains("ermission") => anyhow::anyhow!(
                "cannot capture on {}: {m} (run as root or give the binary cap_net_raw,cap_net_admin)",
                o.interface
            ),
            e => anyhow::anyhow!("cannot capture on {}: {e}", o.interface),
        })?;
        // Non-blocking reads plus our own poll(2): libpcap's read timeout does not
        // fire in immediate mode on Linux, and the loop must see SIGINT and the clock.
        let mut cap = cap
            .setnonblock()
            .with_context(|| format!("non-blocking mode on {}", o.interface))?;
        cap.filter(&o.filter, true)
            .with_context(|| format!("BPF filter {:?}", o.filter))?;
        let link_type = cap.get_datalink().0;
        Ok(LiveSource {
            cap,
            link_type,
            options: o.clone(),
            pending: false,
        })
    }

    /// The next packet, or `None` when none came within the read timeout (100 ms).
    pub fn next_packet(&mut self) -> anyhow::Result<Option<(Timestamp, &[u8], u32)>> {
        if !self.ready()? {
            return Ok(None);
        }
        match self.cap.next_packet() {
            Ok(p) => {
                // `time_t`/`suseconds_t` are i64 on 64-bit Linux, narrower elsewhere.
                #[allow(clippy::unnecessary_cast)]
                let ts = p.header.ts.tv_sec as i64 * Timestamp::NANOS_PER_SEC
                    + p.header.ts.tv_usec as i64;
                Ok(Some((Timestamp(ts), p.data, p.header.len)))
            }
            // Nothing (left) to read: poll again next time.
            Err(pcap::Error::TimeoutExpired) => {
                self.pending = false;
                Ok(None)
            }
            Err(e) => Err(anyhow::anyhow!(
                "reading from {}: {e}",
                self.options.interface
            )),
        }
    }

    /// Whether a packet may be waiting: the last read found one, or poll(2) says so
    /// within the read timeout.
    fn ready(&mut self) -> anyhow::Result<bool> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        if self.pending {
            return Ok(true);
        }
        let mut fds = [PollFd::new(self.cap.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(READ_TIMEOUT_MS as u16)) {
            Ok(n) => {
                self.pending = n > 0;
                Ok(n > 0)
            }
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(anyhow::anyhow!("poll on {}: {e}", self.options.interface)),
        }
    }

    pub fn stats(&mut self) -> Option<pcap::Stat> {
        self.cap.stats().ok()
    }

    pub fn link(&self) -> pcap_parser::Linktype {
        pcap_parser::Linktype(self.link_type)
    }
}

/// Set by SIGINT/SIGTERM (a handler installed once per process).
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    if let Some(f) = FLAG.get() {
        return Ok(f.clone());
    }
    let f = Arc::new(AtomicBool::new(false));
    let g = f.clone();
    ctrlc::set_handler(move || g.store(true, Ordering::SeqCst))
        .context("installing the SIGINT/SIGTERM handler")?;
    let _ = FLAG.set(f.clone());
    Ok(f)
}

/// `--list-interfaces`: name, description, addresses.
pub fn list_interfaces(out: &mut impl std::io::Write) -> anyhow::Result<()> {
    for d in Device::list().context("listing interfaces")? {
        let addrs: Vec<String> = d.addresses.iter().map(|a| a.addr.to_string()).collect();
        writeln!(
            out,
            "{}\t{}\t{}",
            d.name,
            d.desc.as_deref().unwrap_or(""),
            addrs.join(" ")
        )?;
    }
    Ok(())
}

/// Everything `lagtap capture` was asked to do.
#[derive(Clone, Debug)]
pub struct CaptureOptions {
    pub source: SourceOptions,
    pub output: PathBuf,
    pub duration: Option<Duration>,
    pub packets: Option<u64>,
    pub rotate_size: Option<u64>,
    pub rotate_time: Option<Duration>,
    pub ntp: Option<String>,
    pub ntp_interval: Duration,
    pub role: Option<String>,
    /// A key log a client is writing: its new lines go into the capture as
    /// Decryption Secrets Blocks as they appear.
    pub keylog: Option<PathBuf>,
}

/// What a capture did, printed at its end.
#[derive(Clone, Debug, Default)]
pub struct CaptureSummary {
    pub files: Vec<PathBuf>,
    pub packets: u64,
    pub bytes: u64,
    pub received: u64,
    pub kernel_dropped: u64,
    pub if_dropped: u64,
    pub ntp_queries: u64,
    /// Decryption Secrets Blocks written (`--keylog`).
    pub secrets_blocks: u64,
    pub interrupted: bool,
}

/// One output file being written.
struct Output {
    path: PathBuf,
    writer: PcapngWriter<File>,
    opened: Instant,
}

/// Where the output goes: one file, or numbered files when rotating.
struct Outputs {
    base: PathBuf,
    rotating: bool,
    index: u32,
    section: SectionInfo,
    iface: InterfaceInfo,
    current: Option<Output>,
    files: Vec<PathBuf>,
}

impl Outputs {
    fn path_for(&self, index: u32) -> PathBuf {
        if !self.rotating {
            return self.base.clone();
        }
        numbered(&self.base, index)
    }

    fn open_next(&mut self) -> anyhow::Result<()> {
        self.index += 1;
        let path = self.path_for(self.index);
        let file = File::create(&path).map_err(|e| write_error(&path, &e))?;
        let mut writer = PcapngWriter::new(file, &self.section);
        writer.add_interface(&self.iface);
        writer.flush().map_err(|e| write_error(&path, &e))?;
        self.files.push(path.clone());
        self.current = Some(Output {
            path,
            writer,
            opened: Instant::now(),
        });
        Ok(())
    }

    fn out(&mut self) -> &mut Output {
        self.current
            .as_mut()
            .expect("an output is open while capturing")
    }

    /// Flushes; on failure cuts the file back to its last complete block.
    fn flush(&mut self) -> anyhow::Result<()> {
        let o = self.out();
        if let Err(e) = o.writer.flush() {
            let good = o.writer.durable_len();
            let _ = o.writer.get_ref().set_len(good);
            let err = write_error(&o.path, &e);
            return Err(err.context(format!(
                "{} is valid up to its last complete block ({good} bytes)",
                o.path.display()
            )));
        }
        Ok(())
    }

    /// Writes the statistics block and closes the current file.
    fn close(&mut self, stats: &InterfaceStats, comment: &str, now_ns: i64) -> anyhow::Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        self.out().writer.stats(0, now_ns, stats, Some(comment));
        self.flush()?;
        let o = self.current.take().expect("checked above");
        let _ = o.writer.get_ref().sync_all();
        Ok(())
    }
}

/// `FILE.pcapng` → `FILE-00001.pcapng`.
pub fn numbered(base: &Path, index: u32) -> PathBuf {
    let name = base
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("capture.pcapng");
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    base.with_file_name(format!("{stem}-{index:05}{ext}"))
}

fn write_error(path: &Path, e: &std::io::Error) -> anyhow::Error {
    let what = match e.kind() {
        std::io::ErrorKind::StorageFull => "disk full",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "write failed",
    };
    anyhow::anyhow!("{what}: {}: {e}", path.display())
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// How often `--keylog` is looked at: clients write a session's secrets as its
/// handshake ends, and a quarter second keeps them near their packets.
const KEYLOG_POLL: Duration = Duration::from_millis(250);

/// Runs a capture until `--duration`, `--packets` or SIGINT/SIGTERM.
pub fn run_capture(o: &CaptureOptions) -> anyhow::Result<CaptureSummary> {
    if o.rotate_size == Some(0) {
        bail!("--rotate-size must be more than 0");
    }
    let stop = stop_flag()?;
    let mut src = LiveSource::open(&o.source)?;
    let facts = HostFacts::gather(o.role.clone());
    let section = SectionInfo {
        comments: facts.comments(),
        hardware: None,
        os: Some(facts.os.clone()),
        user_application: Some(facts.version.clone()),
    };
    let link_type = u16::try_from(src.link_type)
        .with_context(|| format!("link type {} does not fit pcapng", src.link_type))?;
    let iface = InterfaceInfo {
        link_type,
        snaplen: o.source.snaplen.max(0) as u32,
        name: Some(o.source.interface.clone()),
        description: None,
        filter: Some(o.source.filter.clone()),
    };
    let start_ns = now_ns();
    let mut outs = Outputs {
        base: o.output.clone(),
        rotating: o.rotate_size.is_some() || o.rotate_time.is_some(),
        index: 0,
        section,
        iface,
        current: None,
        files: Vec::new(),
    };
    outs.open_next()?;

    let ntp_socket = match &o.ntp {
        Some(_) => Some(
            std::net::UdpSocket::bind("0.0.0.0:0")
                .or_else(|_| std::net::UdpSocket::bind("[::]:0"))
                .context("opening a UDP socket for --ntp")?,
        ),
        None => None,
    };
    let mut keys = o
        .keylog
        .clone()
        .map(super::keylog_follower::KeyLogFollower::new);
    let mut next_keys = Instant::now();
    let mut summary = CaptureSummary::default();
    let started = Instant::now();
    let mut last_flush = Instant::now();
    let mut since_flush = 0u64;
    let mut next_ntp = Instant::now();
    let progress = std::io::stderr().is_terminal();
    let mut live = LiveStats::default();
    let mut last_progress = Instant::now();
    let link_type = src.link_type;

    let result = (|| -> anyhow::Result<()> {
        loop {
            if stop.load(Ordering::SeqCst) {
                summary.interrupted = true;
                return Ok(());
            }
            if o.duration.is_some_and(|d| started.elapsed() >= d)
                || o.packets.is_some_and(|n| summary.packets >= n)
            {
                return Ok(());
            }
            if let (Some(server), Some(sock)) = (&o.ntp, &ntp_socket) {
                if Instant::now() >= next_ntp {
                    match super::ntp_probe(sock, server) {
                        Ok(()) => summary.ntp_queries += 1,
                        Err(e) => eprintln!("lagtap capture: NTP query to {server}: {e}"),
                    }
                    next_ntp = Instant::now() + o.ntp_interval;
                }
            }
            // Read what is waiting in one go (up to BURST packets), then look at the
            // clock once: per-packet bookkeeping is what costs drops at high rates.
            for _ in 0..BURST {
                let Some((ts, data, orig_len)) = src.next_packet()? else {
                    break;
                };
                let out = outs.out();
                out.writer.packet(0, ts.0, data, orig_len);
                summary.packets += 1;
                summary.bytes += u64::from(orig_len);
                since_flush += 1;
                if progress {
                    live.packet(link_type, ts, data, orig_len);
                }
                if o.packets.is_some_and(|n| summary.packets >= n)
                    || o.rotate_size.is_some_and(|s| out.writer.len() >= s)
                {
                    break;
                }
            }
            let rotate = {
                let out = outs.out();
                o.rotate_size.is_some_and(|s| out.writer.len() >= s)
                    || o.rotate_time.is_some_and(|t| out.opened.elapsed() >= t)
            };
            // New secrets go in right away: a reader uses a secret wherever it sits,
            // but a block near its handshake survives a capture cut short.
            if let Some(k) = keys.as_mut().filter(|_| Instant::now() >= next_keys) {
                match k.poll() {
                    Ok(lines) if !lines.is_empty() => {
                        outs.out().writer.secrets(&lines);
                        summary.secrets_blocks += 1;
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("lagtap capture: reading --keylog: {e}"),
                }
                next_keys = Instant::now() + KEYLOG_POLL;
            }
            if rotate {
                let (stats, comment) = stats_now(&mut src, start_ns, &summary);
                outs.close(&stats, &comment, now_ns())?;
                outs.open_next()?;
                // Each file stands alone: it gets every secret seen so far.
                if let Some(k) = keys.as_ref().filter(|k| !k.all().is_empty()) {
                    outs.out().writer.secrets(k.all());
                    summary.secrets_blocks += 1;
                }
                last_flush = Instant::now();
                since_flush = 0;
            } else if since_flush >= FLUSH_PACKETS
                || last_flush.elapsed() >= FLUSH_EVERY
                || outs.out().writer.buffered() >= FLUSH_BYTES
            {
                outs.flush()?;
                last_flush = Instant::now();
                since_flush = 0;
            }
            if progress && last_progress.elapsed() >= Duration::from_secs(1) {
                let s = src.stats();
                eprint!("\r\x1b[K{}", live.line(&summary, s));
                last_progress = Instant::now();
            }
        }
    })();
    if progress {
        eprintln!();
    }
    let (stats, comment) = stats_now(&mut src, start_ns, &summary);
    summary.received = stats.received.unwrap_or(0);
    summary.kernel_dropped = stats.os_dropped.unwrap_or(0);
    summary.if_dropped = stats.if_dropped.unwrap_or(0);
    let closed = outs.close(&stats, &comment, now_ns());
    summary.files = outs.files;
    result?;
    closed?;
    Ok(summary)
}

fn stats_now(src: &mut LiveSource, start_ns: i64, s: &CaptureSummary) -> (InterfaceStats, String) {
    let st = src.stats();
    let stats = InterfaceStats {
        start_ns: Some(start_ns),
        end_ns: Some(now_ns()),
        received: st.map(|x| u64::from(x.received)),
        if_dropped: st.map(|x| u64::from(x.if_dropped)),
        os_dropped: st.map(|x| u64::from(x.dropped)),
        delivered: Some(s.packets),
    };
    let comment = match st {
        Some(x) => format!(
            "lagtap capture statistics since start: received {}, dropped by kernel {}, dropped by interface {}, written {}",
            x.received, x.dropped, x.if_dropped, s.packets
        ),
        None => format!("lagtap capture statistics: written {}", s.packets),
    };
    (stats, comment)
}

/// Counts for the terminal status line: flows by protocol, guessed from ports (the
/// decoder's content-based detection is too much work for the capture loop).
#[derive(Default)]
struct LiveStats {
    flows: HashSet<(bool, SocketAddr, SocketAddr)>,
    by_protocol: BTreeMap<&'static str, u64>,
}

/// Flows remembered for the status line; beyond this new flows are not counted.
const MAX_STATUS_FLOWS: usize = 100_000;

impl LiveStats {
    fn packet(&mut self, link_type: i32, ts: Timestamp, data: &[u8], orig_len: u32) {
        let p = Packet {
            ts,
            link_type: pcap_parser::Linktype(link_type),
            data,
            orig_len,
        };
        let (udp, a, b) = match link::decode(p.link_type, p.data) {
            Ok(Transport::Tcp(t)) => (false, t.src, t.dst),
            Ok(Transport::Udp(u)) => (true, u.src, u.dst),
            // A fragment says no more than its datagram will, once reassembled.
            Ok(Transport::Fragment(_)) | Err(_) => return,
        };
        let key = if a <= b { (udp, a, b) } else { (udp, b, a) };
        if self.flows.len() >= MAX_STATUS_FLOWS || !self.flows.insert(key) {
            return;
        }
        *self
            .by_protocol
            .entry(port_protocol(udp, a.port(), b.port()))
            .or_default() += 1;
    }

    fn line(&self, s: &CaptureSummary, st: Option<pcap::Stat>) -> String {
        let flows: Vec<String> = self
            .by_protocol
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        let drops = st.map_or("?".to_string(), |x| {
            format!("{} kernel, {} interface", x.dropped, x.if_dropped)
        });
        format!(
            "{} packets, {:.1} MB, drops: {drops}, flows: {}",
            s.packets,
            s.bytes as f64 / 1e6,
            if flows.is_empty() {
                "none".to_string()
            } else {
                flows.join(", ")
            }
        )
    }
}

fn port_protocol(udp: bool, a: u16, b: u16) -> &'static str {
    let of = |p: u16| match (udp, p) {
        (true, 123) => Some("ntp"),
        (false, 1935) => Some("rtmp"),
        (false, 443) | (false, 1936) => Some("tls"),
        (false, 80) | (false, 8080) => Some("http"),
        (false, 6667) | (false, 6697) => Some("irc"),
        _ => None,
    };
    of(a).or(of(b)).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_files_are_numbered_before_the_extension() {
        assert_eq!(
            numbered(Path::new("/tmp/v.pcapng"), 1),
            PathBuf::from("/tmp/v-00001.pcapng")
        );
        assert_eq!(numbered(Path::new("cap"), 12), PathBuf::from("cap-00012"));
    }

    #[test]
    fn status_line_names_flows_by_port() {
        assert_eq!(port_protocol(false, 51000, 1935), "rtmp");
        assert_eq!(port_protocol(true, 123, 40000), "ntp");
        assert_eq!(port_protocol(false, 5, 6), "other");
    }
}
