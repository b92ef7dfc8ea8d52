//! A small pcapng writer: section header (SHB), interface description (IDB),
//! enhanced packet (EPB) and interface statistics (ISB) blocks, nothing else.
//!
//! Why our own: `pcap-parser`, which reads captures everywhere else in lagtap, is
//! read-only, and the `pcap` crate's savefile writer produces classic pcap only — no
//! section comment (where `lagtap capture` records host, role, version and clock
//! state), no `if_name`, no statistics block. The four blocks `lagtap capture` needs
//! are a few dozen lines of the pcapng specification (draft-ietf-opsawg-pcapng),
//! written here in little-endian order with nanosecond timestamps (`if_tsresol` = 9).
//!
//! Blocks are assembled whole in a memory buffer and handed to the underlying writer
//! only as complete blocks, by [`PcapngWriter::flush`]. A file therefore always ends
//! after a complete block unless a single `write` is cut by the operating system, and
//! [`PcapngWriter::durable_len`] says how many bytes are known to be written, so a
//! caller can cut a file back to a valid length after an error (disk full).
//!
//! [`encode_packet`] builds the same packet block into any buffer, so `lagtap
//! capture`'s capture thread can encode packets into batches and hand them to the
//! thread that owns the file ([`PcapngWriter::packet_blocks`]) without copying them
//! twice. The writer counts packets and their bytes separately for what is still
//! buffered and what reached the underlying writer, so after a failed write the
//! caller knows exactly which packets are in the file ([`PcapngWriter::written`]) and
//! which were lost with the buffer ([`PcapngWriter::discard`]).

use std::io::{self, Write};

const BLOCK_SHB: u32 = 0x0A0D_0D0A;
const BLOCK_IDB: u32 = 0x0000_0001;
const BLOCK_ISB: u32 = 0x0000_0005;
const BLOCK_EPB: u32 = 0x0000_0006;
const BLOCK_DSB: u32 = 0x0000_000A;
/// Decryption Secrets Block type of an NSS key log (`TLSK`).
const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_HARDWARE: u16 = 2;
const SHB_OS: u16 = 3;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;
const IF_FILTER: u16 = 11;
const ISB_STARTTIME: u16 = 2;
const ISB_ENDTIME: u16 = 3;
const ISB_IFRECV: u16 = 4;
const ISB_IFDROP: u16 = 5;
const ISB_OSDROP: u16 = 7;
const ISB_USRDELIV: u16 = 8;

/// What the section header says about the capture as a whole.
#[derive(Clone, Debug, Default)]
pub struct SectionInfo {
    /// Free text: one `opt_comment` per entry (lagtap puts `key: value` lines here).
    pub comments: Vec<String>,
    pub hardware: Option<String>,
    pub os: Option<String>,
    pub user_application: Option<String>,
}

/// One capture interface.
#[derive(Clone, Debug)]
pub struct InterfaceInfo {
    /// libpcap link type (`DLT_*`/`LINKTYPE_*`), e.g. 1 = Ethernet.
    pub link_type: u16,
    pub snaplen: u32,
    pub name: Option<String>,
    pub description: Option<String>,
    /// The BPF filter in libpcap syntax.
    pub filter: Option<String>,
}

/// Counters for the statistics block. `None` leaves an option out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    /// Packets the capture received (libpcap `ps_recv`).
    pub received: Option<u64>,
    /// Dropped by the network interface or its driver (`ps_ifdrop`).
    pub if_dropped: Option<u64>,
    /// Dropped by the operating system, no room in the buffer (`ps_drop`).
    pub os_dropped: Option<u64>,
    /// Delivered to and written by the capturing program.
    pub delivered: Option<u64>,
}

/// Packets and their original (on the wire) bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketCount {
    pub packets: u64,
    pub bytes: u64,
}

impl PacketCount {
    pub fn add(&mut self, other: PacketCount) {
        self.packets += other.packets;
        self.bytes += other.bytes;
    }
}

