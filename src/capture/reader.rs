//! Streaming reader for pcap and pcapng files, built on `pcap-parser`.
//!
//! `pcap-parser` does the block parsing with a bounded, refillable buffer; this module
//! adds what lagtap needs on top (and a faster path through that buffer, see
//! [`CaptureReader::for_each_packet_with_info`]): one timestamp type at nanosecond resolution whatever
//! the file's resolution (`if_tsresol`, `if_tsoffset`, nanosecond pcap), per-interface
//! link types across several pcapng sections, section comments, and the policy that a
//! damaged file is read up to the damage and the damage is counted, not fatal.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use pcap_parser::nom::IResult;
use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, LegacyPcapBlock,
};
use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block, OptionCode};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{create_reader, Linktype, PcapBlockOwned, PcapError};

use super::input::{self, Compression, Input, StreamTrouble};
use crate::anomalies::Anomalies;
use crate::time::Timestamp;

/// Initial read buffer; big enough for any ordinary packet many times over.
const INITIAL_BUFFER: usize = 1 << 20;
/// A single block larger than this is treated as corruption (pcapng blocks of real
/// packets are at most 256 KiB with the largest snaplen tools use).
const MAX_BUFFER: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is empty")]
    Empty(String),
    #[error("{path} is not a pcap or pcapng capture (it starts with {head})")]
    NotACapture { path: String, head: String },
    #[error("{path}: its {compression} stream is {what} before the capture header")]
    Compressed {
        path: String,
        compression: &'static str,
        what: &'static str,
    },
    #[error("{path}: cannot read the capture header: {detail}")]
    BadHeader { path: String, detail: String },
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub link_type: Linktype,
    /// The captured bytes (possibly fewer than `orig_len` when snaplen cut the packet).
    pub data: &'a [u8],
    pub orig_len: u32,
}

/// What a file told us about itself, filled in while reading.
#[derive(Clone, Debug, Default)]
pub struct CaptureInfo {
    /// `pcap`, `pcap-nsec` or `pcapng`, with `+gzip`, `+zstd` or `+lz4` when compressed.
    pub format: String,
    pub link_types: BTreeSet<String>,
    pub comments: Vec<String>,
    pub sections: u32,
    pub interfaces: u32,
    pub packets: u64,
    pub first_time: Option<Timestamp>,
    pub last_time: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: Linktype,
    units_per_sec: u64,
    offset_secs: i64,
    /// Bytes of frame check sequence at the end of every packet, which the reader
    /// strips (pcap's link-type FCS bits, pcapng's `if_fcslen`).
    fcs_len: u32,
}

/// pcap's link-type field (the pcap file format, draft-ietf-opsawg-pcap §4 "File
/// Header", LinkType and additional information): the link type in the low 16 bits;
/// bit 26 (`F`) says bits 28-31 hold the FCS length in 16-bit words.
fn legacy_link_type(field: Linktype) -> (Linktype, u32) {
    let raw = field.0 as u32;
    let fcs_len = if raw & 0x0400_0000 != 0 {
        (raw >> 28) * 2
    } else {
        0
    };
    (Linktype((raw & 0xffff) as i32), fcs_len)
}

/// pcapng's `if_fcslen` option (pcapng spec §4.2, option code 13: the FCS length in
/// bytes, one octet).
const IF_FCSLEN: u16 = 13;

/// A reader whose first read gathers the whole file header (pcap's 24 bytes, or
/// pcapng's section header block). pcap-parser's `create_reader` reads once and
/// takes a header cut short by that read for a damaged one, which a pipe or a
/// decompressor handing over a few bytes at a time would make of a good file (the
/// capture fuzz body found it, reading in 13-byte pieces). Later reads go straight
/// through: the block loop refills until a block is whole.
struct HeaderFirst<R> {
    inner: R,
    first: bool,
}

