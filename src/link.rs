//! Link, network and transport headers: from a captured frame to a TCP segment or UDP
//! datagram, using `etherparse`'s lax slicing so a snaplen-cut packet still yields
//! every header that was captured.
//!
//! The link layers lagtap meets on testbed hosts are read inline here: Ethernet (with
//! up to three 802.1Q/802.1ad tags), Linux cooked capture v1/v2 (`tcpdump -i any`) and
//! raw IP. The others Wireshark reads (NULL/LOOP, PPP, PPP-in-HDLC, Cisco HDLC, PPPoE,
//! NFLOG, PKTAP, IPNET, IEEE 802.11 bare or with radiotap, PPI or AVS headers) are in
//! `frames`, out of line. Each header is a few bytes that only lead to an EtherType,
//! so it is read here and the rest is handed to etherparse.

use std::net::{IpAddr, SocketAddr};

use etherparse::{
    ip_number, EtherType, Ethernet2Slice, IpAuthHeaderSlice, IpNumber, Ipv4HeaderSlice,
    Ipv6ExtensionsSlice, Ipv6FragmentHeaderSlice, Ipv6RawExtHeaderSlice, LaxIpSlice,
    SingleVlanSlice, TcpSlice, UdpSlice,
};
use pcap_parser::Linktype;

mod frames;
mod tunnel;

/// A transport-layer unit ready for the flow layer.
#[derive(Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    /// A piece of a fragmented IP datagram, for the flow layer to reassemble.
    Fragment(IpFragment<'a>),
}

/// One fragment of an IPv4 or IPv6 datagram (RFC 791 §3.2, RFC 8200 §4.5).
#[derive(Debug, PartialEq, Eq)]
pub struct IpFragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Identification (16 bits in IPv4, 32 in IPv6).
    pub id: u32,
    /// The protocol of the datagram's payload.
    pub proto: u8,
    /// Where these bytes go in the datagram's payload.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    pub payload: &'a [u8],
    /// All of the fragment was captured (not cut by the snaplen).
    pub whole: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub syn: bool,
    pub ack_flag: bool,
    pub fin: bool,
    pub rst: bool,
    pub window: u16,
    /// Captured payload bytes.
    pub payload: &'a [u8],
    /// Payload length on the wire, from the IP length field; larger than
    /// `payload.len()` when the capture's snaplen cut the packet.
    pub wire_len: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
    pub wire_len: u32,
}

/// Why a frame gave nothing to the flow layer. Each is a counted anomaly reason,
/// except the ones that are simply not lagtap's business (ARP, ICMP, ...).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    UnknownLinkType,
    Malformed,
    NotIp,
    OtherTransport,
    TruncatedTransportHeader,
    /// A frame understood but carrying nothing lagtap uses, by what it is (802.11
    /// management frames, encrypted frames, ...): the anomaly reason.
    Unused(&'static str),
    /// An 802.11 A-MSDU: several packets in one frame, which [`decode`] cannot
    /// return; [`amsdu_subframes`] gives them.
    Amsdu,
}

impl Skip {
    /// The anomaly reason: every frame that gave nothing to the flow layer is counted,
    /// ordinary traffic lagtap has no use for (ARP, ICMP, ...) under `unused.*`.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Skip::UnknownLinkType => Some("unknown_link_type"),
            Skip::Malformed => Some("malformed_packet"),
            Skip::TruncatedTransportHeader => Some("truncated_transport_header"),
            Skip::Unused(reason) => Some(reason),
            Skip::Amsdu => Some("wlan.a_msdu"),
            Skip::NotIp => Some("unused.not_ip"),
            Skip::OtherTransport => Some("unused.other_transport"),
        }
    }
}

const SLL_HEADER: usize = 16;
const SLL2_HEADER: usize = 20;

/// 802.1Q tags followed at most (QinQ and one more for good measure).
const MAX_VLAN_TAGS: usize = 3;

/// Decodes one frame of link type `lt`.
///
/// The layers are sliced one at a time with etherparse's slice types rather than
/// its all-in-one `LaxSlicedPacket`: that struct is large and moved around per
/// packet, which showed as the single biggest copy in `decode`'s profile.
///
/// `#[inline]` (with the IPv4 path): inlined into the packet loop, the result is built
/// in place rather than written to memory and read back field by field.
#[inline]
pub fn decode(lt: Linktype, frame: &[u8]) -> Result<Transport<'_>, Skip> {
    let (ether_type, payload) = link_layer(lt.0 as u32, frame)?;
    match ether_type {
        // The version nibble decides between v4 and v6 (raw IP link types carry both).
        EtherType::IPV4 | EtherType::IPV6 => ip(payload),
        frames::AMSDU => Err(Skip::Amsdu),
        _ => encapsulated(ether_type, payload),
    }
}

