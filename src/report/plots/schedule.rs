//! The uplink shaping schedule (`--schedule FILE`) marked on the source-health
//! figure. It is not in the captures — `tc` changes leave no packet — so it comes
//! from the experiment's own record: a JSON list of `{"t_ns", "rate_kbps"}`, or the
//! testbed's `truth.json` (its `tbf_schedule` array of `{"host", "start_ns",
//! "rate_kbps", ...}`), or that array alone. `rate_kbps: null` means no limit.

use anyhow::{bail, Context};
use serde_json::Value;

/// From `t_ns` (reference clock, ns since the epoch) on, the uplink was limited to
/// `rate_kbps` (`None`: no limit).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleStep {
    pub t_ns: i64,
    pub rate_kbps: Option<f64>,
    /// The shaped host, when the file says (truth.json does).
    pub host: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    /// In time order.
    pub steps: Vec<ScheduleStep>,
}

impl Schedule {
    /// Parse either accepted shape.
    pub fn from_json(text: &str) -> anyhow::Result<Schedule> {
        let v: Value = serde_json::from_str(text).context("schedule is not JSON")?;
        let list = match &v {
            Value::Array(a) => a,
            Value::Object(o) => match o.get("tbf_schedule") {
                Some(Value::Array(a)) => a,
                _ => bail!("schedule: expected a JSON list, or an object with a tbf_schedule list"),
            },
            _ => bail!("schedule: expected a JSON list of {{\"t_ns\", \"rate_kbps\"}}"),
        };
        let mut steps = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let t = item
                .get("t_ns")
                .or_else(|| item.get("start_ns"))
                .and_then(Value::as_i64)
                .with_context(|| format!("schedule entry {i}: no integer t_ns or start_ns"))?;
            let rate = match item.get("rate_kbps") {
                None | Some(Value::Null) => None,
                Some(r) => Some(r.as_f64().with_context(|| {
                    format!("schedule entry {i}: rate_kbps is not a number or null")
                })?),
            };
            steps.push(ScheduleStep {
                t_ns: t,
                rate_kbps: rate,
                host: item.get("host").and_then(Value::as_str).map(str::to_string),
            });
        }
        steps.sort_by_key(|s| s.t_ns);
        Ok(Schedule { steps })
    }

    /// Read a schedule file.
    pub fn read(path: &std::path::Path) -> anyhow::Result<Schedule> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Schedule::from_json(&text).with_context(|| format!("in {}", path.display()))
    }

    /// The steps that apply to a broadcaster: those naming it, or every step when
    /// none names any host of the file (a schedule without host names).
    pub fn for_host(&self, host: &str) -> Vec<&ScheduleStep> {
        let named: Vec<&ScheduleStep> = self
            .steps
            .iter()
            .filter(|s| s.host.as_deref() == Some(host))
            .collect();
        if named.is_empty() && self.steps.iter().all(|s| s.host.is_none()) {
            self.steps.iter().collect()
        } else {
            named
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_list_and_truth_json_both_parse() {
        let s = Schedule::from_json(
            r#"[{"t_ns": 20, "rate_kbps": 512}, {"t_ns": 10, "rate_kbps": null}]"#,
        )
        .unwrap();
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.steps[0].t_ns, 10);
        assert_eq!(s.steps[0].rate_kbps, None);
        assert_eq!(s.steps[1].rate_kbps, Some(512.0));
        assert_eq!(s.for_host("anyone").len(), 2);

        let t = Schedule::from_json(
            r#"{"tbf_schedule": [{"host": "b1", "start_ns": 5, "end_ns": 9, "rate_kbps": 4000},
                                  {"host": "b2", "start_ns": 6, "rate_kbps": null}]}"#,
        )
        .unwrap();
        assert_eq!(t.for_host("b1").len(), 1);
        assert_eq!(t.for_host("b1")[0].rate_kbps, Some(4000.0));
        assert!(t.for_host("b3").is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Schedule::from_json("{").is_err());
        assert!(Schedule::from_json("[{\"rate_kbps\": 1}]").is_err());
        assert!(Schedule::from_json("[{\"t_ns\": 1, \"rate_kbps\": \"x\"}]").is_err());
        assert!(Schedule::from_json("3").is_err());
    }
}
