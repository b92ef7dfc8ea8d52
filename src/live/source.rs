//! An interface opened with libpcap (`lagtap capture` and `lagtap watch`): the
//! source of packets with nanosecond times, the stop flag SIGINT/SIGTERM set, and
//! `--list-interfaces`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use pcap::{Active, Capture, Device, Precision};

use crate::time::Timestamp;

/// libpcap read timeout, which is also TPACKET_V3's block retire timeout: a block
/// holding a packet reaches the capture thread at most this long after the packet.
pub(super) const READ_TIMEOUT_MS: i32 = 100;

/// How to open an interface.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    pub interface: String,
    pub filter: String,
    pub snaplen: i32,
    /// Kernel buffer in bytes.
    pub buffer_size: i32,
    pub promisc: bool,
    /// libpcap immediate mode: every packet readable at once, at the price of a
    /// TPACKET_V2 ring with one fixed-size slot per packet (libpcap only uses
    /// TPACKET_V3 outside immediate mode). `watch` wants it, to print events without
    /// delay; `capture` does not, to fit far more small packets into its buffer.
    pub immediate: bool,
}

/// An open libpcap capture with nanosecond timestamps.
pub struct LiveSource {
    cap: Capture<Active>,
    pub link_type: i32,
    pub options: SourceOptions,
    /// The last read returned a packet, so more may be waiting without a poll.
    pending: bool,
}

/// A libpcap header's time in nanoseconds (the capture asks for nanosecond precision,
/// so `tv_usec` holds nanoseconds).
fn header_ns(h: &pcap::PacketHeader) -> Timestamp {
    // `time_t`/`suseconds_t` are i64 on 64-bit Linux, narrower elsewhere.
    #[allow(clippy::unnecessary_cast)]
    let ns = h.ts.tv_sec as i64 * Timestamp::NANOS_PER_SEC + h.ts.tv_usec as i64;
    Timestamp(ns)
}

impl LiveSource {
    pub fn open(o: &SourceOptions) -> anyhow::Result<Self> {
        let cap = Capture::from_device(o.interface.as_str())
            .with_context(|| format!("interface {}", o.interface))?
            .snaplen(o.snaplen)
            .buffer_size(o.buffer_size)
            .promisc(o.promisc)
            .immediate_mode(o.immediate)
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
            Ok(p) => Ok(Some((header_ns(p.header), p.data, p.header.len))),
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

    /// Hands up to `max` waiting packets to `f` in one `pcap_dispatch` (no system call
    /// per packet), after waiting up to the read timeout when none was known to be
    /// waiting. Returns how many it handed over.
    pub fn dispatch(
        &mut self,
        max: usize,
        mut f: impl FnMut(Timestamp, &[u8], u32),
    ) -> anyhow::Result<usize> {
        if max == 0 || !self.ready()? {
            return Ok(0);
        }
        let n = self
            .cap
            .dispatch(Some(max), |p| f(header_ns(p.header), p.data, p.header.len))
            .map_err(|e| anyhow::anyhow!("reading from {}: {e}", self.options.interface))?;
        self.pending = n > 0;
        Ok(n)
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