impl<R: Read> Read for HeaderFirst<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !std::mem::take(&mut self.first) {
            return self.inner.read(buf);
        }
        let mut got = 0;
        while got < header_len(&buf[..got]).min(buf.len()) {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // What came before the error is handed over; the error comes again.
                Err(_) if got > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }
}

/// The length of the file header `head` starts, as far as `head` tells: a pcapng
/// section header block's total length (pcapng spec §4.1, in the byte order its
/// byte-order magic gives), else the 24 bytes of a pcap header.
fn header_len(head: &[u8]) -> usize {
    const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
    if head.len() < 12 {
        return 12;
    }
    if head[..4] != SHB_TYPE {
        return 24;
    }
    let len: [u8; 4] = head[4..8].try_into().unwrap_or_default();
    let total = match head[8..12] {
        [0x4d, 0x3c, 0x2b, 0x1a] => u32::from_le_bytes(len),
        [0x1a, 0x2b, 0x3c, 0x4d] => u32::from_be_bytes(len),
        _ => 24,
    };
    (total as usize).max(24)
}

/// Whether `data` starts with a pcapng block (of the section `parser` reads) that
/// declares fewer than the 12 bytes every block has (type and two lengths, pcapng
/// spec §3.1). pcap-parser 0.17 takes a process information block from 4 bytes up
/// and then subtracts 12 from its length: an overflow panic with overflow checks,
/// a 4 GB block without (the capture fuzz target found it). Such a block is counted
/// as corrupt before pcap-parser sees it, as it counts any other block that short.
fn runt_ng_block(data: &[u8], parser: Parser) -> bool {
    let Some(&[a, b, c, d]) = data.get(4..8) else {
        return false;
    };
    let len = match parser {
        Parser::Ng => u32::from_le_bytes([a, b, c, d]),
        Parser::NgBe => u32::from_be_bytes([a, b, c, d]),
        _ => return false,
    };
    len < 12
}

/// Which block parser pcap-parser's reader itself uses for the blocks to come, once
/// the file (or section) header has said (a tag rather than a function pointer, so
/// each parser is called directly and can be inlined into the loop).
#[derive(Clone, Copy)]
enum Parser {
    /// Before the file header.
    Unknown,
    /// Classic pcap: `parse_pcap_frame`, `_be`, `_modified`.
    Legacy,
    LegacyBe,
    LegacyModified,
    /// pcapng: `parse_block_le`, `_be`.
    Ng,
    NgBe,
}

pub struct CaptureReader {
    inner: Box<dyn PcapReaderIterator + Send>,
    /// Blocks are taken straight from the reader's buffer (see
    /// [`Self::for_each_packet_with_info`]). Off only in tests, as the reference: every
    /// block through `next()` and `consume()`, the way pcap-parser documents its reader.
    fast: bool,
    /// The read buffer's size (pcap-parser's reader does not tell it).
    capacity: usize,
    state: State,
    pub info: CaptureInfo,
    pub anomalies: Anomalies,
    /// What the decompressor met, if the file is compressed.
    trouble: StreamTrouble,
}

/// What the blocks read so far said about the ones to come.
struct State {
    compression: Option<Compression>,
    parser: Parser,
    legacy: Option<Interface>,
    interfaces: Vec<Interface>,
    last_ts: Timestamp,
}

