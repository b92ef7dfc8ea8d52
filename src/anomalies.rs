//! Counted anomalies: what lagtap met and could not (fully) use, by reason.
//!
//! Bad input is normal input for a capture tool (snaplen cuts, truncated files, lost
//! packets). Nothing of that is fatal; it is counted under a stable reason string that
//! reports, JSON and tests can rely on.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Anomalies(BTreeMap<&'static str, u64>);

impl Anomalies {
    pub fn add(&mut self, reason: &'static str, n: u64) {
        if n > 0 {
            *self.0.entry(reason).or_insert(0) += n;
        }
    }

    pub fn count(&mut self, reason: &'static str) {
        self.add(reason, 1);
    }

    pub fn get(&self, reason: &str) -> u64 {
        self.0.get(reason).copied().unwrap_or(0)
    }

    pub fn merge(&mut self, other: &Anomalies) {
        for (k, v) in &other.0 {
            self.add(k, *v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().map(|(k, v)| (*k, *v))
    }
}

/// Damage to a capture file itself (cut short, corrupt, packets cut or lost before
/// the tap), as opposed to what lagtap chose not to use: one entry per reason, with
/// what it cost. `lagtap correlate` names damaged inputs with these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Damage {
    /// The anomaly reason (`truncated_file`, `tcp.gap`, ...).
    pub reason: String,
    /// How often it happened (gaps for `tcp.gap`).
    pub count: u64,
    /// What was lost, in words.
    pub lost: String,
}

/// Reasons that stop reading the file: everything after them is lost.
const STOPS: [(&str, &str); 4] = [
    (
        "truncated_file",
        "the file ends inside a packet record (cut short)",
    ),
    ("corrupt_block", "a corrupt block stopped reading"),
    ("read_error", "a read error stopped reading"),
    (
        "oversized_block",
        "a block too large for a packet stopped reading",
    ),
];

/// Reasons that cost single packets, with what happened to each.
const PER_PACKET: [(&str, &str); 5] = [
    (
        "snaplen_cut",
        "cut short by the snapshot length (bytes beyond it missing)",
    ),
    ("malformed_packet", "with unreadable headers, skipped"),
    (
        "truncated_transport_header",
        "cut inside their TCP/UDP header, skipped",
    ),
    ("packet_before_header", "before the file header, skipped"),
    (
        "unknown_interface",
        "of an interface the file never described, skipped",
    ),
];

fn packets(n: u64) -> String {
    if n == 1 {
        "1 packet".into()
    } else {
        format!("{n} packets")
    }
}

/// The damage among a capture's anomalies (a decode `summary`'s `anomalies`), in a
/// fixed order: what stopped reading first, then lost packets, then TCP gaps.
/// `data_end_ns` (the last packet's time) says where the readable part ends.
pub fn damage(anomalies: &BTreeMap<String, u64>, data_end_ns: Option<i64>) -> Vec<Damage> {
    let get = |k: &str| anomalies.get(k).copied().unwrap_or(0);
    let mut out = Vec::new();
    for (reason, what) in STOPS {
        let n = get(reason);
        if n > 0 {
            let after = data_end_ns.map_or("the point where reading stopped".to_string(), |t| {
                crate::time::Timestamp(t).to_rfc3339()
            });
            out.push(Damage {
                reason: reason.into(),
                count: n,
                lost: format!("{what}: whatever was captured after {after} is missing"),
            });
        }
    }
    for (reason, what) in PER_PACKET {
        let n = get(reason);
        if n > 0 {
            out.push(Damage {
                reason: reason.into(),
                count: n,
                lost: format!("{} {what}", packets(n)),
            });
        }
    }
    let gaps = get("tcp.gap");
    if gaps > 0 {
        out.push(Damage {
            reason: "tcp.gap".into(),
            count: gaps,
            lost: format!(
                "{} bytes of TCP payload never captured ({gaps} gap{})",
                get("tcp.gap_bytes"),
                if gaps == 1 { "" } else { "s" }
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_says_what_each_reason_cost_and_ignores_the_rest() {
        let a: BTreeMap<String, u64> = [
            ("truncated_file", 1),
            ("snaplen_cut", 3),
            ("malformed_packet", 1),
            ("tcp.gap", 2),
            ("tcp.gap_bytes", 2896),
            ("tcp_midstream_start", 4),
            ("decode.late_event", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let d = damage(&a, Some(1_795_581_166_231_124_062));
        let lost: Vec<&str> = d.iter().map(|d| d.lost.as_str()).collect();
        assert_eq!(
            lost,
            [
                "the file ends inside a packet record (cut short): whatever was captured \
                 after 2026-11-25T04:32:46.231124062Z is missing",
                "3 packets cut short by the snapshot length (bytes beyond it missing)",
                "1 packet with unreadable headers, skipped",
                "2896 bytes of TCP payload never captured (2 gaps)",
            ]
        );
        assert_eq!(d[3].reason, "tcp.gap");
        assert_eq!(d[3].count, 2);
        assert!(damage(&BTreeMap::new(), None).is_empty());
    }
}
