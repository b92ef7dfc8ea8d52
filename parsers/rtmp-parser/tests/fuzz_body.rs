//! Runs the fuzz target's body (`rtmp_parser::fuzz::session`) over the seed corpus
//! and over a few thousand deterministic mutations of it, so CI exercises what the
//! fuzzer checks without needing nightly or libFuzzer. Crashes the real fuzzer
//! found are kept below as named regression tests.

use rtmp_parser::fuzz::session;

const SEEDS: &[&[u8]] = &[
    include_bytes!("../fuzz/seeds/publish_c2s_head"),
    include_bytes!("../fuzz/seeds/publish_s2c"),
    include_bytes!("../fuzz/seeds/play_c2s"),
    include_bytes!("../fuzz/seeds/play_s2c_head"),
    include_bytes!("../fuzz/seeds/publish_c2s_chunks"),
    include_bytes!("../fuzz/seeds/play_s2c_chunks"),
    // Enhanced RTMP headers of every kind, built from the spec in tests/enhanced.rs.
    include_bytes!("../fuzz/seeds/enhanced_c2s"),
];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte flips, interesting values, insertions, deletions and duplicated ranges,
/// the mutations libFuzzer leans on.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(8) {
        let len = data.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = [0x00, 0xff, 0x7f, 0x80, 0xc3, 0x03, 0x02, 0x01][rng.below(8)];
            }
            2 => {
                let i = rng.below(len + 1);
                data.insert(i, rng.next() as u8);
            }
            3 if len > 1 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(64)) + 1;
                data.drain(i..i + n);
            }
            4 if len > 1 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(256)) + 1;
                let copy = data[i..i + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, copy);
            }
            _ if len > 4 => {
                // A 24-bit length/timestamp field set to its extremes.
                let i = rng.below(len - 3);
                let v = [0x00, 0xff][rng.below(2)];
                data[i..i + 3].fill(v);
            }
            _ => {}
        }
    }
}

#[test]
fn fuzz_body_accepts_every_seed() {
    for seed in SEEDS {
        session(seed);
    }
}

#[test]
fn fuzz_body_survives_thousands_of_deterministic_mutations() {
    let mut rng = Rng(0x005e_ed1a_97a9);
    for _ in 0..3000 {
        let seed = SEEDS[rng.below(SEEDS.len())];
        // Short prefixes keep this fast in debug builds; the chunk-layer seeds start
        // right after the handshake, so mutations hit headers early.
        let mut data = seed[..seed.len().min(600 + rng.below(3000))].to_vec();
        mutate(&mut rng, &mut data);
        session(&data);
    }
}

/// Found by cargo-fuzz in its first second: a mutated `objectEncoding` became a NaN
/// AMF number, and the harness compared events with `==`, where NaN != NaN. The
/// decoder was right; the harness now compares events as text.
#[test]
fn fuzz_regression_nan_amf_number_decodes_the_same_whole_and_in_pieces() {
    session(include_bytes!("data/fuzz-regressions/nan-amf-number"));
}