impl CaptureReader {
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let input = input::open(path).map_err(|source| CaptureError::Open {
            path: name.clone(),
            source,
        })?;
        Self::from_input(input, &name)
    }

    pub fn from_input(input: Input, name: &str) -> Result<Self, CaptureError> {
        Self::from_input_with(input, name, INITIAL_BUFFER, true)
    }

    /// [`Self::from_input`] with the read buffer's first size and the block loop
    /// chosen: the fuzz targets (`crate::fuzzing`) start with a small buffer, so
    /// that inputs of a few kilobytes already reach its end, and hold the fast loop
    /// to the plain one.
    pub(crate) fn from_input_with(
        input: Input,
        name: &str,
        buffer: usize,
        fast: bool,
    ) -> Result<Self, CaptureError> {
        let (compression, trouble) = (input.compression, input.trouble.clone());
        let header_first = HeaderFirst {
            inner: input.reader,
            first: true,
        };
        let inner = match create_reader(buffer, header_first) {
            Ok(r) => r,
            // Nothing decompressed (a decoder may take a stream cut right after its
            // magic number for an empty one), or the decoder failed.
            Err(e)
                if compression.is_some()
                    && (trouble.peek().is_some() || matches!(e, PcapError::Eof)) =>
            {
                let what = match trouble.take() {
                    Some("compressed_stream_corrupt") => "corrupt",
                    _ => "cut short",
                };
                return Err(CaptureError::Compressed {
                    path: name.to_string(),
                    compression: compression.map_or("", Compression::name),
                    what,
                });
            }
            Err(PcapError::Eof) => return Err(CaptureError::Empty(name.to_string())),
            Err(PcapError::HeaderNotRecognized) | Err(PcapError::NomError(..)) => {
                return Err(CaptureError::NotACapture {
                    path: name.to_string(),
                    head: "an unknown magic number".to_string(),
                })
            }
            Err(e) => {
                return Err(CaptureError::BadHeader {
                    path: name.to_string(),
                    detail: format!("{e:?}"),
                })
            }
        };
        Ok(CaptureReader {
            inner,
            fast,
            capacity: buffer,
            trouble,
            state: State {
                compression,
                parser: Parser::Unknown,
                legacy: None,
                interfaces: Vec::new(),
                last_ts: Timestamp::default(),
            },
            info: CaptureInfo::default(),
            anomalies: Anomalies::default(),
        })
    }

    /// Calls `f` for every packet in file order. Returns when the file ends or cannot be
    /// read further; damage is counted in `self.anomalies` (`truncated_file`,
    /// `corrupt_block`, `oversized_block`, `read_error`).
    pub fn for_each_packet(&mut self, mut f: impl FnMut(Packet<'_>)) {
        self.for_each_packet_with_info(|p, _| f(p));
    }

    /// Like [`Self::for_each_packet`], also showing what is known of the file so far.
    /// A compressed stream that ended in an error is counted too
    /// (`compressed_stream_truncated`, `compressed_stream_corrupt`).
    pub fn for_each_packet_with_info(&mut self, f: impl FnMut(Packet<'_>, &CaptureInfo)) {
        self.read_blocks(f);
        if let Some(reason) = self.trouble.take() {
            self.anomalies.count(reason);
        }
    }

    /// Reads up to the file's first packet and returns its time, leaving `info` with
    /// what the headers before it said (format, section comments, link types). For
    /// ordering a host's rotated files without reading them whole: one block at a
    /// time through the reader's own `next()`, so it costs a few blocks per file.
    /// `None` when the file holds no packet that can be read.
    pub fn first_packet_time(&mut self) -> Option<Timestamp> {
        let (inner, state) = (&mut self.inner, &mut self.state);
        let (info, anomalies) = (&mut self.info, &mut self.anomalies);
        loop {
            if runt_ng_block(inner.data(), state.parser) {
                return None;
            }
            match inner.next() {
                Ok((consumed, block)) => {
                    let ts = state.handle_block(block, info, anomalies).map(|p| p.ts);
                    inner.consume(consumed);
                    if ts.is_some() {
                        return ts;
                    }
                }
                Err(PcapError::Incomplete(_)) => inner.refill().ok()?,
                Err(_) => return None,
            }
        }
    }

    /// The loop of [`Self::for_each_packet_with_info`].
    ///
    /// Blocks are parsed straight from the reader's buffer, as many as it holds, with
    /// the very parser its `next()` would use on the very same bytes, and consumed in
    /// one step: one dynamic call per buffer rather than several per packet, and no
    /// block enum built and moved per packet. Whatever does not parse whole there (the
    /// buffer's end, damage, the end of the file), and every section header (the reader
    /// tracks their byte order), goes through `next()`, so every refill, growth and
    /// anomaly is exactly the reader's.
    fn read_blocks(&mut self, mut f: impl FnMut(Packet<'_>, &CaptureInfo)) {
        let (inner, state, fast) = (&mut self.inner, &mut self.state, self.fast);
        let capacity = &mut self.capacity;
        let (info, anomalies) = (&mut self.info, &mut self.anomalies);
        loop {
            if fast {
                let taken = state.take_buffered(inner.data(), info, anomalies, &mut f);
                if taken > 0 {
                    // The reader compacts its buffer when it refills anyway (only the
                    // partial block at its end then moves); its `consume` also compacted
                    // whenever half the buffer was read, moving half a buffer each time.
                    // Where the bytes sit in the buffer changes nothing else.
                    inner.consume_noshift(taken);
                }
            }
            if runt_ng_block(inner.data(), state.parser) {
                anomalies.count("corrupt_block");
                return;
            }
            let step = match inner.next() {
                Ok((consumed, block)) => {
                    if let Some(p) = state.handle_block(block, info, anomalies) {
                        f(p, info);
                    }
                    Step::Consume(consumed)
                }
                Err(PcapError::Eof) => Step::Stop,
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(PcapError::BufferTooSmall) => Step::Grow,
                Err(PcapError::UnexpectedEof) => {
                    anomalies.count("truncated_file");
                    Step::Stop
                }
                Err(PcapError::ReadError) => {
                    anomalies.count("read_error");
                    Step::Stop
                }
                Err(_) => {
                    anomalies.count("corrupt_block");
                    Step::Stop
                }
            };
            match step {
                Step::Consume(n) if fast => inner.consume_noshift(n),
                Step::Consume(n) => inner.consume(n),
                Step::Refill => {
                    if inner.refill().is_err() {
                        anomalies.count("read_error");
                        return;
                    }
                }
                // pcap-parser says the buffer is too small when the block does not
                // fit in it beside what it holds, even when it is not full: after a
                // short read (a pipe, a decompressor) it is refilled first, so that
                // a block declaring more than the file holds ends as a truncated
                // file however the bytes arrive (the capture fuzz body found a
                // pipe making it an oversized block instead).
                Step::Grow if inner.data().len() < *capacity => {
                    if inner.refill().is_err() {
                        anomalies.count("read_error");
                        return;
                    }
                }
                Step::Grow => {
                    let want = inner.data().len().max(INITIAL_BUFFER) * 2;
                    if want > MAX_BUFFER || !inner.grow(want) {
                        anomalies.count("oversized_block");
                        return;
                    }
                    *capacity = want;
                    if inner.refill().is_err() {
                        anomalies.count("read_error");
                        return;
                    }
                }
                Step::Stop => return,
            }
        }
    }
}

impl State {
    /// Handles the whole blocks at the start of `data` (the reader's buffer) that are
    /// not section headers, calling `f` for each packet. Returns the bytes they took.
    fn take_buffered<'a>(
        &mut self,
        data: &'a [u8],
        info: &mut CaptureInfo,
        anomalies: &mut Anomalies,
        f: &mut impl FnMut(Packet<'_>, &CaptureInfo),
    ) -> usize {
        // Each parser called by name (not through a pointer), so it can be inlined.
        let legacy = |s: &mut Self, b, i: &mut CaptureInfo, a: &mut Anomalies| {
            Some(s.legacy_packet(b, i, a))
        };
        // A section header is left to the reader, which takes its byte order from it.
        let ng = |s: &mut Self, b: Block<'a>, i: &mut CaptureInfo, a: &mut Anomalies| {
            let shb = matches!(b, Block::SectionHeader(_));
            (!shb).then(|| s.handle_block(PcapBlockOwned::NG(b), i, a))
        };
        let rest = match self.parser {
            Parser::Unknown => data,
            Parser::Legacy => self.take(data, parse_pcap_frame, legacy, info, anomalies, f),
            Parser::LegacyBe => self.take(data, parse_pcap_frame_be, legacy, info, anomalies, f),
            Parser::LegacyModified => {
                self.take(data, parse_pcap_frame_modified, legacy, info, anomalies, f)
            }
            Parser::Ng => self.take(data, parse_block_le, ng, info, anomalies, f),
            Parser::NgBe => self.take(data, parse_block_be, ng, info, anomalies, f),
        };
        data.len() - rest.len()
    }

    /// The loop of [`Self::take_buffered`]: blocks parsed by `parse` and handled by
    /// `handle`, until one does not parse or `handle` leaves it (`None`). Returns the
    /// bytes left.
    fn take<'a, B>(
        &mut self,
        mut rest: &'a [u8],
        parse: impl Fn(&'a [u8]) -> IResult<&'a [u8], B, PcapError<&'a [u8]>>,
        handle: impl Fn(&mut Self, B, &mut CaptureInfo, &mut Anomalies) -> Option<Option<Packet<'a>>>,
        info: &mut CaptureInfo,
        anomalies: &mut Anomalies,
        f: &mut impl FnMut(Packet<'_>, &CaptureInfo),
    ) -> &'a [u8] {
        while !runt_ng_block(rest, self.parser) {
            let Ok((after, block)) = parse(rest) else {
                break;
            };
            let Some(packet) = handle(self, block, info, anomalies) else {
                break;
            };
            if let Some(p) = packet {
                f(p, info);
            }
            rest = after;
        }
        rest
    }

    fn handle_block<'a>(
        &mut self,
        block: PcapBlockOwned<'a>,
        info: &mut CaptureInfo,
        anomalies: &mut Anomalies,
    ) -> Option<Packet<'a>> {
        let suffix = match self.compression {
            Some(Compression::Gzip) => "+gzip",
            Some(Compression::Zstd) => "+zstd",
            Some(Compression::Lz4) => "+lz4",
            None => "",
        };
        let (iface, ts, data, orig_len) = match block {
            PcapBlockOwned::LegacyHeader(hdr) => {
                let nanos = hdr.is_nanosecond_precision();
                info.format = format!("{}{suffix}", if nanos { "pcap-nsec" } else { "pcap" });
                info.sections = 1;
                info.interfaces = 1;
                let (link_type, fcs_len) = legacy_link_type(hdr.network);
                let iface = Interface {
                    link_type,
                    units_per_sec: if nanos { 1_000_000_000 } else { 1_000_000 },
                    offset_secs: 0,
                    fcs_len,
                };
                info.link_types.insert(link_type_name(link_type));
                self.legacy = Some(iface);
                // As pcap-parser's `LegacyPcapReader` chooses.
                self.parser = if hdr.is_modified_format() {
                    Parser::LegacyModified
                } else if hdr.is_bigendian() {
                    Parser::LegacyBe
                } else {
                    Parser::Legacy
                };
                return None;
            }
            PcapBlockOwned::Legacy(b) => return self.legacy_packet(b, info, anomalies),
            PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                info.format = format!("pcapng{suffix}");
                info.sections += 1;
                // As pcap-parser's `PcapNGReader` chooses.
                self.parser = if shb.big_endian() {
                    Parser::NgBe
                } else {
                    Parser::Ng
                };
                self.interfaces.clear();
                for opt in &shb.options {
                    if opt.code == OptionCode::Comment {
                        push_comment(info, &opt.value);
                    }
                }
                return None;
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                let units_per_sec = match units_per_sec(idb.if_tsresol) {
                    Some(u) => u,
                    _ => {
                        anomalies.count("bad_if_tsresol");
                        1_000_000
                    }
                };
                info.interfaces += 1;
                info.link_types.insert(link_type_name(idb.linktype));
                let mut fcs_len = 0;
                for opt in &idb.options {
                    if opt.code == OptionCode::Comment {
                        push_comment(info, &opt.value);
                    } else if opt.code.0 == IF_FCSLEN {
                        fcs_len = opt.value.first().map_or(0, |&b| u32::from(b));
                    }
                }
                self.interfaces.push(Interface {
                    link_type: idb.linktype,
                    units_per_sec,
                    offset_secs: idb.ts_offset(),
                    fcs_len,
                });
                return None;
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let Some(iface) = self.interfaces.get(epb.if_id as usize).copied() else {
                    anomalies.count("unknown_interface");
                    return None;
                };
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = Timestamp::from_units(units, iface.units_per_sec, iface.offset_secs);
                // `data` holds the block's padding to 32 bits too: keep what was captured.
                let data = &epb.data[..(epb.caplen as usize).min(epb.data.len())];
                (iface, ts, data, epb.origlen)
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                // Simple packet blocks carry no timestamp: the best we can say is "no
                // earlier than the previous packet", and we count that we said it.
                let Some(iface) = self.interfaces.first().copied() else {
                    anomalies.count("unknown_interface");
                    return None;
                };
                anomalies.count("packet_without_timestamp");
                let data = &spb.data[..(spb.origlen as usize).min(spb.data.len())];
                (iface, self.last_ts, data, spb.origlen)
            }
            PcapBlockOwned::NG(_) => return None,
        };
        Some(self.packet(iface, ts, data, orig_len, info))
    }

    /// A classic pcap record.
    fn legacy_packet<'a>(
        &mut self,
        b: LegacyPcapBlock<'a>,
        info: &mut CaptureInfo,
        anomalies: &mut Anomalies,
    ) -> Option<Packet<'a>> {
        let Some(iface) = self.legacy else {
            anomalies.count("packet_before_header");
            return None;
        };
        let frac = u64::from(b.ts_usec);
        let ts = Timestamp::from_units(
            u64::from(b.ts_sec) * iface.units_per_sec + frac,
            iface.units_per_sec,
            0,
        );
        Some(self.packet(iface, ts, b.data, b.origlen, info))
    }

    /// A packet, counted in `info`.
    fn packet<'a>(
        &mut self,
        iface: Interface,
        ts: Timestamp,
        data: &'a [u8],
        orig_len: u32,
        info: &mut CaptureInfo,
    ) -> Packet<'a> {
        self.last_ts = ts;
        info.packets += 1;
        let (data, orig_len) = if iface.fcs_len == 0 {
            (data, orig_len)
        } else {
            strip_fcs(data, orig_len, iface.fcs_len)
        };
        if info.first_time.is_none_or(|t| ts < t) {
            info.first_time = Some(ts);
        }
        if info.last_time.is_none_or(|t| ts > t) {
            info.last_time = Some(ts);
        }
        Packet {
            ts,
            link_type: iface.link_type,
            data,
            orig_len,
        }
    }
}

