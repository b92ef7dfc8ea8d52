//! Link types built byte by byte from their specifications (named in each test): the
//! same TCP conversation behind each header gives the same reassembled streams as
//! behind plain Ethernet, and frames that carry nothing lagtap uses are counted by
//! what they are, never mistaken for IP.

mod common;

use std::path::PathBuf;

use common::write::{ipv4_tcp, pcap, Frame};
use common::StreamCollector;
use lagtap::anomalies::Anomalies;
use lagtap::pipeline::run_file;

const BASE_NS: i64 = 1_795_581_166_000_000_000;

/// A file of its own for each call (the tests run in parallel).
fn temp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = common::scratch("links");
    dir.join(format!("{n}-{name}"))
}

/// An HTTP exchange over IPv4 TCP: handshake, request, response, as IP packets.
fn conversation_v4() -> Vec<Vec<u8>> {
    let c = ([10, 0, 0, 1], 40000);
    let s = ([10, 0, 0, 2], 80);
    let req = b"GET /hls/a.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd";
    vec![
        ipv4_tcp(c, s, 100, "S", b""),
        ipv4_tcp(s, c, 500, "SA", b""),
        ipv4_tcp(c, s, 101, "A", req),
        ipv4_tcp(s, c, 501, "A", resp),
    ]
}

/// The same exchange over IPv6.
fn conversation_v6() -> Vec<Vec<u8>> {
    let c: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let s: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let seg = |src: [u8; 16], dst: [u8; 16], sp, dp, seq, syn, payload: &[u8]| {
        let mut b = etherparse::PacketBuilder::ipv6(src, dst, 64).tcp(sp, dp, seq, 65535);
        if syn {
            b = b.syn();
        }
        let mut out = Vec::new();
        b.ack(1).write(&mut out, payload).unwrap();
        out
    };
    vec![
        seg(c, s, 40000, 80, 100, true, b""),
        seg(s, c, 80, 40000, 500, true, b""),
        seg(c, s, 40000, 80, 101, false, b"GET / HTTP/1.1\r\n\r\n"),
        seg(
            s,
            c,
            80,
            40000,
            501,
            false,
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ),
    ]
}

/// Reads a pcap of `frames` under link type field `link_field` (all 32 bits, FCS bits
/// included): the streams of its flows and the anomalies.
fn read(name: &str, link_field: u32, frames: &[Vec<u8>]) -> (Vec<[Vec<u8>; 2]>, Anomalies) {
    let frames: Vec<Frame> = frames
        .iter()
        .enumerate()
        .map(|(i, d)| Frame {
            ts_ns: BASE_NS + i as i64 * 1_000_000,
            link_type: 1,
            data: d.clone(),
        })
        .collect();
    let mut bytes = pcap(&frames, false, true, 65535);
    bytes[20..24].copy_from_slice(&link_field.to_le_bytes());
    let p = temp(name);
    std::fs::write(&p, bytes).unwrap();
    let run = run_file(&p, StreamCollector::default()).unwrap();
    let streams = run
        .handler
        .flows
        .values()
        .map(|f| f.bytes.clone())
        .collect();
    let _ = std::fs::remove_file(&p);
    (streams, run.anomalies)
}

/// What plain Ethernet gives for `ips`.
fn reference(ips: &[Vec<u8>]) -> Vec<[Vec<u8>; 2]> {
    let eth: Vec<Vec<u8>> = ips.iter().map(|ip| common::write::frame(1, ip)).collect();
    let (streams, a) = read("reference.pcap", 1, &eth);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(streams.len(), 1);
    assert!(!streams[0][0].is_empty() && !streams[0][1].is_empty());
    streams
}

/// Each IP packet wrapped by `wrap`, read under `link_field`, gives the Ethernet
/// reference streams, v4 and v6, with nothing counted.
fn same_as_ethernet(what: &str, link_field: u32, wrap: impl Fn(&[u8]) -> Vec<u8>) {
    for (v, ips) in [("v4", conversation_v4()), ("v6", conversation_v6())] {
        let want = reference(&ips);
        let wrapped: Vec<Vec<u8>> = ips.iter().map(|ip| wrap(ip)).collect();
        let (got, a) = read(&format!("{what}-{v}.pcap"), link_field, &wrapped);
        assert_eq!(got, want, "{what} {v}");
        assert!(a.is_empty(), "{what} {v}: {a:?}");
    }
}

fn family_v6(ip: &[u8]) -> bool {
    ip.first().is_some_and(|b| b >> 4 == 6)
}

