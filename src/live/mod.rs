//! Live capture and live decoding: `lagtap capture` and `lagtap watch`.
//!
//! - [`pcapng_writer`]: our own pcapng writer (no libpcap needed, unit-tested).
//! - [`keylog_follower`]: the new lines of a growing key log, for `--keylog`.
//! - `source` (feature `live`): an interface opened with libpcap, the stop flag.
//! - `capture` (feature `live`): libpcap interface → pcapng files, with the host's
//!   metadata in the section comment, NTP probes as clock evidence, rotation, clean
//!   ends on SIGINT/SIGTERM and regular flushes.
//! - [`watch`]: the offline decoder (`FlowTable<DecodeHandler>`) driven packet by
//!   packet from an interface (feature `live`) or a growing capture file, printing
//!   events as they happen.

#[cfg(feature = "live")]
pub mod capture;
pub mod keylog_follower;
pub mod pcapng_writer;
#[cfg(feature = "live")]
pub mod source;
pub mod watch;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds between 1900 (NTP era 0) and 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A 48-byte NTPv4 client request (mode 3) whose transmit timestamp is `now`, so the
/// server echoes it back as the origin timestamp and request and reply pair up.
pub fn ntp_request(now: SystemTime) -> [u8; 48] {
    let mut p = [0u8; 48];
    // LI = 0, VN = 4, Mode = 3 (client).
    p[0] = (4 << 3) | 3;
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() + NTP_UNIX_OFFSET;
    let frac = ((u64::from(d.subsec_nanos())) << 32) / 1_000_000_000;
    p[40..44].copy_from_slice(&(secs as u32).to_be_bytes());
    p[44..48].copy_from_slice(&(frac as u32).to_be_bytes());
    p
}

/// Sends one NTP client query to `server` (`host` or `host:port`) from `socket` and
/// drains whatever replies arrived meanwhile (the capture sees them on the wire; the
/// socket only must not fill up).
pub fn ntp_probe(socket: &UdpSocket, server: &str) -> std::io::Result<()> {
    let addr = ntp_server_addr(server);
    let mut buf = [0u8; 512];
    socket.set_nonblocking(true)?;
    while socket.recv_from(&mut buf).is_ok() {}
    socket.send_to(&ntp_request(SystemTime::now()), addr)?;
    Ok(())
}

/// `host`, `host:port`, `ip`, `[v6]:port` → an address string with port 123 when
/// none was given.
fn ntp_server_addr(server: &str) -> String {
    if server.parse::<std::net::SocketAddr>().is_ok() {
        server.to_string()
    } else if let Ok(ip) = server.parse::<std::net::IpAddr>() {
        std::net::SocketAddr::new(ip, 123).to_string()
    } else if server
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        server.to_string()
    } else {
        format!("{server}:123")
    }
}

/// What the section comment of a lagtap capture says about where it was taken.
#[derive(Clone, Debug)]
pub struct HostFacts {
    pub host: String,
    pub role: Option<String>,
    pub version: String,
    pub os: String,
    pub clock: String,
}

impl HostFacts {
    /// Gathers the facts from this machine: host name, `uname -srvm`, and the clock's
    /// sync state from `chronyc tracking`, else `timedatectl`, else "unknown".
    pub fn gather(role: Option<String>) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| run("hostname", &[]))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        let os = run("uname", &["-srvm"])
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        HostFacts {
            host,
            role,
            version: format!("lagtap {}", env!("CARGO_PKG_VERSION")),
            os,
            clock: clock_state(),
        }
    }

    /// The section comment lines, `key: value` each.
    pub fn comments(&self) -> Vec<String> {
        vec![format!(
            "lagtap capture\nhost: {}\nrole: {}\nversion: {}\nos: {}\nclock: {}",
            self.host,
            self.role.as_deref().unwrap_or("unspecified"),
            self.version,
            self.os,
            self.clock
        )]
    }
}

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One line on the clock's synchronisation: chrony's reference, stratum and offset,
/// or systemd's `NTPSynchronized`, or "unknown".
fn clock_state() -> String {
    if let Some(t) = run("chronyc", &["-n", "tracking"]) {
        let field = |name: &str| {
            t.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        if let Some(r) = field("Reference ID") {
            return format!(
                "chrony: reference {r}; stratum {}; system time {}; leap status {}",
                field("Stratum").unwrap_or_default(),
                field("System time").unwrap_or_default(),
                field("Leap status").unwrap_or_default()
            );
        }
    }
    if let Some(t) = run("timedatectl", &["show", "-p", "NTPSynchronized", "--value"]) {
        return format!("timedatectl: NTPSynchronized={}", t.trim());
    }
    "unknown".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_request_is_a_v4_client_query_stamped_now() {
        let t = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 500_000_000);
        let p = ntp_request(t);
        let parsed = ntp_parser::parse(&p).expect("an NTP packet");
        assert_eq!(parsed.version, 4);
        assert_eq!(parsed.mode.0, 3);
        assert_eq!(
            u32::from_be_bytes(p[40..44].try_into().unwrap()),
            (1_700_000_000 + NTP_UNIX_OFFSET) as u32
        );
        assert_eq!(u32::from_be_bytes(p[44..48].try_into().unwrap()), 1 << 31);
    }

    #[test]
    fn ntp_servers_get_port_123_unless_given() {
        assert_eq!(ntp_server_addr("10.77.0.1"), "10.77.0.1:123");
        assert_eq!(ntp_server_addr("10.77.0.1:1123"), "10.77.0.1:1123");
        assert_eq!(ntp_server_addr("::1"), "[::1]:123");
        assert_eq!(ntp_server_addr("ntp.example"), "ntp.example:123");
    }

    #[test]
    fn host_facts_always_say_something() {
        let f = HostFacts::gather(Some("viewer".into()));
        let c = f.comments().join("\n");
        assert!(c.contains("role: viewer"));
        assert!(c.contains("clock: "));
        assert!(c.contains(env!("CARGO_PKG_VERSION")));
    }
}
