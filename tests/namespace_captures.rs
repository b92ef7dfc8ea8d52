//! Captures made here with tcpdump in network namespaces this test creates (only
//! traffic inside them): the same TCP exchange seen through NFLOG, or on a tunnel's
//! underlay (VXLAN, GRE, IP-in-IP, 6in4, Geneve, ERSPAN when the kernel has them),
//! gives lagtap the same reassembled streams as the capture of the plain interface; IP
//! fragments made by a small MTU (UDP at the source, IPv4 and IPv6) and by a router
//! namespace (TCP over IPv4) are reassembled into what was sent.
//! Needs root, `ip`, `tcpdump`, `python3` (and `nft` for NFLOG).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::tools;
use common::StreamCollector;
use lagtap::pipeline::run_file;

static NEXT: AtomicU32 = AtomicU32::new(0);

fn root() -> bool {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        });
    uid.as_deref() == Some("0")
}

fn prerequisites(check: &str, extra: &[&str]) -> bool {
    if !root() {
        tools::missing(check, "not root: network namespaces need root");
        return false;
    }
    ["ip", "tcpdump", "python3"]
        .iter()
        .chain(extra)
        .filter(|t| !tools::require(t, check))
        .count()
        == 0
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two namespaces `a` and `b` joined by a veth pair (`ua` in a, `ub` in b) with
/// underlay addresses 10.213.N.1 and .2; removed on drop.
struct Lab {
    a: String,
    b: String,
    n: u32,
    dir: PathBuf,
    children: Vec<Child>,
    /// Further namespaces a test added (removed on drop too).
    extra: Vec<String>,
}

impl Lab {
    fn new() -> Lab {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("lagtap-ns-{pid}-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            a: format!("ltn-{pid}-{n}-a"),
            b: format!("ltn-{pid}-{n}-b"),
            n,
            dir,
            children: Vec::new(),
            extra: Vec::new(),
        };
        run(Command::new("ip").args(["netns", "add", &lab.a])).unwrap();
        run(Command::new("ip").args(["netns", "add", &lab.b])).unwrap();
        run(Command::new("ip").args([
            "link", "add", "ua", "netns", &lab.a, "type", "veth", "peer", "name", "ub", "netns",
            &lab.b,
        ]))
        .unwrap();
        for (ns, dev, host) in [(&lab.a, "ua", 1), (&lab.b, "ub", 2)] {
            let addr = format!("{}/24", lab.underlay(host));
            lab.ip(ns, &["addr", "add", &addr, "dev", dev]).unwrap();
            lab.ip(ns, &["link", "set", dev, "up"]).unwrap();
            lab.ip(ns, &["link", "set", "lo", "up"]).unwrap();
        }
        lab
    }

    fn underlay(&self, host: u8) -> String {
        format!("10.213.{}.{host}", self.n % 250)
    }

    fn ip(&self, ns: &str, args: &[&str]) -> Result<(), String> {
        run(Command::new("ip").args(["-n", ns]).args(args))
    }

    fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]);
        c
    }

    /// tcpdump on `iface` in namespace a, writing `name`.
    fn tcpdump(&mut self, iface: &str, name: &str) -> PathBuf {
        self.tcpdump_in(&self.a.clone(), iface, name)
    }

    /// tcpdump on `iface` in namespace `ns`, writing `name`.
    fn tcpdump_in(&mut self, ns: &str, iface: &str, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        let child = self
            .exec(ns)
            .args([
                "tcpdump",
                "-U",
                "--immediate-mode",
                // A larger kernel buffer (for NFLOG: the netlink socket's) drops less
                // when the machine is loaded.
                "-B",
                "8192",
                "-n",
                "-s",
                "262144",
                "-i",
                iface,
            ])
            .arg("-w")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
        let start = Instant::now();
        while std::fs::metadata(&path).map_or(true, |m| m.len() == 0) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "tcpdump on {iface}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        path
    }

    /// A TCP exchange from a to `server` (an address in b) on port 9000: the client
    /// sends 40 000 bytes and half-closes, the server answers 300 000 and closes.
    fn exchange(&mut self, server: &str) {
        let server_py = "import socket,sys\n\
            fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n\
            s=socket.socket(fam); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
            s.bind((sys.argv[1],9000)); s.listen(1); c,_=s.accept()\n\
            while c.recv(65536): pass\n\
            c.sendall(bytes((i*7+i//251)%256 for i in range(300000))); c.close()\n";
        let client_py = "import socket,sys,time\n\
            fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n\
            for _ in range(100):\n\
            \x20 try:\n\
            \x20   c=socket.create_connection((sys.argv[1],9000)); break\n\
            \x20 except OSError: time.sleep(0.1)\n\
            c.sendall(bytes((i*3)%256 for i in range(40000))); c.shutdown(socket.SHUT_WR)\n\
            n=0\n\
            while True:\n\
            \x20 d=c.recv(65536)\n\
            \x20 if not d: break\n\
            \x20 n+=len(d)\n\
            assert n==300000, n\n";
        let b = self.b.clone();
        let mut srv = self
            .exec(&b)
            .args(["python3", "-c", server_py, server])
            .spawn()
            .unwrap();
        let ok = self
            .exec(&self.a.clone())
            .args(["python3", "-c", client_py, server])
            .status()
            .unwrap();
        let _ = srv.wait();
        assert!(ok.success(), "the exchange with {server} failed");
        // Let the captures see the last packets before they are stopped.
        std::thread::sleep(Duration::from_millis(1000));
    }

    /// Stops the captures (SIGINT, so tcpdump flushes).
    fn stop_captures(&mut self) {
        for c in &mut self.children {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
        self.children.clear();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.a, &self.b].into_iter().chain(&self.extra) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Each TCP flow's bytes both ways, by (client, server).
type Streams = BTreeMap<(String, String), [Vec<u8>; 2]>;

/// The TCP flows of a capture, and its anomalies.
fn tcp_streams(path: &Path) -> (Streams, String) {
    let run = run_file(path, StreamCollector::default()).unwrap();
    let flows = run
        .handler
        .flows
        .values()
        .filter(|f| f.tcp)
        .map(|f| ((f.client.clone(), f.server.clone()), f.bytes.clone()))
        .collect();
    (flows, format!("{:?}", run.anomalies))
}

/// The exchange's flow in both captures, byte for byte.
fn assert_same_streams(what: &str, reference: &Path, other: &Path) {
    let (want, wa) = tcp_streams(reference);
    let (got, ga) = tcp_streams(other);
    let sizes = |m: &Streams| -> Vec<String> {
        m.iter()
            .map(|(k, v)| format!("{k:?} {} {}", v[0].len(), v[1].len()))
            .collect()
    };
    assert!(
        want.values()
            .any(|v| v[0].len() == 40_000 && v[1].len() == 300_000),
        "{what}: the reference capture lacks the exchange: {:?} {wa}",
        sizes(&want)
    );
    assert_eq!(
        sizes(&got),
        sizes(&want),
        "{what}: flows ({ga} / reference {wa})"
    );
    assert!(got == want, "{what}: the streams' bytes differ");
}

#[test]
fn nflog_captures_give_the_streams_of_the_interface_capture() {
    const CHECK: &str = "NFLOG capture (tcpdump -i nflog:N, nft log group) in a namespace";
    if !prerequisites(CHECK, &["nft"]) {
        return;
    }
    // NFLOG hands packets to tcpdump through a netlink queue that drops when the
    // reader falls behind (a loaded CI machine): a run whose capture lost packets is
    // no test of lagtap, so up to three runs are made and one must be complete.
    for attempt in 1..=3 {
        let mut lab = Lab::new();
        let a = lab.a.clone();
        let rules = "table inet lagtap {\n\
            chain out { type filter hook output priority 0; tcp dport 9000 log group 7; }\n\
            chain in { type filter hook input priority 0; tcp sport 9000 log group 7; }\n\
            }\n";
        let rules_file = lab.dir.join("rules.nft");
        std::fs::write(&rules_file, rules).unwrap();
        if let Err(e) = run(lab.exec(&a).arg("nft").arg("-f").arg(&rules_file)) {
            tools::skip(CHECK, &format!("nft refused the NFLOG rule here: {e}"));
            return;
        }
        let reference = lab.tcpdump("ua", "veth.pcap");
        let nflog = lab.tcpdump("nflog:7", "nflog.pcap");
        let server = lab.underlay(2);
        lab.exchange(&server);
        lab.stop_captures();
        let report = lagtap::inspect::inspect_file(&nflog).unwrap();
        assert_eq!(report.link_types, ["NFLOG"]);
        let bytes = |p: &Path| -> u64 {
            let r = lagtap::inspect::inspect_file(p).unwrap();
            r.flows.iter().map(|f| f.c2s_bytes + f.s2c_bytes).sum()
        };
        if bytes(&nflog) < bytes(&reference) && attempt < 3 {
            eprintln!("nflog attempt {attempt}: the NFLOG queue dropped packets; again");
            continue;
        }
        assert_same_streams("nflog", &reference, &nflog);
        return;
    }
}

/// A tunnel between a and b over the underlay: `kind` and its `ip link` options,
/// inner addresses `inner_a`/`inner_b` (with prefix length).
struct Tunnel {
    kind: &'static str,
    opts: Vec<String>,
    inner: (&'static str, &'static str, &'static str),
}

fn tunnel_exchange(kind: &'static str, opts: &[&str], v6: bool) {
    let check = format!("{kind} tunnel between namespaces, captured on its underlay");
    if !prerequisites(&check, &[]) {
        return;
    }
    let mut lab = Lab::new();
    let (a, b) = (lab.a.clone(), lab.b.clone());
    let t = Tunnel {
        kind,
        opts: opts.iter().map(|s| s.to_string()).collect(),
        inner: if v6 {
            ("fd00:77::1", "fd00:77::2", "64")
        } else {
            ("192.168.77.1", "192.168.77.2", "24")
        },
    };
    for (ns, local, remote, addr) in [
        (&a, lab.underlay(1), lab.underlay(2), t.inner.0),
        (&b, lab.underlay(2), lab.underlay(1), t.inner.1),
    ] {
        let mut args: Vec<String> = ["link", "add", "t0", "type", t.kind]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for o in &t.opts {
            args.push(
                o.replace("LOCAL", &local)
                    .replace("REMOTE", &remote)
                    .replace("DEV", if ns == &a { "ua" } else { "ub" }),
            );
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Err(e) = lab.ip(ns, &args) {
            // The kernel of this machine may lack the tunnel's module; CI's has it.
            tools::skip(&check, &format!("the kernel here cannot make it: {e}"));
            return;
        }
        let cidr = format!("{addr}/{}", t.inner.2);
        lab.ip(ns, &["addr", "add", &cidr, "dev", "t0"]).unwrap();
        lab.ip(ns, &["link", "set", "t0", "up"]).unwrap();
    }
    let inner = lab.tcpdump("t0", "inner.pcap");
    let underlay = lab.tcpdump("ua", "underlay.pcap");
    lab.exchange(t.inner.1);
    lab.stop_captures();
    assert_same_streams(kind, &inner, &underlay);
}

#[test]
fn vxlan_inner_flows_equal_the_inner_interface_capture() {
    tunnel_exchange(
        "vxlan",
        &[
            "id", "42", "remote", "REMOTE", "dstport", "4789", "dev", "DEV",
        ],
        false,
    );
}

#[test]
fn geneve_inner_flows_equal_the_inner_interface_capture() {
    tunnel_exchange("geneve", &["id", "42", "remote", "REMOTE"], false);
}

#[test]
fn gre_with_key_and_sequence_numbers_inner_flows_equal_the_inner_interface_capture() {
    tunnel_exchange(
        "gre",
        &["local", "LOCAL", "remote", "REMOTE", "key", "42", "seq"],
        false,
    );
    tunnel_exchange("gretap", &["local", "LOCAL", "remote", "REMOTE"], false);
}

#[test]
fn erspan_inner_flows_equal_the_inner_interface_capture() {
    tunnel_exchange(
        "erspan",
        &[
            "seq",
            "key",
            "10",
            "local",
            "LOCAL",
            "remote",
            "REMOTE",
            "erspan_ver",
            "1",
            "erspan",
            "123",
        ],
        false,
    );
    tunnel_exchange(
        "erspan",
        &[
            "seq",
            "key",
            "11",
            "local",
            "LOCAL",
            "remote",
            "REMOTE",
            "erspan_ver",
            "2",
            "erspan_dir",
            "ingress",
            "erspan_hwid",
            "7",
        ],
        false,
    );
}

#[test]
fn ipip_and_6in4_inner_flows_equal_the_inner_interface_capture() {
    tunnel_exchange("ipip", &["local", "LOCAL", "remote", "REMOTE"], false);
    tunnel_exchange("sit", &["local", "LOCAL", "remote", "REMOTE"], true);
}

/// How many packets of a capture are IP fragments.
fn fragments_in(path: &Path) -> usize {
    let mut fragments = 0;
    let mut reader = lagtap::capture::CaptureReader::open(path).unwrap();
    reader.for_each_packet(|p| {
        if matches!(
            lagtap::link::decode(p.link_type, p.data),
            Ok(lagtap::link::Transport::Fragment(_))
        ) {
            fragments += 1;
        }
    });
    fragments
}

/// The bytes the exchange's client sends, and its server's answer.
fn exchange_bytes() -> [Vec<u8>; 2] {
    [
        (0..40_000u32).map(|i| (i * 3 % 256) as u8).collect(),
        (0..300_000u32)
            .map(|i| ((i * 7 + i / 251) % 256) as u8)
            .collect(),
    ]
}

#[test]
fn ip_fragments_made_by_a_fragmenting_mtu_are_reassembled() {
    const CHECK: &str = "IPv4 and IPv6 fragments made by a 1280-byte MTU in namespaces";
    if !prerequisites(CHECK, &[]) {
        return;
    }
    let mut lab = Lab::new();
    let (a, b) = (lab.a.clone(), lab.b.clone());
    // Both ends: a link MTU of 1280 and path MTU discovery off (no DF bit), so UDP
    // datagrams larger than the MTU are fragmented at the source, in IPv4 (RFC 791
    // §3.2) and IPv6 (RFC 8200 §4.5). TCP keeps its segments within the MTU here (a
    // TCP stream over fragments is tested on built bytes in tests/link_types.rs); the
    // TCP exchange checks that nothing else changes.
    for (ns, dev, v6) in [(&a, "ua", "fd00:213::1"), (&b, "ub", "fd00:213::2")] {
        let cidr = format!("{v6}/64");
        lab.ip(ns, &["link", "set", dev, "mtu", "1280"]).unwrap();
        lab.ip(ns, &["addr", "add", &cidr, "dev", dev, "nodad"])
            .unwrap();
        run(lab
            .exec(ns)
            .args(["sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=1"]))
        .unwrap();
    }
    let capture = lab.tcpdump("ua", "fragments.pcap");
    let server = lab.underlay(2);
    lab.exchange(&server);
    // UDP over IPv4 and IPv6: four 5000-byte datagrams each, fragmented by the sender.
    let udp_py = "import socket,sys\n\
        fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n\
        s=socket.socket(fam,socket.SOCK_DGRAM)\n\
        for k in range(4): s.sendto(bytes((i+k)%256 for i in range(5000)),(sys.argv[1],9001))\n";
    for dst in ["fd00:213::2", &server] {
        run(lab.exec(&a).args(["python3", "-c", udp_py, dst])).unwrap();
    }
    std::thread::sleep(Duration::from_millis(1000));
    lab.stop_captures();
    let run = run_file(&capture, StreamCollector::default()).unwrap();
    let tcp: Vec<_> = run
        .handler
        .flows
        .values()
        .filter(|f| f.tcp && !f.bytes[1].is_empty())
        .collect();
    assert_eq!(tcp.len(), 1, "{:?}", run.anomalies);
    assert!(
        tcp[0].bytes == exchange_bytes(),
        "TCP over IPv4 fragments: {} / {} bytes, {:?}",
        tcp[0].bytes[0].len(),
        tcp[0].bytes[1].len(),
        run.anomalies
    );
    let udp: Vec<_> = run
        .handler
        .flows
        .values()
        .filter(|f| !f.tcp && f.server.contains(":9001"))
        .collect();
    assert_eq!(udp.len(), 2, "{:?}", run.anomalies);
    let want: Vec<u8> = (0..4u32)
        .flat_map(|k| (0..5000u32).map(move |i| ((i + k) % 256) as u8))
        .collect();
    for f in udp {
        assert!(f.bytes[0] == want, "UDP fragments to {}", f.server);
    }
    // The capture really held fragments.
    let fragments = fragments_in(&capture);
    // 4 datagrams of 4 IPv4 fragments and of 5 IPv6 fragments.
    assert!(fragments >= 36, "only {fragments} fragments captured");
    assert_eq!(run.anomalies.get("ip_fragment.incomplete"), 0);
}

#[test]
fn tcp_over_ipv4_fragments_made_by_a_router_is_reassembled() {
    const CHECK: &str = "TCP over IPv4 fragments made by a router namespace (MTU 1500 to 1280)";
    if !prerequisites(CHECK, &[]) {
        return;
    }
    // a (MTU 1500, path MTU discovery off: no DF bit) -- r -- b (MTU 1280, advertising
    // an MSS of 1460): r fragments a's 1500-byte packets (RFC 791 §3.2).
    let mut lab = Lab::new();
    let (a, b) = (lab.a.clone(), lab.b.clone());
    let r = format!("{a}-r");
    run(Command::new("ip").args(["netns", "add", &r])).unwrap();
    lab.extra.push(r.clone());
    let net = lab.n % 250;
    lab.ip(&a, &["link", "del", "ua"]).unwrap();
    for (ns, dev, peer) in [(&a, "ua", "ra"), (&b, "ub", "rb")] {
        lab.ip(
            ns,
            &[
                "link", "add", dev, "type", "veth", "peer", "name", peer, "netns", &r,
            ],
        )
        .unwrap();
    }
    let setup: [(&str, &[&str]); 12] = [
        (
            &a,
            &["addr", "add", &format!("10.214.{net}.1/24"), "dev", "ua"],
        ),
        (
            &r,
            &["addr", "add", &format!("10.214.{net}.254/24"), "dev", "ra"],
        ),
        (
            &r,
            &["addr", "add", &format!("10.215.{net}.254/24"), "dev", "rb"],
        ),
        (
            &b,
            &["addr", "add", &format!("10.215.{net}.2/24"), "dev", "ub"],
        ),
        (&r, &["link", "set", "rb", "mtu", "1280"]),
        (&b, &["link", "set", "ub", "mtu", "1280"]),
        (&a, &["link", "set", "ua", "up"]),
        (&b, &["link", "set", "ub", "up"]),
        (&r, &["link", "set", "ra", "up"]),
        (&r, &["link", "set", "rb", "up"]),
        (
            &a,
            &[
                "route",
                "add",
                "default",
                "via",
                &format!("10.214.{net}.254"),
            ],
        ),
        (
            &b,
            &[
                "route",
                "add",
                "default",
                "via",
                &format!("10.215.{net}.254"),
                "advmss",
                "1460",
            ],
        ),
    ];
    for (ns, args) in setup {
        lab.ip(ns, args).unwrap();
    }
    run(lab
        .exec(&r)
        .args(["sysctl", "-qw", "net.ipv4.ip_forward=1"]))
    .unwrap();
    run(lab
        .exec(&a)
        .args(["sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=1"]))
    .unwrap();
    let reference = lab.tcpdump("ua", "sender.pcap");
    let fragmented = lab.tcpdump_in(&b.clone(), "ub", "receiver.pcap");
    lab.exchange(&format!("10.215.{net}.2"));
    lab.stop_captures();
    let fragments = fragments_in(&fragmented);
    assert!(fragments >= 20, "only {fragments} fragments reached b");
    // The capture on b may miss some of a's segments (here the veth's receive path
    // hands tcpdump only part of them; tshark sees the same holes), so each captured
    // byte is checked against what a sent, around the gaps lagtap reports.
    let (want, _) = tcp_streams(&reference);
    let want = want.values().find(|v| v[0].len() == 40_000).unwrap();
    let run = run_file(&fragmented, StreamCollector::default()).unwrap();
    let flow = run
        .handler
        .flows
        .values()
        .find(|f| f.tcp && !f.bytes[1].is_empty())
        .unwrap();
    for (d, want) in want.iter().enumerate() {
        let (mut at, mut taken) = (0usize, 0usize);
        let mut gaps = flow.gaps[d].clone();
        gaps.push((want.len() as u64, 0));
        for (offset, len) in gaps {
            let n = offset as usize - at;
            let got = &flow.bytes[d][taken..(taken + n).min(flow.bytes[d].len())];
            assert!(got == &want[at..at + got.len()], "direction {d} at {at}");
            taken += n;
            at = offset as usize + len as usize;
        }
    }
    let captured = flow.bytes[0].len();
    assert!(
        captured >= fragments / 2 * 1448,
        "{captured} bytes from {fragments} fragments: {:?}",
        run.anomalies
    );
    assert_eq!(run.anomalies.get("ip_fragment.incomplete"), 0);
}
