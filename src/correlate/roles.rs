//! What each host was: its own address, which flows it served, and its roles
//! (broadcaster, viewer, chat client, server), inferred from what it did.
//!
//! A capture holds only traffic to and from its host, so the host's address is the
//! one every flow with known endpoints shares. When two addresses share every flow
//! (a client that only talked to one server), the one acting as the client more
//! often is taken: captures are usually made on clients. Events of flows the host
//! served (the ingest server's view of RTMP, its HTTP responses, its NTP replies)
//! are not the host's own sending or receiving and are left out of correlation.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::events::{Event, RtmpDirection};

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Published RTMP.
    Broadcaster,
    /// Received HLS media segments, or played RTMP media.
    Viewer,
    /// Sent or received chat lines.
    Chat,
    /// Was the server side of RTMP, HTTP or NTP.
    Server,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Broadcaster => "broadcaster",
            Role::Viewer => "viewer",
            Role::Chat => "chat",
            Role::Server => "server",
        }
    }
}

/// The IP address of an endpoint string (`10.0.0.1:80`, `[::1]:80`, or a bare
/// address).
pub fn ip_of(endpoint: &str) -> &str {
    if let Ok(sa) = endpoint.parse::<std::net::SocketAddr>() {
        // Return the slice of the input that holds the address.
        let s = endpoint;
        return match sa {
            std::net::SocketAddr::V4(_) => s.rsplit_once(':').map_or(s, |(ip, _)| ip),
            std::net::SocketAddr::V6(_) => s
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .map_or(s, |(ip, _)| ip),
        };
    }
    endpoint
}

/// Endpoints of one flow as the events name them.
fn endpoints(e: &Event) -> Option<(u64, &str, &str)> {
    match e {
        Event::RtmpPublish {
            flow,
            client,
            server,
            ..
        }
        | Event::RtmpPlay {
            flow,
            client,
            server,
            ..
        }
        | Event::NtpExchange {
            flow,
            client,
            server,
            ..
        } => Some((*flow, ip_of(client), ip_of(server))),
        Event::HttpExchange(x) => Some((x.flow, ip_of(&x.client), ip_of(&x.server))),
        _ => None,
    }
}

/// What correlation needs to know about one host's part in its flows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct HostSides {
    /// The host's own address, when the events tell.
    pub own: Option<String>,
    /// Flows whose server side is this host.
    pub served_flows: BTreeSet<u64>,
    /// Flows whose client side is this host.
    pub client_flows: BTreeSet<u64>,
    pub roles: BTreeSet<Role>,
}

impl HostSides {
    /// True when the host is the server of `flow` (its events there are not its own
    /// sending or receiving).
    pub fn served(&self, flow: u64) -> bool {
        self.served_flows.contains(&flow)
    }
}

