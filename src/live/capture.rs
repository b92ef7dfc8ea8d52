//! `lagtap capture`: libpcap interface → pcapng files that carry their own context.
//!
//! Every file starts with a section comment naming the host, its role, lagtap's
//! version, the OS and the clock's sync state, and ends with an interface statistics
//! block (received, dropped by the kernel, dropped by the interface). With `--ntp`
//! the capture sends its own NTP queries so each file holds clock evidence that
//! `lagtap correlate` turns into the host's offset.
//!
//! Two threads, so that nothing slow sits between the kernel's ring and the next
//! read. The capture thread takes packets from a TPACKET_V3 ring in batches
//! (`pcap_dispatch`, no system call per packet), encodes them as pcapng packet blocks
//! and hands each batch to the writer thread over a queue bounded in bytes; when the
//! writer falls that far behind, the batch is dropped and counted ("dropped by
//! lagtap"), so memory stays bounded and the capture never stalls on the disk. The
//! writer thread owns the files: flushes, rotation, key log blocks, statistics blocks.
//!
//! Durability: complete blocks are handed to the kernel at least every second (or
//! every 1000 packets, or 1 MiB), so a capture killed hard is readable up to its last
//! flush; SIGINT/SIGTERM end the capture cleanly (statistics block written, file
//! closed). Before each flush the writer reserves the flush's bytes plus 64 KiB past
//! the end of the file (`fallocate`, keeping the file's size), so when the disk fills
//! the reservation fails before any write does: the file ends on its last complete
//! packet block and there is still room for the statistics block that says how many
//! packets were lost. Where the file system cannot reserve, a failed write is cut
//! back to the last complete block instead.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::pcapng_writer::{
    encode_packet, InterfaceInfo, InterfaceStats, PacketCount, PcapngWriter, SectionInfo,
};
use super::source::READ_TIMEOUT_MS;
pub use super::source::{list_interfaces, stop_flag, LiveSource, SourceOptions};
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
/// Packets one `pcap_dispatch` hands over at most: bounds a batch even when every
/// packet is a 64 KiB offloaded segment, and lets the loop look at the clock often.
const DISPATCH_MAX: usize = 256;
/// A batch goes to the writer once it holds this many bytes of packet blocks...
const BATCH_BYTES: usize = 256 << 10;
/// ...or once the ring is empty, or at least this often (it carries the libpcap
/// counters the writer puts into statistics blocks, so they are never older).
const BATCH_EVERY: Duration = Duration::from_millis(100);
/// Bytes of batches waiting for the writer at most; beyond, batches are dropped and
/// counted. 64 MiB is about six seconds of a saturated gigabit link's worth of small
/// packets' headers, or two seconds of a disk that stopped.
const QUEUE_BYTES: usize = 64 << 20;
/// Batches waiting at most (the byte bound above is the one that matters).
const QUEUE_BATCHES: usize = 4096;
/// Room kept reserved past the end of a file for the statistics block (and slack).
const RESERVE: u64 = 64 << 10;
/// Bytes reserved and written at a time: on a filling disk at most about this much
/// room (plus [`RESERVE`]) stays unused.
const PIECE: usize = 64 << 10;
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
    /// Packets written to the files, and their bytes on the wire.
    pub packets: u64,
    pub bytes: u64,
    pub received: u64,
    pub kernel_dropped: u64,
    pub if_dropped: u64,
    /// Packets lagtap read but dropped because the writer was too far behind.
    pub queue_dropped: u64,
    /// Packets lagtap read that never reached a file because writing failed.
    pub not_written: u64,
    pub ntp_queries: u64,
    /// Decryption Secrets Blocks written (`--keylog`).
    pub secrets_blocks: u64,
    pub interrupted: bool,
    /// Why the capture stopped before it was asked to: the output could not be
    /// written (disk full, I/O error). The files are valid up to their last packet.
    pub write_failure: Option<String>,
}

