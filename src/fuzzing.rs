//! The bodies of lagtap's own fuzz targets (`fuzz/`): the capture reader, and the
//! whole decode path from a capture's bytes to events. They live in the library, as
//! the parser crates' do, so that `tests/fuzz_body.rs` runs the very same checks
//! over the seeds and deterministic mutations of them on stable in every
//! `cargo test`, and so that they can reach what the public API hides (the
//! reader's plain block loop, its buffer size).
//!
//! Both targets read the first input byte as a control byte, so that the fuzzer
//! spends its mutations on packets rather than on rediscovering file headers:
//!
//! - bits 0-1, framing: 0 the rest is a whole file (any format, compressed or not);
//!   1 a classic pcap header is put in front (little-endian, microseconds); 2 a
//!   pcapng section header and interface description (little-endian, microseconds);
//!   3 a classic pcap header, big-endian with nanoseconds. The rest is then records
//!   or blocks in that format.
//! - bits 2-4, the link type of that header: an index into [`LINK_TYPES`].
//! - bits 5-7: per target, see [`capture`] and [`decode`].

use std::io::{self, Cursor, Read, Write};
use std::sync::{Arc, OnceLock};

use pcap_parser::Linktype;
use tls_decrypt::KeyLog;

use crate::anomalies::Anomalies;
use crate::capture::input::{self, Compression};
use crate::capture::CaptureReader;
use crate::events::{jsonl, Event};

/// The link types a control byte can put in the header: those lagtap decodes, the
/// bundled captures' first (EN10MB, LINUX_SLL2).
pub const LINK_TYPES: [i32; 8] = [1, 276, 101, 113, 0, 127, 239, 9];

/// The read buffer the targets start with, far below the 1 MiB of a normal run:
/// inputs of a few kilobytes then already reach the buffer's end, where blocks are
/// cut, refilled and the buffer grows.
const SMALL_BUFFER: usize = 4096;
const LARGER_BUFFER: usize = 65536;

/// The capture file the control byte and the rest describe.
pub fn file(control: u8, rest: &[u8]) -> Vec<u8> {
    let link = LINK_TYPES[usize::from(control >> 2) & 7] as u32;
    let mut out = Vec::with_capacity(rest.len() + 64);
    match control & 3 {
        0 => {}
        1 => {
            out.extend(0xa1b2_c3d4u32.to_le_bytes());
            out.extend([2, 0, 4, 0]);
            out.extend([0; 8]);
            out.extend(262_144u32.to_le_bytes());
            out.extend(link.to_le_bytes());
        }
        2 => {
            // Section header block: byte-order magic, version 1.0, unknown length.
            out.extend(0x0a0d_0d0au32.to_le_bytes());
            out.extend(28u32.to_le_bytes());
            out.extend(0x1a2b_3c4du32.to_le_bytes());
            out.extend([1, 0, 0, 0]);
            out.extend([0xff; 8]);
            out.extend(28u32.to_le_bytes());
            // Interface description block: link type, snaplen, no options.
            out.extend(1u32.to_le_bytes());
            out.extend(20u32.to_le_bytes());
            out.extend((link as u16).to_le_bytes());
            out.extend([0, 0]);
            out.extend(262_144u32.to_le_bytes());
            out.extend(20u32.to_le_bytes());
        }
        _ => {
            out.extend(0xa1b2_3c4du32.to_be_bytes());
            out.extend([0, 2, 0, 4]);
            out.extend([0; 8]);
            out.extend(262_144u32.to_be_bytes());
            out.extend(link.to_be_bytes());
        }
    }
    out.extend_from_slice(rest);
    out
}

