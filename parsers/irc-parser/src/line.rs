//! One IRC line (without its line ending) → [`Line`]: IRCv3 tags, prefix, command,
//! parameters. Stateless; the session layer finds the lines.

use std::fmt;

/// Most middle parameters a line may have (RFC 2812: 14 middles + trailing). Further
/// words become part of the last parameter, as servers treat them.
pub const MAX_PARAMS: usize = 15;

/// Why a line could not be read as an IRC message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// Nothing but tags and/or a prefix: no command.
    MissingCommand,
    /// The command is neither letters nor three digits.
    BadCommand,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineError::MissingCommand => "IRC line has no command",
            LineError::BadCommand => "IRC command is neither letters nor a 3-digit numeric",
        })
    }
}

impl std::error::Error for LineError {}

/// One IRCv3 message tag, value unescaped. A tag without `=` and one with an empty
/// value are equivalent (IRCv3 message-tags), so both have `value == ""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The key as sent, including a `+` client-only prefix and a `vendor/` part.
    pub key: String,
    pub value: String,
}

/// The source of a message: `nick!user@host`, or a server name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// The nick, or the server name when the prefix has neither `!` nor `@`.
    pub name: String,
    pub user: Option<String>,
    pub host: Option<String>,
}

/// A parsed IRC line. Text is decoded as UTF-8 with invalid bytes replaced (IRC has no
/// declared charset; Twitch and IRCv3 use UTF-8), so matching across hosts compares
/// the same lossy decoding on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tags: Vec<Tag>,
    /// The tag section as sent, without the leading `@` (what tshark shows as the
    /// command of a tagged line).
    pub raw_tags: Option<String>,
    pub prefix: Option<Prefix>,
    /// The command, upper-cased letters or three digits.
    pub command: String,
    /// Parameters, the trailing one (after ` :`) last and unsplit.
    pub params: Vec<String>,
}

/// A typed view of the commands lagtap uses; everything else is [`Command::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    Privmsg {
        target: &'a str,
        text: &'a str,
    },
    Notice {
        target: &'a str,
        text: &'a str,
    },
    /// Twitch's USERNOTICE (subscriptions, raids…); the user's message is optional.
    UserNotice {
        channel: &'a str,
        text: Option<&'a str>,
    },
    /// Comma-separated channels, as sent.
    Join {
        channels: &'a str,
    },
    Part {
        channels: &'a str,
        reason: Option<&'a str>,
    },
    Nick {
        nick: &'a str,
    },
    Ping {
        token: &'a str,
    },
    Pong {
        token: &'a str,
    },
    /// `CAP [target] subcommand [args]`: the client omits the target, the server sends
    /// one (`*` or the nick), so the subcommand is found by its spelling.
    Cap {
        subcommand: &'a str,
        args: &'a [String],
    },
    /// A three-digit reply; `target` is the first parameter (the client's nick).
    Numeric {
        code: u16,
        target: Option<&'a str>,
        args: &'a [String],
    },
    Other,
}

impl Line {
    /// Parse one line without its line ending. Leading spaces and runs of spaces
    /// between words are tolerated.
    pub fn parse(line: &[u8]) -> Result<Line, LineError> {
        let text = String::from_utf8_lossy(line);
        let mut rest: &str = text.trim_start_matches(' ');
        let mut tags = Vec::new();
        let mut raw_tags = None;
        if let Some(after) = rest.strip_prefix('@') {
            let (section, tail) = split_word(after);
            raw_tags = Some(section.to_owned());
            tags = parse_tags(section);
            rest = tail;
        }
        let mut prefix = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (p, tail) = split_word(after);
            prefix = Some(parse_prefix(p));
            rest = tail;
        }
        let (command, mut rest) = split_word(rest);
        if command.is_empty() {
            return Err(LineError::MissingCommand);
        }
        let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
        if !numeric && !command.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(LineError::BadCommand);
        }
        let mut params = Vec::new();
        while !rest.is_empty() {
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            if params.len() + 1 == MAX_PARAMS {
                params.push(rest.to_owned());
                break;
            }
            let (word, tail) = split_word(rest);
            params.push(word.to_owned());
            rest = tail;
        }
        Ok(Line {
            tags,
            raw_tags,
            prefix,
            command: command.to_ascii_uppercase(),
            params,
        })
    }

    /// The unescaped value of a tag, if present.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }

    /// The nick (or server name) of the prefix.
    pub fn source_nick(&self) -> Option<&str> {
        self.prefix.as_ref().map(|p| p.name.as_str())
    }

    /// IRCv3 `server-time` (`time=` tag) as integer nanoseconds since the Unix epoch.
    pub fn server_time_ns(&self) -> Option<i64> {
        self.tag("time").and_then(parse_rfc3339_ns)
    }

    /// Twitch's `tmi-sent-ts` (milliseconds since the Unix epoch) in nanoseconds.
    pub fn tmi_sent_ts_ns(&self) -> Option<i64> {
        let ms: i64 = self.tag("tmi-sent-ts")?.parse().ok()?;
        ms.checked_mul(1_000_000)
    }

    fn param(&self, i: usize) -> Option<&str> {
        self.params.get(i).map(String::as_str)
    }

    /// The typed view of this line. A command with too few parameters for its shape is
    /// [`Command::Other`].
    pub fn command(&self) -> Command<'_> {
        let p = |i| self.param(i);
        match self.command.as_str() {
            "PRIVMSG" => match (p(0), p(1)) {
                (Some(target), Some(text)) => Command::Privmsg { target, text },
                _ => Command::Other,
            },
            "NOTICE" => match (p(0), p(1)) {
                (Some(target), Some(text)) => Command::Notice { target, text },
                _ => Command::Other,
            },
            "USERNOTICE" => match p(0) {
                Some(channel) => Command::UserNotice {
                    channel,
                    text: p(1),
                },
                None => Command::Other,
            },
            "JOIN" => p(0).map_or(Command::Other, |channels| Command::Join { channels }),
            "PART" => p(0).map_or(Command::Other, |channels| Command::Part {
                channels,
                reason: p(1),
            }),
            "NICK" => p(0).map_or(Command::Other, |nick| Command::Nick { nick }),
            // The token is the last parameter: `PONG server :token` from servers.
            "PING" => self
                .params
                .last()
                .map_or(Command::Other, |t| Command::Ping { token: t }),
            "PONG" => self
                .params
                .last()
                .map_or(Command::Other, |t| Command::Pong { token: t }),
            "CAP" => {
                let at = self.params.iter().position(|w| is_cap_subcommand(w));
                match at {
                    Some(i) => Command::Cap {
                        subcommand: &self.params[i],
                        args: &self.params[i + 1..],
                    },
                    None => Command::Other,
                }
            }
            c if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => Command::Numeric {
                code: c.parse().unwrap_or(0),
                target: p(0),
                args: self.params.get(1..).unwrap_or(&[]),
            },
            _ => Command::Other,
        }
    }
}

