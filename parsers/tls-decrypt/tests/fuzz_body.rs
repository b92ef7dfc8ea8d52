//! The fuzz target's body over seeds made from the test captures, and over
//! pseudo-random mutations of them: no panic, offsets always consistent, and the
//! unmutated seeds decrypt.

mod common;

/// The test connections (tests/data), one per version and cipher suite.
const CONNECTIONS: [&str; 4] = [
    "tls12-aes128gcm",
    "tls12-chacha20",
    "tls13-aes128gcm",
    "tls13-chacha20",
];

#[test]
fn fuzz_body_survives_seeds_and_pseudo_random_mutations() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in CONNECTIONS {
        let seed = tls_decrypt::fuzzing::seed(&common::segments(name));
        tls_decrypt::fuzzing::session(&seed);
        for _ in 0..300 {
            let mut m = seed.clone();
            for _ in 0..(next() % 8 + 1) {
                let i = (next() as usize) % m.len();
                match next() % 4 {
                    0 => m[i] = next() as u8,
                    1 => m[i] = [0u8, 3, 0x14, 0x16, 0x17, 0xff][(next() % 6) as usize],
                    2 => drop(m.remove(i)),
                    _ => m.insert(i, next() as u8),
                }
            }
            if next() % 3 == 0 {
                m[0] = next() as u8;
            }
            tls_decrypt::fuzzing::session(&m);
        }
    }
}

/// Writes the seed corpus for `cargo fuzz run session` (fuzz/corpus/session, where
/// `fuzz/run-campaigns.sh` takes it from): the four test connections as
/// `tls_decrypt::fuzzing::seed` frames them, so the fuzzer starts from records that
/// decrypt. Run explicitly: `cargo test -p tls-decrypt --test fuzz_body -- --ignored`.
#[test]
#[ignore]
fn write_fuzz_seed_corpus() {
    let out = format!("{}/fuzz/corpus/session", env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&out).unwrap();
    for name in CONNECTIONS {
        let seed = tls_decrypt::fuzzing::seed(&common::segments(name));
        std::fs::write(format!("{out}/{name}"), seed).unwrap();
    }
}
