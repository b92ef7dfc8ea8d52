//! Reading a channel name from a playlist or segment URL.

use regex::Regex;

/// The default patterns, tried in order on the URL's path (scheme and authority
/// removed, query kept out). Each has a `chan` group.
pub const DEFAULT_PATTERNS: [&str; 3] = [
    // Twitch usher: /api/channel/hls/<chan>.m3u8
    r"/api/channel/hls/(?P<chan>[^/?]+)\.m3u8$",
    // nginx-rtmp flat: /hls/<chan>.m3u8, /hls/<chan>-<n>.ts
    r"/hls/(?P<chan>[^/?]+?)(?:-\d+\.(?:ts|m4s|mp4)|\.m3u8)$",
    // nested: /<app>/<chan>/index.m3u8 and its segments /<app>/<chan>/<n>.ts
    r"^/[^/?]+/(?P<chan>[^/?]+)/(?:index\.m3u8|[^/?]+\.(?:ts|m4s|mp4))$",
];

/// How channel names are read from URLs: a list of regexes with a `chan` group (or,
/// failing that, a first capture group).
#[derive(Clone, Debug)]
pub struct ChannelPattern {
    patterns: Vec<Regex>,
}

impl Default for ChannelPattern {
    fn default() -> Self {
        ChannelPattern {
            patterns: DEFAULT_PATTERNS
                .iter()
                .map(|p| Regex::new(p).expect("default channel patterns compile"))
                .collect(),
        }
    }
}

/// The path of a URL or request target: `http://h:80/a/b?q` → `/a/b`.
pub fn url_path(uri: &str) -> &str {
    let rest = match uri.find("://") {
        Some(i) => {
            let after = &uri[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => uri,
    };
    rest.split(['?', '#']).next().unwrap_or(rest)
}

/// As the regexes' sources, in order (how `correlate --cluster` hands the pattern to
/// its executors).
impl serde::Serialize for ChannelPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.patterns.iter().map(Regex::as_str))
    }
}

impl<'de> serde::Deserialize<'de> for ChannelPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let sources = Vec::<String>::deserialize(d)?;
        let patterns = sources
            .iter()
            .map(|p| Regex::new(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(serde::de::Error::custom)?;
        Ok(ChannelPattern { patterns })
    }
}

impl ChannelPattern {
    /// A user pattern (`--channel-pattern`), tried on the URL path before the
    /// defaults.
    pub fn with_user_pattern(pattern: &str) -> Result<ChannelPattern, regex::Error> {
        let mut p = ChannelPattern::default();
        p.patterns.insert(0, Regex::new(pattern)?);
        Ok(p)
    }

    /// The channel a URL names, if any pattern matches.
    pub fn channel_of(&self, uri: &str) -> Option<String> {
        let path = url_path(uri);
        self.patterns.iter().find_map(|re| {
            let caps = re.captures(path)?;
            let m = caps.name("chan").or_else(|| caps.get(1))?;
            (!m.as_str().is_empty()).then(|| m.as_str().to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_patterns_read_the_usual_layouts() {
        let p = ChannelPattern::default();
        let cases = [
            ("http://10.77.0.1/hls/lagtap.m3u8", Some("lagtap")),
            ("http://10.77.0.1:80/hls/lagtap-12.ts", Some("lagtap")),
            ("/hls/my-chan-3.ts", Some("my-chan")),
            ("/hls/my-chan.m3u8?token=1", Some("my-chan")),
            ("/live/alpha/index.m3u8", Some("alpha")),
            ("http://cdn.example/live/alpha/17.ts", Some("alpha")),
            (
                "https://usher.ttvnw.net/api/channel/hls/shroud.m3u8?sig=x",
                Some("shroud"),
            ),
            ("/favicon.ico", None),
        ];
        for (uri, want) in cases {
            assert_eq!(p.channel_of(uri).as_deref(), want, "{uri}");
        }
    }

    #[test]
    fn user_pattern_goes_first() {
        let p = ChannelPattern::with_user_pattern(r"/v1/(\w+)/playlist").unwrap();
        assert_eq!(p.channel_of("/v1/zeta/playlist").as_deref(), Some("zeta"));
        assert_eq!(p.channel_of("/hls/lagtap.m3u8").as_deref(), Some("lagtap"));
    }
}