/// Counters that travel with every batch, cumulative since the start, so the writer
/// always puts current figures into a statistics block.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    /// libpcap's `pcap_stats`, taken after the batch's packets were read.
    pcap: Option<pcap::Stat>,
    /// Packets lagtap dropped because the queue to the writer was full.
    queue_dropped: u64,
}

/// Packet blocks encoded by the capture thread, for the writer thread.
struct Batch {
    blocks: Vec<u8>,
    count: PacketCount,
    counters: Counters,
}

/// State both threads look at.
#[derive(Default)]
struct Shared {
    /// Set by the writer when its output cannot be written: the capture stops.
    failed: AtomicBool,
    /// Bytes of batches sent and not yet taken by the writer.
    queued: AtomicUsize,
    /// Packets written so far (for the status line).
    written: AtomicU64,
}

/// One output file being written.
struct Output {
    path: PathBuf,
    writer: PcapngWriter<File>,
    opened: Instant,
    /// Whether the file system reserves space (`fallocate`); else a failed write is
    /// cut back to the last complete block.
    reserves: bool,
    /// The file's room is reserved up to this offset.
    reserved_to: u64,
}

impl Output {
    /// Hands the buffered blocks to the file, having first reserved room for them and
    /// for a statistics block after them, piece by piece, so a filling disk takes as
    /// many packets as it can hold. Only room not reserved yet is asked for: a failed
    /// `fallocate` on tmpfs gives back what it covered, earlier reservations too. On
    /// failure the file ends on a complete block and what did not fit stays buffered
    /// (the caller discards it).
    fn flush(&mut self) -> anyhow::Result<()> {
        let (mut reserves, mut reserved_to) = (self.reserves, self.reserved_to);
        let flushed = self.writer.flush_in_pieces(PIECE, |file, offset, len| {
            let want = offset + len + RESERVE;
            if !reserves || want <= reserved_to {
                return Ok(());
            }
            let from = reserved_to.max(offset);
            match reserve(file, from, want - from) {
                Ok(()) => {
                    reserved_to = want;
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => Err(e),
                // Not supported here (or any other refusal): write without.
                Err(_) => {
                    reserves = false;
                    Ok(())
                }
            }
        });
        (self.reserves, self.reserved_to) = (reserves, reserved_to);
        if let Err(e) = flushed {
            // A write cut short by the disk: back to the last complete block.
            let good = self.writer.durable_len();
            let _ = self.writer.get_ref().set_len(good);
            return Err(write_error(&self.path, &e));
        }
        Ok(())
    }
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

    /// Opens the next file and writes its header; the current file stays open, so
    /// that when the disk has no room for a new file the current one still closes
    /// with a statistics block saying what was lost. A file whose header cannot be
    /// written is removed: it would hold nothing readable.
    fn open_next(&mut self) -> anyhow::Result<Output> {
        self.index += 1;
        let path = self.path_for(self.index);
        let file = File::create(&path).map_err(|e| write_error(&path, &e))?;
        let mut writer = PcapngWriter::new(file, &self.section);
        writer.add_interface(&self.iface);
        let mut out = Output {
            path: path.clone(),
            writer,
            opened: Instant::now(),
            reserves: true,
            reserved_to: 0,
        };
        if let Err(e) = out.flush() {
            drop(out);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.files.push(path);
        Ok(out)
    }

    fn out(&mut self) -> &mut Output {
        self.current
            .as_mut()
            .expect("an output is open while capturing")
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.out().flush()
    }

    /// Writes the statistics block and closes the current file, giving back the room
    /// reserved past its end. Returns the packets that are in the file.
    fn close(
        &mut self,
        stats: &InterfaceStats,
        comment: &str,
        now_ns: i64,
    ) -> (PacketCount, anyhow::Result<()>) {
        let Some(mut o) = self.current.take() else {
            return (PacketCount::default(), Ok(()));
        };
        o.writer.stats(0, now_ns, stats, Some(comment));
        // The reservation already covers it; a file system that does not reserve
        // may still refuse, and then the file ends before the block.
        let flushed = o.writer.flush();
        let good = o.writer.durable_len();
        let _ = o.writer.get_ref().set_len(good);
        let _ = o.writer.get_ref().sync_all();
        let count = o.writer.written();
        (count, flushed.map_err(|e| write_error(&o.path, &e)))
    }

    /// After a failed write: forgets what was buffered for the current file and
    /// returns the packets lost with it.
    fn discard(&mut self) -> u64 {
        self.current
            .as_mut()
            .map_or(0, |o| o.writer.discard().packets)
    }
}

/// Makes sure `len` bytes from `offset` on are allocated to `file` without changing
/// its size, so writing them cannot fail for want of space.
#[cfg(target_os = "linux")]
fn reserve(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use nix::fcntl::{fallocate, FallocateFlags};
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(std::io::ErrorKind::InvalidInput.into());
    };
    fallocate(file, FallocateFlags::FALLOC_FL_KEEP_SIZE, offset, len)
        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))
}

