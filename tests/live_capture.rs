//! `lagtap capture` on a real veth pair, next to tcpdump on the same interface.
//!
//! Each test makes its own two network namespaces joined by a veth pair (names carry
//! the test's pid and a number, so parallel runs never clash; a Drop guard removes
//! them, also when the test fails), serves a file with `python3 -m http.server` in
//! one and fetches it with `curl` from the other, and captures on the client side.
//! Needs root and iproute2, python3, curl, tcpdump, tshark; without them each test
//! says so in a `SKIP` line and passes, except in CI, which runs as root with
//! everything installed, where it fails.
#![cfg(feature = "live")]

#[path = "common/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const LAGTAP: &str = env!("CARGO_BIN_EXE_lagtap");
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether the test can run here: root, and every program it drives on PATH (each
/// missing one is reported).
fn prerequisites() -> bool {
    const CHECK: &str = "live capture on a veth pair";
    if !tools::is_root() {
        tools::missing(CHECK, "not root: network namespaces need root");
        return false;
    }
    let missing = ["ip", "python3", "curl", "tcpdump", "tshark"]
        .into_iter()
        .filter(|tool| !tools::require(tool, CHECK))
        .count();
    missing == 0
}

macro_rules! require_testbed {
    () => {
        if !prerequisites() {
            return;
        }
    };
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Two namespaces, `srv` (10.98.0.1, an HTTP server on 8080) and `cli` (10.98.0.2),
/// and a scratch directory; all removed on drop.
struct Net {
    srv: String,
    cli: String,
    /// The client's end of the veth pair: where captures run.
    iface: String,
    dir: PathBuf,
    children: Vec<Child>,
}

impl Net {
    fn new() -> Net {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("lagtap-live-{pid}-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut net = Net {
            srv: format!("lt7-{pid}-{n}-s"),
            cli: format!("lt7-{pid}-{n}-c"),
            iface: format!("l7c{pid}x{n}"),
            dir,
            children: Vec::new(),
        };
        let srv_if = format!("l7s{pid}x{n}");
        let (srv, cli, cif) = (net.srv.clone(), net.cli.clone(), net.iface.clone());
        run(Command::new("ip").args(["netns", "add", &srv]));
        run(Command::new("ip").args(["netns", "add", &cli]));
        run(Command::new("ip").args([
            "link", "add", &srv_if, "netns", &srv, "type", "veth", "peer", "name", &cif, "netns",
            &cli,
        ]));
        for (ns, ifname, addr) in [
            (&srv, &srv_if, "10.98.0.1/24"),
            (&cli, &cif, "10.98.0.2/24"),
        ] {
            run(Command::new("ip").args(["-n", ns, "addr", "add", addr, "dev", ifname]));
            run(Command::new("ip").args(["-n", ns, "link", "set", ifname, "up"]));
            run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
        }
        let www = net.dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        let blob: Vec<u8> = (0..600_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        std::fs::write(www.join("blob.bin"), blob).unwrap();
        let server = net
            .exec(&srv)
            .args([
                "python3",
                "-m",
                "http.server",
                "8080",
                "--bind",
                "10.98.0.1",
            ])
            .arg("--directory")
            .arg(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        net.children.push(server);
        // Wait for the server (no capture runs yet, so these packets are not counted).
        let start = Instant::now();
        while !net.fetch_ok() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "http.server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        net
    }

    fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]);
        c
    }

    fn fetch_ok(&self) -> bool {
        self.exec(&self.cli)
            .args(["curl", "-sf", "-o", "/dev/null", "--max-time", "5"])
            .arg("http://10.98.0.1:8080/blob.bin")
            .status()
            .is_ok_and(|s| s.success())
    }

    fn fetch(&self, times: usize) {
        for _ in 0..times {
            assert!(self.fetch_ok(), "curl failed");
        }
    }

    /// Starts `lagtap capture` on the client's interface, writing `name`.
    fn lagtap_capture(&self, name: &str, extra: &[&str]) -> (Child, PathBuf) {
        self.lagtap_capture_filtered(name, "tcp port 8080 or udp port 123", extra)
    }

    fn lagtap_capture_filtered(
        &self,
        name: &str,
        filter: &str,
        extra: &[&str],
    ) -> (Child, PathBuf) {
        let path = self.dir.join(name);
        let child = self
            .exec(&self.cli)
            .arg(LAGTAP)
            .args(["capture", "-i", &self.iface, "-f", filter, "-w"])
            .arg(&path)
            .args(["--role", "test-client"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Ready once the section and interface blocks are on disk.
        let probe = if extra.iter().any(|a| a.starts_with("--rotate")) {
            self.dir.join(name.replace(".pcapng", "-00001.pcapng"))
        } else {
            path.clone()
        };
        wait_for_file(&probe);
        (child, path)
    }

    /// An HTTPS server (Python's ssl, a certificate made now) on 10.98.0.1:8443
    /// serving the same directory.
    fn https_server(&mut self) {
        let (key, cert) = (self.dir.join("k.pem"), self.dir.join("c.pem"));
        run(Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=lagtap.test", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        let script = "import http.server, ssl, sys, functools\n\
            h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])\n\
            s = http.server.HTTPServer(('10.98.0.1', 8443), h)\n\
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
            c.load_cert_chain(sys.argv[1], sys.argv[2])\n\
            s.socket = c.wrap_socket(s.socket, server_side=True)\n\
            s.serve_forever()\n";
        let child = self
            .exec(&self.srv)
            .args(["python3", "-c", script])
            .arg(&cert)
            .arg(&key)
            .arg(self.dir.join("www"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
        let start = Instant::now();
        while !self.fetch_https(None) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the HTTPS server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// curl over HTTPS, writing its secrets to `keylog` when given.
    fn fetch_https(&self, keylog: Option<&Path>) -> bool {
        let mut c = self.exec(&self.cli);
        c.args(["curl", "-skf", "-o", "/dev/null", "--max-time", "5"]);
        c.arg("https://10.98.0.1:8443/blob.bin");
        if let Some(k) = keylog {
            c.env("SSLKEYLOGFILE", k);
        }
        c.status().is_ok_and(|s| s.success())
    }

    fn tcpdump(&self, name: &str) -> (Child, PathBuf) {
        let path = self.dir.join(name);
        let child = self
            .exec(&self.cli)
            .args([
                "tcpdump",
                "-U",
                "-n",
                "-s",
                "262144",
                "-i",
                &self.iface,
                "-w",
            ])
            .arg(&path)
            .args(["tcp port 8080 or udp port 123"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_file(&path);
        (child, path)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.srv, &self.cli] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_for_file(p: &Path) {
    let start = Instant::now();
    while std::fs::metadata(p).map_or(true, |m| m.len() == 0) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The capture is attached once its file exists; give the other one a moment too.
    std::thread::sleep(Duration::from_millis(300));
}

fn signal(child: &Child, sig: &str) {
    run(Command::new("kill").args([sig, &child.id().to_string()]));
}

fn finish(child: Child) -> (bool, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tshark_count(path: &Path) -> usize {
    let out = run(Command::new("tshark").arg("-r").arg(path).args([
        "-T",
        "fields",
        "-e",
        "frame.number",
    ]));
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// `lagtap inspect --json` of one file: (packets, anomalies, flows as comparable rows,
/// comments).
fn inspect(path: &Path) -> (u64, serde_json::Value, Vec<String>, Vec<String>) {
    let out = run(Command::new(LAGTAP).args(["inspect", "--json"]).arg(path));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v["files"][0];
    let mut flows: Vec<String> = f["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|fl| {
            format!(
                "{} {} {} c2s {} B {} pkts, s2c {} B {} pkts",
                fl["transport"],
                fl["client"],
                fl["server"],
                fl["c2s_bytes"],
                fl["c2s_packets"],
                fl["s2c_bytes"],
                fl["s2c_packets"]
            )
        })
        .collect();
    flows.sort();
    let comments = f["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (
        f["packets"].as_u64().unwrap(),
        f["anomalies"].clone(),
        flows,
        comments,
    )
}

/// The last interface statistics block: its counters (ifrecv, ifdrop, osdrop,
/// usrdeliv) and its comment.
fn last_isb(path: &Path) -> Option<([u64; 4], Option<String>)> {
    use pcap_parser::pcapng::Block;
    use pcap_parser::traits::PcapReaderIterator;
    let file = std::fs::File::open(path).unwrap();
    let mut r = pcap_parser::PcapNGReader::new(1 << 20, file).unwrap();
    let mut found = None;
    loop {
        match r.next() {
            Ok((n, pcap_parser::PcapBlockOwned::NG(Block::InterfaceStatistics(isb)))) => {
                let mut c = [u64::MAX; 4];
                let mut comment = None;
                for o in &isb.options {
                    let i = match o.code.0 {
                        1 => {
                            comment = Some(String::from_utf8_lossy(&o.value).into_owned());
                            continue;
                        }
                        4 => 0,
                        5 => 1,
                        7 => 2,
                        8 => 3,
                        _ => continue,
                    };
                    c[i] = u64::from_le_bytes(o.value[..8].try_into().unwrap());
                }
                found = Some((c, comment));
                r.consume(n);
            }
            Ok((n, _)) => r.consume(n),
            Err(pcap_parser::PcapError::Incomplete(_)) => {
                if r.refill().is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    found
}

/// The interface statistics block's counters: (ifrecv, ifdrop, osdrop, usrdeliv).
fn isb_counters(path: &Path) -> Option<[u64; 4]> {
    last_isb(path).map(|(c, _)| c)
}

/// The comment of the last interface statistics block, if the file has one.
fn isb_comment(path: &Path) -> Option<String> {
    last_isb(path).and_then(|(_, c)| c)
}

#[test]
fn capture_holds_what_tcpdump_holds_and_sigint_closes_a_valid_file() {
    require_testbed!();
    let net = Net::new();
    let (td, td_path) = net.tcpdump("tcpdump.pcap");
    let (lt, lt_path) = net.lagtap_capture("lagtap.pcapng", &["--ntp", "10.98.0.1"]);
    net.fetch(3);
    std::thread::sleep(Duration::from_millis(500));
    signal(&lt, "-INT");
    signal(&td, "-INT");
    let (ok, stderr) = finish(lt);
    assert!(ok, "lagtap capture failed: {stderr}");
    let _ = finish(td);
    assert!(stderr.contains("(interrupted)"), "{stderr}");
    assert!(stderr.contains("dropped by kernel 0,"), "{stderr}");

    // Both files open in tshark, with the same number of packets.
    let n = tshark_count(&lt_path);
    assert!(n > 30, "only {n} packets captured");
    assert_eq!(
        n,
        tshark_count(&td_path),
        "lagtap and tcpdump saw different packets"
    );

    // Same flows with the same reassembled bytes and packets each way.
    let (lt_packets, lt_anomalies, lt_flows, comments) = inspect(&lt_path);
    let (td_packets, _, td_flows, _) = inspect(&td_path);
    assert_eq!(lt_packets as usize, n);
    assert_eq!(lt_packets, td_packets);
    assert_eq!(lt_flows, td_flows);
    assert_eq!(lt_anomalies, serde_json::json!({}), "{lt_anomalies}");
    let http_flows = lt_flows.iter().filter(|f| f.contains(":8080")).count();
    assert_eq!(http_flows, 3, "{lt_flows:?}");
    assert!(
        lt_flows.iter().any(|f| f.contains("10.98.0.1:123")),
        "the NTP probe is not in the capture: {lt_flows:?}"
    );

    // The section comment says where the capture was taken.
    let c = comments.join("\n");
    assert!(c.contains("role: test-client"), "{c}");
    assert!(
        c.contains(&format!("version: lagtap {}", env!("CARGO_PKG_VERSION"))),
        "{c}"
    );
    assert!(c.contains("clock: "), "{c}");

    // The statistics block closes the file: everything received was written, no drops.
    let [recv, ifdrop, osdrop, written] = isb_counters(&lt_path).expect("an ISB at the end");
    assert_eq!((ifdrop, osdrop), (0, 0));
    assert_eq!(written as usize, n);
    assert!(recv as usize >= n);
}

#[test]
fn a_sigkilled_capture_is_readable_up_to_its_last_flush() {
    require_testbed!();
    let net = Net::new();
    let (lt, lt_path) = net.lagtap_capture("killed.pcapng", &[]);
    net.fetch(2);
    // Packets are flushed at least every second.
    std::thread::sleep(Duration::from_millis(1500));
    let flushed_len = std::fs::metadata(&lt_path).unwrap().len();
    signal(&lt, "-KILL");
    let (ok, _) = finish(lt);
    assert!(!ok);
    let n = tshark_count(&lt_path);
    assert!(
        n > 20,
        "only {n} packets readable after SIGKILL ({flushed_len} bytes)"
    );
    let (packets, anomalies, flows, _) = inspect(&lt_path);
    assert_eq!(packets as usize, n);
    assert_eq!(anomalies, serde_json::json!({}), "{anomalies}");
    assert_eq!(
        flows.iter().filter(|f| f.contains(":8080")).count(),
        2,
        "{flows:?}"
    );
    assert!(
        isb_counters(&lt_path).is_none(),
        "a killed capture has no ISB"
    );
}

#[test]
fn duration_packets_and_rotation_end_and_split_captures() {
    require_testbed!();
    let net = Net::new();
    // --packets: stops by itself after exactly N packets.
    let (lt, path) = net.lagtap_capture("counted.pcapng", &["--packets", "10"]);
    net.fetch(1);
    let (ok, stderr) = finish(lt);
    assert!(ok, "{stderr}");
    assert_eq!(tshark_count(&path), 10);

    // --rotate-time with --duration: numbered files, each valid and closed.
    let (lt, base) = net.lagtap_capture(
        "rot.pcapng",
        &[
            "--rotate-time",
            "1",
            "--duration",
            "2.5",
            "--ntp",
            "10.98.0.1",
            "--ntp-interval",
            "0.5",
        ],
    );
    net.fetch(1);
    let (ok, stderr) = finish(lt);
    assert!(ok, "{stderr}");
    assert!(!base.exists(), "rotation writes numbered files only");
    let mut total = 0;
    for i in 1..=3 {
        let p = net.dir.join(format!("rot-{i:05}.pcapng"));
        assert!(p.exists(), "{} missing: {stderr}", p.display());
        let n = tshark_count(&p);
        let (packets, anomalies, _, comments) = inspect(&p);
        assert_eq!(packets as usize, n);
        assert_eq!(anomalies, serde_json::json!({}));
        assert!(comments.join("\n").contains("role: test-client"));
        assert!(isb_counters(&p).is_some(), "{} has no ISB", p.display());
        total += n;
    }
    assert!(!net.dir.join("rot-00004.pcapng").exists());
    // NTP probes every 0.5 s for 2.5 s: at least four requests.
    assert!(total >= 4 + 20, "{total} packets in the rotated files");
}

#[test]
fn keylog_secrets_go_into_the_capture_and_decrypt_it_alone() {
    require_testbed!();
    if !tools::require("openssl", "an HTTPS server for the --keylog capture") {
        return;
    }
    let mut net = Net::new();
    net.https_server();
    let keys = net.dir.join("client-secrets.txt");
    let keys_arg = keys.to_str().unwrap().to_string();
    let (lt, path) =
        net.lagtap_capture_filtered("tls.pcapng", "tcp port 8443", &["--keylog", &keys_arg]);
    for _ in 0..2 {
        assert!(net.fetch_https(Some(&keys)), "curl over HTTPS failed");
    }
    // Longer than the key log poll interval, so the last secrets are written.
    std::thread::sleep(Duration::from_millis(800));
    signal(&lt, "-INT");
    let (ok, stderr) = finish(lt);
    assert!(ok, "lagtap capture failed: {stderr}");
    assert!(!stderr.contains("key log blocks 0"), "{stderr}");
    // The capture alone (the key file is elsewhere, under another name) decrypts.
    let found = lagtap::capture::secrets::tls_key_logs(&path).unwrap();
    assert!(!found.is_empty());
    let events = lagtap::decode::decode_file(&path, "client").unwrap().events;
    let mut sessions = 0;
    let mut blobs = 0;
    for e in &events {
        match e {
            lagtap::events::Event::TlsSession(t) => {
                sessions += 1;
                assert_eq!(t.keys, "found");
                assert_eq!(t.undecrypted, [0, 0]);
            }
            lagtap::events::Event::HttpExchange(x) => {
                assert_eq!((x.uri.as_str(), x.status), ("/blob.bin", Some(200)));
                assert_eq!(x.body_bytes, 600_000);
                blobs += 1;
            }
            _ => {}
        }
    }
    assert_eq!((sessions, blobs), (2, 2));
}

/// A small tmpfs mounted for one test, unmounted on drop (also when the test fails),
/// before `Net` removes the directory it sits in.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(net: &Net, size: &str) -> SmallDisk {
        let dir = net.dir.join("small");
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "lagtap-test"])
            .arg(&dir));
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Captures HTTP downloads onto a 2 MiB tmpfs until lagtap stops for the full disk:
/// (exit status, stderr, packets lagtap says it wrote).
fn capture_until_the_disk_is_full(net: &Net, name: &str, extra: &[&str]) -> (i32, String, u64) {
    let path = net.dir.join("small").join(name);
    let mut child = net
        .exec(&net.cli)
        .arg(LAGTAP)
        .args(["capture", "-i", &net.iface, "-f", "tcp port 8080", "-w"])
        .arg(&path)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Attached once the header is on disk (with rotation, in the first numbered file).
    wait_for_file(&if extra.iter().any(|a| a.starts_with("--rotate")) {
        net.dir
            .join("small")
            .join(name.replace(".pcapng", "-00001.pcapng"))
    } else {
        path.clone()
    });
    let start = Instant::now();
    // Each download is about 650 kB on the wire, so four fill the disk; lagtap stops
    // by itself, within a flush interval of the disk filling.
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("lagtap capture did not stop on a full disk within 60 s");
        }
        let _ = net.fetch_ok();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let written = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("lagtap capture: ")?
                .split_once(" packets (")?
                .0
                .parse::<u64>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no packet count in: {stderr}"));
    (out.status.code().unwrap_or(-1), stderr, written)
}

fn capinfos_count(path: &Path) -> u64 {
    let out = run(Command::new("capinfos").args(["-M", "-c"]).arg(path));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Number of packets:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("capinfos: {text}"))
}

/// The one message a full disk gives: it names the file and the cause, once.
fn assert_one_disk_full_message(stderr: &str) {
    let msgs: Vec<&str> = stderr.lines().filter(|l| l.contains("disk full")).collect();
    assert_eq!(msgs.len(), 1, "{stderr}");
    assert!(msgs[0].contains("stopped early"), "{stderr}");
    assert!(msgs[0].contains("No space left on device"), "{stderr}");
    assert!(msgs[0].contains("exit status 3"), "{stderr}");
}

#[test]
fn a_full_disk_ends_the_capture_with_a_valid_file_that_says_what_was_lost() {
    require_testbed!();
    if !tools::require("capinfos", "capinfos reads the file a full disk cut short") {
        return;
    }
    let net = Net::new();
    let disk = SmallDisk::mount(&net, "2m");
    let (code, stderr, written) = capture_until_the_disk_is_full(&net, "full.pcapng", &[]);
    assert_eq!(code, 3, "{stderr}");
    assert_one_disk_full_message(&stderr);
    let path = disk.0.join("full.pcapng");
    // Most of the 2 MiB holds packets: the file ends where the disk did.
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 1_500_000, "only {len} bytes written: {stderr}");
    // (Packets on a veth are offloaded segments of up to 64 kB, about 10 kB here.)
    assert!(written > 100, "{stderr}");
    // Every tool reads it to its end, and finds what lagtap said it wrote.
    assert_eq!(capinfos_count(&path), written);
    assert_eq!(tshark_count(&path) as u64, written);
    let (packets, anomalies, _, _) = inspect(&path);
    assert_eq!(packets, written);
    assert_eq!(anomalies, serde_json::json!({}), "{anomalies}");
    // The statistics block still fits (room was reserved for it) and says it all.
    let [recv, _, _, delivered] = isb_counters(&path).expect("a statistics block");
    assert_eq!(delivered, written);
    assert!(recv >= written);
    let comment = isb_comment(&path).unwrap();
    assert!(comment.contains(&format!("written {written}")), "{comment}");
    assert!(comment.contains("not written "), "{comment}");
    // The reserved room is given back.
    assert!(std::fs::metadata(&path).unwrap().len() == len);
}

#[test]
fn rotation_goes_on_to_the_next_file_until_the_disk_is_full() {
    require_testbed!();
    if !tools::require(
        "capinfos",
        "capinfos reads rotated files a full disk cut short",
    ) {
        return;
    }
    let net = Net::new();
    let disk = SmallDisk::mount(&net, "2m");
    let (code, stderr, written) =
        capture_until_the_disk_is_full(&net, "rot.pcapng", &["--rotate-size", "0.4"]);
    assert_eq!(code, 3, "{stderr}");
    assert_one_disk_full_message(&stderr);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&disk.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // 2 MiB of files of 0.4 MB and up to a batch (256 KiB) more: at least two
    // rotated on their size, and the one the disk cut short.
    assert!(files.len() >= 3, "{files:?}");
    let mut total = 0;
    for (i, f) in files.iter().enumerate() {
        assert_eq!(*f, disk.0.join(format!("rot-{:05}.pcapng", i + 1)));
        let n = capinfos_count(f);
        assert_eq!(tshark_count(f) as u64, n);
        let comment =
            isb_comment(f).unwrap_or_else(|| panic!("{} has no ISB: {stderr}", f.display()));
        let [_, _, _, delivered] = isb_counters(f).unwrap();
        total += n;
        // Counters run from the start: each block counts this and earlier files.
        assert_eq!(delivered, total, "{}", f.display());
        let last = i + 1 == files.len();
        assert_eq!(comment.contains("not written"), last, "{comment}");
        if !last {
            let len = std::fs::metadata(f).unwrap().len();
            assert!(len >= 400_000, "{} has {len} bytes", f.display());
        }
    }
    assert_eq!(total, written, "{stderr}");
}
