//! Driving one host's capture through the layers: packets → link decode → flow table.
//!
//! A host's capture is one file or a timeline of rotated files
//! (`capture::timeline`), read in order through one flow table. Decoding a host
//! needs nothing from other hosts, so this is a plain function of its files and a
//! consumer; callers run several hosts in parallel.

use std::path::{Path, PathBuf};

use crate::anomalies::Anomalies;
use crate::capture::{CaptureError, CaptureInfo, CaptureReader, Packet};
use crate::flow::{FlowHandler, FlowTable};
use crate::link;
use crate::time::Timestamp;

/// The outcome of reading one file: what the file was, what went wrong (counted), and
/// the consumer with everything it collected.
pub struct FileRun<H> {
    /// For a timeline, the files' facts together: packets summed, first and last
    /// times over all, link types and comments gathered, the first file's format.
    pub info: CaptureInfo,
    pub anomalies: Anomalies,
    pub handler: H,
    /// Files of the timeline after the first that could not be opened, with why
    /// (counted as `timeline.file_unreadable`; the others were still read).
    pub unreadable: Vec<String>,
}

/// Reads `path` to the end, feeding every TCP/UDP packet to a flow table that hands
/// streams to `handler`. Only failing to open the file is an error; damage inside it
/// is counted in `anomalies` and everything before and around it is still decoded.
pub fn run_file<H: FlowHandler>(path: &Path, handler: H) -> Result<FileRun<H>, CaptureError> {
    let reader = CaptureReader::open(path)?;
    Ok(run_reader(reader, handler))
}

pub fn run_reader<H: FlowHandler>(reader: CaptureReader, handler: H) -> FileRun<H> {
    run_reader_with(reader, handler, |_, _, _| {})
}

/// Like [`run_reader`], calling `after_packet(handler, capture time, file info)` after every
/// packet, so a consumer can hand finished results on while the file is still read
/// (what keeps `decode`'s memory flat in the capture's size).
pub fn run_reader_with<H: FlowHandler>(
    reader: CaptureReader,
    handler: H,
    after_packet: impl FnMut(&mut H, Timestamp, &CaptureInfo),
) -> FileRun<H> {
    run_timeline(reader, std::iter::empty(), handler, after_packet)
}

/// Like [`run_reader_with`] over a host's files in time order (a timeline: see
/// `capture::timeline`): one flow table for all of them, so flows, their reassembly
/// and the events they build carry across file boundaries, exactly as if the files
/// were one. Only failing to open the first file is an error; a later file that
/// cannot be opened is named in `unreadable` and the rest are read.
pub fn run_files_with<H: FlowHandler>(
    files: &[PathBuf],
    handler: H,
    after_packet: impl FnMut(&mut H, Timestamp, &CaptureInfo),
) -> Result<FileRun<H>, CaptureError> {
    let Some((first, rest)) = files.split_first() else {
        return Err(CaptureError::Empty("an empty list of capture files".into()));
    };
    let reader = CaptureReader::open(first)?;
    let later = rest.iter().map(|p| CaptureReader::open(p));
    Ok(run_timeline(reader, later, handler, after_packet))
}

/// [`run_files_with`] on readers already open (the first) or opened as they come
/// (`later`): what decoding bytes that are not in a file (a fuzz input) goes through.
pub fn run_timeline<H: FlowHandler>(
    mut reader: CaptureReader,
    later: impl Iterator<Item = Result<CaptureReader, CaptureError>>,
    handler: H,
    mut after_packet: impl FnMut(&mut H, Timestamp, &CaptureInfo),
) -> FileRun<H> {
    let mut table = FlowTable::new(handler);
    let mut anomalies = Anomalies::default();
    let mut unreadable = Vec::new();
    let mut feed = |reader: &mut CaptureReader, table: &mut FlowTable<H>, a: &mut Anomalies| {
        reader.for_each_packet_with_info(|p, info| {
            if feed_packet(table, a, p) {
                after_packet(&mut table.handler, p.ts, info);
            }
        });
        a.merge(&reader.anomalies);
    };
    feed(&mut reader, &mut table, &mut anomalies);
    let mut info = reader.info;
    for next in later {
        match next {
            Ok(mut r) => {
                feed(&mut r, &mut table, &mut anomalies);
                if let (Some(end), Some(start)) = (info.last_time, r.info.first_time) {
                    if start < end {
                        // Two files of one host overlapping in time: not a rotation.
                        anomalies.count("timeline.files_overlap");
                    }
                }
                join_info(&mut info, r.info);
            }
            Err(e) => {
                anomalies.count("timeline.file_unreadable");
                unreadable.push(e.to_string());
            }
        }
    }
    table.finish_all();
    anomalies.merge(&table.anomalies);
    FileRun {
        info,
        anomalies,
        handler: table.handler,
        unreadable,
    }
}

/// `next`'s facts added to those of the files before it.
fn join_info(info: &mut CaptureInfo, next: CaptureInfo) {
    info.link_types.extend(next.link_types);
    for c in next.comments {
        if !info.comments.contains(&c) {
            info.comments.push(c);
        }
    }
    info.sections += next.sections;
    info.interfaces += next.interfaces;
    info.packets += next.packets;
    info.first_time = match (info.first_time, next.first_time) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    info.last_time = info.last_time.max(next.last_time);
}

/// Feeds one captured packet to `table`: link-layer decode, then the flow table;
/// what is not TCP/UDP over IP is counted in `anomalies` (when it is worth counting).
/// Returns whether the flow table took the packet. Public so that live decoding
/// (`lagtap watch`) drives the very same path packet by packet.
pub fn feed_packet<H: FlowHandler>(
    table: &mut FlowTable<H>,
    anomalies: &mut Anomalies,
    p: Packet<'_>,
) -> bool {
    if (p.data.len() as u32) < p.orig_len {
        anomalies.count("snaplen_cut");
    }
    // Matched by reference: the decoded headers are read where `decode` wrote them,
    // not copied first.
    match &link::decode(p.link_type, p.data) {
        Ok(t) => {
            table.packet(p.ts, t);
            true
        }
        Err(link::Skip::Amsdu) => {
            let mut taken = false;
            link::amsdu_subframes(p.link_type, p.data, |sub| match sub {
                Ok(t) => {
                    table.packet(p.ts, &t);
                    taken = true;
                }
                Err(skip) => {
                    if let Some(reason) = skip.reason() {
                        anomalies.count(reason);
                    }
                }
            });
            taken
        }
        Err(skip) => {
            if let Some(reason) = skip.reason() {
                anomalies.count(reason);
            }
            false
        }
    }
}
