//! The link types other than Ethernet, Linux cooked capture and raw IP: each header is
//! read here as its specification lays it out, down to an EtherType (or an IP packet
//! whose version nibble decides) and the bytes after it.
//!
//! Kept out of line ([`other`] is never inlined) so the Ethernet path of
//! [`super::decode`] stays as small as it was.

use etherparse::EtherType;

use super::{be16, Next, Skip};

/// An IP packet follows; its version nibble says which.
const IP: EtherType = EtherType::IPV4;

/// Not an EtherType (values below 0x0600 are IEEE 802.3 lengths, never types; IEEE
/// Std 802.3-2018 §3.2.6): what [`ieee80211`] returns for the body of an A-MSDU,
/// which holds several packets and is split by [`amsdu_subframes`].
pub(super) const AMSDU: EtherType = EtherType(0);

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A frame of link type `lt`, not one of those [`super::link_layer`] reads itself.
/// `nested` is set inside a PKTAP or PPI header, which do not nest.
#[inline(never)]
pub(super) fn other(lt: u32, frame: &[u8], nested: bool) -> Next<'_> {
    match lt {
        0 | 108 => null(frame),
        9 => ppp(frame),
        50 => ppp_hdlc(frame),
        51 => pppoe_session(frame),
        104 => cisco_hdlc(frame),
        105 => ieee80211(frame),
        127 => radiotap(frame),
        163 => avs(frame),
        192 if !nested => ppi(frame),
        226 => ipnet(frame),
        239 => nflog(frame),
        258 if !nested => pktap(frame),
        192 | 258 => Err(Skip::Malformed),
        _ => Err(Skip::UnknownLinkType),
    }
}

/// DLT_NULL and DLT_LOOP (tcpdump.org link-layer header types, LINKTYPE_NULL and
/// LINKTYPE_LOOP): a 4-byte address family, in the capturing host's byte order for
/// NULL, network order for LOOP (and either in practice). AF_INET is 2 everywhere;
/// AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
fn null(frame: &[u8]) -> Next<'_> {
    let family = frame.get(..4).ok_or(Skip::Malformed)?;
    let is_ip = |v: u32| matches!(v, 2 | 10 | 24 | 28 | 30);
    let raw: [u8; 4] = [family[0], family[1], family[2], family[3]];
    if is_ip(u32::from_le_bytes(raw)) || is_ip(u32::from_be_bytes(raw)) {
        Ok((IP, &frame[4..]))
    } else {
        Err(Skip::NotIp)
    }
}

/// DLT_PPP: PPP (RFC 1661), optionally with the address and control bytes of the
/// HDLC-like framing of RFC 1662 §3.1 (`FF 03`) before the Protocol field.
fn ppp(frame: &[u8]) -> Next<'_> {
    match frame {
        [0xff, 0x03, rest @ ..] => ppp_protocol(rest),
        _ => ppp_protocol(frame),
    }
}

/// The PPP Protocol field (RFC 1661 §2): two octets, or one when compressed (§6.5
/// Protocol-Field-Compression; a compressed field is the odd low octet). 0x0021 is
/// IPv4 (RFC 1332), 0x0057 IPv6 (RFC 5072).
pub(super) fn ppp_protocol(b: &[u8]) -> Next<'_> {
    let first = *b.first().ok_or(Skip::Malformed)?;
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), &b[1..])
    } else {
        (be16(b, 0).ok_or(Skip::Malformed)?, &b[2..])
    };
    match proto {
        0x0021 => Ok((EtherType::IPV4, rest)),
        0x0057 => Ok((EtherType::IPV6, rest)),
        _ => Err(Skip::NotIp),
    }
}

/// DLT_PPP_SERIAL (50): PPP in HDLC-like framing (RFC 1662 §3.1, address `FF`), or
/// Cisco HDLC (RFC 1547 §4.3.1, address `0F` unicast or `8F` broadcast).
fn ppp_hdlc(frame: &[u8]) -> Next<'_> {
    match frame.first() {
        Some(0xff) => ppp_protocol(frame.get(2..).ok_or(Skip::Malformed)?),
        _ => cisco_hdlc(frame),
    }
}

