//! Reading a head's fields: the ones kept, and those that set the body's framing
//! (Content-Length, Transfer-Encoding, Connection tokens).

use super::*;

/// Copies the header fields named in `wanted` (and returns the raw list for the
/// framing fields the caller inspects).
pub(super) fn interesting(
    headers: &[httparse::Header<'_>],
    wanted: &[&str],
) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|h| {
            let name = h.name.to_ascii_lowercase();
            wanted.contains(&name.as_str()).then(|| {
                let value = String::from_utf8_lossy(h.value).trim().to_string();
                (name, value)
            })
        })
        .collect()
}

/// All values of a field, trimmed, in order.
pub(super) fn values<'h>(headers: &'h [httparse::Header<'_>], name: &str) -> Vec<&'h [u8]> {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.trim_ascii())
        .collect()
}

/// Content-Length: all values (and comma-separated list members) must agree.
pub(super) fn content_length(
    headers: &[httparse::Header<'_>],
) -> Result<Option<u64>, &'static str> {
    let mut found = None;
    for value in values(headers, "content-length") {
        for part in value.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) || part.len() > 19 {
                return Err("http.bad_content_length");
            }
            let n: u64 = std::str::from_utf8(part)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("http.bad_content_length")?;
            if found.is_some_and(|f| f != n) {
                return Err("http.bad_content_length");
            }
            found = Some(n);
        }
    }
    match found {
        Some(n) if n > MAX_CONTENT_LENGTH => Err("http.absurd_length"),
        other => Ok(other),
    }
}

/// Transfer-Encoding: `Some(true)` if the final coding is chunked, `Some(false)` if
/// another coding is last, `None` if the field is absent.
pub(super) fn transfer_chunked(headers: &[httparse::Header<'_>]) -> Option<bool> {
    let vals = values(headers, "transfer-encoding");
    let last = vals
        .iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|c| c.trim_ascii())
        .rfind(|c| !c.is_empty())?;
    Some(last.eq_ignore_ascii_case(b"chunked"))
}

pub(super) fn has_token(headers: &[httparse::Header<'_>], name: &str, token: &str) -> bool {
    values(headers, name).iter().any(|v| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}