#[test]
fn null_and_loop_in_either_byte_order() {
    // tcpdump.org LINKTYPE_NULL: the address family in the capturing host's byte
    // order; LINKTYPE_LOOP: in network order. AF_INET6 differs by OS (Linux 10,
    // OpenBSD 24, FreeBSD 28, macOS 30).
    for (af6, host_le) in [(30u32, true), (28, false), (24, true), (10, false)] {
        let wrap = |ip: &[u8]| {
            let af = if family_v6(ip) { af6 } else { 2 };
            let mut f = if host_le {
                af.to_le_bytes().to_vec()
            } else {
                af.to_be_bytes().to_vec()
            };
            f.extend(ip);
            f
        };
        same_as_ethernet(&format!("null-{af6}"), 0, wrap);
        same_as_ethernet(&format!("loop-{af6}"), 108, wrap);
    }
    // Not an IP family: not IP, whatever the bytes after it look like.
    let mut f = 7u32.to_le_bytes().to_vec();
    f.extend(&conversation_v4()[0]);
    let (streams, _) = read("null-other.pcap", 0, &[f]);
    assert!(streams.is_empty());
}

#[test]
fn the_fcs_bits_of_a_pcap_link_type_field_are_masked_and_the_fcs_stripped() {
    // The pcap file format (draft-ietf-opsawg-pcap §4, "LinkType and additional
    // information"): link type in bits 0-15, F (bit 26) set when bits 28-31 hold the
    // FCS length in 16-bit words. 0x40000000 with F clear is what the DLT_NULL
    // file carried.
    let null = |ip: &[u8]| {
        let mut f = 2u32.to_le_bytes().to_vec();
        f.extend(ip);
        f
    };
    let ips = conversation_v4();
    let want = reference(&ips);
    let frames: Vec<Vec<u8>> = ips.iter().map(|ip| null(ip)).collect();
    let (got, a) = read("null-fcs-bits.pcap", 0x4000_0000, &frames);
    assert_eq!((got, a.is_empty()), (want.clone(), true), "{a:?}");
    // Ethernet with a 4-byte FCS (F set, 2 words): the FCS is not payload. An IPv4
    // packet that ends before the frame would be cut at its total length anyway, so
    // the check is on the raw-IPv4 link type (228), where the FCS follows the packet
    // directly, and on the length on the wire of a cut frame.
    let fcs = [0xde, 0xad, 0xbe, 0xef];
    let with_fcs: Vec<Vec<u8>> = ips.iter().map(|ip| [ip, &fcs[..]].concat()).collect();
    let (got, a) = read("ipv4-fcs.pcap", 228 | 0x0400_0000 | (2 << 28), &with_fcs);
    assert_eq!((got, a.is_empty()), (want, true), "{a:?}");
    // The file's link type is named as Wireshark names it.
    let mut bytes = pcap(&[], false, true, 65535);
    bytes[20..24].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    let p = temp("null-named.pcap");
    std::fs::write(&p, bytes).unwrap();
    let report = lagtap::inspect::inspect_file(&p).unwrap();
    assert_eq!(report.link_types, ["NULL"]);
}

#[test]
fn raw_ipv4_and_ipv6_link_types() {
    // tcpdump.org LINKTYPE_RAW (101, and DLT 12/14), LINKTYPE_IPV4 (228), LINKTYPE_IPV6
    // (229): the packet starts with the IP header.
    for lt in [101, 12, 14, 228, 229] {
        same_as_ethernet(&format!("raw-{lt}"), lt, |ip| ip.to_vec());
    }
}

#[test]
fn ppp_ppp_in_hdlc_cisco_hdlc_and_pppoe() {
    // RFC 1661 §2 Protocol field (0x0021 IPv4 per RFC 1332, 0x0057 IPv6 per RFC 5072),
    // §6.5 Protocol-Field-Compression (one odd octet).
    let proto = |ip: &[u8]| if family_v6(ip) { 0x0057u16 } else { 0x0021 };
    same_as_ethernet("ppp", 9, |ip| [&proto(ip).to_be_bytes()[..], ip].concat());
    same_as_ethernet("ppp-pfc", 9, |ip| [&[proto(ip) as u8][..], ip].concat());
    // RFC 1662 §3.1: address 0xFF, control 0x03 before the Protocol field.
    let hdlc = |ip: &[u8]| [&[0xff, 0x03][..], &proto(ip).to_be_bytes(), ip].concat();
    same_as_ethernet("ppp-hdlc-in-9", 9, hdlc);
    same_as_ethernet("ppp-hdlc", 50, hdlc);
    // RFC 1547 §4.3.1 Cisco HDLC: address 0x0F, control 0, EtherType; under
    // LINKTYPE_PPP_HDLC (50) and LINKTYPE_C_HDLC (104).
    let et = |ip: &[u8]| if family_v6(ip) { 0x86ddu16 } else { 0x0800 };
    let chdlc = |ip: &[u8]| [&[0x0f, 0x00][..], &et(ip).to_be_bytes(), ip].concat();
    same_as_ethernet("chdlc-50", 50, chdlc);
    same_as_ethernet("chdlc-104", 104, chdlc);
    // RFC 2516 §4: PPPoE session (EtherType 0x8864): ver/type 0x11, code 0, session
    // id, length (PPP protocol + payload), then PPP. Over Ethernet and as
    // LINKTYPE_PPP_ETHER (51).
    let pppoe = |ip: &[u8]| {
        let len = (ip.len() + 2) as u16;
        [
            &[0x11, 0x00, 0x12, 0x34][..],
            &len.to_be_bytes(),
            &proto(ip).to_be_bytes(),
            ip,
        ]
        .concat()
    };
    same_as_ethernet("pppoe-51", 51, pppoe);
    same_as_ethernet("pppoe-eth", 1, |ip| {
        [
            &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0x64][..],
            &pppoe(ip),
        ]
        .concat()
    });
    // LCP (0xc021) is PPP but not IP.
    let (streams, _) = read("ppp-lcp.pcap", 9, &[vec![0xc0, 0x21, 1, 1, 0, 4]]);
    assert!(streams.is_empty());
}