/// Cisco HDLC (RFC 1547 §4.3.1): address, control, then an EtherType.
fn cisco_hdlc(frame: &[u8]) -> Next<'_> {
    let et = be16(frame, 2).ok_or(Skip::Malformed)?;
    Ok((EtherType(et), &frame[4..]))
}

/// A PPPoE session packet (RFC 2516 §4, EtherType 0x8864 or DLT_PPP_ETHER): version
/// and type (`0x11`), code `0x00`, session id, length, then PPP's Protocol field.
pub(super) fn pppoe_session(b: &[u8]) -> Next<'_> {
    if b.len() < 6 || b[0] != 0x11 || b[1] != 0 {
        return Err(Skip::NotIp);
    }
    let len = usize::from(be16(b, 4).ok_or(Skip::Malformed)?);
    let body = &b[6..];
    ppp_protocol(&body[..len.min(body.len())])
}

/// DLT_IPNET (Solaris): a 24-byte header (version, family, type, lengths, zones),
/// then the IP packet.
fn ipnet(frame: &[u8]) -> Next<'_> {
    frame.get(24..).map(|ip| (IP, ip)).ok_or(Skip::Malformed)
}

/// NFLOG type of the attribute carrying the packet (`linux/netfilter/nfnetlink_log.h`,
/// `enum nfulnl_attr_type`: NFULA_PAYLOAD).
const NFULA_PAYLOAD: u16 = 9;

/// DLT_NFLOG (tcpdump.org LINKTYPE_NFLOG; `linux/netfilter/nfnetlink_log.h`): a
/// 4-byte header (address family, version, resource id) and then TLVs of a 16-bit
/// length (including the 4-byte TLV header) and a 16-bit type, both in the capturing
/// host's byte order, each padded to 4 bytes. The packet is the NFULA_PAYLOAD TLV.
fn nflog(frame: &[u8]) -> Next<'_> {
    let mut rest = frame.get(4..).ok_or(Skip::Malformed)?;
    // The byte order in which the first TLV's length fits.
    let first = le16(rest, 0).ok_or(Skip::Unused("nflog.no_payload"))?;
    let le = (4..=rest.len()).contains(&usize::from(first));
    while rest.len() >= 4 {
        let (len, ty) = if le {
            (le16(rest, 0), le16(rest, 2))
        } else {
            (be16(rest, 0), be16(rest, 2))
        };
        let (len, ty) = (usize::from(len.unwrap_or(0)), ty.unwrap_or(0));
        if len < 4 || len > rest.len() {
            return Err(Skip::Malformed);
        }
        // The top two bits are netlink's nested / byte-order flags.
        if ty & 0x3fff == NFULA_PAYLOAD {
            return Ok((IP, &rest[4..len]));
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    Err(Skip::Unused("nflog.no_payload"))
}

/// DLT_PKTAP (macOS; libpcap `pcap/pktap.h`): a header whose first 32-bit field
/// (`pth_length`) is its own length and whose third (`pth_dlt`) is the link type of
/// the packet after it, in the capturing host's byte order (little-endian on every
/// Mac; big-endian tried when that does not fit).
fn pktap(frame: &[u8]) -> Next<'_> {
    let fits = |len: u32| (12..=frame.len()).contains(&(len as usize));
    let le = le32(frame, 0).ok_or(Skip::Malformed)?;
    let (len, dlt) = if fits(le) {
        (le, le32(frame, 8))
    } else {
        let be = be32(frame, 0).ok_or(Skip::Malformed)?;
        if !fits(be) {
            return Err(Skip::Malformed);
        }
        (be, be32(frame, 8))
    };
    let dlt = dlt.ok_or(Skip::Malformed)?;
    super::link_layer_nested(dlt, &frame[len as usize..])
}