#[cfg(not(target_os = "linux"))]
fn reserve(_file: &File, _offset: u64, _len: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
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

/// How long a clean end keeps reading what is already in the ring: a TPACKET_V3 block
/// reaches user space at most one read timeout after its first packet.
const DRAIN: Duration = Duration::from_millis(2 * READ_TIMEOUT_MS as u64 + 50);

/// Runs a capture until `--duration`, `--packets`, SIGINT/SIGTERM, or an output that
/// cannot be written (then [`CaptureSummary::write_failure`] says why).
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
    let mut outs = Outputs {
        base: o.output.clone(),
        rotating: o.rotate_size.is_some() || o.rotate_time.is_some(),
        index: 0,
        section,
        iface,
        current: None,
        files: Vec::new(),
    };
    outs.current = Some(outs.open_next()?);

    let ntp_socket = match &o.ntp {
        Some(_) => Some(
            std::net::UdpSocket::bind("0.0.0.0:0")
                .or_else(|_| std::net::UdpSocket::bind("[::]:0"))
                .context("opening a UDP socket for --ntp")?,
        ),
        None => None,
    };
    let shared = Arc::new(Shared::default());
    let (tx, rx) = sync_channel::<Batch>(QUEUE_BATCHES);
    let writer = {
        let plan = WritePlan {
            rotate_size: o.rotate_size,
            rotate_time: o.rotate_time,
            start_ns: now_ns(),
            keylog: o.keylog.clone(),
        };
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("lagtap-writer".into())
            .spawn(move || write_loop(rx, outs, plan, &shared))
            .context("starting the writer thread")?
    };

    let mut summary = CaptureSummary::default();
    let mut reader = Reader {
        tx,
        shared: shared.clone(),
        batch: Vec::with_capacity(BATCH_BYTES + (64 << 10)),
        count: PacketCount::default(),
        sent: Instant::now(),
        read: 0,
        read_bytes: 0,
        queue_dropped: 0,
    };
    let started = Instant::now();
    let mut next_ntp = Instant::now();
    let progress = std::io::stderr().is_terminal();
    let mut live = LiveStats::default();
    let mut last_progress = Instant::now();
    let link_type = src.link_type;

    let result = (|| -> anyhow::Result<()> {
        loop {
            if stop.load(Ordering::SeqCst) {
                summary.interrupted = true;
                break;
            }
            if shared.failed.load(Ordering::SeqCst) {
                return Ok(());
            }
            if o.duration.is_some_and(|d| started.elapsed() >= d)
                || o.packets.is_some_and(|n| reader.read >= n)
            {
                break;
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
            let n = reader.read_from(&mut src, o.packets, |ts, data, orig_len| {
                if progress {
                    live.packet(link_type, ts, data, orig_len);
                }
            })?;
            if reader.batch.len() >= BATCH_BYTES
                || (n == 0 && !reader.batch.is_empty())
                || reader.sent.elapsed() >= BATCH_EVERY
            {
                reader.send(&mut src)?;
            }
            if progress && last_progress.elapsed() >= Duration::from_secs(1) {
                let s = src.stats();
                let written = shared.written.load(Ordering::Relaxed);
                eprint!(
                    "\r\x1b[K{}",
                    live.line(written, reader.read_bytes, reader.queue_dropped, s)
                );
                last_progress = Instant::now();
            }
        }
        // A clean end: what the kernel already took in belongs to the capture.
        let until = Instant::now() + DRAIN;
        while Instant::now() < until
            && !shared.failed.load(Ordering::SeqCst)
            && o.packets.is_none_or(|n| reader.read < n)
        {
            reader.read_from(&mut src, o.packets, |_, _, _| {})?;
            if reader.batch.len() >= BATCH_BYTES {
                reader.send(&mut src)?;
            }
        }
        Ok(())
    })();
    if progress {
        eprintln!();
    }
    // The last batch carries the final counters; the writer closes the file when the
    // queue ends.
    let (counters, last) = reader.finish(&mut src);
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    summary.files = written.files;
    summary.packets = written.written.packets;
    summary.bytes = written.written.bytes;
    summary.secrets_blocks = written.secrets_blocks;
    summary.not_written = written.not_written;
    summary.queue_dropped = counters.queue_dropped;
    if let Some(st) = counters.pcap {
        summary.received = u64::from(st.received);
        summary.kernel_dropped = u64::from(st.dropped);
        summary.if_dropped = u64::from(st.if_dropped);
    }
    result?;
    last?;
    summary.write_failure = written.error.map(|e| format!("{e:#}"));
    Ok(summary)
}

/// The capture thread's side: the batch being filled and what it has read so far.
struct Reader {
    tx: SyncSender<Batch>,
    shared: Arc<Shared>,
    batch: Vec<u8>,
    count: PacketCount,
    sent: Instant,
    /// Packets read from libpcap, and their bytes on the wire.
    read: u64,
    read_bytes: u64,
    queue_dropped: u64,
}

impl Reader {
    /// One `pcap_dispatch` into the current batch (no more than `limit` packets in
    /// all); `each` also sees every packet.
    fn read_from(
        &mut self,
        src: &mut LiveSource,
        limit: Option<u64>,
        mut each: impl FnMut(Timestamp, &[u8], u32),
    ) -> anyhow::Result<usize> {
        let max = limit.map_or(DISPATCH_MAX, |n| {
            n.saturating_sub(self.read).min(DISPATCH_MAX as u64) as usize
        });
        let (batch, count) = (&mut self.batch, &mut self.count);
        let before = count.bytes;
        let n = src.dispatch(max, |ts, data, orig_len| {
            encode_packet(batch, 0, ts.0, data, orig_len);
            count.packets += 1;
            count.bytes += u64::from(orig_len.max(data.len() as u32));
            each(ts, data, orig_len);
        })?;
        self.read += n as u64;
        self.read_bytes += count.bytes - before;
        Ok(n)
    }

    fn counters(&mut self, src: &mut LiveSource) -> Counters {
        Counters {
            pcap: src.stats(),
            queue_dropped: self.queue_dropped,
        }
    }

    /// Hands the last batch to the writer, waiting for room in the queue: the final
    /// counters it carries go into the last statistics block. Returns them.
    fn finish(mut self, src: &mut LiveSource) -> (Counters, anyhow::Result<()>) {
        let size = self.batch.len();
        if self.shared.queued.load(Ordering::SeqCst) + size > QUEUE_BYTES {
            self.queue_dropped += self.count.packets;
            self.batch.clear();
            self.count = PacketCount::default();
        }
        let counters = self.counters(src);
        let batch = Batch {
            blocks: std::mem::take(&mut self.batch),
            count: self.count,
            counters,
        };
        self.shared
            .queued
            .fetch_add(batch.blocks.len(), Ordering::SeqCst);
        let sent = self
            .tx
            .send(batch)
            .map_err(|_| anyhow::anyhow!("the writer thread ended early"));
        (counters, sent)
    }

    /// Hands the current batch (maybe empty: it still carries fresh counters) to the
    /// writer, or drops it, counted, when the writer is too far behind.
    fn send(&mut self, src: &mut LiveSource) -> anyhow::Result<()> {
        let size = self.batch.len();
        let count = std::mem::take(&mut self.count);
        self.sent = Instant::now();
        if self.shared.queued.load(Ordering::SeqCst) + size > QUEUE_BYTES {
            self.queue_dropped += count.packets;
            self.batch.clear();
            return Ok(());
        }
        let blocks = std::mem::replace(
            &mut self.batch,
            Vec::with_capacity(BATCH_BYTES + (64 << 10)),
        );
        let batch = Batch {
            blocks,
            count,
            counters: self.counters(src),
        };
        self.shared.queued.fetch_add(size, Ordering::SeqCst);
        match self.tx.try_send(batch) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(b)) => {
                self.shared.queued.fetch_sub(size, Ordering::SeqCst);
                self.queue_dropped += b.count.packets;
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => bail!("the writer thread ended early"),
        }
    }
}