/// NFLOG TLV (linux/netfilter/nfnetlink_log.h: `struct nfattr` length and type in host
/// byte order, 4-byte aligned).
fn tlv(out: &mut Vec<u8>, ty: u16, value: &[u8], le: bool) {
    let len = (4 + value.len()) as u16;
    let w = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
    out.extend(w(len));
    out.extend(w(ty));
    out.extend(value);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

#[test]
fn nflog_walks_its_tlvs_to_the_payload() {
    // NFLOG: linux/netfilter/nfnetlink_log.h (enum nfulnl_attr_type: NFULA_PACKET_HDR 1,
    // NFULA_PREFIX 10, NFULA_PAYLOAD 9) and tcpdump.org LINKTYPE_NFLOG: family,
    // version 0, resource id (network order), then TLVs in host byte order.
    for le in [true, false] {
        same_as_ethernet(&format!("nflog-{le}"), 239, |ip| {
            let family = if family_v6(ip) { 10 } else { 2 };
            let mut f = vec![family, 0, 0, 5];
            tlv(&mut f, 1, &[0x08, 0x00, 3, 0], le);
            tlv(&mut f, 10, b"lagtap\0", le);
            tlv(&mut f, 9, ip, le);
            f
        });
    }
    // No payload TLV (a rule logging headers only): counted, not IP.
    let mut f = vec![2, 0, 0, 5];
    tlv(&mut f, 1, &[0x08, 0x00, 3, 0], true);
    let (streams, a) = read("nflog-nopayload.pcap", 239, &[f]);
    assert!(streams.is_empty());
    assert_eq!(a.get("nflog.no_payload"), 1);
    // A TLV length beyond the packet: malformed, never read past the end.
    let mut f = vec![2, 0, 0, 5];
    tlv(&mut f, 9, &conversation_v4()[0], true);
    f[4] = 0xff;
    let (_, a) = read("nflog-bad.pcap", 239, &[f]);
    assert_eq!(a.get("malformed_packet"), 1);
}

#[test]
fn pktap_leads_to_the_inner_link_type() {
    // libpcap pcap/pktap.h `struct pktap_header`: pth_length (u32, the header's own
    // length), pth_type_next, pth_dlt (the packet's DLT), pth_ifname[24], ... in host
    // byte order (little-endian on macOS); 108 bytes as macOS writes it.
    for (inner, head) in [(1u32, true), (0, true), (12, false)] {
        same_as_ethernet(&format!("pktap-{inner}"), 258, |ip| {
            let mut h = vec![0u8; 108];
            let w = |v: u32| {
                if head {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                }
            };
            h[0..4].copy_from_slice(&w(108));
            h[4..8].copy_from_slice(&w(1));
            h[8..12].copy_from_slice(&w(inner));
            h[12..15].copy_from_slice(b"en0");
            let body = match inner {
                1 => common::write::frame(1, ip),
                0 => [
                    &(if family_v6(ip) { 30u32 } else { 2 }).to_le_bytes()[..],
                    ip,
                ]
                .concat(),
                _ => ip.to_vec(),
            };
            [h, body].concat()
        });
    }
}

/// An 802.11 data frame (IEEE 802.11-2020 §9.3.2.1): Frame Control, Duration,
/// Address 1-3, Sequence Control, [Address 4], [QoS Control], LLC/SNAP, `ip`.
fn wlan_data(ip: &[u8], qos: bool, to_from: u8, protected: bool) -> Vec<u8> {
    // §9.2.4.1.1: type 2 (data) in bits 2-3, subtype 0 (Data) or 8 (QoS Data).
    let fc0 = (2 << 2) | if qos { 8 << 4 } else { 0 };
    let fc1 = to_from | if protected { 0x40 } else { 0 };
    let mut f = vec![fc0, fc1, 0x2c, 0x00];
    f.extend([
        2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 3, 0x10, 0x00,
    ]);
    if to_from == 3 {
        f.extend([2, 0, 0, 0, 0, 4]);
    }
    if qos {
        f.extend([0x05, 0x00]); // TID 5, no A-MSDU
    }
    // IEEE Std 802-2014 §10.5 / RFC 1042: LLC AA AA 03, SNAP OUI 00-00-00, EtherType.
    let et: u16 = if family_v6(ip) { 0x86dd } else { 0x0800 };
    f.extend([0xaa, 0xaa, 0x03, 0, 0, 0]);
    f.extend(et.to_be_bytes());
    f.extend(ip);
    f
}

/// A radiotap header (radiotap.org "Radiotap header"; fields aligned to their size
/// from the header's start): present = TSFT (bit 0, u64) + Flags (bit 1, u8) +
/// Rate (bit 2), with an extended bitmap (bit 31) when `ext`.
fn radiotap(fcs: bool, ext: bool) -> Vec<u8> {
    let mut h = vec![0u8, 0, 0, 0];
    let mut present = 0b111u32;
    if ext {
        present |= 1 << 31;
    }
    h.extend(present.to_le_bytes());
    if ext {
        h.extend(0u32.to_le_bytes());
    }
    while h.len() % 8 != 0 {
        h.push(0);
    }
    h.extend(1_234_567u64.to_le_bytes()); // TSFT
    h.push(if fcs { 0x10 } else { 0 }); // Flags: 0x10 = frame includes FCS
    h.push(12); // Rate, 500 kb/s units
    let len = h.len() as u16;
    h[2..4].copy_from_slice(&len.to_le_bytes());
    h
}

#[test]
fn ieee80211_data_frames_behind_radiotap_ppi_avs_or_nothing() {
    // IEEE 802.11-2020 §9.2.4.1 (Frame Control), §9.3.2.1 (data frame: Address 4 when
    // To DS and From DS, QoS Control in QoS subtypes); radiotap.org header definition.
    for (qos, to_from) in [(false, 0u8), (false, 1), (true, 2), (true, 3)] {
        let what = format!("qos{qos}-ds{to_from}");
        same_as_ethernet(&format!("wlan-{what}"), 105, |ip| {
            wlan_data(ip, qos, to_from, false)
        });
        for (fcs, ext) in [(false, false), (true, false), (true, true)] {
            same_as_ethernet(&format!("radiotap-{what}-{fcs}-{ext}"), 127, |ip| {
                let mut f = [radiotap(fcs, ext), wlan_data(ip, qos, to_from, false)].concat();
                if fcs {
                    f.extend([0x11, 0x22, 0x33, 0x44]);
                }
                f
            });
        }
        // PPI (CACE PPI specification §3): version 0, flags, length, DLT 105; an
        // 802.11-Common field (type 2, 20 bytes) whose flags (offset 8) bit 0 = FCS.
        same_as_ethernet(&format!("ppi-{what}"), 192, |ip| {
            let mut h = vec![0u8, 0, 0, 0];
            h.extend(105u32.to_le_bytes());
            h.extend(2u16.to_le_bytes());
            h.extend(20u16.to_le_bytes());
            let mut common = vec![0u8; 20];
            common[8] = 1;
            h.extend(common);
            let len = h.len() as u16;
            h[2..4].copy_from_slice(&len.to_le_bytes());
            let mut f = [h, wlan_data(ip, qos, to_from, false)].concat();
            f.extend([0x11, 0x22, 0x33, 0x44]);
            f
        });
        // AVS WLAN Monitor Header v2: magic 0x80211002, header length 64, big-endian.
        same_as_ethernet(&format!("avs-{what}"), 163, |ip| {
            let mut h = vec![0u8; 64];
            h[0..4].copy_from_slice(&0x8021_1002u32.to_be_bytes());
            h[4..8].copy_from_slice(&64u32.to_be_bytes());
            [h, wlan_data(ip, qos, to_from, false)].concat()
        });
    }
}

#[test]
fn ieee80211_frames_without_usable_data_are_counted_by_what_they_are() {
    // IEEE 802.11-2020 Table 9-1 (types and subtypes) and §9.2.4.1.9 (Protected
    // Frame): each frame below is built after its row, behind radiotap.
    let ip = &conversation_v4()[2];
    let rt = |body: Vec<u8>| [radiotap(false, false), body].concat();
    let mut frames = Vec::new();
    let mut want = Vec::new();
    // Beacon: type 0 subtype 8 (a body that looks like LLC/SNAP + IP).
    let mut beacon = wlan_data(ip, false, 0, false);
    beacon[0] = 8 << 4;
    frames.push(rt(beacon));
    want.push("wlan.management");
    // ACK: type 1 subtype 13 (10 bytes).
    frames.push(rt(vec![0xd4, 0, 0, 0, 2, 0, 0, 0, 0, 1]));
    want.push("wlan.control");
    // QoS Null: type 2 subtype 12.
    let mut null = wlan_data(b"", true, 1, false);
    null[0] = (12 << 4) | (2 << 2);
    frames.push(rt(null[..26].to_vec()));
    want.push("wlan.no_data");
    // A protected QoS data frame: CCMP header and ciphertext, not LLC.
    let mut enc = wlan_data(ip, true, 1, true);
    enc.truncate(26);
    enc.extend([0x01, 0x00, 0x00, 0x20, 0, 0, 0, 0]);
    enc.extend(ip);
    frames.push(rt(enc));
    want.push("wlan.protected");
    // A data frame whose body is not LLC/SNAP.
    let mut other = wlan_data(ip, false, 1, false);
    other[24] = 0x42;
    frames.push(rt(other));
    want.push("wlan.not_llc_snap");
    // A data frame that failed its FCS check (radiotap Flags 0x40).
    let mut bad = [radiotap(true, false), wlan_data(ip, false, 1, false)].concat();
    let flags_at = bad.len() - wlan_data(ip, false, 1, false).len() - 2;
    bad[flags_at] |= 0x40;
    bad.extend([0, 0, 0, 0]);
    frames.push(bad);
    want.push("wlan.bad_fcs");
    let (streams, a) = read("wlan-unused.pcap", 127, &frames);
    assert!(streams.is_empty(), "{streams:?}");
    for reason in want {
        assert_eq!(a.get(reason), 1, "{reason}: {a:?}");
    }
    // Radiotap lengths that do not fit: malformed, nothing read beyond the frame.
    let mut bad = radiotap(false, false);
    bad[2] = 0xff;
    let mut ext_forever = vec![0u8, 0, 16, 0];
    ext_forever.extend([0xff; 12]);
    let (_, a) = read("radiotap-bad.pcap", 127, &[bad, ext_forever, vec![0, 0]]);
    assert_eq!(a.get("malformed_packet"), 3, "{a:?}");
}

/// An A-MSDU subframe (IEEE 802.11-2020 §9.3.2.2.2, Figure 9-70 "A-MSDU subframe
/// structure"): DA, SA, a big-endian Length of the MSDU, the MSDU (LLC/SNAP and the
/// IP packet), then `pad` bytes (0-3, to a multiple of 4; none after the last).
fn amsdu_subframe(ip: &[u8], pad: bool) -> Vec<u8> {
    let mut msdu = wlan_data(ip, false, 0, false);
    let msdu = msdu.split_off(24);
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    f.extend((msdu.len() as u16).to_be_bytes());
    f.extend(msdu);
    while pad && f.len() % 4 != 0 {
        f.push(0);
    }
    f
}

/// A QoS data frame (§9.3.2.1) with A-MSDU Present (QoS Control bit 7, §9.2.4.5.9)
/// whose body is `subframes`.
fn amsdu(subframes: &[Vec<u8>], to_from: u8) -> Vec<u8> {
    let mut f = wlan_data(b"", true, to_from, false);
    let qos_at = if to_from == 3 { 30 } else { 24 };
    f.truncate(qos_at + 2);
    f[qos_at] |= 0x80;
    f.extend(subframes.concat());
    f
}

#[test]
fn ieee80211_a_msdu_subframes_are_split_into_their_packets() {
    // IEEE 802.11-2020 §9.3.2.2.2: one QoS data frame carries several MSDUs, each in
    // a subframe padded to 4 bytes except the last. The handshake in one A-MSDU and
    // the request and response in another give the same streams as Ethernet.
    for (v, ips) in [("v4", conversation_v4()), ("v6", conversation_v6())] {
        let want = reference(&ips);
        // Odd packet lengths, so the padding is there to be skipped.
        assert!(ips.iter().any(|ip| (14 + 8 + ip.len()) % 4 != 0));
        let frames = [
            amsdu(
                &[
                    amsdu_subframe(&ips[0], true),
                    amsdu_subframe(&ips[1], false),
                ],
                1,
            ),
            amsdu(
                &[
                    amsdu_subframe(&ips[2], true),
                    amsdu_subframe(&ips[3], false),
                ],
                3,
            ),
        ];
        let (got, a) = read(&format!("amsdu-{v}.pcap"), 105, &frames);
        assert_eq!(got, want, "{v}");
        assert!(a.is_empty(), "{v}: {a:?}");
        // Behind radiotap with an FCS, as a monitor-mode capture has it.
        let frames: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| {
                [
                    radiotap(true, false),
                    f.clone(),
                    vec![0x11, 0x22, 0x33, 0x44],
                ]
                .concat()
            })
            .collect();
        let (got, a) = read(&format!("amsdu-radiotap-{v}.pcap"), 127, &frames);
        assert_eq!(got, want, "radiotap {v}");
        assert!(a.is_empty(), "radiotap {v}: {a:?}");
    }
    // A last subframe cut short (its Length runs past the frame, as a snaplen cut
    // leaves it): the subframes before it are still read, the cut one is malformed.
    let ips = conversation_v4();
    let mut cut = amsdu(
        &[
            amsdu_subframe(&ips[0], true),
            amsdu_subframe(&ips[1], true),
            amsdu_subframe(&ips[2], false),
        ],
        1,
    );
    cut.truncate(cut.len() - 5);
    let (got, a) = read("amsdu-cut.pcap", 105, &[cut]);
    assert_eq!(got.len(), 1, "the handshake's flow");
    assert_eq!(a.get("malformed_packet"), 1, "{a:?}");
    // An LLC/SNAP MSDU whose type is below 0x0600 is not an EtherType.
    let mut odd = amsdu_subframe(&ips[0], false);
    odd[14 + 6] = 0x00;
    odd[14 + 7] = 0x2e;
    let (_, a) = read("amsdu-not-ethertype.pcap", 105, &[amsdu(&[odd], 1)]);
    assert_eq!(a.get("wlan.not_llc_snap"), 1, "{a:?}");
}

