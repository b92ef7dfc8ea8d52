//! Checks of what `lagtap correlate` is told about clocks, so that a mistake is an
//! error naming the value, or a warning giving both figures, never a silently wrong
//! latency: `--offset NAME=SECONDS` values, and manual offsets that the capture's own
//! NTP exchanges contradict.

use std::collections::BTreeMap;

use super::ClockModel;

/// The largest |clock offset| `--offset` accepts: one day. A testbed clock that far
/// off is a mistake in the value (milliseconds given as seconds, a time zone).
pub const MAX_OFFSET_S: f64 = 86_400.0;

/// Why an `--offset` value was refused; each message names the value as given.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OffsetError {
    #[error("--offset {value:?}: expected NAME=SECONDS")]
    Syntax { value: String },
    #[error("--offset {value:?}: the host name is empty")]
    EmptyName { value: String },
    #[error("--offset {value:?}: {secs:?} is not a number of seconds")]
    NotANumber { value: String, secs: String },
    #[error("--offset {value:?}: {secs:?} is not a number of seconds (NaN)")]
    NaN { value: String, secs: String },
    #[error("--offset {value:?}: {secs:?} is infinite, not a clock offset")]
    Infinite { value: String, secs: String },
    #[error(
        "--offset {value:?}: {secs} s is more than a day (86400 s), not a clock offset \
         (milliseconds given as seconds?)"
    )]
    Absurd { value: String, secs: String },
    #[error("--offset {value:?}: no input is host {name:?} (hosts: {known})")]
    UnknownHost {
        value: String,
        name: String,
        known: String,
    },
    #[error("--offset {value:?}: host {name:?} already has an offset ({first:?})")]
    Repeated {
        value: String,
        name: String,
        first: String,
    },
}

/// One `NAME=SECONDS` value (a trailing `s` is allowed: `0.25s`): the host name and
/// the offset in seconds, host clock − reference clock.
pub fn parse_offset(value: &str) -> Result<(String, f64), OffsetError> {
    let err_value = || value.to_string();
    let (name, secs) = value
        .split_once('=')
        .ok_or_else(|| OffsetError::Syntax { value: err_value() })?;
    let name = name.trim();
    if name.is_empty() {
        return Err(OffsetError::EmptyName { value: err_value() });
    }
    let text = secs.trim();
    let number = text.strip_suffix('s').unwrap_or(text);
    let s: f64 = number.parse().map_err(|_| OffsetError::NotANumber {
        value: err_value(),
        secs: text.to_string(),
    })?;
    if s.is_nan() {
        return Err(OffsetError::NaN {
            value: err_value(),
            secs: text.to_string(),
        });
    }
    if s.is_infinite() {
        return Err(OffsetError::Infinite {
            value: err_value(),
            secs: text.to_string(),
        });
    }
    if s.abs() > MAX_OFFSET_S {
        return Err(OffsetError::Absurd {
            value: err_value(),
            secs: number.to_string(),
        });
    }
    Ok((name.to_string(), s))
}

/// Every `--offset` value, checked against the names of the hosts being correlated:
/// an unknown host or a host named twice is an error too.
pub fn parse_offsets(
    values: &[String],
    hosts: &[String],
) -> Result<BTreeMap<String, f64>, OffsetError> {
    let mut out = BTreeMap::new();
    let mut given: BTreeMap<String, &str> = BTreeMap::new();
    for v in values {
        let (name, secs) = parse_offset(v)?;
        if !hosts.contains(&name) {
            return Err(OffsetError::UnknownHost {
                value: v.clone(),
                name,
                known: hosts.join(", "),
            });
        }
        if let Some(first) = given.insert(name.clone(), v) {
            return Err(OffsetError::Repeated {
                value: v.clone(),
                name,
                first: first.to_string(),
            });
        }
        out.insert(name, secs);
    }
    Ok(out)
}

/// Milliseconds with a sign and microsecond digits: `+250.000 ms`.
fn signed_ms(ns: i64) -> String {
    format!("{:+.3} ms", ns as f64 / 1e6)
}