/// A seed for framing 1: the control byte, then each packet as a little-endian pcap
/// record (time in microseconds, captured and original length).
pub fn seed(control: u8, packets: &[(i64, &[u8], u32)]) -> Vec<u8> {
    let mut out = vec![control];
    for &(ns, data, orig_len) in packets {
        let (secs, frac) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
        out.extend((secs as u32).to_le_bytes());
        out.extend(((frac / 1000) as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(orig_len.to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// A reader handing over at most `piece` bytes per call, as a pipe or a decompressor
/// may: what is read must not depend on how the bytes arrive.
struct Pieces {
    bytes: Cursor<Vec<u8>>,
    piece: usize,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.piece);
        self.bytes.read(&mut buf[..n])
    }
}

/// Everything one reading gives, comparable between readings: every packet (time,
/// link type, bytes, original length), what the file said about itself (its
/// `Debug` text, with the format's name apart), the anomalies; or the error
/// opening it.
#[derive(Debug, PartialEq)]
struct Reading {
    packets: Vec<(i64, i32, Vec<u8>, u32)>,
    format: String,
    info: String,
    anomalies: Anomalies,
    first_time: Option<i64>,
    last_time: Option<i64>,
    counted: u64,
}

fn read(raw: Box<dyn Read + Send>, buffer: usize, fast: bool) -> Result<Reading, String> {
    let input = input::from_reader(raw).map_err(|e| e.to_string())?;
    let mut r =
        CaptureReader::from_input_with(input, "fuzz", buffer, fast).map_err(|e| e.to_string())?;
    let mut packets = Vec::new();
    r.for_each_packet(|p| packets.push((p.ts.0, p.link_type.0, p.data.to_vec(), p.orig_len)));
    let format = std::mem::take(&mut r.info.format);
    Ok(Reading {
        packets,
        format,
        info: format!("{:?}", r.info),
        anomalies: r.anomalies,
        first_time: r.info.first_time.map(|t| t.0),
        last_time: r.info.last_time.map(|t| t.0),
        counted: r.info.packets,
    })
}

/// The capture reader on arbitrary bytes. Control bits 5-6 choose how the bytes
/// arrive and the buffer they go to (whole into 64 KiB, 1 byte per read into 4 KiB,
/// 13 into 64 KiB, 1000 into 4 KiB); bit 7 also reads the file gzip-compressed. Checks that nothing panics; that the reader's fast block loop
/// reads exactly what its plain loop (pcap-parser's `next`/`consume`) reads; that
/// the bytes arriving in pieces, or compressed, change nothing but the format's
/// name; and that what the reader says about the file (packet count, first and last
/// time) is what it handed over.
pub fn capture(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let file = file(control, rest);
    let buffer = if control & 0x20 != 0 {
        SMALL_BUFFER
    } else {
        LARGER_BUFFER
    };
    let whole = || Box::new(Cursor::new(file.clone()));
    let fast = read(whole(), buffer, true);
    assert_eq!(fast, read(whole(), buffer, false), "fast loop / plain loop");

    let piece = [usize::MAX, 1, 13, 1000][usize::from(control >> 5) & 3];
    if piece != usize::MAX {
        let pieces = Pieces {
            bytes: Cursor::new(file.clone()),
            piece,
        };
        let read_in_pieces = read(Box::new(pieces), buffer, true);
        assert_eq!(fast, read_in_pieces, "whole / in pieces of {piece}");
    }

    if control & 0x80 != 0 && Compression::sniff(&file).is_none() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let packed = gz.write_all(&file).and_then(|()| gz.finish());
        let packed = packed.expect("compressing into memory");
        let gzipped = read(Box::new(Cursor::new(packed)), buffer, true);
        match (&fast, gzipped) {
            (Ok(plain), Ok(mut gzipped)) => {
                assert_eq!(gzipped.format, format!("{}+gzip", plain.format));
                gzipped.format.clone_from(&plain.format);
                assert_eq!(plain, &gzipped, "plain / gzip-compressed");
            }
            (Err(_), Err(_)) => {}
            (plain, gzipped) => panic!("plain {plain:?} / gzip-compressed {gzipped:?}"),
        }
    }

    let Ok(r) = fast else { return };
    assert_eq!(r.counted, r.packets.len() as u64);
    let times = r.packets.iter().map(|p| p.0);
    assert_eq!(r.first_time, times.clone().min());
    assert_eq!(r.last_time, times.max());
    let bytes: usize = r.packets.iter().map(|p| p.2.len()).sum();
    assert!(bytes <= file.len(), "packets hold more bytes than the file");
}

/// The secrets of the bundled `tls` captures: with control bit 5 set, seeds cut from
/// them decrypt, so the fuzzer starts inside TLS, not only at its door.
fn tls_keys() -> Arc<KeyLog> {
    static KEYS: OnceLock<Arc<KeyLog>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut k = KeyLog::new();
        for text in [
            &include_bytes!("../captures/tls/broadcaster.keys")[..],
            include_bytes!("../captures/tls/desktop.keys"),
            include_bytes!("../captures/tls/legacy.keys"),
            include_bytes!("../captures/tls/mobile.keys"),
            include_bytes!("../captures/tls/server.keys"),
        ] {
            k.add("fuzz", text);
        }
        Arc::new(k)
    })
    .clone()
}

