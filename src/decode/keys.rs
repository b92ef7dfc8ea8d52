//! Where a capture's TLS secrets come from: `--keylog FILE` (any number, for every
//! input), a key log beside the capture (`host.pcap` + `host.keys` or
//! `host.keylog`), and Decryption Secrets Blocks inside a pcapng file. All are NSS
//! key log text; a secret is used wherever it was found.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tls_decrypt::KeyLog;

use super::host_name;

/// Reads the `--keylog` files (a missing or unreadable one is an error: it was
/// asked for by name).
pub fn read_keylogs(files: &[PathBuf]) -> anyhow::Result<KeyLog> {
    let mut k = KeyLog::new();
    for f in files {
        let text = std::fs::read(f).with_context(|| format!("--keylog {}", f.display()))?;
        k.add(&f.display().to_string(), &text);
    }
    Ok(k)
}

/// The key log files lagtap picks up beside a capture.
pub fn beside(capture: &Path) -> Vec<PathBuf> {
    named(
        capture.parent().unwrap_or(Path::new("")),
        &host_name(capture),
    )
}

/// `dir/<name>.keys` and `dir/<name>.keylog`, those that exist.
fn named(dir: &Path, name: &str) -> Vec<PathBuf> {
    ["keys", "keylog"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .filter(|p| p.is_file())
        .collect()
}

/// Every secret for one capture: `given` (the `--keylog` files), the key logs
/// beside it, and its Decryption Secrets Blocks.
pub fn for_capture(capture: &Path, given: &KeyLog) -> Arc<KeyLog> {
    for_timeline(&[capture.to_path_buf()], &host_name(capture), given)
}

/// Every secret for a host's capture files (one, or a timeline of rotated files):
/// `given`, the key logs beside each file and beside the host (`<dir>/<host>.keys`,
/// for rotated files named `<host>_00001_...`), and every file's Decryption Secrets
/// Blocks.
pub fn for_timeline(files: &[PathBuf], host: &str, given: &KeyLog) -> Arc<KeyLog> {
    let mut k = given.clone();
    let mut seen = std::collections::BTreeSet::new();
    for f in files.iter().filter(|f| f.as_os_str() != "-") {
        let dir = f.parent().unwrap_or(Path::new(""));
        for key_file in beside(f).into_iter().chain(named(dir, host)) {
            if seen.insert(key_file.clone()) {
                if let Ok(text) = std::fs::read(&key_file) {
                    k.add(&key_file.display().to_string(), &text);
                }
            }
        }
        // A file that cannot be walked has no usable blocks; reading it for packets
        // will say what is wrong with it.
        if let Ok(blocks) = crate::capture::secrets::tls_key_logs(f) {
            for (n, b) in blocks.iter().enumerate() {
                k.add(&format!("{} DSB #{}", f.display(), n + 1), b);
            }
        }
    }
    Arc::new(k)
}

/// The `undecodable` reason of a TLS flow the key log had no secrets for.
pub const NO_KEYS: &str = "tls: no keys (the key log has no secrets for it)";

/// How many flows of a decode summary's `undecodable` had no keys.
pub fn flows_without_keys(undecodable: &std::collections::BTreeMap<String, u64>) -> u64 {
    undecodable.get(NO_KEYS).copied().unwrap_or(0)
}

/// What to tell a user whose capture has TLS flows without keys.
pub fn no_keys_note(host: &str, flows: u64) -> String {
    format!(
        "{host}: {flows} TLS flow(s) had no keys and were not decrypted. Capture with \
         SSLKEYLOGFILE=FILE set for the client (browsers, curl, Python's ssl and GnuTLS \
         write it), then pass --keylog FILE, put it beside the capture as {host}.keys, or \
         embed it with editcap --inject-secrets tls,FILE"
    )
}
