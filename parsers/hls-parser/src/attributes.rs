//! Attribute lists (RFC 8216 §4.2): `NAME=value,NAME="quoted, with commas",…`.

/// Attributes in order, names as written, quoted values unquoted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeList(pub Vec<(String, String)>);

impl AttributeList {
    /// The value of the first attribute called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses an attribute list leniently: a malformed pair (no `=`) is skipped, an
/// unterminated quote runs to the end of the line.
pub fn parse_attributes(text: &str) -> AttributeList {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(eq) = rest.find(['=', ',']) else {
            break;
        };
        if rest.as_bytes()[eq] == b',' {
            rest = &rest[eq + 1..];
            continue;
        }
        let name = rest[..eq].trim().to_string();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => {
                    let tail = &quoted[end + 1..];
                    let next = tail.find(',').map_or("", |c| &tail[c + 1..]);
                    (&quoted[..end], next)
                }
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(c) => (after[..c].trim(), &after[c + 1..]),
                None => (after.trim(), ""),
            }
        };
        out.push((name, value.to_string()));
        rest = next;
    }
    AttributeList(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_keep_their_commas() {
        let a =
            parse_attributes(r#"BANDWIDTH=6371082,CODECS="avc1.64002A,mp4a.40.2",VIDEO="chunked""#);
        assert_eq!(a.get("BANDWIDTH"), Some("6371082"));
        assert_eq!(a.get("CODECS"), Some("avc1.64002A,mp4a.40.2"));
        assert_eq!(a.get("VIDEO"), Some("chunked"));
    }

    #[test]
    fn garbage_pairs_are_skipped_and_unterminated_quotes_end_the_line() {
        let a = parse_attributes(r#"junk,A=1,,B="open"#);
        assert_eq!(
            a.0,
            vec![("A".into(), "1".into()), ("B".into(), "open".into())]
        );
    }
}