/// DLT_PPI (Per-Packet Information header specification, CACE Technologies, v1.0.10,
/// §3): version, flags, a little-endian 16-bit header length and 32-bit link type of
/// the packet after it; then fields of a 16-bit type and length. Field type 2
/// (802.11-Common, §4.1.2) holds flags at byte 8 whose bit 0 says the 802.11 frame
/// ends in an FCS.
fn ppi(frame: &[u8]) -> Next<'_> {
    let len = usize::from(le16(frame, 2).ok_or(Skip::Malformed)?);
    let dlt = le32(frame, 4).ok_or(Skip::Malformed)?;
    if len < 8 || len > frame.len() {
        return Err(Skip::Malformed);
    }
    let mut fcs = false;
    let mut at = 8;
    while at + 4 <= len {
        let (ty, flen) = (le16(frame, at), le16(frame, at + 2));
        let (ty, flen) = (ty.unwrap_or(0), usize::from(flen.unwrap_or(0)));
        if ty == 2 && flen >= 10 {
            fcs |= frame.get(at + 4 + 8).is_some_and(|f| f & 1 != 0);
        }
        at += 4 + flen;
    }
    let inner = &frame[len..];
    if dlt == 105 {
        return ieee80211(without_fcs(inner, fcs));
    }
    super::link_layer_nested(dlt, inner)
}

/// DLT_IEEE802_11_AVS (the AVS capture header, "AVS WLAN Monitor Header", version 1
/// and 2): a big-endian magic `0x8021100x` and a big-endian header length, then the
/// 802.11 frame.
fn avs(frame: &[u8]) -> Next<'_> {
    let magic = be32(frame, 0).ok_or(Skip::Malformed)?;
    let len = be32(frame, 4).ok_or(Skip::Malformed)? as usize;
    if magic & 0xffff_fff0 != 0x8021_1000 || len < 8 || len > frame.len() {
        return Err(Skip::Malformed);
    }
    ieee80211(&frame[len..])
}

fn without_fcs(frame: &[u8], fcs: bool) -> &[u8] {
    if fcs {
        &frame[..frame.len().saturating_sub(4)]
    } else {
        frame
    }
}

/// DLT_IEEE802_11_RADIO (radiotap.org, "Radiotap header": `it_version` 0, `it_pad`,
/// little-endian `it_len` (the whole header) and `it_present` bitmaps, bit 31 saying
/// another follows). Fields follow the bitmaps, each aligned to its size from the
/// header's start ("Alignment in radiotap"); the first two are TSFT (bit 0, u64) and
/// Flags (bit 1, u8), whose 0x10 says the frame ends in a 4-byte FCS and 0x40 that
/// it failed its FCS check (counted, never decoded).
fn radiotap(frame: &[u8]) -> Next<'_> {
    if frame.first() != Some(&0) {
        return Err(Skip::Malformed);
    }
    let len = usize::from(le16(frame, 2).ok_or(Skip::Malformed)?);
    let present = le32(frame, 4).ok_or(Skip::Malformed)?;
    if len < 8 || len > frame.len() {
        return Err(Skip::Malformed);
    }
    let mut fields = 8;
    let mut word = present;
    while word & (1 << 31) != 0 {
        word = le32(frame, fields).ok_or(Skip::Malformed)?;
        fields += 4;
    }
    let mut flags = 0;
    if present & 0b10 != 0 {
        let mut at = fields;
        if present & 0b01 != 0 {
            at = at.next_multiple_of(8) + 8;
        }
        flags = if at < len { frame[at] } else { 0 };
    }
    // Flags 0x40: the frame failed its FCS check; its bytes cannot be trusted.
    if flags & 0x40 != 0 {
        return Err(Skip::Unused("wlan.bad_fcs"));
    }
    ieee80211(without_fcs(&frame[len..], flags & 0x10 != 0))
}