/// What the writer does besides writing packets.
struct WritePlan {
    rotate_size: Option<u64>,
    rotate_time: Option<Duration>,
    start_ns: i64,
    keylog: Option<PathBuf>,
}

/// What the writer did.
struct Written {
    files: Vec<PathBuf>,
    written: PacketCount,
    secrets_blocks: u64,
    /// Packets handed to the writer that are in no file (after a write failed).
    not_written: u64,
    /// The first write error: the capture stopped for it (or it came while closing
    /// the last file).
    error: Option<anyhow::Error>,
}

/// The writer thread: appends batches, flushes, rotates, follows the key log, and
/// closes each file with a statistics block. On a write error it stops writing, asks
/// the capture to stop, counts what reaches it after as not written, and still closes
/// the file with a statistics block saying so (the reserved room holds it).
fn write_loop(rx: Receiver<Batch>, mut outs: Outputs, plan: WritePlan, shared: &Shared) -> Written {
    let mut keys = plan
        .keylog
        .clone()
        .map(super::keylog_follower::KeyLogFollower::new);
    let mut next_keys = Instant::now();
    let mut secrets_blocks = 0u64;
    let mut counters = Counters::default();
    let mut last_flush = Instant::now();
    let mut since_flush = 0u64;
    let mut error: Option<anyhow::Error> = None;
    let mut not_written = 0u64;
    // Packets written to files closed before the current one.
    let mut earlier = PacketCount::default();
    // Everything in this and earlier files once the current buffer is written.
    let all_packets = |outs: &Outputs, earlier: PacketCount| {
        earlier.packets + outs.current.as_ref().map_or(0, |o| o.writer.packets())
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(READ_TIMEOUT_MS as u64)) {
            Ok(b) => {
                shared.queued.fetch_sub(b.blocks.len(), Ordering::SeqCst);
                counters = b.counters;
                if error.is_some() {
                    not_written += b.count.packets;
                    continue;
                }
                outs.out().writer.packet_blocks(&b.blocks, b.count);
                since_flush += b.count.packets;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if error.is_some() {
            continue;
        }
        let step = (|| -> anyhow::Result<()> {
            // New secrets go in right away: a reader uses a secret wherever it sits,
            // but a block near its handshake survives a capture cut short.
            if let Some(k) = keys.as_mut().filter(|_| Instant::now() >= next_keys) {
                match k.poll() {
                    Ok(lines) if !lines.is_empty() => {
                        outs.out().writer.secrets(&lines);
                        secrets_blocks += 1;
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("lagtap capture: reading --keylog: {e}"),
                }
                next_keys = Instant::now() + KEYLOG_POLL;
            }
            let rotate = {
                let out = outs.out();
                plan.rotate_size.is_some_and(|s| out.writer.len() >= s)
                    || plan.rotate_time.is_some_and(|t| out.opened.elapsed() >= t)
            };
            if rotate {
                outs.flush()?;
                let next = outs.open_next()?;
                let (stats, comment) =
                    statistics(&plan, counters, all_packets(&outs, earlier), None);
                let (count, closed) = outs.close(&stats, &comment, now_ns());
                outs.current = Some(next);
                earlier.add(count);
                closed?;
                // Each file stands alone: it gets every secret seen so far.
                if let Some(k) = keys.as_ref().filter(|k| !k.all().is_empty()) {
                    outs.out().writer.secrets(k.all());
                    secrets_blocks += 1;
                }
                outs.flush()?;
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
            Ok(())
        })();
        let now = earlier.packets
            + outs
                .current
                .as_ref()
                .map_or(0, |o| o.writer.written().packets);
        shared.written.store(now, Ordering::Relaxed);
        if let Err(e) = step {
            not_written += outs.discard();
            error = Some(e);
            shared.failed.store(true, Ordering::SeqCst);
        }
    }
    // The last packets go through the reserving flush too, so the statistics block
    // keeps its room even when the disk fills right at the end.
    if error.is_none() && outs.current.is_some() {
        if let Err(e) = outs.flush() {
            not_written += outs.discard();
            error = Some(e);
        }
    }
    let stopped_capture = error.is_some();
    if outs.current.is_some() {
        let lost = stopped_capture.then_some(not_written);
        let (stats, comment) = statistics(&plan, counters, all_packets(&outs, earlier), lost);
        let pending = outs
            .current
            .as_ref()
            .map_or(0, |o| o.writer.packets() - o.writer.written().packets);
        let (count, closed) = outs.close(&stats, &comment, now_ns());
        earlier.add(count);
        if let Err(e) = closed {
            if stopped_capture {
                eprintln!(
                    "lagtap capture: the statistics block could not be written either: {e:#}"
                );
            } else {
                // The packets of the last buffer are in no file.
                not_written += pending;
                error = Some(e);
            }
        }
    }
    Written {
        files: outs.files,
        written: earlier,
        secrets_blocks,
        not_written,
        error,
    }
}

/// The statistics block for a file closed now, and the same in words. Counters run
/// from the start of the capture; `written` counts the packets in this and earlier
/// files; `lost` (after a failed write) the packets read that reached no file.
fn statistics(
    plan: &WritePlan,
    c: Counters,
    written: u64,
    lost: Option<u64>,
) -> (InterfaceStats, String) {
    let st = c.pcap;
    let stats = InterfaceStats {
        start_ns: Some(plan.start_ns),
        end_ns: Some(now_ns()),
        received: st.map(|x| u64::from(x.received)),
        if_dropped: st.map(|x| u64::from(x.if_dropped)),
        os_dropped: st.map(|x| u64::from(x.dropped)),
        delivered: Some(written),
    };
    let mut comment = match st {
        Some(x) => format!(
            "lagtap capture statistics since start: received {}, dropped by kernel {}, dropped by interface {}, dropped by lagtap (writer behind) {}, written {written}",
            x.received, x.dropped, x.if_dropped, c.queue_dropped
        ),
        None => format!(
            "lagtap capture statistics: dropped by lagtap (writer behind) {}, written {written}",
            c.queue_dropped
        ),
    };
    if let Some(lost) = lost {
        comment.push_str(&format!(
            ", not written {lost} (the output could not be written: the capture stopped)"
        ));
    }
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

    fn line(&self, written: u64, bytes: u64, queue_dropped: u64, st: Option<pcap::Stat>) -> String {
        let flows: Vec<String> = self
            .by_protocol
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        let drops = st.map_or("?".to_string(), |x| {
            format!("{} kernel, {} interface", x.dropped, x.if_dropped)
        });
        format!(
            "{written} packets written, {:.1} MB read, drops: {drops}, {queue_dropped} lagtap, flows: {}",
            bytes as f64 / 1e6,
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
