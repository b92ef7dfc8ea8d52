//! External programs the tests compare lagtap with (tshark, ffprobe, chromium, ...),
//! and how a test that needs one behaves where it is missing. See docs/testing.md.
//!
//! - [`require`] says whether a program is on `PATH`. Where it is not, the check that
//!   needed it is skipped, and a `SKIP` line in the summary the test binary prints on
//!   stderr at exit says so; written past the test harness's output capture, it shows
//!   without `--nocapture`.
//! - In CI (`CI` set and not `false`/`0`), where everything is installed, a missing
//!   program fails the test instead, unless `LAGTAP_TEST_ALLOW_MISSING=1` (the CI step
//!   that hides the programs on purpose).
//!
//! Shared by every test crate of the workspace: `tests/common/mod.rs` declares it, the
//! parser crates' tests and lagtap's unit tests include it with `#[path]`.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The prefix of every skip line (what `.ci/run` counts).
pub const SKIP_PREFIX: &str = "SKIP ";

/// Whether a missing program fails the test (CI) rather than skipping the check.
pub fn strict() -> bool {
    let set = |name: &str| {
        std::env::var(name)
            .map(|v| !matches!(v.trim(), "" | "0" | "false" | "no"))
            .unwrap_or(false)
    };
    set("CI") && !set("LAGTAP_TEST_ALLOW_MISSING")
}

/// The Debian package that provides `program` (what to `apt-get install`).
pub fn package_of(program: &str) -> &str {
    match program {
        "tshark" | "capinfos" | "editcap" | "mergecap" | "dumpcap" => "tshark",
        "ffmpeg" | "ffprobe" => "ffmpeg",
        "chromium" | "chromium-browser" => "chromium",
        "ip" => "iproute2",
        "ntpdig" => "ntpsec-ntpdig",
        "ntpdate" => "ntpsec-ntpdate",
        "chronyd" | "chronyc" => "chrony",
        other => other,
    }
}

/// Where `program` is: a path containing `/` if it exists, else the first executable
/// file of that name in a `PATH` directory.
pub fn find(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Whether `program` is on `PATH`. If not, `check` (what the caller would have
/// verified with it, e.g. "reassembled streams against tshark's") is reported as
/// skipped, or the test fails in CI.
pub fn require(program: &str, check: &str) -> bool {
    if find(program).is_some() {
        return true;
    }
    missing(
        check,
        &format!(
            "needs {program}, which is not on PATH (Debian package {})",
            package_of(program)
        ),
    );
    false
}

/// The first of `programs` (alternative names of one program) that is on `PATH`;
/// `None` after reporting `check` as skipped (or failing, in CI).
pub fn require_any(programs: &[&str], check: &str) -> Option<PathBuf> {
    if let Some(p) = programs.iter().find_map(|p| find(p)) {
        return Some(p);
    }
    missing(
        check,
        &format!(
            "needs {}, none of which is on PATH (Debian package {})",
            programs.join(" or "),
            package_of(programs[0])
        ),
    );
    None
}

/// Run a program the test has [`require`]d and return what it printed. Once the
/// program is there, not starting or exiting non-zero is a test failure, with its
/// stderr.
pub fn output(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} did not start: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether this test runs as root (uid 0): the testbed's network namespaces, tc and
/// captures need it.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Whether a Python the testbed would use (the first `python3` on PATH, else Debian's
/// `/usr/bin/python3`, as testbed.sh picks) can import the h2 package.
fn python_has_h2() -> bool {
    ["python3", "/usr/bin/python3"].iter().any(|py| {
        Command::new(py)
            .args(["-c", "import h2"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The testbed's programs a fresh run drives (docs/testbed.md lists the packages).
pub const TESTBED_PROGRAMS: &[&str] = &[
    "ip", "tc", "ss", "nginx", "ffmpeg", "ffprobe", "chronyd", "ntpdig", "tcpdump", "dumpcap",
    "editcap", "tshark", "python3",
];

/// A fresh run of testbed scenario `scenario` into a new temporary directory, made
/// for `check`: `None` (the check skipped, or failed in CI) where the testbed cannot
/// run here: not root, or one of its programs missing. The caller removes the
/// directory when done with it.
pub fn testbed_run(scenario: &str, check: &str) -> Option<PathBuf> {
    if !is_root() {
        missing(
            check,
            "not root: the testbed's network namespaces need root",
        );
        return None;
    }
    let absent = TESTBED_PROGRAMS
        .iter()
        .filter(|p| !require(p, check))
        .count();
    if absent > 0 || require_any(&["inspircd", "ngircd"], check).is_none() {
        return None;
    }
    // tls and lowlatency have an HTTP/2 viewer (python3-h2) and a certificate.
    if matches!(scenario, "tls" | "lowlatency") {
        if !require("openssl", check) {
            return None;
        }
        if !python_has_h2() {
            missing(
                check,
                "no python3 that can import h2 (apt-get install python3-h2)",
            );
            return None;
        }
    }
    // The repository root: lagtap's own manifest directory, or a workspace
    // member's parent.
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("captures/testbed/testbed.sh"))
        .find(|s| s.exists())?;
    let out = std::env::temp_dir().join(format!("lagtap-{scenario}-{}", std::process::id()));
    output(Command::new(script).arg(scenario).arg(&out));
    Some(out)
}

/// A prerequisite CI provides is missing: fail in CI, else skip `check` visibly.
pub fn missing(check: &str, why: &str) {
    if strict() {
        panic!(
            "{check}: {why}; CI installs everything the tests use, so this is a failure \
             (LAGTAP_TEST_ALLOW_MISSING=1 turns it into a skip)"
        );
    }
    skip(check, why);
}

/// Report `check` of the running test as skipped: a line
/// `SKIP <package>/<test binary>::<test>: <check>: <why>` (once per test and check)
/// in the summary this test binary prints on stderr when it exits, after the
/// harness's `test result:` line. The summary is written to the stderr handle itself,
/// which the harness does not capture (it captures only `print!`/`eprint!`), so it
/// shows in a plain `cargo test`; written at exit, it cannot land inside the lines
/// the harness prints while tests run in parallel.
pub fn skip(check: &str, why: &str) {
    let line = format!("{SKIP_PREFIX}{}: {check}: {why}\n", test_name());
    {
        let mut skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
        if skipped.contains(&line) {
            return;
        }
        skipped.push(line.clone());
    }
    static AT_EXIT: OnceLock<bool> = OnceLock::new();
    // SAFETY: atexit(3) only stores the pointer of a function that takes and returns
    // nothing and lives as long as the program.
    let registered = *AT_EXIT.get_or_init(|| unsafe { atexit(print_skipped) } == 0);
    if !registered {
        // No summary at exit: say it now rather than never.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
}

/// The skip summary, run by `exit` once the harness has printed its results (also
/// when tests failed: the harness exits through `exit` then too).
extern "C" fn print_skipped() {
    let skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    if skipped.is_empty() {
        return;
    }
    let text = format!(
        "\n{} check(s) of {} skipped for want of a program or input (docs/testing.md):\n{}",
        skipped.len(),
        concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_CRATE_NAME")),
        skipped.concat()
    );
    // One write of the whole summary.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `<package>/<test binary>::<test>`: the harness runs each test on a thread named
/// after it.
fn test_name() -> String {
    let binary = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_CRATE_NAME"));
    match std::thread::current().name() {
        Some(name) if name != "main" => format!("{binary}::{name}"),
        _ => binary.to_string(),
    }
}