/// An IEEE 802.11 MAC frame (IEEE 802.11-2020 §9.2.4.1 Frame Control, §9.3.2.1 data
/// frames). Only data frames carrying data lead anywhere: management, control and
/// extension frames, data subtypes without data (Null, QoS Null, CF-Poll...) and
/// protected (encrypted) frames are counted by what they are. An A-MSDU's body is
/// returned as [`AMSDU`], for [`amsdu_subframes`] to split.
pub(super) fn ieee80211(f: &[u8]) -> Next<'_> {
    let (fc0, fc1) = match f {
        [a, b, ..] => (*a, *b),
        _ => return Err(Skip::Malformed),
    };
    // Frame Control (§9.2.4.1.1): protocol version bits 0-1, type 2-3, subtype 4-7;
    // then the flags: To DS, From DS, More Fragments, Retry, Power Management, More
    // Data, Protected Frame, +HTC/Order.
    if fc0 & 0b11 != 0 {
        return Err(Skip::Unused("wlan.unknown_version"));
    }
    let subtype = fc0 >> 4;
    match (fc0 >> 2) & 0b11 {
        0 => return Err(Skip::Unused("wlan.management")),
        1 => return Err(Skip::Unused("wlan.control")),
        3 => return Err(Skip::Unused("wlan.extension")),
        _ => {}
    }
    // Table 9-1: data subtypes with bit 2 set (Null, CF-Ack, CF-Poll, QoS Null, QoS
    // CF-Poll...) carry no frame body.
    if subtype & 0b0100 != 0 {
        return Err(Skip::Unused("wlan.no_data"));
    }
    // §9.3.2.1: Frame Control, Duration/ID, Address 1-3, Sequence Control (24
    // bytes); Address 4 when To DS and From DS are both set; QoS Control in QoS
    // subtypes (bit 3); HT Control when +HTC/Order is set in a QoS data frame.
    let mut hdr = 24;
    if fc1 & 0b11 == 0b11 {
        hdr += 6;
    }
    let mut amsdu = false;
    if subtype & 0b1000 != 0 {
        // QoS Control (§9.2.4.5): bit 7 is "A-MSDU Present".
        amsdu = f.get(hdr).ok_or(Skip::Malformed)? & 0x80 != 0;
        hdr += 2;
        if fc1 & 0x80 != 0 {
            hdr += 4;
        }
    }
    if fc1 & 0x40 != 0 {
        return Err(Skip::Unused("wlan.protected"));
    }
    let body = f.get(hdr..).ok_or(Skip::Malformed)?;
    if amsdu {
        return Ok((AMSDU, body));
    }
    llc_snap(body)
}

/// The A-MSDU subframe header (IEEE 802.11-2020 §9.3.2.2.2, Figure 9-70): DA, SA and
/// a Length, which unlike the MAC header's fields is big-endian.
const SUBFRAME_HEADER: usize = 14;

/// The MSDUs of an A-MSDU body (IEEE 802.11-2020 §9.3.2.2.2): subframes of DA (6
/// bytes), SA (6), Length (2, big-endian: the MSDU's), the MSDU (LLC/SNAP and the
/// packet), then padding to a multiple of 4 bytes, except after the last. Each MSDU
/// is read as [`llc_snap`]; a subframe whose length runs past the body (cut by the
/// snaplen, or not an A-MSDU at all) is malformed and ends the walk.
pub(super) fn amsdu_subframes(body: &[u8]) -> impl Iterator<Item = Next<'_>> {
    let mut rest = body;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let msdu = be16(rest, 12)
            .map(|len| SUBFRAME_HEADER + usize::from(len))
            .and_then(|end| Some((rest.get(SUBFRAME_HEADER..end)?, end)));
        let Some((msdu, end)) = msdu else {
            rest = &[];
            return Some(Err(Skip::Malformed));
        };
        rest = rest.get(end.next_multiple_of(4)..).unwrap_or(&[]);
        Some(llc_snap(msdu))
    })
}

/// IEEE 802.2 LLC with a SNAP header (DSAP and SSAP `AA`, control `03`; IEEE Std
/// 802-2014 §10.5): an OUI of 00-00-00 (RFC 1042) or 00-00-F8 (802.1H bridge
/// tunnel) and an EtherType (0x0600 and up: lower values are lengths, and one of
/// them is [`AMSDU`]).
fn llc_snap(b: &[u8]) -> Next<'_> {
    match b {
        [0xaa, 0xaa, 0x03, 0, 0, 0 | 0xf8, t0, t1, rest @ ..]
            if u16::from_be_bytes([*t0, *t1]) >= 0x0600 =>
        {
            Ok((EtherType(u16::from_be_bytes([*t0, *t1])), rest))
        }
        _ => Err(Skip::Unused("wlan.not_llc_snap")),
    }
}
