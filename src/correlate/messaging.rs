//! Messaging latency: a chat line sent by one host, matched to its copies received
//! by the others.
//!
//! Matching, in order of preference for each received copy:
//! 1. `msg_id`: the sent line carries the server's message id (rare) or the id was
//!    learned from another receiver's copy of the same message;
//! 2. `client_nonce`: the sent line and the copy carry the same `client-nonce` tag;
//! 3. `text_occurrence`: (channel, sender nick, text, occurrence number), the n-th
//!    time this sender sent this text in this channel is the n-th copy a receiver got.
//!
//! Every way matches a copy only to a sent line of the same IRC command (PRIVMSG,
//! ACTION, NOTICE, USERNOTICE): a NOTICE with the same words as a PRIVMSG, or the same
//! id, is another message. Every command counts in the latency (the server relays
//! them alike); `by_command` and each sample's `command` tell them apart.
//!
//! A receiver's own lines echoed back (own nick = sender nick) are not receptions.
//! One sample per (message, receiver): the first copy; later ones are counted.

use std::collections::{BTreeMap, HashMap};

use crate::events::{ChatCommand, ChatReceived, Event};

use super::stats::{grouped, Summary};
use super::Ctx;

/// One message as one receiver got it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MessageSample {
    pub sender: String,
    pub receiver: String,
    pub channel: String,
    pub nick: Option<String>,
    /// The IRC command of the sent line and of its copy (always the same).
    pub command: ChatCommand,
    pub text: String,
    pub msg_id: Option<String>,
    /// Reference-clock times of the PRIVMSG's first byte leaving the sender and the
    /// copy's last byte delivered at the receiver.
    pub sent_ns: i64,
    pub received_ns: i64,
    pub latency_ns: i64,
    pub error_ns: i64,
    #[serde(deserialize_with = "super::units::static_tag::deserialize")]
    pub method: super::units::Tag,
    /// The server's stamp (`time=` preferred, else `tmi-sent-ts`; millisecond
    /// resolution), read as reference-clock time.
    pub server_ns: Option<i64>,
    /// server − sent and received − server, when stamped.
    pub uplink_ns: Option<i64>,
    pub downlink_ns: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Messaging {
    pub samples: Vec<MessageSample>,
    pub summary: Summary,
    pub uplink: Summary,
    pub downlink: Summary,
    pub by_sender: BTreeMap<String, Summary>,
    pub by_receiver: BTreeMap<String, Summary>,
    /// Latency per IRC command (`PRIVMSG`, `ACTION`, `NOTICE`, `USERNOTICE`).
    pub by_command: BTreeMap<String, Summary>,
    /// Counts by reason: `received_without_sent` (sender's capture present but no
    /// matching sent line), `sender_not_captured`, `sent_not_received` (no copy
    /// anywhere), `missing_receptions` (a chat host active in the channel at the
    /// time got no copy), `duplicate_receptions`.
    pub unmatched: BTreeMap<String, u64>,
    /// Lines that are not receptions, by reason: `echo` (a receiver's own line),
    /// `server_side` (lines seen on a host that served the chat flow).
    pub ignored: BTreeMap<String, u64>,
    /// Messages sent (in the captures).
    pub sent: u64,
}

struct Sent<'a> {
    host: usize,
    command: ChatCommand,
    channel: String,
    nick: Option<String>,
    text: &'a str,
    msg_id: Option<&'a str>,
    nonce: Option<&'a str>,
    t_ref: i64,
}

struct Recv<'a> {
    host: usize,
    command: ChatCommand,
    channel: String,
    nick: Option<String>,
    text: &'a str,
    msg_id: Option<&'a str>,
    nonce: Option<&'a str>,
    t_ref: i64,
    server_ns: Option<i64>,
    occurrence: usize,
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// (command, channel, sender nick, text, occurrence).
type Key<'a> = (ChatCommand, String, String, &'a str, usize);