/// The packets of a frame [`decode`] refused as [`Skip::Amsdu`], one per A-MSDU
/// subframe, each as [`decode`] would give it. Kept apart from [`decode`], which
/// returns one packet by value on the path every frame takes; A-MSDUs are rare in
/// captures (monitor mode on a busy 802.11n/ac link), so only they read their link
/// header twice.
pub fn amsdu_subframes(
    lt: Linktype,
    frame: &[u8],
    mut each: impl FnMut(Result<Transport<'_>, Skip>),
) {
    let body = match link_layer(lt.0 as u32, frame) {
        Ok((frames::AMSDU, body)) => body,
        Ok(_) => return,
        Err(skip) => return each(Err(skip)),
    };
    for sub in frames::amsdu_subframes(body) {
        each(sub.and_then(|(ether_type, payload)| match ether_type {
            EtherType::IPV4 | EtherType::IPV6 => ip(payload),
            _ => encapsulated(ether_type, payload),
        }));
    }
}

/// Where a link-layer header leads: an EtherType and the bytes after the header.
type Next<'a> = Result<(EtherType, &'a [u8]), Skip>;

/// The link-layer header of a frame of link type `lt`.
#[inline(always)]
fn link_layer(lt: u32, frame: &[u8]) -> Next<'_> {
    match lt {
        1 => ethernet(frame),
        113 => {
            let proto = be16(frame, 14).ok_or(Skip::Malformed)?;
            Ok((EtherType(proto), &frame[SLL_HEADER..]))
        }
        276 => {
            let proto = be16(frame, 0).ok_or(Skip::Malformed)?;
            if frame.len() < SLL2_HEADER {
                return Err(Skip::Malformed);
            }
            Ok((EtherType(proto), &frame[SLL2_HEADER..]))
        }
        12 | 14 | 101 | 228 | 229 => Ok((EtherType::IPV4, frame)),
        _ => frames::other(lt, frame, false),
    }
}

/// The link layer of a packet inside a PKTAP or PPI header (which do not nest).
fn link_layer_nested(lt: u32, frame: &[u8]) -> Next<'_> {
    match lt {
        1 | 113 | 276 | 12 | 14 | 101 | 228 | 229 => link_layer(lt, frame),
        _ => frames::other(lt, frame, true),
    }
}

/// Ethernet II with up to [`MAX_VLAN_TAGS`] 802.1Q / 802.1ad tags.
#[inline(always)]
fn ethernet(frame: &[u8]) -> Next<'_> {
    let eth = Ethernet2Slice::from_slice_without_fcs(frame).map_err(|_| Skip::Malformed)?;
    vlan_tags(eth.ether_type(), eth.payload_slice())
}

/// Past any 802.1Q (0x8100), 802.1ad (0x88a8) or old QinQ (0x9100) tags.
#[inline(always)]
fn vlan_tags(mut et: EtherType, mut rest: &[u8]) -> Next<'_> {
    for _ in 0..MAX_VLAN_TAGS {
        if !is_vlan(et) {
            break;
        }
        let vlan = SingleVlanSlice::from_slice(rest).map_err(|_| Skip::Malformed)?;
        (et, rest) = (vlan.ether_type(), vlan.payload_slice());
    }
    Ok((et, rest))
}

fn is_vlan(et: EtherType) -> bool {
    matches!(
        et,
        EtherType::VLAN_TAGGED_FRAME
            | EtherType::PROVIDER_BRIDGING
            | EtherType::VLAN_DOUBLE_TAGGED_FRAME
    )
}

/// PPPoE session packets (RFC 2516 §4).
const PPPOE_SESSION: EtherType = EtherType(0x8864);

/// What an EtherType other than IP leads to: PPPoE sessions, VLAN tags after a
/// non-Ethernet header (an 802.11 LLC/SNAP, a PKTAP), or nothing lagtap uses.
#[inline(never)]
fn encapsulated(et: EtherType, payload: &[u8]) -> Result<Transport<'_>, Skip> {
    let (et, payload) = if is_vlan(et) {
        vlan_tags(et, payload)?
    } else {
        (et, payload)
    };
    let (et, payload) = if et == PPPOE_SESSION {
        frames::pppoe_session(payload)?
    } else {
        (et, payload)
    };
    match et {
        EtherType::IPV4 | EtherType::IPV6 => ip(payload),
        _ => tunnel::ether_payload(et, payload).unwrap_or(Err(Skip::NotIp)),
    }
}

