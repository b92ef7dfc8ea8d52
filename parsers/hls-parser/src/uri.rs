//! Resolving a segment or variant URI against the playlist's URI.
//!
//! Written by hand (RFC 3986 §5.2, without the corner cases playlists never use)
//! because the base is often what a capture shows: an origin-form request target
//! such as `/hls/test.m3u8` with no scheme or host, which URL crates refuse.

/// Resolves `reference` against `base`. Both may be absolute URLs or origin-form
/// paths. Absolute references are returned as is; `//host/...` takes the base's
/// scheme; `/path` takes its scheme and authority; a relative path replaces the
/// base's last path segment (query and fragment of the base are dropped). `.` and
/// `..` segments are removed.
///
/// ```
/// use hls_parser::resolve_uri;
/// assert_eq!(resolve_uri("/hls/test.m3u8", "test-0.ts"), "/hls/test-0.ts");
/// assert_eq!(resolve_uri("http://h:80/a/b/p.m3u8?t=1", "../c/s.ts"), "http://h:80/a/c/s.ts");
/// assert_eq!(resolve_uri("https://h/p.m3u8", "/x.ts"), "https://h/x.ts");
/// assert_eq!(resolve_uri("https://h/p.m3u8", "http://o/x.ts"), "http://o/x.ts");
/// ```
pub fn resolve_uri(base: &str, reference: &str) -> String {
    if has_scheme(reference) {
        return reference.to_string();
    }
    let (scheme, rest) = match base.find("://") {
        Some(i) if has_scheme(base) => (&base[..i + 1], &base[i + 1..]),
        _ => ("", base),
    };
    if let Some(net) = reference.strip_prefix("//") {
        return format!("{scheme}//{net}");
    }
    // Split "//authority/path" from the path.
    let (authority, path) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            (&rest[..end + 2], &r[end..])
        }
        None => ("", rest),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let merged = if reference.starts_with('/') {
        reference.to_string()
    } else if reference.is_empty() {
        path.to_string()
    } else {
        let dir = path.rfind('/').map_or("", |i| &path[..=i]);
        let dir = if dir.is_empty() && !authority.is_empty() {
            "/"
        } else {
            dir
        };
        format!("{dir}{reference}")
    };
    format!("{scheme}{authority}{}", remove_dot_segments(&merged))
}

fn has_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) if i > 0 => {
            let name = &s[..i];
            name.as_bytes()[0].is_ascii_alphabetic()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                && !name.contains('/')
        }
        _ => false,
    }
}

fn remove_dot_segments(path: &str) -> String {
    let (path, suffix) = match path.find(['?', '#']) {
        Some(i) => (&path[..i], &path[i..]),
        None => (path, ""),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 || (out.len() == 1 && !out[0].is_empty()) {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("{}{suffix}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::resolve_uri;

    #[test]
    fn rfc_3986_examples_that_playlists_use_resolve_alike() {
        // RFC 3986 §5.4.1, base http://a/b/c/d;p?q
        let base = "http://a/b/c/d;p?q";
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("g?y", "http://a/b/c/g?y"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("g:h", "g:h"),
        ] {
            assert_eq!(resolve_uri(base, r), want, "{r}");
        }
    }

    #[test]
    fn origin_form_bases_from_captured_requests_resolve_to_paths() {
        assert_eq!(resolve_uri("/hls/test.m3u8", "test-1.ts"), "/hls/test-1.ts");
        assert_eq!(resolve_uri("/hls/test.m3u8?token=x", "../a.ts"), "/a.ts");
        assert_eq!(resolve_uri("http://h", "s.ts"), "http://h/s.ts");
    }
}