/// A packet without its trailing FCS: cut from the data when the packet was captured
/// whole (a snaplen-cut packet never holds it), and from the length on the wire.
#[cold]
fn strip_fcs(data: &[u8], orig_len: u32, fcs_len: u32) -> (&[u8], u32) {
    let whole = data.len() as u64 >= u64::from(orig_len);
    let data = if whole {
        &data[..data.len().saturating_sub(fcs_len as usize)]
    } else {
        data
    };
    (data, orig_len.saturating_sub(fcs_len))
}

/// `if_tsresol` to units per second. pcap-parser's own helper rejects every binary
/// (2^-n) resolution because it range-checks the byte before masking the flag bit,
/// so the rule (pcapng spec, section 4.2) is applied here.
fn units_per_sec(tsresol: u8) -> Option<u64> {
    let exp = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 != 0 {
        (exp <= 63).then(|| 1u64 << exp)
    } else {
        10u64.checked_pow(exp)
    }
}

enum Step {
    Consume(usize),
    Refill,
    Grow,
    Stop,
}

fn push_comment(info: &mut CaptureInfo, value: &[u8]) {
    let text = String::from_utf8_lossy(value);
    let text = text.trim_end_matches('\0').to_string();
    if !text.is_empty() {
        info.comments.push(text);
    }
}

