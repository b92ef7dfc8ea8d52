//! What unit tests of the capture and link layers read: the bundled captures, and a
//! small deterministic PRNG (xorshift64) for damaging them reproducibly.

use std::path::{Path, PathBuf};

/// Every pcap and pcapng file under `captures/`, in path order.
pub fn bundled_captures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        for file in std::fs::read_dir(entry.unwrap().path())
            .into_iter()
            .flatten()
        {
            let path = file.unwrap().path();
            if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(out.len() > 5, "captures/ holds too few captures");
    out
}

/// xorshift64 from `seed` (not zero).
pub fn rng(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