#[test]
fn every_link_type_survives_random_bytes() {
    // Not a specification: the promise that no input panics.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ip = &conversation_v4()[3];
    for lt in [0u32, 9, 50, 51, 104, 105, 108, 127, 163, 192, 226, 239, 258] {
        let mut frames = Vec::new();
        for _ in 0..300 {
            let len = (next() % 160) as usize;
            let mut f: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if next() % 2 == 0 {
                f.extend(ip);
            }
            frames.push(f);
        }
        let _ = read(&format!("random-{lt}.pcap"), lt, &frames);
    }
}

/// An outer IPv4 header (RFC 791 §3.1; checksum left 0, lagtap does not check it)
/// around `payload` of protocol `proto`.
fn outer_ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h.extend([172, 16, 0, 1, 172, 16, 0, 2]);
    [h, payload.to_vec()].concat()
}

/// An outer UDP datagram (RFC 768) to `port` in IPv4.
fn outer_udp(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = 49152u16.to_be_bytes().to_vec();
    u.extend(port.to_be_bytes());
    u.extend(((8 + payload.len()) as u16).to_be_bytes());
    u.extend([0, 0]);
    outer_ipv4(17, &[u, payload.to_vec()].concat())
}

fn ethertype(ip: &[u8]) -> [u8; 2] {
    if family_v6(ip) {
        [0x86, 0xdd]
    } else {
        [0x08, 0x00]
    }
}

