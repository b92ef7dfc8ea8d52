/// Anomalies counted by reason (`ts.*`, `fmp4.*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Anomalies(Vec<(&'static str, u64)>);

impl Anomalies {
    pub(crate) fn bump(&mut self, reason: &'static str) {
        self.add(reason, 1);
    }

    pub(crate) fn add(&mut self, reason: &'static str, n: u64) {
        match self.0.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, c)) => *c += n,
            None => self.0.push((reason, n)),
        }
    }

    /// All counts, in order of first occurrence.
    pub(crate) fn as_slice(&self) -> &[(&'static str, u64)] {
        &self.0
    }
}
