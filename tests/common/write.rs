//! Writers for the capture formats, used only to build test inputs whose every field
//! the test controls (byte order, timestamp resolution, interfaces, sections).

/// A packet to write: capture time in ns, link type, bytes.
#[derive(Clone, Debug)]
pub struct Frame {
    pub ts_ns: i64,
    pub link_type: u16,
    pub data: Vec<u8>,
}

/// Classic pcap; `nanos` selects the nanosecond magic.
pub fn pcap(frames: &[Frame], big_endian: bool, nanos: bool, snaplen: u32) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend(w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend(w16(2));
    out.extend(w16(4));
    out.extend(w32(0));
    out.extend(w32(0));
    out.extend(w32(snaplen));
    out.extend(w32(u32::from(frames.first().map_or(1, |f| f.link_type))));
    for f in frames {
        let secs = f.ts_ns.div_euclid(1_000_000_000) as u32;
        let frac = f.ts_ns.rem_euclid(1_000_000_000) as u32;
        let frac = if nanos { frac } else { frac / 1000 };
        let cap = f.data.len().min(snaplen as usize);
        out.extend(w32(secs));
        out.extend(w32(frac));
        out.extend(w32(cap as u32));
        out.extend(w32(f.data.len() as u32));
        out.extend(&f.data[..cap]);
    }
    out
}

/// An interface of a pcapng section: link type, `if_tsresol` byte, `if_tsoffset`.
#[derive(Clone, Copy, Debug)]
pub struct NgInterface {
    pub link_type: u16,
    pub tsresol: u8,
    pub tsoffset: i64,
}

fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend(code.to_le_bytes());
    out.extend((value.len() as u16).to_le_bytes());
    out.extend(value);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let len = 12 + body.len() as u32;
    out.extend(kind.to_le_bytes());
    out.extend(len.to_le_bytes());
    out.extend(body);
    out.extend(len.to_le_bytes());
}

/// One little-endian pcapng section with a comment, its interfaces and packets
/// (`(interface index, frame)`); concatenate sections for a multi-section file.
pub fn pcapng_section(comment: &str, ifaces: &[NgInterface], packets: &[(u32, Frame)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend(0x1a2b_3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    option(&mut shb, 1, comment.as_bytes());
    option(&mut shb, 0, &[]);
    block(&mut out, 0x0a0d_0d0a, &shb);
    for i in ifaces {
        let mut idb = Vec::new();
        idb.extend(i.link_type.to_le_bytes());
        idb.extend(0u16.to_le_bytes());
        idb.extend(262_144u32.to_le_bytes());
        option(&mut idb, 9, &[i.tsresol]);
        if i.tsoffset != 0 {
            option(&mut idb, 14, &i.tsoffset.to_le_bytes());
        }
        option(&mut idb, 0, &[]);
        block(&mut out, 1, &idb);
    }
    for (if_id, f) in packets {
        let iface = ifaces[*if_id as usize];
        let units = units_per_sec(iface.tsresol);
        let rel_ns = (f.ts_ns - iface.tsoffset * 1_000_000_000) as i128;
        let ts = (rel_ns * units as i128 / 1_000_000_000) as u64;
        let mut epb = Vec::new();
        epb.extend(if_id.to_le_bytes());
        epb.extend(((ts >> 32) as u32).to_le_bytes());
        epb.extend((ts as u32).to_le_bytes());
        epb.extend((f.data.len() as u32).to_le_bytes());
        epb.extend((f.data.len() as u32).to_le_bytes());
        epb.extend(&f.data);
        while epb.len() % 4 != 0 {
            epb.push(0);
        }
        block(&mut out, 6, &epb);
    }
    out
}

pub fn units_per_sec(tsresol: u8) -> u64 {
    if tsresol & 0x80 == 0 {
        10u64.pow(u32::from(tsresol))
    } else {
        1u64 << (tsresol & 0x7f)
    }
}

/// A TCP segment over IPv4, without link header.
pub fn ipv4_tcp(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    flags: &str,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = etherparse::PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 65535);
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('A') {
        b = b.ack(1);
    }
    if flags.contains('F') {
        b = b.fin();
    }
    if flags.contains('R') {
        b = b.rst();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("build packet");
    out
}

/// Wraps an IP packet in the link header of `link_type`.
pub fn frame(link_type: u16, ip: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match link_type {
        1 => {
            out.extend([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        }
        // Ethernet with two 802.1Q tags (QinQ).
        0xffff => {
            out.extend([
                2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08,
                0x00,
            ]);
        }
        113 => {
            out.extend([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00]);
        }
        276 => {
            out.extend([
                0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
            ]);
        }
        0 => out.extend(2u32.to_le_bytes()),
        108 => out.extend(2u32.to_be_bytes()),
        _ => {}
    }
    out.extend(ip);
    out
}

/// The packets of an RTMP publisher's connection as its own capture sees them
/// (client 10.0.0.2:50000 → server 10.0.0.1:1935, Ethernet): SYN at `t0`, SYN-ACK,
/// the RTMP 1.0 handshake (§5.2: C0+C1+C2 and S0+S1+S2, version 3, zero-filled)
/// 1 ms apart, each of `messages` (capture time, chunked RTMP bytes) as one client
/// segment, then the client's FIN 1 ms and the server's 2 ms after the last.
pub fn rtmp_publish(t0: i64, messages: &[(i64, Vec<u8>)]) -> Vec<Frame> {
    const MS: i64 = 1_000_000;
    let (c, s) = (([10, 0, 0, 2], 50000), ([10, 0, 0, 1], 1935));
    let mut hs = vec![3u8];
    hs.resize(1 + 2 * 1536, 0);
    let mut frames = Vec::new();
    let mut push = |t: i64, ip: Vec<u8>| {
        frames.push(Frame {
            ts_ns: t,
            link_type: 1,
            data: frame(1, &ip),
        })
    };
    let mut seq_c = 1001u32;
    push(t0, ipv4_tcp(c, s, 1000, "S", &[]));
    push(t0 + MS, ipv4_tcp(s, c, 5000, "SA", &[]));
    push(t0 + 2 * MS, ipv4_tcp(c, s, seq_c, "A", &hs));
    seq_c += hs.len() as u32;
    push(t0 + 3 * MS, ipv4_tcp(s, c, 5001, "A", &hs));
    let mut last = t0 + 3 * MS;
    for (t, bytes) in messages {
        push(*t, ipv4_tcp(c, s, seq_c, "A", bytes));
        seq_c += bytes.len() as u32;
        last = *t;
    }
    push(last + MS, ipv4_tcp(c, s, seq_c, "FA", &[]));
    push(
        last + 2 * MS,
        ipv4_tcp(s, c, 5001 + hs.len() as u32, "FA", &[]),
    );
    frames
}
