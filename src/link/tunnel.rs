//! Encapsulations: packets inside IP (IP-in-IP, 6in4, GRE with its ERSPAN variants),
//! inside UDP (VXLAN, Geneve, GTP-U) and under MPLS labels. The inner packet is decoded
//! as any packet is, so its flows are keyed and reported like any other (by the inner
//! addresses and ports; the tunnel's own headers are not part of the key).
//!
//! Out of line, and reached only for IP protocols and UDP ports that are tunnels, so
//! the plain TCP path does not change. Nesting is bounded by [`MAX_DEPTH`].

use std::cell::Cell;

use etherparse::{EtherType, IpNumber};

use super::{be16, Next, Skip, Transport};

/// Tunnels inside tunnels followed at most.
const MAX_DEPTH: u8 = 4;

thread_local! {
    static DEPTH: Cell<u8> = const { Cell::new(0) };
}

pub(super) const VXLAN_PORT: u16 = 4789;
pub(super) const GENEVE_PORT: u16 = 6081;
pub(super) const GTPU_PORT: u16 = 2152;

/// Transparent Ethernet Bridging (an Ethernet frame follows), as GRE and Geneve name it.
const TEB: EtherType = EtherType(0x6558);
const MPLS_UNICAST: EtherType = EtherType(0x8847);
const MPLS_MULTICAST: EtherType = EtherType(0x8848);
const ERSPAN_2: EtherType = EtherType(0x88be);
const ERSPAN_3: EtherType = EtherType(0x22eb);
const PPP: EtherType = EtherType(0x880b);

/// Decodes what `open` finds inside, one level deeper.
fn nested<'a>(open: impl FnOnce() -> Next<'a>) -> Result<Transport<'a>, Skip> {
    let depth = DEPTH.with(Cell::get);
    if depth >= MAX_DEPTH {
        return Err(Skip::Unused("tunnel.too_deep"));
    }
    let (et, inner) = open()?;
    DEPTH.with(|d| d.set(depth + 1));
    let out = super::after_link(et, inner);
    DEPTH.with(|d| d.set(depth));
    out
}

/// An IP payload of protocol `proto` that is not TCP or UDP.
#[inline(never)]
pub(super) fn ip_payload(proto: IpNumber, data: &[u8]) -> Result<Transport<'_>, Skip> {
    match proto {
        // RFC 2003 (IPv4 in IPv4), RFC 4213 §3.5 (IPv6 in IPv4, "6in4"), RFC 2473
        // (anything in IPv6): the inner packet follows the outer header directly.
        IpNumber::IPV4 | IpNumber::IPV6 => nested(|| Ok((EtherType::IPV4, data))),
        IpNumber::GRE => nested(|| gre(data)),
        // RFC 4023: MPLS in IP.
        IpNumber(137) => nested(|| mpls(data)),
        _ => Err(Skip::OtherTransport),
    }
}

/// A UDP datagram on a tunnel's port.
#[inline(never)]
pub(super) fn udp_payload(port: u16, data: &[u8]) -> Option<Result<Transport<'_>, Skip>> {
    match port {
        VXLAN_PORT => Some(nested(|| vxlan(data))),
        GENEVE_PORT => Some(nested(|| geneve(data))),
        GTPU_PORT => gtpu(data).map(|inner| nested(|| inner)),
        _ => None,
    }
}

/// An EtherType that is an encapsulation itself (MPLS).
pub(super) fn ether_payload(et: EtherType, data: &[u8]) -> Option<Result<Transport<'_>, Skip>> {
    match et {
        MPLS_UNICAST | MPLS_MULTICAST => Some(nested(|| mpls(data))),
        _ => None,
    }
}

/// GRE (RFC 2784 §2.1, with RFC 2890 §2's Key and Sequence Number): flags C
/// (checksum and reserved, 4 bytes), K (key, 4), S (sequence, 4), version 0; the
/// Protocol Type says what follows. Version 1 is PPTP's enhanced GRE (RFC 2637 §4.1:
/// key always, sequence and acknowledgment optional) carrying PPP.
fn gre(b: &[u8]) -> Next<'_> {
    let (f0, f1) = match b {
        [a, c, ..] => (*a, *c),
        _ => return Err(Skip::Malformed),
    };
    let proto = EtherType(be16(b, 2).ok_or(Skip::Malformed)?);
    let version = f1 & 0b111;
    let mut at = 4;
    match version {
        0 => {
            at += 4 * [0x80u8, 0x20, 0x10]
                .iter()
                .filter(|&&bit| f0 & bit != 0)
                .count();
        }
        1 => {
            // Key (payload length and call id), Sequence if S, Acknowledgment if A.
            at += 4;
            if f0 & 0x10 != 0 {
                at += 4;
            }
            if f1 & 0x80 != 0 {
                at += 4;
            }
        }
        _ => return Err(Skip::Unused("gre.unknown_version")),
    }
    let rest = b.get(at..).ok_or(Skip::Malformed)?;
    let sequenced = f0 & 0x10 != 0;
    match proto {
        TEB => super::ethernet(rest),
        PPP => super::frames::ppp_protocol(strip_hdlc(rest)),
        // ERSPAN Type II (draft-foschiano-erspan-03 §4.1): an 8-byte header, then the
        // mirrored Ethernet frame. Type I: GRE without a sequence number and no
        // ERSPAN header.
        ERSPAN_2 if !sequenced => super::ethernet(rest),
        ERSPAN_2 => super::ethernet(rest.get(8..).ok_or(Skip::Malformed)?),
        // ERSPAN Type III (§4.2): a 12-byte header whose last bit (O) says an 8-byte
        // platform-specific subheader follows.
        ERSPAN_3 => {
            let o = rest.get(11).ok_or(Skip::Malformed)? & 1 != 0;
            super::ethernet(rest.get(if o { 20 } else { 12 }..).ok_or(Skip::Malformed)?)
        }
        _ => Ok((proto, rest)),
    }
}