/// A host's own chat nick, lowercase: from its sent lines, else from its received
/// lines (part of the host unit: a host's nick is the same in every channel).
pub fn own_nick(events: &[Event]) -> Option<String> {
    let mut nick = None;
    for e in events {
        match e {
            Event::ChatSent { nick: Some(n), .. } => return Some(lower(n)),
            Event::ChatReceived(c) if nick.is_none() => {
                if let Some(n) = &c.own_nick {
                    nick = Some(lower(n));
                }
            }
            _ => {}
        }
    }
    nick
}

/// Matches chat lines across hosts: one channel's lines (the messaging unit, see
/// `units.rs`), or any set of them. `host_nick[h]` is host h's [`own_nick`] over its
/// whole timeline. The uplink/downlink legs read the chat server's millisecond
/// stamps as reference-clock time: docs/methods.md says so once, the report does not
/// warn about it on every run.
pub(crate) fn correlate_lines(ctx: &Ctx, host_nick: &[Option<String>]) -> Messaging {
    let mut out = Messaging::default();
    let bump = |m: &mut BTreeMap<String, u64>, k: &str| *m.entry(k.to_string()).or_default() += 1;

    let mut sent: Vec<Sent> = Vec::new();
    let mut recvs: Vec<Recv> = Vec::new();
    for (h, host) in ctx.hosts.iter().enumerate() {
        let side = &ctx.sides[h];
        for e in &host.events {
            match e {
                Event::ChatSent {
                    flow,
                    command,
                    channel,
                    nick,
                    text,
                    msg_id,
                    client_nonce,
                    time_ns,
                    ..
                } => {
                    if side.served(*flow) || side.roles.contains(&super::Role::Server) {
                        bump(&mut out.ignored, "server_side");
                        continue;
                    }
                    sent.push(Sent {
                        host: h,
                        command: *command,
                        channel: lower(channel),
                        nick: nick.as_deref().map(lower).or_else(|| host_nick[h].clone()),
                        text,
                        msg_id: msg_id.as_deref(),
                        nonce: client_nonce.as_deref(),
                        t_ref: ctx.to_ref(h, *time_ns),
                    });
                }
                Event::ChatReceived(ev) => {
                    let ChatReceived {
                        flow,
                        command,
                        channel,
                        nick,
                        text,
                        msg_id,
                        client_nonce,
                        own_nick,
                        server_time_ns,
                        tmi_sent_ts_ns,
                        time_ns,
                        ..
                    } = &**ev;
                    if side.served(*flow) || side.roles.contains(&super::Role::Server) {
                        bump(&mut out.ignored, "server_side");
                        continue;
                    }
                    let nick_lc = nick.as_deref().map(lower);
                    let own = own_nick
                        .as_deref()
                        .map(lower)
                        .or_else(|| host_nick[h].clone());
                    if nick_lc.is_some() && nick_lc == own {
                        bump(&mut out.ignored, "echo");
                        continue;
                    }
                    recvs.push(Recv {
                        host: h,
                        command: *command,
                        channel: lower(channel),
                        nick: nick_lc,
                        text,
                        msg_id: msg_id.as_deref(),
                        nonce: client_nonce.as_deref(),
                        t_ref: ctx.to_ref(h, *time_ns),
                        server_ns: server_time_ns.or(*tmi_sent_ts_ns),
                        occurrence: 0,
                    });
                }
                _ => {}
            }
        }
    }
    out.sent = sent.len() as u64;

    // Occurrence numbers in time order: per sender key, and per receiver and key.
    sent.sort_by_key(|s| (s.t_ref, s.host));
    recvs.sort_by_key(|r| (r.host, r.t_ref));
    let mut by_key: HashMap<Key, usize> = HashMap::new();
    let mut nickless: HashMap<Key, usize> = HashMap::new();
    let mut by_id: HashMap<(ChatCommand, &str), usize> = HashMap::new();
    let mut by_nonce: HashMap<(ChatCommand, &str), usize> = HashMap::new();
    {
        let mut occ: HashMap<(ChatCommand, String, String, &str), usize> = HashMap::new();
        for (i, s) in sent.iter().enumerate() {
            let nick = s.nick.clone().unwrap_or_default();
            let n = occ
                .entry((s.command, s.channel.clone(), nick.clone(), s.text))
                .or_default();
            let key = (s.command, s.channel.clone(), nick, s.text, *n);
            *n += 1;
            if s.nick.is_none() {
                nickless.insert(key, i);
            } else {
                by_key.insert(key, i);
            }
            if let Some(id) = s.msg_id {
                by_id.insert((s.command, id), i);
            }
            if let Some(nonce) = s.nonce {
                by_nonce.insert((s.command, nonce), i);
            }
        }
    }
    {
        let mut occ: HashMap<(usize, ChatCommand, String, String, &str), usize> = HashMap::new();
        for r in recvs.iter_mut() {
            let n = occ
                .entry((
                    r.host,
                    r.command,
                    r.channel.clone(),
                    r.nick.clone().unwrap_or_default(),
                    r.text,
                ))
                .or_default();
            r.occurrence = *n;
            *n += 1;
        }
    }

    // Pass 1: ids and nonces the sent lines carry, then text + occurrence.
    let mut matched: Vec<Option<(usize, &'static str)>> = vec![None; recvs.len()];
    for (ri, r) in recvs.iter().enumerate() {
        let by_sent_id = r
            .msg_id
            .and_then(|id| by_id.get(&(r.command, id)))
            .map(|&i| (i, "msg_id"));
        let by_sent_nonce = || {
            r.nonce
                .and_then(|n| by_nonce.get(&(r.command, n)))
                .map(|&i| (i, "client_nonce"))
        };
        let by_text = || {
            let key = (
                r.command,
                r.channel.clone(),
                r.nick.clone().unwrap_or_default(),
                r.text,
                r.occurrence,
            );
            by_key
                .get(&key)
                .or_else(|| nickless.get(&(key.0, key.1.clone(), String::new(), key.3, key.4)))
                .map(|&i| (i, "text_occurrence"))
        };
        matched[ri] = by_sent_id.or_else(by_sent_nonce).or_else(by_text);
    }
    // Pass 2: server ids learned from matched copies name the same message at other
    // receivers.
    let mut learned: HashMap<(ChatCommand, &str), usize> = HashMap::new();
    for (r, m) in recvs.iter().zip(&matched) {
        if let (Some(id), Some((i, _))) = (r.msg_id, m) {
            learned.entry((r.command, id)).or_insert(*i);
        }
    }
    for (r, m) in recvs.iter().zip(matched.iter_mut()) {
        if m.is_none() {
            *m = r
                .msg_id
                .and_then(|id| learned.get(&(r.command, id)))
                .map(|&i| (i, "msg_id"));
        }
    }

    let captured_nicks: Vec<&String> = host_nick.iter().flatten().collect();
    let mut seen: HashMap<(usize, usize), ()> = HashMap::new();
    let mut received_by: Vec<Vec<usize>> = vec![Vec::new(); sent.len()];
    for (r, m) in recvs.iter().zip(&matched) {
        let Some((si, method)) = *m else {
            let known = r.nick.as_ref().is_some_and(|n| captured_nicks.contains(&n));
            bump(
                &mut out.unmatched,
                if known {
                    "received_without_sent"
                } else {
                    "sender_not_captured"
                },
            );
            continue;
        };
        let s = &sent[si];
        if s.host == r.host || seen.insert((si, r.host), ()).is_some() {
            bump(&mut out.unmatched, "duplicate_receptions");
            continue;
        }
        received_by[si].push(r.host);
        let (uplink_ns, downlink_ns) = match r.server_ns {
            Some(st) => (
                Some(st.saturating_sub(s.t_ref)),
                Some(r.t_ref.saturating_sub(st)),
            ),
            None => (None, None),
        };
        out.samples.push(MessageSample {
            sender: ctx.name(s.host).to_string(),
            receiver: ctx.name(r.host).to_string(),
            channel: s.channel.clone(),
            nick: s.nick.clone(),
            command: s.command,
            text: s.text.to_string(),
            msg_id: r.msg_id.map(str::to_string),
            sent_ns: s.t_ref,
            received_ns: r.t_ref,
            latency_ns: r.t_ref.saturating_sub(s.t_ref),
            error_ns: ctx.error_ns(s.host, r.host),
            method,
            server_ns: r.server_ns,
            uplink_ns,
            downlink_ns,
        });
    }

    // Messages nobody got, and chat hosts active in the channel that missed one.
    let mut span: HashMap<(usize, String), (i64, i64)> = HashMap::new();
    for r in &recvs {
        let e = span
            .entry((r.host, r.channel.clone()))
            .or_insert((r.t_ref, r.t_ref));
        e.0 = e.0.min(r.t_ref);
        e.1 = e.1.max(r.t_ref);
    }
    for (si, s) in sent.iter().enumerate() {
        if received_by[si].is_empty() {
            bump(&mut out.unmatched, "sent_not_received");
        }
        for ((h, ch), (first, last)) in &span {
            if *h != s.host
                && *ch == s.channel
                && *first <= s.t_ref
                && s.t_ref <= *last
                && !received_by[si].contains(h)
            {
                bump(&mut out.unmatched, "missing_receptions");
            }
        }
    }
    summarise(&mut out);
    out
}

/// Sorts the samples (by sent time, sender, receiver) and summarises them: the end
/// of one channel's matching, and of merging channels' results.
pub(crate) fn summarise(out: &mut Messaging) {
    out.samples.sort_by(|a, b| {
        (a.sent_ns, &a.sender, &a.receiver).cmp(&(b.sent_ns, &b.sender, &b.receiver))
    });
    let samples = &out.samples;
    out.summary = Summary::of_iter(samples.iter().map(|s| s.latency_ns));
    out.uplink = Summary::of_iter(samples.iter().filter_map(|s| s.uplink_ns));
    out.downlink = Summary::of_iter(samples.iter().filter_map(|s| s.downlink_ns));
    out.by_sender = grouped(samples.iter().map(|s| (s.sender.clone(), s.latency_ns)));
    out.by_receiver = grouped(samples.iter().map(|s| (s.receiver.clone(), s.latency_ns)));
    out.by_command = grouped(
        samples
            .iter()
            .map(|s| (s.command.as_str().to_string(), s.latency_ns)),
    );
}

#[cfg(test)]
mod tests {
    use super::super::{correlate as correlate_all, CorrelateOptions, HostEvents};
    use super::*;

    fn sent(nick: &str, text: &str, t: i64) -> Event {
        Event::ChatSent {
            flow: 1,
            command: ChatCommand::Privmsg,
            channel: "#lagtap".into(),
            nick: Some(nick.into()),
            text: text.into(),
            msg_id: None,
            client_nonce: None,
            tags: BTreeMap::new(),
            time_ns: t,
        }
    }

    fn recv(own: &str, nick: &str, text: &str, id: Option<&str>, t: i64) -> Event {
        Event::ChatReceived(Box::new(ChatReceived {
            flow: 1,
            command: ChatCommand::Privmsg,
            channel: "#LagTap".into(),
            nick: Some(nick.into()),
            text: text.into(),
            msg_id: id.map(Into::into),
            client_nonce: None,
            own_nick: Some(own.into()),
            server_time_ns: Some(t - 300_000),
            tmi_sent_ts_ns: None,
            tags: BTreeMap::new(),
            time_ns: t,
        }))
    }

    fn host(name: &str, events: Vec<Event>) -> HostEvents {
        HostEvents {
            name: name.into(),
            file: format!("{name}.pcap"),
            events,
        }
    }

    #[test]
    fn repeated_text_is_matched_by_occurrence_and_echo_is_ignored() {
        let hosts = vec![
            host(
                "alice",
                vec![
                    sent("alice", "gg", 1_000_000_000),
                    sent("alice", "gg", 2_000_000_000),
                    // The server echoed alice's own line back: not a reception.
                    recv("alice", "alice", "gg", Some("id1"), 1_000_500_000),
                ],
            ),
            host(
                "bob",
                vec![
                    recv("bob", "alice", "gg", Some("id1"), 1_000_800_000),
                    recv("bob", "alice", "gg", Some("id2"), 2_001_000_000),
                ],
            ),
        ];
        let c = correlate_all(hosts, &CorrelateOptions::default());
        let m = &c.messaging;
        assert_eq!(m.samples.len(), 2);
        assert_eq!(m.samples[0].latency_ns, 800_000);
        assert_eq!(m.samples[1].latency_ns, 1_000_000);
        assert!(m.samples.iter().all(|s| s.method == "text_occurrence"));
        assert_eq!(m.samples[0].uplink_ns, Some(500_000));
        assert_eq!(m.samples[0].downlink_ns, Some(300_000));
        assert_eq!(m.ignored.get("echo"), Some(&1));
        assert_eq!(m.by_sender["alice"].count, 2);
        assert_eq!(m.by_receiver["bob"].count, 2);
    }

    #[test]
    fn message_id_learned_at_one_receiver_matches_an_altered_copy_at_another() {
        let hosts = vec![
            host("alice", vec![sent("alice", "hello there", 1_000_000_000)]),
            host(
                "bob",
                vec![recv(
                    "bob",
                    "alice",
                    "hello there",
                    Some("m-7"),
                    1_002_000_000,
                )],
            ),
            // carol's copy had its text rewritten (e.g. an emote filter) but keeps the id.
            host(
                "carol",
                vec![recv(
                    "carol",
                    "alice",
                    "hello ***",
                    Some("m-7"),
                    1_003_000_000,
                )],
            ),
        ];
        let c = correlate_all(hosts, &CorrelateOptions::default());
        let s: Vec<_> = c
            .messaging
            .samples
            .iter()
            .map(|s| (s.receiver.as_str(), s.method, s.latency_ns))
            .collect();
        assert_eq!(
            s,
            [
                ("bob", "text_occurrence", 2_000_000),
                ("carol", "msg_id", 3_000_000)
            ]
        );
    }

    #[test]
    fn unmatched_lines_are_counted_by_reason() {
        let hosts = vec![
            host(
                "alice",
                vec![sent("alice", "nobody saw this", 5_000_000_000)],
            ),
            host(
                "bob",
                vec![
                    recv("bob", "zed", "zed is not captured", None, 4_000_000_000),
                    recv("bob", "alice", "never sent", None, 6_000_000_000),
                ],
            ),
        ];
        let c = correlate_all(hosts, &CorrelateOptions::default());
        let u = &c.messaging.unmatched;
        assert_eq!(u.get("sender_not_captured"), Some(&1));
        assert_eq!(u.get("received_without_sent"), Some(&1));
        assert_eq!(u.get("sent_not_received"), Some(&1));
        // bob was in the channel from 4 s to 6 s and did not get alice's 5 s line.
        assert_eq!(u.get("missing_receptions"), Some(&1));
    }

    #[test]
    fn clock_offsets_are_applied_to_both_ends() {
        let hosts = vec![
            host("alice", vec![sent("alice", "x", 1_250_000_000)]),
            host("bob", vec![recv("bob", "alice", "x", None, 820_000_000)]),
        ];
        let mut opts = CorrelateOptions::default();
        opts.offsets.insert("alice".into(), 0.25);
        opts.offsets.insert("bob".into(), -0.18);
        let c = correlate_all(hosts, &opts);
        assert_eq!(c.messaging.samples[0].latency_ns, 0);
        assert_eq!(c.messaging.samples[0].sent_ns, 1_000_000_000);
    }
}
