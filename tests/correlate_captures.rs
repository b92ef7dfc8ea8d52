//! `lagtap correlate` on the testbed's real captures (captures/*), against the
//! ground truth the hosts' own programs logged (truth.json).

#[path = "common/tools.rs"]
mod tools;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lagtap::correlate::{correlate, CorrelateOptions, Correlation, HostEvents};
use serde_json::Value;

/// A bundled scenario by name, or any run directory by absolute path.
fn scenario_dir(name: &str) -> PathBuf {
    if Path::new(name).is_absolute() {
        return PathBuf::from(name);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

fn truth(name: &str) -> Value {
    let text = std::fs::read_to_string(scenario_dir(name).join("truth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Decode every capture of a scenario (host = file stem) and correlate them.
fn run(name: &str, opts: &CorrelateOptions) -> Correlation {
    let mut hosts = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(scenario_dir(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    entries.sort();
    for path in entries {
        let host = path.file_stem().unwrap().to_str().unwrap().to_string();
        let events = lagtap::decode::decode_file(&path, &host).unwrap().events;
        hosts.push(HostEvents {
            name: host,
            file: path.display().to_string(),
            events,
        });
    }
    correlate(hosts, opts)
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap()
}

/// Epoch seconds with up to 9 decimals, as tshark prints them, to ns exactly.
fn epoch_ns(s: &str) -> i64 {
    let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<9}");
    secs.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

/// PRIVMSG texts in one capture, read by tshark: (text → capture time of the line's
/// last byte) for lines this host received and (text → first byte) for lines it
/// sent.
type LineTimes = (HashMap<String, i64>, HashMap<String, i64>);
fn tshark_chat(capture: &Path, own_ip: &str) -> LineTimes {
    let out = tools::output(
        std::process::Command::new("tshark")
            .args([
                "-r",
                capture.to_str().unwrap(),
                "-Y",
                "tcp.port==6667 && tcp.len>0",
            ])
            .args([
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
                "-e",
                "ip.src",
                "-e",
                "ip.dst",
            ])
            .args([
                "-e",
                "tcp.srcport",
                "-e",
                "tcp.dstport",
                "-e",
                "tcp.payload",
            ]),
    );
    let mut buffers: HashMap<String, (Vec<u8>, Option<i64>)> = HashMap::new();
    let (mut sent, mut received) = (HashMap::new(), HashMap::new());
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 6 {
            continue;
        }
        let t = epoch_ns(f[0]);
        let payload: Vec<u8> = (0..f[5].len() / 2)
            .map(|i| u8::from_str_radix(&f[5][2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let key = format!("{}:{}>{}:{}", f[1], f[3], f[2], f[4]);
        let outgoing = f[1] == own_ip;
        let (buf, first) = buffers.entry(key).or_default();
        if buf.is_empty() {
            *first = Some(t);
        }
        buf.extend_from_slice(&payload);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = buf.drain(..=end).collect();
            let text = String::from_utf8_lossy(&raw).trim_end().to_string();
            let rest = text
                .strip_prefix("PRIVMSG ")
                .or_else(|| text.split_once(" PRIVMSG ").map(|(_, r)| r));
            if let Some(rest) = rest {
                if let Some((_, body)) = rest.split_once(" :") {
                    if outgoing {
                        sent.insert(body.to_string(), first.unwrap_or(t));
                    } else {
                        received.insert(body.to_string(), t);
                    }
                }
            }
            *first = if buf.is_empty() { None } else { Some(t) };
        }
    }
    (sent, received)
}

/// Every chat message is matched at every receiver; its latency is within 0.05 ms
/// of the same lines' times read by tshark, and within 1 ms of the clients' logs
/// unless the receiving client read the line late (the capture has it earlier than
/// `recv()` returned: application delay, not a measurement error). Returns how many
/// samples were late reads. Without tshark (outside CI) the wire times are not
/// compared, and a late read is only required to be late (lagtap's latency below the
/// log's), not shown by tshark to be the wire's.
fn check_messaging(name: &str, c: &Correlation, t: &Value) -> usize {
    let samples: HashMap<(&str, &str), &lagtap::correlate::messaging::MessageSample> = c
        .messaging
        .samples
        .iter()
        .map(|s| ((s.text.as_str(), s.receiver.as_str()), s))
        .collect();
    let mut wire: HashMap<String, LineTimes> = HashMap::new();
    let have_tshark = tools::require(
        "tshark",
        "chat latencies against tshark's wire times (late reads by the clients accepted unconfirmed)",
    );
    for h in c.hosts.iter().filter(|_| have_tshark) {
        let Some(ip) = &h.address else { continue };
        wire.insert(h.name.clone(), tshark_chat(Path::new(&h.file), ip));
    }
    let clock = |host: &str| &c.hosts.iter().find(|h| h.name == host).unwrap().clock;
    let mut expected = 0;
    let mut late_reads = 0;
    for m in t["chat"].as_array().unwrap() {
        let text = m["text"].as_str().unwrap();
        let sender = m["sender"].as_str().unwrap();
        let send = i(&m["send_ns"]);
        for (receiver, r) in m["receivers"].as_object().unwrap() {
            expected += 1;
            let s = samples
                .get(&(text, receiver.as_str()))
                .unwrap_or_else(|| panic!("{name}: {text:?} at {receiver} not matched"));
            if let (Some(ws), Some(wr)) = (wire.get(sender), wire.get(receiver.as_str())) {
                let sent = clock(sender).to_ref(ws.0[text]);
                let recv = clock(receiver).to_ref(wr.1[text]);
                let diff = (s.latency_ns - (recv - sent)).abs();
                assert!(
                    diff <= 50_000,
                    "{name}: {text:?} → {receiver}: {} ns vs tshark {} ns",
                    s.latency_ns,
                    recv - sent
                );
            }
            let truth_latency = i(&r["recv_ns"]) - send;
            let diff = s.latency_ns - truth_latency;
            if diff.abs() >= 1_000_000 {
                // Only a late read by the receiving client may exceed 1 ms (with
                // tshark: one whose wire times tshark confirmed above).
                assert!(
                    diff < 0 && (wire.contains_key(receiver.as_str()) || !have_tshark),
                    "{name}: {text:?} → {receiver}: {} ns vs log {truth_latency} ns",
                    s.latency_ns,
                );
                eprintln!(
                    "{name}: {text:?} → {receiver}: read {} ms late",
                    -diff / 1_000_000
                );
                late_reads += 1;
            }
        }
    }
    assert_eq!(
        c.messaging.samples.len(),
        expected,
        "{name}: {:?}",
        c.messaging.unmatched
    );
    late_reads
}

/// The logs agree within 1 ms for at least 95% of the samples (the rest: late reads).
fn check_messaging_strict(name: &str, c: &Correlation, t: &Value) {
    let late = check_messaging(name, c, t);
    let n = c.messaging.samples.len();
    assert!(
        late * 20 <= n,
        "{name}: {late} of {n} beyond 1 ms of the logs"
    );
}

/// Each segment's first-frame sample is within 20 ms of log truth: the viewer's
/// `done_ns` − the broadcaster's `sent_ns` of the same frame (by broadcaster,
/// channel and FLV timestamp, which the RTMP timestamp equals).
fn check_segments(c: &Correlation, t: &Value) -> usize {
    let sent: HashMap<(&str, &str, u64), i64> = t["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let key = (
                f["host"].as_str().unwrap(),
                f["channel"].as_str().unwrap(),
                f["flv_ts_ms"].as_u64().unwrap(),
            );
            (key, i(&f["sent_ns"]))
        })
        .collect();
    let done: HashMap<(&str, String, u64), i64> = t["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == 200)
        .map(|s| {
            (
                (
                    s["viewer"].as_str().unwrap(),
                    s["channel"].as_str().unwrap().to_string(),
                    s["seq"].as_u64().unwrap(),
                ),
                i(&s["done_ns"]),
            )
        })
        .collect();
    // The log's own media-clock anchor per stream: min of sent − FLV timestamp.
    let mut anchor: HashMap<(&str, &str), i64> = HashMap::new();
    for (&(host, channel, ts), &t) in &sent {
        let a = anchor.entry((host, channel)).or_insert(i64::MAX);
        *a = (*a).min(t - ts as i64 * 1_000_000);
    }
    let mut checked = 0;
    for seg in &c.broadcast.segments {
        let key = (
            seg.viewer.as_str(),
            seg.channel.clone().unwrap(),
            seg.media_sequence.unwrap(),
        );
        let done_ns = *done
            .get(&key)
            .unwrap_or_else(|| panic!("segment {key:?} not in the viewer's log"));
        let sample = &c.broadcast.samples[seg.first_sample.expect("first frame matched")];
        assert_eq!(sample.method, "fingerprint");
        let (si, fi) = sample.tx.unwrap();
        let stream = &c.broadcast.streams[si];
        let frame_key = (
            stream.broadcaster.as_str(),
            stream.key.as_str(),
            stream.video[fi].rtmp_ts_ms as u64,
        );
        let truth_latency = done_ns - sent[&frame_key];
        let held_before_wire = sample.sent_ns - sent[&frame_key];
        let (what, ours, truth_latency) = if held_before_wire < 20_000_000 {
            ("wire", sample.latency_ns, truth_latency)
        } else {
            // The log's sent_ns is the write into the publisher's pipe: a frame the
            // relay held back (ffmpeg probes its input at stream start) is late on
            // the wire, and only the source-clock variant sees that wait. Compare it
            // with the log's own media-clock time of the frame.
            let due = anchor[&(frame_key.0, frame_key.1)] + frame_key.2 as i64 * 1_000_000;
            (
                "source-clock",
                sample.source_latency_ns.unwrap(),
                done_ns - due,
            )
        };
        assert!(
            (ours - truth_latency).abs() < 20_000_000,
            "segment {key:?}: {what} latency {ours} ns vs log {truth_latency} ns"
        );
        checked += 1;
    }
    assert_eq!(checked, done.len(), "every logged segment was seen");
    checked
}

/// Every switch is found, its latency within 20 ms of the viewer's log.
fn check_switches(c: &Correlation, t: &Value) {
    let want = t["switches"].as_array().unwrap();
    let got = &c.switching.switches;
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.viewer, w["viewer"].as_str().unwrap());
        assert_eq!(g.from, w["from"].as_str().unwrap());
        assert_eq!(g.to, w["to"].as_str().unwrap());
        let truth_latency = i(&w["first_segment_ns"]) - i(&w["start_ns"]);
        let diff = (g.first_segment_latency_ns.unwrap() - truth_latency).abs();
        assert!(
            diff < 20_000_000,
            "{} → {}: {:?} vs log {truth_latency}",
            g.from,
            g.to,
            g.first_segment_latency_ns
        );
    }
}

#[test]
fn basic_scenario_matches_the_logs() {
    let t = truth("basic");
    let c = run("basic", &CorrelateOptions::default());
    print!("{}", table(&c));
    check_messaging_strict("basic", &c, &t);
    assert!(check_segments(&c, &t) > 0);
    assert!(c.switching.switches.is_empty());
}

fn table(c: &Correlation) -> String {
    use lagtap::report::Exporter;
    let mut out = Vec::new();
    lagtap::report::table::TableExporter
        .export(c, &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn skewed_clocks_are_recovered_from_ntp_and_latencies_stay_right() {
    let t = truth("skew");
    let c = run("skew", &CorrelateOptions::default());
    for o in t["clock_offsets"].as_array().unwrap() {
        let host = o["host"].as_str().unwrap();
        let h = c.hosts.iter().find(|h| h.name == host).unwrap();
        let want = i(&o["offset_ns"]);
        let got = h.clock.offset_at(h.clock.t0_ns);
        assert!(
            (got - want).abs() < 1_000_000,
            "{host}: offset {got} ns, editcap applied {want} ns"
        );
        assert_eq!(h.clock.source, lagtap::correlate::ClockSource::Ntp);
    }
    check_messaging_strict("skew", &c, &t);
    assert!(check_segments(&c, &t) > 0);
}

#[test]
fn manual_offsets_override_ntp() {
    let mut opts = CorrelateOptions::default();
    opts.offsets.insert("broadcaster".into(), 0.25);
    opts.offsets.insert("viewer".into(), -0.18);
    let t = truth("skew");
    let c = run("skew", &opts);
    let b = c.hosts.iter().find(|h| h.name == "broadcaster").unwrap();
    assert_eq!(b.clock.source, lagtap::correlate::ClockSource::Manual);
    check_messaging_strict("skew --offset", &c, &t);
    assert!(check_segments(&c, &t) > 0);
}

#[test]
fn switch_scenario_finds_every_switch() {
    let t = truth("switch");
    let c = run("switch", &CorrelateOptions::default());
    print!("{}", table(&c));
    check_switches(&c, &t);
    check_messaging_strict("switch", &c, &t);
    assert!(check_segments(&c, &t) > 0);
}

#[test]
fn bitrates_scenario_follows_the_channels() {
    let t = truth("bitrates");
    let c = run("bitrates", &CorrelateOptions::default());
    check_switches(&c, &t);
    check_messaging_strict("bitrates", &c, &t);
    assert!(check_segments(&c, &t) > 0);
}

#[test]
fn uplink_scenario_shows_the_backlog_and_the_dropped_frames() {
    let t = truth("uplink");
    let c = run("uplink", &CorrelateOptions::default());
    print!("{}", table(&c));
    // The loaded machine's chat clients read lines up to ~200 ms after they
    // arrived; the wire times still agree with tshark's.
    check_messaging("uplink", &c, &t);
    assert!(check_segments(&c, &t) > 0);
    // Frames the OBS-like queue dropped are exactly the timestamp gaps.
    let dropped = t["dropped_frames"].as_array().unwrap().len() as u64;
    let health = &c.source_health.streams[0];
    assert_eq!(health.missing_frames, dropped);
    assert_eq!(
        health.video_frames,
        t["frames"].as_array().unwrap().len() as u64
    );
    // Backlog: the source-clock latency is never below the wire latency, and the
    // throttled steps show a backlog of seconds.
    let backlog: Vec<i64> = c
        .broadcast
        .samples
        .iter()
        .map(|s| s.source_latency_ns.unwrap() - s.latency_ns)
        .collect();
    assert!(backlog.iter().all(|&b| b >= 0));
    assert!(*backlog.iter().max().unwrap() > 1_000_000_000);
    // TCP trouble on the upload, against tshark's expert analysis of the same
    // capture: retransmitted upload segments and the ingest's zero windows.
    if !tools::require(
        "tshark",
        "upload retransmissions and zero windows against tshark's expert analysis",
    ) {
        return;
    }
    let cap = scenario_dir("uplink").join("broadcaster.pcap");
    let count = |filter: &str| -> u64 {
        let mut tshark = std::process::Command::new("tshark");
        tools::output(tshark.args(["-r", cap.to_str().unwrap(), "-Y", filter]))
            .lines()
            .count() as u64
    };
    let retx = count("tcp.analysis.retransmission && tcp.dstport == 1935 && tcp.len > 0");
    let zero = count("tcp.analysis.zero_window && tcp.srcport == 1935");
    assert_eq!(health.retransmissions, retx);
    assert_eq!(health.zero_windows, zero);
    let per_window: u64 = health
        .windows
        .iter()
        .map(|w| u64::from(w.retransmissions))
        .sum();
    assert_eq!(per_window, retx);
}

#[test]
fn a_single_viewer_capture_gives_switching_and_segment_timing_alone() {
    let t = truth("switch");
    let path = scenario_dir("switch").join("switcher.pcap");
    let events = lagtap::decode::decode_file(&path, "switcher")
        .unwrap()
        .events;
    let c = correlate(
        vec![HostEvents {
            name: "switcher".into(),
            file: path.display().to_string(),
            events,
        }],
        &CorrelateOptions::default(),
    );
    check_switches(&c, &t);
    assert_eq!(
        c.broadcast.segments.len(),
        t["segments"].as_array().unwrap().len()
    );
    assert!(c.broadcast.samples.is_empty());
}

/// CI points `LAGTAP_SCENARIO_DIRS` at a testbed run it has just made: the same
/// checks as for the bundled basic run, on captures nobody has seen before.
#[test]
fn fresh_testbed_runs_match_their_logs() {
    let Ok(dirs) = std::env::var("LAGTAP_SCENARIO_DIRS") else {
        eprintln!("NOTE: LAGTAP_SCENARIO_DIRS not set; no fresh testbed run to check");
        return;
    };
    for dir in dirs.split(':').filter(|d| !d.is_empty()) {
        let dir = std::fs::canonicalize(dir).unwrap();
        let name = dir.to_str().unwrap();
        let t = truth(name);
        let c = run(name, &CorrelateOptions::default());
        print!("{}", table(&c));
        // Every logged delivery matched, within tshark's times (it returns how many
        // the receiving client read late, which may be none).
        check_messaging(name, &c, &t);
        assert!(
            !c.messaging.samples.is_empty(),
            "{name}: no chat message matched"
        );
        assert!(check_segments(&c, &t) > 0, "{name}: no segment checked");
    }
}
