//! IPv4 and IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5), bounded in
//! memory and time.
//!
//! Fragments are held per datagram (source, destination, protocol, identification)
//! until the pieces cover the payload from 0 to the end the last fragment (More
//! Fragments clear) gives; the whole payload then goes on as if it had come in one
//! packet, at the time of the fragment that completed it. A datagram still
//! incomplete [`TIMEOUT_NS`] after its first fragment (Linux's `ipfrag_time`) is
//! dropped and counted, and so are datagrams beyond [`MAX_DATAGRAMS`] or
//! [`MAX_BYTES`] held in all, fragments cut by the snaplen and fragments that do not
//! fit a datagram. Overlapping fragments: the first copy of a byte wins (what
//! RFC 5722 leaves to the receiver for IPv6 is not attempted: the datagram is kept).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::anomalies::Anomalies;
use crate::link::IpFragment;
use crate::time::Timestamp;

/// How long the fragments of one datagram are waited for.
pub const TIMEOUT_NS: i64 = 30 * Timestamp::NANOS_PER_SEC;
/// Datagrams in reassembly at once.
pub const MAX_DATAGRAMS: usize = 1024;
/// Fragment bytes held at once, all datagrams together.
pub const MAX_BYTES: usize = 8 << 20;
/// The largest payload a datagram can have (IPv4's 16-bit total length; IPv6
/// fragments are bounded the same by their 13-bit offset and 16-bit length).
const MAX_PAYLOAD: u32 = 65_535 + 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    id: u32,
}

struct Pending {
    first: Timestamp,
    /// (offset, bytes), in arrival order.
    pieces: Vec<(u32, Vec<u8>)>,
    /// The payload's length, once the last fragment came.
    total: Option<u32>,
    bytes: usize,
}

/// Datagrams in reassembly.
#[derive(Default)]
pub struct Defrag {
    pending: HashMap<Key, Pending>,
    bytes: usize,
}

/// A reassembled datagram: its protocol, addresses and payload.
pub struct Datagram {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub payload: Vec<u8>,
}

impl Defrag {
    /// Takes one fragment captured at `ts`; returns the datagram it completed, if it
    /// did. What is dropped is counted in `anomalies`.
    pub fn add(
        &mut self,
        ts: Timestamp,
        f: &IpFragment<'_>,
        anomalies: &mut Anomalies,
    ) -> Option<Datagram> {
        if !f.whole {
            anomalies.count("ip_fragment.cut");
            return None;
        }
        let end = f.offset.checked_add(f.payload.len() as u32)?;
        if end > MAX_PAYLOAD || (f.more && f.payload.len() % 8 != 0) {
            anomalies.count("ip_fragment.bad");
            return None;
        }
        let key = Key {
            src: f.src,
            dst: f.dst,
            proto: f.proto,
            id: f.id,
        };
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= MAX_DATAGRAMS {
                self.evict_oldest(anomalies);
            }
            self.pending.insert(
                key,
                Pending {
                    first: ts,
                    pieces: Vec::new(),
                    total: None,
                    bytes: 0,
                },
            );
        }
        while self.bytes + f.payload.len() > MAX_BYTES && self.pending.len() > 1 {
            self.evict_oldest_except(key, anomalies);
        }
        if self.bytes + f.payload.len() > MAX_BYTES {
            self.drop_datagram(key, "ip_fragment.overflow", anomalies);
            return None;
        }
        let p = self.pending.get_mut(&key)?;
        if !f.more {
            if p.total.is_some_and(|t| t != end) {
                self.drop_datagram(key, "ip_fragment.bad", anomalies);
                return None;
            }
            p.total = Some(end);
        }
        p.pieces.push((f.offset, f.payload.to_vec()));
        p.bytes += f.payload.len();
        self.bytes += f.payload.len();
        let total = p.total?;
        if !covers(&p.pieces, total) {
            return None;
        }
        let p = self.pending.remove(&key)?;
        self.bytes -= p.bytes;
        let mut payload = vec![0u8; total as usize];
        // Later copies first, so the first copy of each byte is what stays.
        for (offset, bytes) in p.pieces.iter().rev() {
            let start = *offset as usize;
            let stop = (start + bytes.len()).min(payload.len());
            if start < stop {
                payload[start..stop].copy_from_slice(&bytes[..stop - start]);
            }
        }
        Some(Datagram {
            proto: key.proto,
            src: key.src,
            dst: key.dst,
            payload,
        })
    }

    /// Drops the datagrams whose first fragment is more than [`TIMEOUT_NS`] before
    /// `now`.
    pub fn expire(&mut self, now: Timestamp, anomalies: &mut Anomalies) {
        if self.pending.is_empty() {
            return;
        }
        let old: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, p)| now.0.saturating_sub(p.first.0) > TIMEOUT_NS)
            .map(|(k, _)| *k)
            .collect();
        for key in old {
            self.drop_datagram(key, "ip_fragment.timeout", anomalies);
        }
    }

    /// End of the capture: whatever is still incomplete is counted.
    pub fn finish(&mut self, anomalies: &mut Anomalies) {
        anomalies.add("ip_fragment.incomplete", self.pending.len() as u64);
        self.pending.clear();
        self.bytes = 0;
    }

    fn drop_datagram(&mut self, key: Key, reason: &'static str, anomalies: &mut Anomalies) {
        if let Some(p) = self.pending.remove(&key) {
            self.bytes -= p.bytes;
            anomalies.count(reason);
        }
    }

    fn evict_oldest(&mut self, anomalies: &mut Anomalies) {
        if let Some(key) = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.first)
            .map(|(k, _)| *k)
        {
            self.drop_datagram(key, "ip_fragment.overflow", anomalies);
        }
    }

    fn evict_oldest_except(&mut self, keep: Key, anomalies: &mut Anomalies) {
        let oldest = self
            .pending
            .iter()
            .filter(|(k, _)| **k != keep)
            .min_by_key(|(_, p)| p.first)
            .map(|(k, _)| *k);
        if let Some(key) = oldest {
            self.drop_datagram(key, "ip_fragment.overflow", anomalies);
        }
    }
}