/// Infer the host's address, flow sides and roles.
pub fn infer(events: &[Event]) -> HostSides {
    let mut as_client: BTreeMap<&str, usize> = BTreeMap::new();
    let mut as_server: BTreeMap<&str, usize> = BTreeMap::new();
    let mut common: Option<BTreeSet<&str>> = None;
    for (_, c, s) in events.iter().filter_map(endpoints) {
        *as_client.entry(c).or_default() += 1;
        *as_server.entry(s).or_default() += 1;
        let pair: BTreeSet<&str> = [c, s].into_iter().collect();
        common = Some(match common {
            None => pair,
            Some(prev) => prev.intersection(&pair).copied().collect(),
        });
    }
    let count = |m: &BTreeMap<&str, usize>, a: &str| m.get(a).copied().unwrap_or(0);
    let own: Option<String> = common.and_then(|set| {
        set.into_iter()
            .max_by_key(|a| {
                (
                    count(&as_client, a) as i64 - count(&as_server, a) as i64,
                    std::cmp::Reverse(*a),
                )
            })
            .map(str::to_string)
    });
    let mut sides = HostSides {
        own,
        ..HostSides::default()
    };
    if let Some(own) = sides.own.clone() {
        for (flow, c, s) in events.iter().filter_map(endpoints) {
            if s == own && c != own {
                sides.served_flows.insert(flow);
            } else if c == own {
                sides.client_flows.insert(flow);
            }
        }
    }
    for e in events {
        match e {
            Event::RtmpPublish { flow, .. } => {
                if sides.served(*flow) {
                    sides.roles.insert(Role::Server);
                } else {
                    sides.roles.insert(Role::Broadcaster);
                }
            }
            // Video without a publish command in the capture (started mid-stream).
            // Frames a client plays make it no broadcaster.
            Event::RtmpVideo {
                flow,
                direction: RtmpDirection::ClientToServer,
                ..
            } if !sides.served(*flow) && !sides.roles.contains(&Role::Server) => {
                sides.roles.insert(Role::Broadcaster);
            }
            Event::RtmpPlay { flow, .. } => {
                if sides.served(*flow) {
                    sides.roles.insert(Role::Server);
                } else {
                    sides.roles.insert(Role::Viewer);
                }
            }
            // Media a client plays (an RTMP viewer or relay) without its play
            // command in the capture (started mid-connection): no endpoints to go
            // by; on a server the publish it served came first and made it one.
            Event::RtmpVideo {
                flow,
                direction: RtmpDirection::ServerToClient,
                ..
            } if !sides.served(*flow) && !sides.roles.contains(&Role::Server) => {
                sides.roles.insert(Role::Viewer);
            }
            Event::HttpExchange(x) if sides.served(x.flow) => {
                sides.roles.insert(Role::Server);
            }
            Event::NtpExchange { flow, .. } if sides.served(*flow) => {
                sides.roles.insert(Role::Server);
            }
            Event::HlsSegment { flow, status, .. } if !sides.served(*flow) && *status < 400 => {
                sides.roles.insert(Role::Viewer);
            }
            Event::ChatSent { flow, .. } if !sides.served(*flow) => {
                sides.roles.insert(Role::Chat);
            }
            Event::ChatReceived(c) if !sides.served(c.flow) => {
                sides.roles.insert(Role::Chat);
            }
            _ => {}
        }
    }
    // A server host's chat events are the lines it relayed, not its own.
    if sides.roles.contains(&Role::Server) && sides.own.is_some() {
        let relayed_chat = events.iter().any(|e| {
            let flow = match e {
                Event::ChatSent { flow, .. } => flow,
                Event::ChatReceived(c) => &c.flow,
                _ => return false,
            };
            !sides.client_flows.contains(flow)
        });
        if relayed_chat {
            sides.roles.remove(&Role::Chat);
        }
    }
    sides
}

#[cfg(test)]
mod tests {
    use super::super::testutil::ntp;
    use super::*;

    #[test]
    fn ip_of_strips_ports() {
        assert_eq!(ip_of("10.77.0.1:80"), "10.77.0.1");
        assert_eq!(ip_of("[fe80::1]:443"), "fe80::1");
        assert_eq!(ip_of("10.77.0.1"), "10.77.0.1");
    }

    #[test]
    fn server_is_the_address_shared_by_flows_of_many_clients() {
        let ev = [
            ntp(1, "10.77.0.21", "10.77.0.1"),
            ntp(2, "10.77.0.22", "10.77.0.1"),
        ];
        let s = infer(&ev);
        assert_eq!(s.own.as_deref(), Some("10.77.0.1"));
        assert!(s.served(1) && s.served(2));
        assert!(s.roles.contains(&Role::Server));
    }

    #[test]
    fn a_client_talking_to_one_server_is_taken_as_the_client() {
        let ev = [
            ntp(1, "10.77.0.21", "10.77.0.1"),
            ntp(2, "10.77.0.21", "10.77.0.1"),
        ];
        let s = infer(&ev);
        assert_eq!(s.own.as_deref(), Some("10.77.0.21"));
        assert!(!s.served(1));
        assert!(s.roles.is_empty());
    }
}