/// The name Wireshark and tcpdump use for a link type (`EN10MB`, `LINUX_SLL2`, ...).
pub fn link_type_name(lt: Linktype) -> String {
    match lt.0 {
        0 => "NULL".into(),
        1 => "EN10MB".into(),
        9 => "PPP".into(),
        12 | 14 | 101 => "RAW".into(),
        50 => "PPP_HDLC".into(),
        51 => "PPP_ETHER".into(),
        104 => "C_HDLC".into(),
        105 => "IEEE802_11".into(),
        108 => "LOOP".into(),
        113 => "LINUX_SLL".into(),
        127 => "IEEE802_11_RADIOTAP".into(),
        163 => "IEEE802_11_AVS".into(),
        192 => "PPI".into(),
        226 => "IPNET".into(),
        228 => "IPV4".into(),
        229 => "IPV6".into(),
        239 => "NFLOG".into(),
        258 => "PKTAP".into(),
        276 => "LINUX_SLL2".into(),
        n => format!("LINKTYPE_{n}"),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::capture::testdata;

    /// All a reading gives: every packet (time, link type, bytes, original length), what
    /// the file said about itself, the anomalies; or the error opening it.
    type Reading = Result<(Vec<(i64, i32, Vec<u8>, u32)>, String, Anomalies), String>;

    fn read(bytes: &[u8], fast: bool) -> Reading {
        let input =
            input::from_reader(Box::new(Cursor::new(bytes.to_vec()))).map_err(|e| e.to_string())?;
        let mut r = CaptureReader::from_input(input, "test").map_err(|e| e.to_string())?;
        r.fast = fast;
        let mut packets = Vec::new();
        r.for_each_packet(|p| packets.push((p.ts.0, p.link_type.0, p.data.to_vec(), p.orig_len)));
        Ok((packets, format!("{:?}", r.info), r.anomalies))
    }

    /// The fast path reads `bytes` exactly as the reader's plain loop does.
    fn assert_same(what: &str, bytes: &[u8]) {
        let (fast, plain) = (read(bytes, true), read(bytes, false));
        if fast != plain {
            let brief = |r: &Reading| match r {
                Ok((p, info, a)) => format!("{} packets, {info}, {a:?}", p.len()),
                Err(e) => e.clone(),
            };
            panic!("{what}: fast {} / plain {}", brief(&fast), brief(&plain));
        }
    }

    fn bundled() -> Vec<(String, Vec<u8>)> {
        testdata::bundled_captures()
            .into_iter()
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect()
    }

    /// A pcap record header (little-endian) declaring `caplen` bytes.
    fn record(caplen: u32) -> Vec<u8> {
        [1_700_000_000u32, 5, caplen, caplen]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    }

    #[test]
    fn the_fast_path_reads_real_and_damaged_captures_as_the_plain_loop() {
        let mut next = testdata::rng(0x9e37_79b9_7f4a_7c15);
        for (name, whole) in bundled() {
            assert_same(&name, &whole);
            // Damage is tried on a prefix of each file, to keep the test quick; the
            // prefix crosses the reader's 1 MiB buffer more than once.
            let bytes = &whole[..whole.len().min(2_500_000)];
            let mb = INITIAL_BUFFER;
            for cut in [
                24,
                25,
                40,
                100,
                65_535,
                65_536,
                65_537,
                mb - 1,
                mb,
                mb + 1,
                mb + 700,
            ] {
                if cut < bytes.len() {
                    assert_same(&format!("{name} cut at {cut}"), &bytes[..cut]);
                }
            }
            for _ in 0..6 {
                let cut = 24 + (next() % (bytes.len() as u64 - 24)) as usize;
                assert_same(&format!("{name} cut at {cut}"), &bytes[..cut]);
            }
            let garbage: Vec<u8> = (0..10_000).map(|_| next() as u8).collect();
            assert_same(&format!("{name} + garbage"), &[bytes, &garbage].concat());
            for round in 0..4 {
                let mut v = bytes.to_vec();
                for _ in 0..8 {
                    let at = 24 + (next() % (v.len() as u64 - 24)) as usize;
                    v[at] = next() as u8;
                }
                assert_same(&format!("{name} damaged ({round})"), &v);
            }
        }
    }

    #[test]
    fn large_records_grow_the_buffer_or_are_refused_as_in_the_plain_loop() {
        let (name, whole) = &bundled()[0];
        let bytes = &whole[..whole.len().min(1_500_000)];
        // 3 MB: the buffer grows and takes it, when it is all there. 40 MB and 100 MB
        // are beyond the largest buffer, whole or cut short.
        for declared in [3_000_000u32, 40_000_000, 100_000_000] {
            let mut v = [bytes, &record(declared)[..]].concat();
            assert_same(&format!("{name} + a short record of {declared}"), &v);
            v.resize(v.len() + declared as usize, 0x5a);
            assert_same(&format!("{name} + a record of {declared}"), &v);
        }
    }

    /// One pcapng section in either byte order: an interface with `if_tsresol`, an
    /// enhanced packet, a simple packet, a block of an unknown type.
    fn ng_section(big_endian: bool, tsresol: u8) -> Vec<u8> {
        // A number's little-endian bytes, reversed for a big-endian section.
        let order = |mut b: Vec<u8>| {
            if big_endian {
                b.reverse();
            }
            b
        };
        let w32 = |v: u32| order(v.to_le_bytes().to_vec());
        let w16 = |v: u16| order(v.to_le_bytes().to_vec());
        let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
            let len = 12 + body.len() as u32;
            out.extend(w32(kind));
            out.extend(w32(len));
            out.extend(body);
            out.extend(w32(len));
        };
        let mut out = Vec::new();
        let shb = [&w32(0x1a2b_3c4d)[..], &w16(1), &w16(0), &[0xff; 8]].concat();
        block(&mut out, 0x0a0d_0d0a, &shb);
        let mut idb = [w16(1), w16(0), w32(65535)].concat();
        idb.extend([w16(9), w16(1), vec![tsresol, 0, 0, 0]].concat());
        idb.extend([0; 4]);
        block(&mut out, 1, &idb);
        let data = [
            0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 7,
        ];
        let mut epb = [w32(0), w32(0x0006_0000), w32(0x1234_5678)].concat();
        epb.extend([w32(data.len() as u32), w32(data.len() as u32)].concat());
        epb.extend(data);
        epb.resize(epb.len().next_multiple_of(4), 0);
        block(&mut out, 6, &epb);
        let mut spb = w32(data.len() as u32);
        spb.extend(data);
        spb.resize(spb.len().next_multiple_of(4), 0);
        block(&mut out, 3, &spb);
        block(&mut out, 0x0bad_0001, &[1, 2, 3, 4]);
        out
    }

    #[test]
    fn pcapng_sections_of_either_byte_order_read_as_in_the_plain_loop() {
        let le = ng_section(false, 6);
        let be = ng_section(true, 0x80 | 20);
        let file = [&le[..], &be, &le, &be].concat();
        let Ok((packets, _, anomalies)) = read(&file, true) else {
            panic!("not read");
        };
        assert_eq!(packets.len(), 8, "{anomalies:?}");
        assert_eq!(anomalies.get("packet_without_timestamp"), 4);
        assert_same("sections", &file);
        for cut in (1..file.len()).step_by(7) {
            assert_same(&format!("sections cut at {cut}"), &file[..cut]);
        }
    }
}