#[test]
fn ip_in_ip_and_6in4() {
    // RFC 2003 §3 (IPv4 in IPv4, protocol 4), RFC 4213 §3.5 (IPv6 in IPv4, protocol
    // 41): the inner packet right after the outer header; keyed by its own addresses.
    same_as_ethernet("ipip", 101, |ip| {
        outer_ipv4(if family_v6(ip) { 41 } else { 4 }, ip)
    });
}

#[test]
fn gre_with_checksum_key_and_sequence_bits_and_erspan() {
    // RFC 2784 §2.1 and RFC 2890 §2: C (0x80) adds checksum + reserved1, K (0x20) a
    // key, S (0x10) a sequence number, 4 bytes each, in that order.
    for flags in [0x00u8, 0x80, 0x20, 0x10, 0x30, 0xb0] {
        same_as_ethernet(&format!("gre-{flags:02x}"), 1, |ip| {
            let mut g = vec![flags, 0];
            g.extend(ethertype(ip));
            for bit in [0x80u8, 0x20, 0x10] {
                if flags & bit != 0 {
                    g.extend([0x11, 0x22, 0x33, 0x44]);
                }
            }
            common::write::frame(1, &outer_ipv4(47, &[g, ip.to_vec()].concat()))
        });
    }
    // GRE carrying Ethernet (Transparent Ethernet Bridging 0x6558, gretap).
    let eth = |ip: &[u8]| {
        [
            &[2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 8][..],
            &ethertype(ip),
            ip,
        ]
        .concat()
    };
    same_as_ethernet("gretap", 101, |ip| {
        outer_ipv4(
            47,
            &[&[0x20, 0, 0x65, 0x58, 0, 0, 0, 7][..], &eth(ip)].concat(),
        )
    });
    // ERSPAN (draft-foschiano-erspan-03): Type I = GRE 0x88BE without S, Ethernet
    // directly (§4.1); Type II = GRE 0x88BE with S and an 8-byte header (§4.1); Type
    // III = GRE 0x22EB with S and a 12-byte header, plus 8 bytes when O (§4.2).
    same_as_ethernet("erspan1", 101, |ip| {
        outer_ipv4(47, &[&[0, 0, 0x88, 0xbe][..], &eth(ip)].concat())
    });
    same_as_ethernet("erspan2", 101, |ip| {
        let gre = [0x10, 0, 0x88, 0xbe, 0, 0, 0, 1];
        let erspan = [0x10, 0, 0, 123, 0, 0, 0, 0];
        outer_ipv4(47, &[&gre[..], &erspan, &eth(ip)].concat())
    });
    for o in [false, true] {
        same_as_ethernet(&format!("erspan3-{o}"), 101, |ip| {
            let gre = [0x10, 0, 0x22, 0xeb, 0, 0, 0, 1];
            let mut erspan = vec![0x20, 0, 0, 123, 0, 0, 0, 0, 0, 0, 0, 0x1c];
            erspan[11] |= u8::from(o);
            erspan.truncate(12);
            if o {
                erspan.extend([0xaa; 8]);
            }
            outer_ipv4(47, &[&gre[..], &erspan, &eth(ip)].concat())
        });
    }
}