/// Writes one pcapng section to `W`.
pub struct PcapngWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    interfaces: u32,
    /// Packets in `buf`, not yet handed to `out`.
    buffered_packets: PacketCount,
    /// Packets handed to `out`.
    written: PacketCount,
    durable: u64,
}

/// Appends one enhanced packet block for `interface`, captured at `ts_ns`
/// (nanoseconds since the epoch; times before 1970 are written as 0), to `b`. `data`
/// may be shorter than `orig_len`.
pub fn encode_packet(b: &mut Vec<u8>, interface: u32, ts_ns: i64, data: &[u8], orig_len: u32) {
    let units = u64::try_from(ts_ns).unwrap_or(0);
    let total = 32 + pad4(data.len()) as u32;
    b.extend_from_slice(&BLOCK_EPB.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(&interface.to_le_bytes());
    b.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
    b.extend_from_slice(&(units as u32).to_le_bytes());
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&orig_len.max(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    b.resize(b.len() + pad4(data.len()) - data.len(), 0);
    b.extend_from_slice(&total.to_le_bytes());
}

impl<W: Write> PcapngWriter<W> {
    /// Starts a section: the SHB goes into the buffer (written on the next flush).
    pub fn new(out: W, section: &SectionInfo) -> Self {
        let mut w = PcapngWriter {
            out,
            buf: Vec::with_capacity(1 << 16),
            interfaces: 0,
            buffered_packets: PacketCount::default(),
            written: PacketCount::default(),
            durable: 0,
        };
        let mut body = Vec::new();
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        // Section length unknown: -1.
        body.extend_from_slice(&(-1i64).to_le_bytes());
        let mut opts = Options::default();
        for c in &section.comments {
            opts.bytes(OPT_COMMENT, c.as_bytes());
        }
        opts.text(SHB_HARDWARE, section.hardware.as_deref());
        opts.text(SHB_OS, section.os.as_deref());
        opts.text(SHB_USERAPPL, section.user_application.as_deref());
        w.block(BLOCK_SHB, &body, opts);
        w
    }

    /// Adds an interface; returns its id for [`Self::packet`].
    pub fn add_interface(&mut self, iface: &InterfaceInfo) -> u32 {
        let mut body = Vec::new();
        body.extend_from_slice(&iface.link_type.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&iface.snaplen.to_le_bytes());
        let mut opts = Options::default();
        opts.text(IF_NAME, iface.name.as_deref());
        opts.text(IF_DESCRIPTION, iface.description.as_deref());
        // Nanoseconds: 10^-9.
        opts.bytes(IF_TSRESOL, &[9]);
        if let Some(f) = &iface.filter {
            // First byte 0: a libpcap filter string.
            let mut v = vec![0u8];
            v.extend_from_slice(f.as_bytes());
            opts.bytes(IF_FILTER, &v);
        }
        self.block(BLOCK_IDB, &body, opts);
        self.interfaces += 1;
        self.interfaces - 1
    }

    /// Appends one packet captured at `ts_ns` (nanoseconds since the epoch; times
    /// before 1970 are written as 0). `data` may be shorter than `orig_len`.
    pub fn packet(&mut self, interface: u32, ts_ns: i64, data: &[u8], orig_len: u32) {
        encode_packet(&mut self.buf, interface, ts_ns, data, orig_len);
        self.buffered_packets.add(PacketCount {
            packets: 1,
            bytes: u64::from(orig_len.max(data.len() as u32)),
        });
    }

    /// Appends packet blocks [`encode_packet`] made elsewhere; `count` says how many
    /// packets (and original bytes) they hold, for [`Self::written`].
    pub fn packet_blocks(&mut self, blocks: &[u8], count: PacketCount) {
        self.buf.extend_from_slice(blocks);
        self.buffered_packets.add(count);
    }

    /// Appends a Decryption Secrets Block holding NSS key log lines (`TLSK`), as
    /// `editcap --inject-secrets tls,FILE` writes them.
    pub fn secrets(&mut self, key_log: &[u8]) {
        let mut body = Vec::with_capacity(8 + pad4(key_log.len()));
        body.extend_from_slice(&SECRETS_TLS_KEY_LOG.to_le_bytes());
        body.extend_from_slice(&(key_log.len() as u32).to_le_bytes());
        body.extend_from_slice(key_log);
        body.resize(8 + pad4(key_log.len()), 0);
        self.block(BLOCK_DSB, &body, Options::default());
    }

    /// Appends an interface statistics block stamped `ts_ns`, with an optional comment.
    pub fn stats(&mut self, interface: u32, ts_ns: i64, s: &InterfaceStats, comment: Option<&str>) {
        let units = u64::try_from(ts_ns).unwrap_or(0);
        let mut body = Vec::new();
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(units as u32).to_le_bytes());
        let mut opts = Options::default();
        if let Some(c) = comment {
            opts.bytes(OPT_COMMENT, c.as_bytes());
        }
        for (code, t) in [(ISB_STARTTIME, s.start_ns), (ISB_ENDTIME, s.end_ns)] {
            if let Some(t) = t {
                let u = u64::try_from(t).unwrap_or(0);
                let mut v = Vec::with_capacity(8);
                v.extend_from_slice(&((u >> 32) as u32).to_le_bytes());
                v.extend_from_slice(&(u as u32).to_le_bytes());
                opts.bytes(code, &v);
            }
        }
        for (code, n) in [
            (ISB_IFRECV, s.received),
            (ISB_IFDROP, s.if_dropped),
            (ISB_OSDROP, s.os_dropped),
            (ISB_USRDELIV, s.delivered),
        ] {
            if let Some(n) = n {
                opts.bytes(code, &n.to_le_bytes());
            }
        }
        self.block(BLOCK_ISB, &body, opts);
    }

    /// Hands every complete block buffered so far to the underlying writer and
    /// flushes it. On error the buffer is kept; [`Self::durable_len`] is unchanged.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.durable += self.buf.len() as u64;
            self.buf.clear();
            self.written.add(std::mem::take(&mut self.buffered_packets));
        }
        self.out.flush()
    }

    /// Like [`Self::flush`], but in pieces of whole blocks of about `piece` bytes
    /// (one larger block is a piece alone), calling `before(out, offset, len)` before
    /// each piece is written. When `before` or a write fails, the pieces written so far
    /// stay written and counted, the rest stays buffered: a caller that reserves disk
    /// space in `before` gets as many packets into the file as the disk holds.
    pub fn flush_in_pieces(
        &mut self,
        piece: usize,
        mut before: impl FnMut(&mut W, u64, u64) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut done = 0;
        let result = (|| {
            while done < self.buf.len() {
                let (end, count) = whole_blocks(&self.buf, done, piece);
                before(&mut self.out, self.durable, (end - done) as u64)?;
                self.out.write_all(&self.buf[done..end])?;
                self.durable += (end - done) as u64;
                self.written.add(count);
                self.buffered_packets.packets -= count.packets;
                self.buffered_packets.bytes -= count.bytes;
                done = end;
            }
            self.out.flush()
        })();
        self.buf.drain(..done);
        result
    }

    /// Forgets every block buffered since the last flush (after a write failed) and
    /// returns the packets among them.
    pub fn discard(&mut self) -> PacketCount {
        self.buf.clear();
        std::mem::take(&mut self.buffered_packets)
    }

    /// Bytes known to have reached the underlying writer: always a block boundary.
    pub fn durable_len(&self) -> u64 {
        self.durable
    }

    /// Bytes written plus bytes still buffered.
    pub fn len(&self) -> u64 {
        self.durable + self.buf.len() as u64
    }

    /// True before anything, not even the section header, was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Packets appended so far, written or buffered.
    pub fn packets(&self) -> u64 {
        self.written.packets + self.buffered_packets.packets
    }

    /// Packets (and their original bytes) handed to the underlying writer.
    pub fn written(&self) -> PacketCount {
        self.written
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.out)
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    fn block(&mut self, kind: u32, body: &[u8], opts: Options) {
        let opts = opts.finish();
        let total = (12 + body.len() + opts.len()) as u32;
        self.buf.extend_from_slice(&kind.to_le_bytes());
        self.buf.extend_from_slice(&total.to_le_bytes());
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(&opts);
        self.buf.extend_from_slice(&total.to_le_bytes());
    }
}

