//! Link, network and transport headers: from a captured frame to a TCP segment or UDP
//! datagram, using `etherparse`'s lax slicing so a snaplen-cut packet still yields
//! every header that was captured.
//!
//! The link layers lagtap meets on testbed hosts: Ethernet (with up to two 802.1Q
//! tags), Linux cooked capture v1/v2 (`tcpdump -i any`), raw IP and BSD loopback.
//! The cooked and loopback headers are a few fixed bytes that only lead to an
//! EtherType, so they are read here and the rest is handed to etherparse.

use std::net::{IpAddr, SocketAddr};

use etherparse::{
    EtherType, Ethernet2Slice, IpNumber, LaxIpSlice, LenSource, SingleVlanSlice, TcpSlice, UdpSlice,
};
use pcap_parser::Linktype;

/// A transport-layer unit ready for the flow layer.
#[derive(Debug)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
}

#[derive(Debug)]
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

#[derive(Debug)]
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
    IpFragment,
    OtherTransport,
    TruncatedTransportHeader,
}

impl Skip {
    /// The anomaly reason, or `None` when the frame is ordinary traffic lagtap ignores.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Skip::UnknownLinkType => Some("unknown_link_type"),
            Skip::Malformed => Some("malformed_packet"),
            Skip::IpFragment => Some("ip_fragment"),
            Skip::TruncatedTransportHeader => Some("truncated_transport_header"),
            Skip::NotIp | Skip::OtherTransport => None,
        }
    }
}

const SLL_HEADER: usize = 16;
const SLL2_HEADER: usize = 20;
const NULL_HEADER: usize = 4;

/// 802.1Q tags followed at most (QinQ and one more for good measure).
const MAX_VLAN_TAGS: usize = 3;

/// Decodes one frame of link type `lt`.
///
/// The layers are sliced one at a time with etherparse's slice types rather than
/// its all-in-one `LaxSlicedPacket`: that struct is large and moved around per
/// packet, which showed as the single biggest copy in `decode`'s profile.
pub fn decode(lt: Linktype, frame: &[u8]) -> Result<Transport<'_>, Skip> {
    let (ether_type, payload) = match lt.0 {
        1 => {
            let eth = Ethernet2Slice::from_slice_without_fcs(frame).map_err(|_| Skip::Malformed)?;
            let (mut et, mut rest) = (eth.ether_type(), eth.payload_slice());
            for _ in 0..MAX_VLAN_TAGS {
                if !matches!(
                    et,
                    EtherType::VLAN_TAGGED_FRAME
                        | EtherType::PROVIDER_BRIDGING
                        | EtherType::VLAN_DOUBLE_TAGGED_FRAME
                ) {
                    break;
                }
                let vlan = SingleVlanSlice::from_slice(rest).map_err(|_| Skip::Malformed)?;
                (et, rest) = (vlan.ether_type(), vlan.payload_slice());
            }
            (et, rest)
        }
        113 => {
            let proto = be16(frame, 14).ok_or(Skip::Malformed)?;
            (EtherType(proto), &frame[SLL_HEADER..])
        }
        276 => {
            let proto = be16(frame, 0).ok_or(Skip::Malformed)?;
            if frame.len() < SLL2_HEADER {
                return Err(Skip::Malformed);
            }
            (EtherType(proto), &frame[SLL2_HEADER..])
        }
        12 | 14 | 101 | 228 | 229 => (EtherType::IPV4, frame),
        0 | 108 => {
            // DLT_NULL stores the address family in the capturing host's byte order,
            // DLT_LOOP in network order; the IP version nibble is the reliable witness.
            if frame.len() < NULL_HEADER {
                return Err(Skip::Malformed);
            }
            (EtherType::IPV4, &frame[NULL_HEADER..])
        }
        _ => return Err(Skip::UnknownLinkType),
    };
    match ether_type {
        // The version nibble decides between v4 and v6 (raw IP link types carry both).
        EtherType::IPV4 | EtherType::IPV6 => ip(payload),
        _ => Err(Skip::NotIp),
    }
}

fn ip(bytes: &[u8]) -> Result<Transport<'_>, Skip> {
    if !matches!(bytes.first().map(|b| b >> 4), Some(4) | Some(6)) {
        return Err(Skip::NotIp);
    }
    let (ip, _ext_err) = LaxIpSlice::from_slice(bytes).map_err(|_| Skip::Malformed)?;
    let (src_ip, dst_ip, wire, fragmented, payload) = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let pl = v4.payload();
            let wire = if pl.len_source == LenSource::Slice || !pl.incomplete {
                pl.payload.len()
            } else {
                usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4)
            };
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                wire,
                v4.is_payload_fragmented(),
                pl,
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let pl = v6.payload();
            let wire = if pl.len_source == LenSource::Slice || !pl.incomplete {
                pl.payload.len()
            } else {
                usize::from(h.payload_length()).saturating_sub(v6.extensions().slice().len())
            };
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                wire,
                v6.is_payload_fragmented(),
                pl,
            )
        }
    };
    if fragmented {
        return Err(Skip::IpFragment);
    }
    let data = payload.payload;
    match payload.ip_number {
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
            let wire_len = usize::from(udp.length()).saturating_sub(8).max(body.len());
            Ok(Transport::Udp(UdpDatagram {
                src: SocketAddr::new(src_ip, udp.source_port()),
                dst: SocketAddr::new(dst_ip, udp.destination_port()),
                payload: body,
                wire_len: wire_len as u32,
            }))
        }
        _ => Err(Skip::OtherTransport),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}
