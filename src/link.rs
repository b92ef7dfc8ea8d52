//! Link, network and transport headers: from a captured frame to a TCP segment or UDP
//! datagram, using `etherparse`'s lax slicing so a snaplen-cut packet still yields
//! every header that was captured.
//!
//! The link layers lagtap meets on testbed hosts: Ethernet (with up to two 802.1Q
//! tags), Linux cooked capture v1/v2 (`tcpdump -i any`), raw IP and BSD loopback.
//! The cooked and loopback headers are a few fixed bytes that only lead to an
//! EtherType, so they are read here and the rest is handed to etherparse.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, LenSource, TransportSlice};
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

/// Decodes one frame of link type `lt`.
pub fn decode(lt: Linktype, frame: &[u8]) -> Result<Transport<'_>, Skip> {
    let sliced = match lt.0 {
        1 => LaxSlicedPacket::from_ethernet(frame).map_err(|_| Skip::Malformed)?,
        113 => {
            let proto = be16(frame, 14).ok_or(Skip::Malformed)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), &frame[SLL_HEADER..])
        }
        276 => {
            let proto = be16(frame, 0).ok_or(Skip::Malformed)?;
            if frame.len() < SLL2_HEADER {
                return Err(Skip::Malformed);
            }
            LaxSlicedPacket::from_ether_type(EtherType(proto), &frame[SLL2_HEADER..])
        }
        12 | 14 | 101 | 228 | 229 => {
            LaxSlicedPacket::from_ip(frame).map_err(|_| Skip::Malformed)?
        }
        0 | 108 => {
            if frame.len() < NULL_HEADER {
                return Err(Skip::Malformed);
            }
            // DLT_NULL stores the address family in the capturing host's byte order,
            // DLT_LOOP in network order; the IP version nibble is the reliable witness.
            let rest = &frame[NULL_HEADER..];
            match rest.first().map(|b| b >> 4) {
                Some(4) | Some(6) => LaxSlicedPacket::from_ip(rest).map_err(|_| Skip::Malformed)?,
                _ => return Err(Skip::NotIp),
            }
        }
        _ => return Err(Skip::UnknownLinkType),
    };
    from_sliced(&sliced)
}

fn from_sliced<'a>(p: &LaxSlicedPacket<'a>) -> Result<Transport<'a>, Skip> {
    let net = p.net.as_ref().ok_or(Skip::NotIp)?;
    let (src_ip, dst_ip, ip_payload_wire_len, fragmented, payload) = match net {
        LaxNetSlice::Ipv4(v4) => {
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
        LaxNetSlice::Ipv6(v6) => {
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
        _ => return Err(Skip::NotIp),
    };
    if fragmented {
        return Err(Skip::IpFragment);
    }
    match &p.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let header_len = tcp.header_slice().len();
            let data = tcp.payload();
            let wire_len = ip_payload_wire_len
                .saturating_sub(header_len)
                .max(data.len());
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
                payload: data,
                wire_len: wire_len as u32,
            }))
        }
        Some(TransportSlice::Udp(udp)) => {
            let data = udp.payload();
            let wire_len = usize::from(udp.length()).saturating_sub(8).max(data.len());
            Ok(Transport::Udp(UdpDatagram {
                src: SocketAddr::new(src_ip, udp.source_port()),
                dst: SocketAddr::new(dst_ip, udp.destination_port()),
                payload: data,
                wire_len: wire_len as u32,
            }))
        }
        Some(_) => Err(Skip::OtherTransport),
        None => match payload.ip_number {
            etherparse::IpNumber::TCP | etherparse::IpNumber::UDP => {
                Err(Skip::TruncatedTransportHeader)
            }
            _ => Err(Skip::OtherTransport),
        },
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}