/// What follows a link-layer header (or a tunnel's): the packet of EtherType `et`.
fn after_link(et: EtherType, payload: &[u8]) -> Result<Transport<'_>, Skip> {
    match et {
        EtherType::IPV4 | EtherType::IPV6 => ip(payload),
        _ => encapsulated(et, payload),
    }
}

#[inline]
fn ip(bytes: &[u8]) -> Result<Transport<'_>, Skip> {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => ipv4(bytes),
        Some(6) => lax_ip(bytes),
        _ => Err(Skip::NotIp),
    }
}

/// IPv4 through etherparse's plain header slice: what nearly every packet is, and
/// several times cheaper than the lax slice, which builds (and moves) a large enum
/// with room for IPv6 extension headers and their errors.
///
/// It gives exactly what [`lax_ip`] gives (a test holds the two side by side):
/// `Ipv4HeaderSlice` checks what the lax slice checks of the header (version, IHL of
/// at least 5, the whole header captured) and nothing of the lengths, so a TSO packet
/// with total length 0 or a snaplen-cut one passes; the payload then ends at the total
/// length when it is captured and sensible, else at the end of the capture, as in
/// the lax slice. The rare authentication header is left to the lax path.
#[inline(always)]
fn ipv4(bytes: &[u8]) -> Result<Transport<'_>, Skip> {
    let h = Ipv4HeaderSlice::from_slice(bytes).map_err(|_| Skip::Malformed)?;
    let proto = h.protocol();
    if proto == IpNumber::AUTHENTICATION_HEADER {
        return lax_ip(bytes);
    }
    let header_len = h.slice().len();
    let total = usize::from(h.total_len());
    let end = if total < header_len || bytes.len() < total {
        bytes.len()
    } else {
        total
    };
    let payload = &bytes[header_len..end];
    // Cut by the snaplen: the total length says how much was on the wire.
    let wire = if total >= header_len && bytes.len() < total {
        total - header_len
    } else {
        payload.len()
    };
    let (src, dst) = (
        IpAddr::V4(h.source_addr()),
        IpAddr::V4(h.destination_addr()),
    );
    if h.is_fragmenting_payload() {
        return Ok(fragment_v4(&h, src, dst, payload, wire));
    }
    transport(proto, src, dst, payload, wire)
}

#[cold]
fn fragment_v4<'a>(
    h: &Ipv4HeaderSlice<'_>,
    src: IpAddr,
    dst: IpAddr,
    payload: &'a [u8],
    wire: usize,
) -> Transport<'a> {
    Transport::Fragment(IpFragment {
        src,
        dst,
        id: u32::from(h.identification()),
        proto: h.protocol().0,
        offset: u32::from(h.fragments_offset().value()) * 8,
        more: h.more_fragments(),
        payload,
        whole: payload.len() >= wire,
    })
}

/// The TCP segment or UDP datagram of a reassembled datagram's payload.
pub fn reassembled(
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    payload: &[u8],
) -> Result<Transport<'_>, Skip> {
    transport(IpNumber(proto), src, dst, payload, payload.len())
}

/// The fragment header among an IPv6 packet's extension headers, if one fragments
/// the payload: (identification, offset in bytes, more fragments). Walked here with
/// etherparse's checked slice constructors, not its `Ipv6ExtensionSliceIter`: that
/// iterator trusts the chain to be whole, and on a chain the lax slice cut short
/// (the last header naming another one that is not there) it reads past the end
/// of the slice (etherparse 0.21, `from_slice_unchecked`; the decode fuzz target
/// found it).
fn ipv6_fragment(exts: &Ipv6ExtensionsSlice<'_>) -> Option<(u32, u32, bool)> {
    let mut rest = exts.slice();
    let mut next = exts.first_header()?;
    loop {
        let len = match next {
            ip_number::IPV6_FRAG => {
                let f = Ipv6FragmentHeaderSlice::from_slice(rest).ok()?;
                if f.is_fragmenting_payload() {
                    let offset = u32::from(f.fragment_offset().value()) * 8;
                    return Some((f.identification(), offset, f.more_fragments()));
                }
                next = f.next_header();
                f.slice().len()
            }
            ip_number::AUTH => {
                let a = IpAuthHeaderSlice::from_slice(rest).ok()?;
                next = a.next_header();
                a.slice().len()
            }
            ip_number::IPV6_HOP_BY_HOP | ip_number::IPV6_ROUTE | ip_number::IPV6_DEST_OPTIONS => {
                let h = Ipv6RawExtHeaderSlice::from_slice(rest).ok()?;
                next = h.next_header();
                h.slice().len()
            }
            _ => return None,
        };
        rest = rest.get(len..)?;
    }
}