/// The whole of `lagtap decode` on arbitrary bytes: capture reader, link layer,
/// flows, IP defragmentation, TCP reassembly, protocol detection, every parser and
/// the events, up to the JSON Lines. Control bit 5 gives the decoder the `tls`
/// captures' key logs. Checks that nothing panics and that the timeline is what
/// `decode` promises and `correlate` relies on: one `capture` event first, one
/// `summary` last counting the packets the capture reader reads and the events in
/// between; events in time order except those the summary counts as late; every
/// line exactly what serde writes for the event (the hand-written writer's
/// contract), and read back by serde into an event that writes the same line (what
/// `correlate` does with a `.jsonl` file).
pub fn decode(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let file = file(control, rest);
    let keylog = if control & 0x20 != 0 {
        tls_keys()
    } else {
        Arc::default()
    };
    let open = || {
        let input =
            input::from_reader(Box::new(Cursor::new(file.clone()))).expect("reading from memory");
        CaptureReader::from_input_with(input, "fuzz", LARGER_BUFFER, true)
    };
    let Ok(reader) = open() else { return };
    let mut events: Vec<Event> = Vec::new();
    let status = crate::decode::decode_reader(reader, "fuzz", "fuzz", keylog, |e| {
        events.push(e.clone());
        Ok(())
    });
    status.expect("the sink never fails");

    let mut packets = 0u64;
    open()
        .expect("opened once already")
        .for_each_packet(|_| packets += 1);
    let (Some(Event::Capture { .. }), Some(Event::Summary { .. })) =
        (events.first(), events.last())
    else {
        panic!("a timeline not framed by capture and summary: {events:?}");
    };
    let Some(Event::Summary {
        packets: counted,
        anomalies,
        events: released,
        ..
    }) = events.last()
    else {
        unreachable!()
    };
    assert_eq!(*counted, packets, "packets in the summary / read");
    let inner = &events[1..events.len() - 1];
    assert_eq!(
        *released,
        inner.len() as u64,
        "events in the summary / written"
    );
    let mut latest = i64::MIN;
    let mut out_of_order = 0;
    for e in inner {
        assert!(
            !matches!(e, Event::Capture { .. } | Event::Summary { .. }),
            "a second capture or summary event: {e:?}"
        );
        let t = crate::decode::event_time(e);
        if t < latest {
            out_of_order += 1;
        }
        latest = latest.max(t);
    }
    let late = anomalies.get("decode.late_event").copied().unwrap_or(0);
    assert!(
        out_of_order <= late,
        "{out_of_order} events out of order, {late} counted late"
    );

    let mut line = Vec::new();
    for e in &events {
        line.clear();
        jsonl::write_line(e, &mut line).expect("writing into memory");
        let mut serde = serde_json::to_vec(e).expect("serialising an event");
        serde.push(b'\n');
        assert_eq!(
            String::from_utf8_lossy(&line),
            String::from_utf8_lossy(&serde),
            "hand-written / serde JSON"
        );
        let back: Event = serde_json::from_slice(&line)
            .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&line)));
        let mut again = serde_json::to_vec(&back).expect("serialising an event");
        again.push(b'\n');
        assert_eq!(
            String::from_utf8_lossy(&line),
            String::from_utf8_lossy(&again),
            "a line read back writes another"
        );
    }
}

/// The link type a control byte's bits 2-4 name, if lagtap's header can carry it.
pub fn link_type_bits(lt: Linktype) -> Option<u8> {
    LINK_TYPES
        .iter()
        .position(|&l| l == lt.0)
        .map(|i| (i as u8) << 2)
}