/// From `start`, the end of as many whole blocks of `buf` as fit in `max` bytes (at
/// least one), and the packets among them. `buf` holds only complete blocks.
fn whole_blocks(buf: &[u8], start: usize, max: usize) -> (usize, PacketCount) {
    let mut end = start;
    let mut count = PacketCount::default();
    while end + 12 <= buf.len() {
        let kind = u32::from_le_bytes(buf[end..end + 4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(buf[end + 4..end + 8].try_into().expect("4 bytes")) as usize;
        if end > start && end + len - start > max {
            break;
        }
        if kind == BLOCK_EPB {
            let orig = u32::from_le_bytes(buf[end + 24..end + 28].try_into().expect("4 bytes"));
            count.add(PacketCount {
                packets: 1,
                bytes: u64::from(orig),
            });
        }
        end += len;
    }
    (end, count)
}

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// A block's option list: code, length, value padded to 32 bits, then `opt_endofopt`.
#[derive(Default)]
struct Options(Vec<u8>);

impl Options {
    fn bytes(&mut self, code: u16, value: &[u8]) {
        // An option's length is 16 bits; longer text is cut (never happens with the
        // comments lagtap writes).
        let value = &value[..value.len().min(0xfff0)];
        self.0.extend_from_slice(&code.to_le_bytes());
        self.0
            .extend_from_slice(&(value.len() as u16).to_le_bytes());
        self.0.extend_from_slice(value);
        self.0
            .resize(self.0.len() + pad4(value.len()) - value.len(), 0);
    }

    fn text(&mut self, code: u16, value: Option<&str>) {
        if let Some(v) = value {
            self.bytes(code, v.as_bytes());
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if !self.0.is_empty() {
            self.0.extend_from_slice(&OPT_END.to_le_bytes());
            self.0.extend_from_slice(&0u16.to_le_bytes());
        }
        self.0
    }
}

/// The workspace's shared helper for tests that run external programs.
#[cfg(test)]
#[path = "../../tests/common/tools.rs"]
mod tools;

#[cfg(test)]
mod tests {
    use super::tools;
    use super::*;
    use crate::capture::CaptureReader;
    use std::path::Path;
    use std::process::Command;

    /// A small Ethernet/IPv4/UDP frame with `n` payload bytes.
    fn frame(n: usize, tag: u8) -> Vec<u8> {
        let payload: Vec<u8> = (0..n).map(|i| tag.wrapping_add(i as u8)).collect();
        let builder = etherparse::PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(40000, 123);
        let mut out = Vec::new();
        builder.write(&mut out, &payload).unwrap();
        out
    }

    struct Sample {
        packets: Vec<(i64, Vec<u8>, u32)>,
        bytes: Vec<u8>,
        /// File length after each complete block, in order.
        boundaries: Vec<usize>,
    }

    fn sample() -> Sample {
        let section = SectionInfo {
            comments: vec![
                "host: testhost".into(),
                "role: viewer".into(),
                "clock: synchronised, offset +0.000012 s".into(),
            ],
            hardware: None,
            os: Some("Linux 6.1.0".into()),
            user_application: Some("lagtap 0.1.0".into()),
        };
        let mut w = PcapngWriter::new(Vec::new(), &section);
        let mut boundaries = vec![w.len() as usize];
        let id = w.add_interface(&InterfaceInfo {
            link_type: 1,
            snaplen: 262_144,
            name: Some("veth0".into()),
            description: None,
            filter: Some("udp port 123".into()),
        });
        boundaries.push(w.len() as usize);
        let mut packets = Vec::new();
        // Odd sizes exercise padding; the last one is snaplen-cut.
        for (i, n) in [0usize, 1, 2, 3, 5, 48, 1000].iter().enumerate() {
            let f = frame(*n, i as u8);
            let ts = 1_700_000_000_123_456_789 + i as i64 * 1_000_000_007;
            packets.push((ts, f.clone(), f.len() as u32));
            w.packet(id, ts, &f, f.len() as u32);
            boundaries.push(w.len() as usize);
        }
        let big = frame(1400, 9);
        let cut = big[..100].to_vec();
        let ts = 1_700_000_100_000_000_001;
        w.packet(id, ts, &cut, big.len() as u32);
        packets.push((ts, cut, big.len() as u32));
        boundaries.push(w.len() as usize);
        w.stats(
            id,
            ts + 1,
            &InterfaceStats {
                start_ns: Some(1_700_000_000_000_000_000),
                end_ns: Some(ts + 1),
                received: Some(8),
                if_dropped: Some(0),
                os_dropped: Some(0),
                delivered: Some(8),
            },
            Some("received 8, dropped by kernel 0, dropped by interface 0"),
        );
        boundaries.push(w.len() as usize);
        let bytes = w.finish().unwrap();
        Sample {
            packets,
            bytes,
            boundaries,
        }
    }

    fn read_back(bytes: &[u8]) -> (Vec<(i64, Vec<u8>, u32)>, CaptureReader) {
        let input =
            crate::capture::input::from_reader(Box::new(std::io::Cursor::new(bytes.to_vec())))
                .unwrap();
        let mut r = CaptureReader::from_input(input, "test").unwrap();
        let mut got = Vec::new();
        r.for_each_packet(|p| got.push((p.ts.0, p.data.to_vec(), p.orig_len)));
        (got, r)
    }

    /// lagtap's reader hands an EPB's data with its padding to 32 bits (pcap-parser's
    /// `data` field; `packet_data()` would cut it at the captured length). Compare
    /// packets without it, and check it is only zero padding.
    fn unpad(
        got: Vec<(i64, Vec<u8>, u32)>,
        want: &[(i64, Vec<u8>, u32)],
    ) -> Vec<(i64, Vec<u8>, u32)> {
        got.into_iter()
            .zip(want)
            .map(|((ts, mut data, orig), (_, w, _))| {
                if data.len() > w.len() {
                    assert!(data.len() - w.len() < 4);
                    assert!(data[w.len()..].iter().all(|b| *b == 0));
                    data.truncate(w.len());
                }
                (ts, data, orig)
            })
            .collect()
    }

    #[test]
    fn lagtap_reads_back_identical_packets_timestamps_and_comments() {
        let s = sample();
        let (got, r) = read_back(&s.bytes);
        assert_eq!(got.len(), s.packets.len());
        assert_eq!(unpad(got, &s.packets), s.packets);
        assert_eq!(r.info.format, "pcapng");
        assert_eq!(r.info.link_types.iter().collect::<Vec<_>>(), ["EN10MB"]);
        assert_eq!(
            r.info.comments,
            [
                "host: testhost",
                "role: viewer",
                "clock: synchronised, offset +0.000012 s"
            ]
        );
        assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    }

    #[test]
    fn blocks_are_only_handed_over_whole() {
        let s = sample();
        assert_eq!(*s.boundaries.last().unwrap(), s.bytes.len());
        for (i, cut) in s.boundaries.iter().enumerate() {
            let (got, r) = read_back(&s.bytes[..*cut]);
            // boundaries[0] = SHB, [1] = IDB, then one packet each, then the ISB.
            let expect = i.saturating_sub(1).min(s.packets.len());
            if *cut > 0 && i > 0 {
                assert_eq!(got.len(), expect, "cut after block {i}");
                assert_eq!(
                    unpad(got, &s.packets),
                    s.packets[..expect],
                    "cut after block {i}"
                );
                assert!(
                    r.anomalies.is_empty(),
                    "cut after block {i}: {:?}",
                    r.anomalies
                );
            }
        }
    }

    #[test]
    fn statistics_block_carries_the_counters() {
        use pcap_parser::pcapng::Block;
        use pcap_parser::traits::PcapReaderIterator;
        let s = sample();
        let mut r = pcap_parser::PcapNGReader::new(1 << 16, std::io::Cursor::new(s.bytes)).unwrap();
        let mut found = false;
        loop {
            match r.next() {
                Ok((n, pcap_parser::PcapBlockOwned::NG(Block::InterfaceStatistics(isb)))) => {
                    let codes: Vec<u16> = isb.options.iter().map(|o| o.code.0).collect();
                    assert_eq!(codes, [1, 2, 3, 4, 5, 7, 8, 0]);
                    found = true;
                    r.consume(n);
                }
                Ok((n, _)) => r.consume(n),
                Err(pcap_parser::PcapError::Eof) => break,
                Err(pcap_parser::PcapError::Incomplete(_)) => r.refill().unwrap(),
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(found);
    }

    fn write_temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("lagtap-pcapng-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn tshark_times(path: &Path) -> Vec<String> {
        let out = tools::output(Command::new("tshark").args(["-r"]).arg(path).args([
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
        ]));
        out.lines().map(str::to_string).collect()
    }

    #[test]
    fn tshark_and_capinfos_read_the_file_and_a_copy_cut_after_a_block() {
        let check = "the written pcapng read by tshark and capinfos";
        if ["tshark", "capinfos"].map(|t| tools::require(t, check)) != [true, true] {
            return;
        }
        let s = sample();
        let full = write_temp("full.pcapng", &s.bytes);
        let lines = tshark_times(&full);
        assert_eq!(lines.len(), s.packets.len());
        for (line, (ts, data, orig)) in lines.iter().zip(&s.packets) {
            let f: Vec<&str> = line.split('\t').collect();
            let want = format!("{}.{:09}", ts / 1_000_000_000, ts % 1_000_000_000);
            assert_eq!(f[0], want);
            assert_eq!(f[1], orig.to_string());
            assert_eq!(f[2], data.len().to_string());
        }
        let text = tools::output(Command::new("capinfos").arg(&full));
        assert!(text.contains("pcapng"), "{text}");
        assert!(text.contains("host: testhost"), "{text}");
        assert!(text.contains("nanoseconds (9)"), "{text}");
        // Cut after the fourth packet block: a shorter, valid file.
        let cut = write_temp("cut.pcapng", &s.bytes[..s.boundaries[5]]);
        let lines = tshark_times(&cut);
        assert_eq!(lines.len(), 4);
        let _ = std::fs::remove_dir_all(full.parent().unwrap());
    }

    #[test]
    fn secrets_blocks_are_read_back_as_key_logs() {
        let mut w = PcapngWriter::new(Vec::new(), &SectionInfo::default());
        w.add_interface(&InterfaceInfo {
            link_type: 1,
            snaplen: 65535,
            name: None,
            description: None,
            filter: None,
        });
        w.packet(0, 1_000, &[0u8; 60], 60);
        // Odd lengths exercise the padding.
        let logs: [&[u8]; 2] = [
            b"CLIENT_RANDOM aa bb\n",
            b"SERVER_TRAFFIC_SECRET_0 cc dd\n#x\n",
        ];
        for l in logs {
            w.secrets(l);
        }
        w.packet(0, 2_000, &[0u8; 61], 61);
        let bytes = w.finish().unwrap();
        let path = write_temp("dsb.pcapng", &bytes);
        let found = crate::capture::secrets::tls_key_logs(&path).unwrap();
        assert_eq!(found, logs.map(|l| l.to_vec()));
        // The packets around them are still read.
        let d = crate::decode::decode_file(&path, "h").unwrap();
        let Some(crate::events::Event::Summary { packets, .. }) = d.events.last() else {
            panic!("no summary");
        };
        assert_eq!(*packets, 2);
        let _ = std::fs::remove_file(path);
    }

    /// The capture thread encodes packets into batches that the file's thread appends:
    /// the file must be byte for byte what packet-at-a-time writing gives, and the
    /// counts must follow the blocks through flush and discard.
    #[test]
    fn batched_blocks_equal_single_packets_and_discard_counts_the_lost() {
        let iface = InterfaceInfo {
            link_type: 1,
            snaplen: 262_144,
            name: Some("veth0".into()),
            description: None,
            filter: None,
        };
        let frames: Vec<(i64, Vec<u8>, u32)> = [0usize, 3, 48, 1000]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let f = frame(*n, i as u8);
                let len = f.len() as u32 + 7 * (i as u32 % 2);
                (1_700_000_000_000_000_000 + i as i64, f, len)
            })
            .collect();
        let mut one = PcapngWriter::new(Vec::new(), &SectionInfo::default());
        one.add_interface(&iface);
        for (ts, f, len) in &frames {
            one.packet(0, *ts, f, *len);
        }
        let mut batched = PcapngWriter::new(Vec::new(), &SectionInfo::default());
        batched.add_interface(&iface);
        let mut blocks = Vec::new();
        let mut count = PacketCount::default();
        for (ts, f, len) in &frames {
            encode_packet(&mut blocks, 0, *ts, f, *len);
            count.add(PacketCount {
                packets: 1,
                bytes: u64::from(*len),
            });
        }
        batched.packet_blocks(&blocks, count);
        assert_eq!(one.packets(), 4);
        assert_eq!(batched.packets(), 4);
        assert_eq!(batched.written(), PacketCount::default());
        batched.flush().unwrap();
        let wire: u64 = frames.iter().map(|f| u64::from(f.2)).sum();
        assert_eq!(
            batched.written(),
            PacketCount {
                packets: 4,
                bytes: wire
            }
        );
        // A failed write: the second batch is discarded, the file keeps the first.
        batched.packet_blocks(&blocks, count);
        assert_eq!(batched.discard(), count);
        assert_eq!(batched.written().packets, 4);
        assert_eq!(batched.packets(), 4);
        assert_eq!(batched.finish().unwrap(), one.finish().unwrap());
    }

    /// A disk that takes only part of a flush: the pieces before the refusal are in
    /// the file and counted, each ends on a block, and the rest stays buffered.
    #[test]
    fn a_flush_in_pieces_stops_on_a_block_where_the_space_ends() {
        let mut w = PcapngWriter::new(Vec::new(), &SectionInfo::default());
        w.add_interface(&InterfaceInfo {
            link_type: 1,
            snaplen: 262_144,
            name: None,
            description: None,
            filter: None,
        });
        w.flush().unwrap();
        let header = w.durable_len();
        // Ten packets of 132-byte blocks (100 bytes of data).
        for i in 0..10 {
            w.packet(0, 1_000 + i, &[i as u8; 100], 1500);
        }
        let mut pieces = Vec::new();
        let room = header + 5 * 132 + 10;
        let r = w.flush_in_pieces(300, |out, offset, len| {
            assert_eq!(offset, out.len() as u64);
            pieces.push(len);
            if offset + len > room {
                return Err(io::ErrorKind::StorageFull.into());
            }
            Ok(())
        });
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::StorageFull);
        // 300-byte pieces hold two 132-byte blocks; the third piece would pass `room`.
        assert_eq!(pieces, [264, 264, 264]);
        assert_eq!(
            w.written(),
            PacketCount {
                packets: 4,
                bytes: 6000
            }
        );
        assert_eq!(w.durable_len(), header + 4 * 132);
        assert_eq!(w.packets(), 10);
        assert_eq!(w.discard().packets, 6);
        let bytes = w.finish().unwrap();
        let (got, r) = read_back(&bytes);
        assert_eq!(got.len(), 4);
        assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    }
}