fn strip_hdlc(b: &[u8]) -> &[u8] {
    match b {
        [0xff, 0x03, rest @ ..] => rest,
        _ => b,
    }
}

/// An MPLS label stack (RFC 3032 §2.1: 4-byte entries, bit 0 of the third byte marks
/// the bottom of the stack); under it, IPv4 or IPv6 by the version nibble (RFC 3032
/// §2.2), or a pseudowire control word (RFC 4385 §3, first nibble 0) and an Ethernet
/// frame (RFC 4448).
fn mpls(mut b: &[u8]) -> Next<'_> {
    for _ in 0..16 {
        let entry = b.get(..4).ok_or(Skip::Malformed)?;
        b = &b[4..];
        if entry[2] & 1 != 0 {
            return match b.first().map(|v| v >> 4) {
                Some(4 | 6) => Ok((EtherType::IPV4, b)),
                Some(0) => super::ethernet(b.get(4..).ok_or(Skip::Malformed)?),
                _ => Err(Skip::NotIp),
            };
        }
    }
    Err(Skip::Malformed)
}

/// VXLAN (RFC 7348 §5): 8 bytes (flags with I = 0x08, VNI), then an Ethernet frame.
fn vxlan(b: &[u8]) -> Next<'_> {
    match b {
        [flags, _, _, _, _, _, _, _, rest @ ..] if flags & 0x08 != 0 => super::ethernet(rest),
        _ => Err(Skip::Unused("vxlan.not_vxlan")),
    }
}

/// Geneve (RFC 8926 §3.4): version (2 bits, 0) and options length (6 bits, in 4-byte
/// words), flags, Protocol Type (an EtherType; 0x6558 for Ethernet), VNI, reserved,
/// then the options and the inner packet.
fn geneve(b: &[u8]) -> Next<'_> {
    let first = *b.first().ok_or(Skip::Malformed)?;
    if first >> 6 != 0 {
        return Err(Skip::Unused("geneve.unknown_version"));
    }
    let proto = EtherType(be16(b, 2).ok_or(Skip::Malformed)?);
    let rest = b
        .get(8 + usize::from(first & 0x3f) * 4..)
        .ok_or(Skip::Malformed)?;
    match proto {
        TEB => super::ethernet(rest),
        _ => Ok((proto, rest)),
    }
}

/// GTP-U (3GPP TS 29.281 §5.1): version 1 with PT set, message type 255 (G-PDU) for
/// user data, length, TEID; the optional sequence, N-PDU and next-extension fields
/// (4 bytes) when E, S or PN is set; extension headers (§5.2, length in 4-byte units,
/// the last byte naming the next); then the user's IP packet. Other messages (echo,
/// error indication, end marker) are GTP's own and counted.
fn gtpu(b: &[u8]) -> Option<Next<'_>> {
    let flags = *b.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 {
        return None;
    }
    if b.get(1) != Some(&0xff) {
        return Some(Err(Skip::Unused("gtpu.signalling")));
    }
    let Some(len) = be16(b, 2) else {
        return Some(Err(Skip::Malformed));
    };
    let end = (8 + usize::from(len)).min(b.len());
    let mut at = 8;
    if flags & 0b111 != 0 {
        let Some(&next) = b.get(at + 3) else {
            return Some(Err(Skip::Malformed));
        };
        at += 4;
        let mut next_type = if flags & 0b100 != 0 { next } else { 0 };
        while next_type != 0 {
            let Some(&units) = b.get(at) else {
                return Some(Err(Skip::Malformed));
            };
            if units == 0 {
                return Some(Err(Skip::Malformed));
            }
            at += usize::from(units) * 4;
            let Some(&n) = b.get(at - 1) else {
                return Some(Err(Skip::Malformed));
            };
            next_type = n;
        }
    }
    Some(match b.get(at..end.max(at)) {
        Some(inner) if inner.first().is_some_and(|v| matches!(v >> 4, 4 | 6)) => {
            Ok((EtherType::IPV4, inner))
        }
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Malformed),
    })
}