/// Any IP packet through etherparse's lax slice (IPv6 with its extension headers,
/// IPv4 with an authentication header).
fn lax_ip(bytes: &[u8]) -> Result<Transport<'_>, Skip> {
    let (ip, _ext_err) = LaxIpSlice::from_slice(bytes).map_err(|_| Skip::Malformed)?;
    let (src_ip, dst_ip, wire, fragment, payload) = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let pl = v4.payload();
            // etherparse marks a payload cut by the snaplen `incomplete` (and its length
            // as taken from the slice): the length field says what was on the wire.
            let wire = if pl.incomplete {
                usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4)
            } else {
                pl.payload.len()
            };
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                wire,
                v4.is_payload_fragmented().then(|| {
                    let h = v4.header();
                    (
                        u32::from(h.identification()),
                        u32::from(h.fragments_offset().value()) * 8,
                        h.more_fragments(),
                    )
                }),
                pl,
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let pl = v6.payload();
            let wire = if pl.incomplete {
                usize::from(h.payload_length()).saturating_sub(v6.extensions().slice().len())
            } else {
                pl.payload.len()
            };
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                wire,
                ipv6_fragment(v6.extensions()),
                pl,
            )
        }
    };
    if let Some((id, offset, more)) = fragment {
        return Ok(Transport::Fragment(IpFragment {
            src: src_ip,
            dst: dst_ip,
            id,
            proto: payload.ip_number.0,
            offset,
            more,
            payload: payload.payload,
            whole: payload.payload.len() >= wire,
        }));
    }
    transport(payload.ip_number, src_ip, dst_ip, payload.payload, wire)
}