#[test]
fn vxlan_geneve_and_gtpu() {
    let eth = |ip: &[u8]| {
        [
            &[2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 8][..],
            &ethertype(ip),
            ip,
        ]
        .concat()
    };
    // RFC 7348 §5: flags (I = 0x08), 24 reserved bits, VNI, 8 reserved; UDP 4789.
    same_as_ethernet("vxlan", 1, |ip| {
        let vx = [0x08, 0, 0, 0, 0, 0, 42, 0];
        common::write::frame(1, &outer_udp(4789, &[&vx[..], &eth(ip)].concat()))
    });
    // RFC 8926 §3.4: Ver 0, Opt Len (4-byte words), Protocol Type 0x6558, VNI;
    // with one 8-byte option (§3.5); UDP 6081.
    same_as_ethernet("geneve", 101, |ip| {
        let mut gv = vec![0x02, 0, 0x65, 0x58, 0, 0, 42, 0];
        gv.extend([0x01, 0x02, 0x80, 0x01, 1, 2, 3, 4]);
        outer_udp(6081, &[gv, eth(ip)].concat())
    });
    // 3GPP TS 29.281 §5.1: version 1, PT 1, message type 255 (G-PDU), length, TEID;
    // with S set the sequence, N-PDU and next-extension bytes; with E a PDU Session
    // Container extension (§5.2.2.7, type 0x85, one 4-byte unit); UDP 2152.
    for (flags, ext) in [(0x30u8, false), (0x32, false), (0x34, true)] {
        same_as_ethernet(&format!("gtpu-{flags:02x}"), 101, |ip| {
            let mut body = Vec::new();
            if flags & 0x07 != 0 {
                body.extend([0, 7, 0, if ext { 0x85 } else { 0 }]);
            }
            if ext {
                body.extend([1, 0x10, 0x05, 0]);
            }
            body.extend(ip);
            let mut g = vec![flags, 0xff];
            g.extend((body.len() as u16).to_be_bytes());
            g.extend([0, 0, 0, 9]);
            outer_udp(2152, &[g, body].concat())
        });
    }
    // A GTP echo request (type 1) is GTP's own: counted, not user data.
    let echo = outer_udp(2152, &[0x32, 1, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]);
    let (streams, a) = read("gtp-echo.pcap", 101, &[echo]);
    assert!(streams.is_empty());
    assert_eq!(a.get("gtpu.signalling"), 1, "{a:?}");
}

