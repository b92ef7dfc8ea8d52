//! Streaming reader for pcap and pcapng files, built on `pcap-parser`.
//!
//! `pcap-parser` does the block parsing with a bounded, refillable buffer; this module
//! adds what lagtap needs on top: one timestamp type at nanosecond resolution whatever
//! the file's resolution (`if_tsresol`, `if_tsoffset`, nanosecond pcap), per-interface
//! link types across several pcapng sections, section comments, and the policy that a
//! damaged file is read up to the damage and the damage is counted, not fatal.

use std::collections::BTreeSet;
use std::path::Path;

use pcap_parser::pcapng::{Block, OptionCode};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{create_reader, Linktype, PcapBlockOwned, PcapError};

use super::input::{self, Input};
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
    /// `pcap`, `pcap-nsec` or `pcapng`, with `+gzip` when compressed.
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
}

pub struct CaptureReader {
    inner: Box<dyn PcapReaderIterator + Send>,
    gzip: bool,
    legacy: Option<Interface>,
    interfaces: Vec<Interface>,
    last_ts: Timestamp,
    pub info: CaptureInfo,
    pub anomalies: Anomalies,
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
        let gzip = input.gzip;
        let inner = match create_reader(INITIAL_BUFFER, input.reader) {
            Ok(r) => r,
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
            gzip,
            legacy: None,
            interfaces: Vec::new(),
            last_ts: Timestamp::default(),
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
    pub fn for_each_packet_with_info(&mut self, mut f: impl FnMut(Packet<'_>, &CaptureInfo)) {
        loop {
            let step = match self.inner.next() {
                Ok((consumed, block)) => {
                    let packet = Self::handle_block(
                        block,
                        &mut self.legacy,
                        &mut self.interfaces,
                        &mut self.info,
                        &mut self.anomalies,
                        self.gzip,
                        &mut self.last_ts,
                    );
                    if let Some(p) = packet {
                        f(p, &self.info);
                    }
                    Step::Consume(consumed)
                }
                Err(PcapError::Eof) => Step::Stop,
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(PcapError::BufferTooSmall) => Step::Grow,
                Err(PcapError::UnexpectedEof) => {
                    self.anomalies.count("truncated_file");
                    Step::Stop
                }
                Err(PcapError::ReadError) => {
                    self.anomalies.count("read_error");
                    Step::Stop
                }
                Err(_) => {
                    self.anomalies.count("corrupt_block");
                    Step::Stop
                }
            };
            match step {
                Step::Consume(n) => self.inner.consume(n),
                Step::Refill => {
                    if self.inner.refill().is_err() {
                        self.anomalies.count("read_error");
                        return;
                    }
                }
                Step::Grow => {
                    let want = self.inner.data().len().max(INITIAL_BUFFER) * 2;
                    if want > MAX_BUFFER || !self.inner.grow(want) {
                        self.anomalies.count("oversized_block");
                        return;
                    }
                    if self.inner.refill().is_err() {
                        self.anomalies.count("read_error");
                        return;
                    }
                }
                Step::Stop => return,
            }
        }
    }

    fn handle_block<'a>(
        block: PcapBlockOwned<'a>,
        legacy: &mut Option<Interface>,
        interfaces: &mut Vec<Interface>,
        info: &mut CaptureInfo,
        anomalies: &mut Anomalies,
        gzip: bool,
        last_ts: &mut Timestamp,
    ) -> Option<Packet<'a>> {
        let suffix = if gzip { "+gzip" } else { "" };
        let (iface, ts, data, orig_len) = match block {
            PcapBlockOwned::LegacyHeader(hdr) => {
                let nanos = hdr.is_nanosecond_precision();
                info.format = format!("{}{suffix}", if nanos { "pcap-nsec" } else { "pcap" });
                info.sections = 1;
                info.interfaces = 1;
                let iface = Interface {
                    link_type: hdr.network,
                    units_per_sec: if nanos { 1_000_000_000 } else { 1_000_000 },
                    offset_secs: 0,
                };
                info.link_types.insert(link_type_name(hdr.network));
                *legacy = Some(iface);
                return None;
            }
            PcapBlockOwned::Legacy(b) => {
                let Some(iface) = *legacy else {
                    anomalies.count("packet_before_header");
                    return None;
                };
                let frac = u64::from(b.ts_usec);
                let ts = Timestamp::from_units(
                    u64::from(b.ts_sec) * iface.units_per_sec + frac,
                    iface.units_per_sec,
                    0,
                );
                (iface, ts, b.data, b.origlen)
            }
            PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                info.format = format!("pcapng{suffix}");
                info.sections += 1;
                interfaces.clear();
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
                for opt in &idb.options {
                    if opt.code == OptionCode::Comment {
                        push_comment(info, &opt.value);
                    }
                }
                interfaces.push(Interface {
                    link_type: idb.linktype,
                    units_per_sec,
                    offset_secs: idb.ts_offset(),
                });
                return None;
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let Some(iface) = interfaces.get(epb.if_id as usize).copied() else {
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
                let Some(iface) = interfaces.first().copied() else {
                    anomalies.count("unknown_interface");
                    return None;
                };
                anomalies.count("packet_without_timestamp");
                let data = &spb.data[..(spb.origlen as usize).min(spb.data.len())];
                (iface, *last_ts, data, spb.origlen)
            }
            PcapBlockOwned::NG(_) => return None,
        };
        *last_ts = ts;
        info.packets += 1;
        if info.first_time.is_none_or(|t| ts < t) {
            info.first_time = Some(ts);
        }
        if info.last_time.is_none_or(|t| ts > t) {
            info.last_time = Some(ts);
        }
        Some(Packet {
            ts,
            link_type: iface.link_type,
            data,
            orig_len,
        })
    }
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
        12 | 14 | 101 => "RAW".into(),
        108 => "LOOP".into(),
        113 => "LINUX_SLL".into(),
        228 => "IPV4".into(),
        229 => "IPV6".into(),
        276 => "LINUX_SLL2".into(),
        n => format!("LINKTYPE_{n}"),
    }
}