/// The warning when `--offset` gives host `host` an offset that its capture's own
/// NTP estimate `ntp` rules out: further from the estimate than the estimate's error
/// bound. `None` when they agree.
pub fn offset_contradiction(host: &str, offset_s: f64, ntp: &ClockModel) -> Option<String> {
    let given = (offset_s * 1e9).round() as i64;
    let diff = (i128::from(given) - i128::from(ntp.offset_ns)).unsigned_abs();
    if diff <= u128::from(ntp.error_ns.unsigned_abs()) {
        return None;
    }
    let bound = ntp.error_ns as f64 / 1e6;
    Some(format!(
        "host {host}: --offset {host}={offset_s} ({}) contradicts the capture's own NTP \
         evidence, {} ± {bound:.3} ms ({} of {} exchanges used): the --offset value is used",
        signed_ms(given),
        signed_ms(ntp.offset_ns),
        ntp.samples_used,
        ntp.samples,
    ))
}

/// A warning for a host whose capture has TLS flows the key log had no secrets
/// for: their chat, playlists and segments are missing from every figure.
pub fn tls_without_keys(h: &super::HostEvents) -> Option<String> {
    let flows = h.events.iter().rev().find_map(|e| match e {
        crate::events::Event::Summary { undecodable, .. } => {
            Some(crate::decode::keys::flows_without_keys(undecodable))
        }
        _ => None,
    })?;
    (flows > 0).then(|| crate::decode::keys::no_keys_note(&h.name, flows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::clock::NtpSample;

    fn hosts() -> Vec<String> {
        ["broadcaster", "desktop", "mobile", "server"]
            .map(String::from)
            .to_vec()
    }

    fn err(v: &str) -> String {
        parse_offsets(&[v.to_string()], &hosts())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn offsets_are_seconds_with_an_optional_unit() {
        let values = ["desktop=+0.25s", " mobile = -0.18 ", "server=86400"].map(String::from);
        let m = parse_offsets(&values, &hosts()).unwrap();
        assert_eq!(m["desktop"], 0.25);
        assert_eq!(m["mobile"], -0.18);
        assert_eq!(m["server"], MAX_OFFSET_S);
    }

    #[test]
    fn bad_offsets_are_errors_naming_the_value() {
        assert_eq!(
            err("desktop"),
            r#"--offset "desktop": expected NAME=SECONDS"#
        );
        assert_eq!(err("=0.5"), r#"--offset "=0.5": the host name is empty"#);
        assert_eq!(
            err("desktop=abc"),
            r#"--offset "desktop=abc": "abc" is not a number of seconds"#
        );
        assert_eq!(
            err("desktop=NaN"),
            r#"--offset "desktop=NaN": "NaN" is not a number of seconds (NaN)"#
        );
        assert_eq!(
            err("desktop=-inf"),
            r#"--offset "desktop=-inf": "-inf" is infinite, not a clock offset"#
        );
        assert_eq!(
            err("desktop=infinity"),
            r#"--offset "desktop=infinity": "infinity" is infinite, not a clock offset"#
        );
        assert_eq!(
            err("desktop=90000s"),
            r#"--offset "desktop=90000s": 90000 s is more than a day (86400 s), not a clock offset (milliseconds given as seconds?)"#
        );
        assert_eq!(
            err("desktop=-1e300"),
            r#"--offset "desktop=-1e300": -1e300 s is more than a day (86400 s), not a clock offset (milliseconds given as seconds?)"#
        );
        assert_eq!(
            err("ghost=0.5"),
            r#"--offset "ghost=0.5": no input is host "ghost" (hosts: broadcaster, desktop, mobile, server)"#
        );
        let twice = ["desktop=0.1", "desktop=0.2"].map(String::from);
        assert_eq!(
            parse_offsets(&twice, &hosts()).unwrap_err().to_string(),
            r#"--offset "desktop=0.2": host "desktop" already has an offset ("desktop=0.1")"#
        );
    }

    #[test]
    fn an_offset_beyond_the_ntp_error_bound_is_a_contradiction() {
        // NTP: host 2 ms ahead, ± 0.1 ms (one exchange of 200 µs round trip).
        let ntp = ClockModel::estimate(&[NtpSample {
            t_ns: 1_000_000_000,
            offset_ns: 2_000_000,
            delay_ns: 200_000,
        }])
        .unwrap();
        assert_eq!(offset_contradiction("desktop", 0.00205, &ntp), None);
        assert_eq!(offset_contradiction("desktop", 0.0019, &ntp), None);
        assert_eq!(
            offset_contradiction("desktop", 0.5, &ntp).unwrap(),
            "host desktop: --offset desktop=0.5 (+500.000 ms) contradicts the capture's own \
             NTP evidence, +2.000 ms ± 0.100 ms (1 of 1 exchanges used): the --offset value \
             is used"
        );
        assert!(offset_contradiction("desktop", -0.0021, &ntp).is_some());
    }
}
