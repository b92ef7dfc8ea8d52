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