/// Whether `pieces` cover 0..total.
fn covers(pieces: &[(u32, Vec<u8>)], total: u32) -> bool {
    let mut spans: Vec<(u32, u32)> = pieces
        .iter()
        .map(|(o, b)| (*o, o + b.len() as u32))
        .collect();
    spans.sort_unstable();
    let mut reached = 0;
    for (start, end) in spans {
        if start > reached {
            return false;
        }
        reached = reached.max(end);
    }
    reached >= total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, offset: u32, more: bool, payload: &[u8]) -> IpFragment<'_> {
        IpFragment {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id,
            proto: 17,
            offset,
            more,
            payload,
            whole: true,
        }
    }

    #[test]
    fn fragments_in_any_order_make_the_datagram_and_memory_stays_bounded() {
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let mut d = Defrag::default();
        let mut a = Anomalies::default();
        let t = Timestamp(1_000);
        assert!(d
            .add(t, &frag(1, 2400, false, &data[2400..]), &mut a)
            .is_none());
        assert!(d.add(t, &frag(1, 0, true, &data[..1200]), &mut a).is_none());
        // A duplicate with other bytes: the first copy wins.
        assert!(d.add(t, &frag(1, 0, true, &[0xee; 1200]), &mut a).is_none());
        let got = d
            .add(t, &frag(1, 1200, true, &data[1200..2400]), &mut a)
            .unwrap();
        assert_eq!(got.payload, data);
        assert_eq!((d.pending.len(), d.bytes), (0, 0));
        // Never completed: dropped after the timeout, counted.
        d.add(t, &frag(2, 0, true, &data[..8]), &mut a);
        d.expire(Timestamp(t.0 + TIMEOUT_NS + 1), &mut a);
        assert_eq!(a.get("ip_fragment.timeout"), 1);
        // Many datagrams never completed: bounded in number and bytes.
        for id in 0..5000 {
            d.add(t, &frag(100 + id, 0, true, &data[..2400]), &mut a);
            assert!(d.pending.len() <= MAX_DATAGRAMS && d.bytes <= MAX_BYTES);
        }
        assert!(a.get("ip_fragment.overflow") > 0);
        d.finish(&mut a);
        assert!(a.get("ip_fragment.incomplete") > 0);
        // Beyond a datagram's largest size, or not a multiple of 8 before the end.
        d.add(t, &frag(9, 65_528, false, &data[..100]), &mut a);
        d.add(t, &frag(9, 0, true, &data[..7]), &mut a);
        assert_eq!(a.get("ip_fragment.bad"), 2);
    }
}