fn is_cap_subcommand(w: &str) -> bool {
    matches!(
        w,
        "LS" | "LIST" | "REQ" | "ACK" | "NAK" | "END" | "NEW" | "DEL"
    )
}

/// The first space-delimited word and the rest with its leading spaces removed.
fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (s, ""),
    }
}

fn parse_tags(section: &str) -> Vec<Tag> {
    section
        .split(';')
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((key, value)) => Tag {
                key: key.to_owned(),
                value: unescape_tag_value(value),
            },
            None => Tag {
                key: t.to_owned(),
                value: String::new(),
            },
        })
        .collect()
}

/// IRCv3 tag value unescaping: `\:` → `;`, `\s` → space, `\\` → `\`, `\r` → CR,
/// `\n` → LF; a backslash before any other character is dropped, and a lone trailing
/// backslash is dropped (both as the spec says).
pub fn unescape_tag_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn parse_prefix(p: &str) -> Prefix {
    let (before_host, host) = match p.split_once('@') {
        Some((a, h)) => (a, Some(h.to_owned())),
        None => (p, None),
    };
    let (name, user) = match before_host.split_once('!') {
        Some((n, u)) => (n, Some(u.to_owned())),
        None => (before_host, None),
    };
    Prefix {
        name: name.to_owned(),
        user,
        host,
    }
}

/// Parse the RFC 3339 timestamps of IRCv3 `server-time` (`2026-11-25T04:14:45.100Z`,
/// any number of fraction digits, `Z` or `±hh:mm`) into nanoseconds since the Unix
/// epoch; `None` when malformed or outside the years 1677..2262 that i64 ns cover. Hand-written rather than chrono: the format is fixed and tiny, and this keeps
/// the parser crate free of dependencies (and of chrono's local-time machinery).
pub fn parse_rfc3339_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0_i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let sep = |at: usize, chars: &[u8]| b.get(at).is_some_and(|c| chars.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0_i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanos = nanos * 10 + i64::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        for _ in (at - start)..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match b.get(at)? {
        b'Z' | b'z' if at + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if at + 6 == b.len() && b[at + 3] == b':' => {
            let off = num(at + 1, 2)? * 3600 + num(at + 4, 2)? * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    // i64 nanoseconds reach from 1677 to 2262; dates outside are `None`.
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known era/day-of-era
/// decomposition: 400-year eras of 146 097 days, years starting in March so the leap
/// day is last).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // tests/data/irc.pcap, TCP stream 0 (127.0.0.1:16667 → client), server direction at
    // stream offset 2294: InspIRCd's echo of alice's first PRIVMSG.
    const ECHO: &[u8] = b"@time=2026-11-25T04:14:45.100Z;msgid=744~1795580048~9;inspircd.org/echo;+client-nonce=abc123 :alice!alice@127.0.0.1 PRIVMSG #lagtap :hello from alice";

    #[test]
    fn a_real_echoed_privmsg_has_vendor_and_client_tags_and_a_full_prefix() {
        let l = Line::parse(ECHO).unwrap();
        let keys: Vec<_> = l.tags.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys,
            ["time", "msgid", "inspircd.org/echo", "+client-nonce"]
        );
        assert_eq!(l.server_time_ns(), Some(1_795_580_085_100_000_000));
        let p = l.prefix.as_ref().unwrap();
        assert_eq!(
            (p.name.as_str(), p.user.as_deref(), p.host.as_deref()),
            ("alice", Some("alice"), Some("127.0.0.1"))
        );
        assert_eq!(
            l.command(),
            Command::Privmsg {
                target: "#lagtap",
                text: "hello from alice"
            }
        );
    }

    #[test]
    fn words_beyond_fifteen_params_stay_in_the_last_one() {
        let l = Line::parse(b"CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17").unwrap();
        assert_eq!(l.params.len(), MAX_PARAMS);
        assert_eq!(l.params[MAX_PARAMS - 1], "15 16 17");
    }
}