#[test]
fn mpls_label_stacks_and_vlan_tags() {
    // RFC 3032 §2.1: 4-byte label stack entries, S (bottom of stack) in bit 0 of the
    // third byte; EtherType 0x8847. Two labels, then IP.
    same_as_ethernet("mpls", 1, |ip| {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0x47];
        f.extend([0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]);
        f.extend(ip);
        f
    });
    // IEEE 802.1Q-2018 §9.6: an 802.1ad S-tag (0x88a8) then a C-tag (0x8100): QinQ.
    same_as_ethernet("qinq", 1, |ip| {
        let mut f = vec![
            2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20,
        ];
        f.extend(ethertype(ip));
        f.extend(ip);
        f
    });
    // A label stack that never ends: malformed, not read beyond the frame.
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0x47];
    f.extend([0u8; 80]);
    let (_, a) = read("mpls-endless.pcap", 1, &[f]);
    assert_eq!(a.get("malformed_packet"), 1, "{a:?}");
    // Tunnels nested deeper than lagtap follows are counted, not recursed into.
    let mut pkt = conversation_v4()[0].clone();
    for _ in 0..6 {
        pkt = outer_ipv4(4, &pkt);
    }
    let (streams, a) = read("ipip-deep.pcap", 101, &[pkt]);
    assert!(streams.is_empty());
    assert_eq!(a.get("tunnel.too_deep"), 1, "{a:?}");
}

/// `ip` (an IPv4 packet with a 20-byte header) cut into fragments of `size` payload
/// bytes (a multiple of 8), per RFC 791 §3.2: same identification, offsets in 8-byte
/// units, More Fragments on all but the last, total length per fragment.
fn fragments_v4(ip: &[u8], size: usize) -> Vec<Vec<u8>> {
    let payload = &ip[20..];
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, piece)| {
            let mut h = ip[..20].to_vec();
            h[2..4].copy_from_slice(&((20 + piece.len()) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
            let more = (i + 1) * size < payload.len();
            let off = ((i * size / 8) as u16) | if more { 0x2000 } else { 0 };
            h[6..8].copy_from_slice(&off.to_be_bytes());
            [h, piece.to_vec()].concat()
        })
        .collect()
}