/// The TCP segment or UDP datagram in an IP payload; `wire` is the IP payload's
/// length on the wire.
#[inline(always)]
fn transport(
    proto: IpNumber,
    src_ip: IpAddr,
    dst_ip: IpAddr,
    data: &[u8],
    wire: usize,
) -> Result<Transport<'_>, Skip> {
    match proto {
        IpNumber::TCP => {
            let tcp = TcpSlice::from_slice(data).map_err(|_| Skip::TruncatedTransportHeader)?;
            let header_len = tcp.header_slice().len();
            let body = tcp.payload();
            let wire_len = wire.saturating_sub(header_len).max(body.len());
            Ok(Transport::Tcp(TcpSegment {
                src: SocketAddr::new(src_ip, tcp.source_port()),
                dst: SocketAddr::new(dst_ip, tcp.destination_port()),
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                syn: tcp.syn(),
                ack_flag: tcp.ack(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                window: tcp.window_size(),
                payload: body,
                wire_len: wire_len as u32,
            }))
        }
        IpNumber::UDP => {
            let udp = UdpSlice::from_slice_lax(data).map_err(|_| Skip::TruncatedTransportHeader)?;
            let body = udp.payload();
            let port = udp.destination_port();
            if matches!(
                port,
                tunnel::VXLAN_PORT | tunnel::GENEVE_PORT | tunnel::GTPU_PORT
            ) {
                if let Some(inner) = tunnel::udp_payload(port, body) {
                    return inner;
                }
            }
            let wire_len = usize::from(udp.length()).saturating_sub(8).max(body.len());
            Ok(Transport::Udp(UdpDatagram {
                src: SocketAddr::new(src_ip, udp.source_port()),
                dst: SocketAddr::new(dst_ip, udp.destination_port()),
                payload: body,
                wire_len: wire_len as u32,
            }))
        }
        _ => tunnel::ip_payload(proto, data),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{testdata, CaptureReader};

    /// IPv4 packets of the bundled captures (a sample of each file).
    fn real_ipv4_packets() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for path in testdata::bundled_captures() {
            let mut r = CaptureReader::open(&path).unwrap();
            let mut n = 0;
            r.for_each_packet(|p| {
                let ip = match p.link_type.0 {
                    1 if p.data.get(12..14) == Some(&[8, 0]) => &p.data[14..],
                    276 if p.data.get(0..2) == Some(&[8, 0]) => &p.data[SLL2_HEADER..],
                    _ => return,
                };
                n += 1;
                if n % 7 == 0 {
                    out.push(ip.to_vec());
                }
            });
        }
        assert!(out.len() > 1000, "too few sample packets: {}", out.len());
        out
    }

    /// The IPv4 fast path gives exactly what the lax slice gives: same transport, same
    /// lengths, same skip reason, on real packets and on every kind of damage to them.
    #[test]
    fn the_ipv4_fast_path_agrees_with_the_lax_slice() {
        let mut next = testdata::rng(0x2545_f491_4f6c_dd1d);
        let mut checked = 0;
        let mut check = |b: &[u8]| {
            // What `ip` did before it had a fast path.
            let lax = match b.first().map(|v| v >> 4) {
                Some(4) | Some(6) => lax_ip(b),
                _ => Err(Skip::NotIp),
            };
            assert_eq!(ip(b), lax, "{b:02x?}");
            checked += 1;
        };
        for pkt in real_ipv4_packets() {
            check(&pkt);
            // Cut anywhere (snaplen), including inside the IP and TCP headers.
            for cut in [
                0,
                1,
                19,
                20,
                21,
                33,
                39,
                40,
                41,
                59,
                60,
                pkt.len() / 2,
                pkt.len() - 1,
            ] {
                check(&pkt[..cut.min(pkt.len())]);
            }
            let mut v = pkt.clone();
            // Total length: zero (TSO), below the header, exact, beyond the capture.
            for total in [0u16, 1, 19, 20, 24, 40, 41, pkt.len() as u16, 1500, 65535] {
                v[2..4].copy_from_slice(&total.to_be_bytes());
                check(&v);
            }
            v.copy_from_slice(&pkt);
            for ihl in 0..16u8 {
                v[0] = 0x40 | ihl;
                check(&v);
            }
            v.copy_from_slice(&pkt);
            for (flags, frag) in [(0x20u8, 0u8), (0x40, 0), (0x00, 1), (0x1f, 0xff)] {
                v[6] = flags;
                v[7] = frag;
                check(&v);
            }
            v.copy_from_slice(&pkt);
            for proto in [1u8, 6, 17, 41, 51, 132, 255] {
                v[9] = proto;
                check(&v);
            }
            // Random damage to headers and payload.
            for _ in 0..4 {
                v.copy_from_slice(&pkt);
                for _ in 0..3 {
                    let at = (next() % v.len().min(64) as u64) as usize;
                    v[at] = next() as u8;
                }
                let keep = (next() % (v.len() as u64 + 1)) as usize;
                check(&v[..keep]);
            }
        }
        assert!(checked > 50_000);
    }

    /// A packet cut by the snaplen keeps its length on the wire, from the IP length
    /// field, so the flow layer knows how many bytes it did not see.
    #[test]
    fn a_snaplen_cut_segment_keeps_its_length_on_the_wire() {
        for pkt in real_ipv4_packets().into_iter().take(200) {
            let Ok(Transport::Tcp(whole)) = ip(&pkt) else {
                continue;
            };
            if whole.payload.len() < 10 {
                continue;
            }
            let cut = &pkt[..pkt.len() - 7];
            let Ok(Transport::Tcp(seg)) = ip(cut) else {
                panic!("cut packet lost its TCP header");
            };
            assert_eq!(seg.payload.len(), whole.payload.len() - 7);
            assert_eq!(seg.wire_len, whole.wire_len);
            assert_eq!(lax_ip(cut), ip(cut));
        }
        // IPv6: fixed header, TCP header, 20 payload bytes of which 5 are captured.
        let mut b = vec![0x60, 0, 0, 0, 0, 40, 6, 64];
        b.extend([0u8; 15]);
        b.push(1);
        b.extend([0u8; 15]);
        b.push(2);
        b.extend([
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        b.extend([b'x'; 5]);
        let Ok(Transport::Tcp(seg)) = ip(&b) else {
            panic!("{:?}", ip(&b));
        };
        assert_eq!((seg.payload.len(), seg.wire_len), (5, 20));
    }

    #[test]
    fn an_authentication_header_is_looked_through() {
        // IPv4 (protocol 51) + AH (next header TCP, 4 words) + a bare TCP header.
        let mut b = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 51, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        b.extend([
            6, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        b.extend([
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
        ]);
        b.extend([0, 0, 0, 0]);
        let total = b.len() as u16;
        b[2..4].copy_from_slice(&total.to_be_bytes());
        let Ok(Transport::Tcp(seg)) = ipv4(&b) else {
            panic!("{:?}", ipv4(&b));
        };
        assert_eq!(seg.dst.port(), 80);
        assert!(seg.syn);
        assert_eq!(ipv4(&b), lax_ip(&b));
    }
}
