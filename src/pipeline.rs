//! Driving one capture file through the layers: packets → link decode → flow table.
//!
//! Decoding a host's capture needs nothing from other hosts, so this is a plain
//! function of one file and a consumer; callers run several in parallel.

use std::path::Path;

use crate::anomalies::Anomalies;
use crate::capture::{CaptureError, CaptureInfo, CaptureReader, Packet};
use crate::flow::{FlowHandler, FlowTable};
use crate::link;
use crate::time::Timestamp;

/// The outcome of reading one file: what the file was, what went wrong (counted), and
/// the consumer with everything it collected.
pub struct FileRun<H> {
    pub info: CaptureInfo,
    pub anomalies: Anomalies,
    pub handler: H,
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
    mut reader: CaptureReader,
    handler: H,
    mut after_packet: impl FnMut(&mut H, Timestamp, &CaptureInfo),
) -> FileRun<H> {
    let mut table = FlowTable::new(handler);
    let mut anomalies = Anomalies::default();
    reader.for_each_packet_with_info(|p, info| {
        if feed_packet(&mut table, &mut anomalies, p) {
            after_packet(&mut table.handler, p.ts, info);
        }
    });
    table.finish_all();
    anomalies.merge(&reader.anomalies);
    anomalies.merge(&table.anomalies);
    FileRun {
        info: reader.info,
        anomalies,
        handler: table.handler,
    }
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
        Err(skip) => {
            if let Some(reason) = skip.reason() {
                anomalies.count(reason);
            }
            false
        }
    }
}
