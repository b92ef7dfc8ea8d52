//! The cluster engine (`--features cluster`): `correlate --cluster` runs the
//! correlation units as DataFusion plans, on a Ballista scheduler and executor this
//! test starts on this machine (`standalone`), and on DataFusion alone (`local`).
//! On the Parquet dataset of every bundled scenario its report must equal the
//! embedded run's: every host's clock model and notes, every messaging, broadcast,
//! switching and source-health sample and summary, every count and warning. Equal
//! means equal, floats included: the units' results cross the cluster as JSON with
//! serde_json's exact float round trip, so no rounding is allowed for.

use std::path::{Path, PathBuf};
use std::process::Command;

use lagtap::cluster::Engine;
use lagtap::correlate::{correlate, CorrelateOptions, Correlation};

mod common;
use common::{lagtap, repo};

/// Every capture of `scenario` decoded into one Parquet dataset (a fresh directory,
/// named by `test` too: the tests run at once).
fn dataset(scenario: &str, test: &str) -> PathBuf {
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("lagtap-cluster-{test}-{scenario}-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("captures").join(scenario))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".pcap"))
        .collect();
    files.sort();
    for f in files {
        let (d, f) = (dir.to_str().unwrap(), f.to_str().unwrap());
        lagtap(&["decode", "--format", "parquet", "-o", d, f]);
    }
    dir
}

/// The dataset's hosts as `correlate` names them: (host, input).
fn hosts(dir: &Path) -> Vec<(String, String)> {
    let collected = lagtap::correlate::input::collect(&[dir.to_path_buf()], &[]).unwrap();
    collected
        .inputs
        .iter()
        .map(|i| (i.host.clone(), i.describe()))
        .collect()
}

/// The embedded run on the dataset (what `correlate DIR` does).
fn embedded(dir: &Path, opts: &CorrelateOptions) -> Correlation {
    let collected = lagtap::correlate::input::collect(&[dir.to_path_buf()], &[]).unwrap();
    let keylog = lagtap::decode::keys::read_keylogs(&[]).unwrap();
    let events =
        lagtap::correlate::input::decode_all_jobs(&collected.inputs, &keylog, None).unwrap();
    correlate(events, opts)
}

/// Part by part, so a difference names where it is rather than printing two reports.
fn assert_same(what: &str, cluster: &Correlation, embedded: &Correlation) {
    assert_eq!(cluster.hosts, embedded.hosts, "{what}: hosts");
    assert_eq!(cluster.warnings, embedded.warnings, "{what}: warnings");
    let (m, e) = (&cluster.messaging, &embedded.messaging);
    assert_eq!(
        m.samples.len(),
        e.samples.len(),
        "{what}: messaging samples"
    );
    for (a, b) in m.samples.iter().zip(&e.samples) {
        assert_eq!(a, b, "{what}: a messaging sample");
    }
    assert_eq!(m, e, "{what}: messaging summaries and counts");
    let (b, e) = (&cluster.broadcast, &embedded.broadcast);
    assert_eq!(
        b.samples.len(),
        e.samples.len(),
        "{what}: broadcast samples"
    );
    for (x, y) in b.samples.iter().zip(&e.samples) {
        assert_eq!(x, y, "{what}: a broadcast sample");
    }
    assert_eq!(b.segments, e.segments, "{what}: broadcast segments");
    assert_eq!(b.players, e.players, "{what}: player sessions");
    assert_eq!(b.streams, e.streams, "{what}: published streams");
    assert_eq!(b, e, "{what}: broadcast summaries and counts");
    assert_eq!(cluster.switching, embedded.switching, "{what}: switching");
    assert_eq!(
        cluster.source_health, embedded.source_health,
        "{what}: source health"
    );
    assert_eq!(cluster, embedded, "{what}");
}

#[test]
fn ballista_standalone_and_datafusion_report_what_the_embedded_run_does() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // One Ballista (scheduler and executor in this process) for every scenario.
    let standalone = runtime
        .block_on(lagtap::cluster::context(&Engine::Standalone))
        .unwrap();
    let local = runtime
        .block_on(lagtap::cluster::context(&Engine::Local))
        .unwrap();
    let mut opts = CorrelateOptions::default();
    for scenario in ["basic", "bitrates", "skew", "switch", "uplink", "tls"] {
        let dir = dataset(scenario, "engines");
        let hosts = hosts(&dir);
        let want = embedded(&dir, &opts);
        // Not an empty comparison: every scenario has broadcast samples, basic and
        // tls chat too.
        assert!(!want.broadcast.samples.is_empty(), "{scenario}");
        if scenario == "basic" || scenario == "tls" {
            assert!(!want.messaging.samples.is_empty(), "{scenario}");
        }
        for (name, ctx) in [("ballista", &standalone), ("datafusion", &local)] {
            let got = runtime
                .block_on(lagtap::cluster::correlate_on(ctx, &dir, &hosts, &opts))
                .unwrap();
            assert_same(&format!("{scenario} on {name}"), &got, &want);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Options travel with the units: an offset overriding NTP, K for every viewer,
    // grouping by channel.
    let dir = dataset("switch", "options");
    let hosts = hosts(&dir);
    opts.offsets.insert("switcher".into(), 0.25);
    opts.startup_segments = Some(2);
    opts.group_by = lagtap::correlate::GroupBy::Channel;
    let want = embedded(&dir, &opts);
    let got = runtime
        .block_on(lagtap::cluster::correlate_on(
            &standalone,
            &dir,
            &hosts,
            &opts,
        ))
        .unwrap();
    assert_same("switch with options on ballista", &got, &want);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn correlate_cluster_standalone_prints_the_embedded_report() {
    let dir = dataset("basic", "cli");
    let d = dir.to_str().unwrap();
    let embedded = lagtap(&["correlate", "--json", d]);
    let cluster = lagtap(&["correlate", "--json", "--cluster", "standalone", d]);
    assert_eq!(
        String::from_utf8_lossy(&cluster),
        String::from_utf8_lossy(&embedded)
    );
    // Captures are not a dataset: said, not attempted.
    let basic = repo().join("captures/basic/desktop.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .args(["correlate", "--cluster", "local", basic.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("one Parquet event dataset"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A free TCP port on the loopback (and the one after it free too: an executor
/// listens on both).
fn free_port() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// A child process killed when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_cluster_of_lagtap_scheduler_and_executor_processes_reports_what_the_embedded_run_does() {
    let dir = dataset("switch", "remote");
    let d = dir.to_str().unwrap();
    let quiet = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lagtap"));
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let scheduler = format!("127.0.0.1:{}", free_port());
    let _scheduler = Running(
        quiet()
            .args(["cluster-scheduler", "--bind", &scheduler])
            .spawn()
            .unwrap(),
    );
    let executor = format!("127.0.0.1:{}", free_port());
    let _executor = Running(
        quiet()
            .args(["cluster-executor", "--scheduler", &scheduler])
            .args(["--bind", &executor, "--vcores", "2"])
            .spawn()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(&scheduler).is_err() {
        assert!(
            started.elapsed().as_secs() < 60,
            "the scheduler did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let embedded = lagtap(&["correlate", "--json", d]);
    let url = format!("df://{scheduler}");
    let cluster = lagtap(&["correlate", "--json", "--cluster", &url, d]);
    assert_eq!(
        String::from_utf8_lossy(&cluster),
        String::from_utf8_lossy(&embedded)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