/// The same for IPv6 with a Fragment extension header (RFC 8200 §4.5: next header,
/// reserved, offset in 8-byte units with M in bit 0, 32-bit identification).
fn fragments_v6(ip: &[u8], size: usize) -> Vec<Vec<u8>> {
    let payload = &ip[40..];
    let next = ip[6];
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, piece)| {
            let mut h = ip[..40].to_vec();
            h[4..6].copy_from_slice(&((8 + piece.len()) as u16).to_be_bytes());
            h[6] = 44;
            let more = (i + 1) * size < payload.len();
            let off = ((i * size / 8) as u16) << 3 | u16::from(more);
            h.extend([next, 0]);
            h.extend(off.to_be_bytes());
            h.extend(0xdead_beefu32.to_be_bytes());
            [h, piece.to_vec()].concat()
        })
        .collect()
}

#[test]
fn tcp_segments_in_ip_fragments_in_any_order_are_reassembled() {
    // The shape of the public fq `tcp-ipv4frag` capture: an HTTP exchange whose
    // segments arrive as IP fragments, here also out of order and with a duplicate.
    for (v, ips) in [("v4", conversation_v4()), ("v6", conversation_v6())] {
        let want = reference(&ips);
        let mut frames = Vec::new();
        for ip in &ips {
            let mut pieces = if v == "v4" {
                fragments_v4(ip, 16)
            } else {
                fragments_v6(ip, 16)
            };
            pieces.reverse();
            // A duplicate before the datagram is whole (one after it would start a
            // datagram of its own, which never completes and is counted).
            if pieces.len() > 2 {
                let dup = pieces[1].clone();
                pieces.insert(0, dup);
            }
            frames.extend(pieces);
        }
        let (got, a) = read(&format!("fragments-{v}.pcap"), 101, &frames);
        assert_eq!(got, want, "{v}: {a:?}");
        assert!(a.is_empty(), "{v}: {a:?}");
    }
    // A datagram whose last fragment never comes: counted at the end, nothing made up.
    let ip = &conversation_v4()[2];
    let mut pieces = fragments_v4(ip, 16);
    pieces.pop();
    let (got, a) = read("fragments-incomplete.pcap", 101, &pieces);
    assert!(got.is_empty());
    assert_eq!(a.get("ip_fragment.incomplete"), 1, "{a:?}");
}

/// `lagtap inspect FILE`'s standard error.
fn inspect_stderr(path: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .arg("inspect")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn inspect_counts_every_unused_packet_and_warns_once_when_many_are() {
    // A monitor-mode capture: 4 data frames of the exchange and 10 ACKs (IEEE
    // 802.11-2020 Table 9-1, control subtype 13) behind radiotap.
    let mut frames: Vec<Vec<u8>> = conversation_v4()
        .iter()
        .map(|ip| [radiotap(false, false), wlan_data(ip, true, 1, false)].concat())
        .collect();
    for _ in 0..10 {
        frames.push(
            [
                radiotap(false, false),
                vec![0xd4, 0, 0, 0, 2, 0, 0, 0, 0, 1],
            ]
            .concat(),
        );
    }
    let pcap_of = |frames: &[Vec<u8>], lt: u32| {
        let frames: Vec<Frame> = frames
            .iter()
            .map(|d| Frame {
                ts_ns: BASE_NS,
                link_type: 1,
                data: d.clone(),
            })
            .collect();
        let mut bytes = pcap(&frames, false, true, 65535);
        bytes[20..24].copy_from_slice(&lt.to_le_bytes());
        bytes
    };
    let p = temp("monitor.pcap");
    std::fs::write(&p, pcap_of(&frames, 127)).unwrap();
    let report = lagtap::inspect::inspect_file(&p).unwrap();
    assert_eq!(report.anomalies.get("wlan.control"), 10);
    assert_eq!(report.flows.len(), 1);
    let err = inspect_stderr(&p);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "71% of packets (10 of 14) were of no use to lagtap: 71% 802.11 control frames"
        ),
        "{err}"
    );
    // A link type lagtap does not read is named.
    let p = temp("unknown.pcap");
    std::fs::write(&p, pcap_of(&frames[..3], 147)).unwrap();
    let err = inspect_stderr(&p);
    assert!(err.contains("100% of packets (3 of 3)"), "{err}");
    assert!(err.contains("unread link types: LINKTYPE_147"), "{err}");
    // A file cut inside a record says so too.
    let whole = pcap_of(&frames, 127);
    std::fs::write(&p, &whole[..whole.len() - 5]).unwrap();
    let err = inspect_stderr(&p);
    assert!(
        err.contains("damaged: it ends inside a packet record"),
        "{err}"
    );
    // The bundled captures (a few ARP and ICMP packets among thousands): no warning.
    for path in common::bundled_captures().into_iter().take(4) {
        let report = lagtap::inspect::inspect_file(&path).unwrap();
        assert!(
            report.warnings().is_empty(),
            "{}: {:?}",
            path.display(),
            report.warnings()
        );
    }
}
