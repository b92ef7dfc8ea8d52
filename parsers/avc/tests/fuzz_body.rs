//! Runs the fuzz target's body (`avc::fuzz::nal`) over the seeds and deterministic
//! mutations, so CI exercises it without nightly.

use avc::fuzz::nal;

const SEEDS: &[&[u8]] = &[
    include_bytes!("../fuzz/seeds/keyframe_avcc"),
    include_bytes!("../fuzz/seeds/inter_avcc"),
    include_bytes!("../fuzz/seeds/inter_av1_obus"),
    include_bytes!("../fuzz/seeds/pic_timing_annexb"),
];

#[test]
fn fuzz_body_accepts_every_seed() {
    for seed in SEEDS {
        nal(seed);
    }
}

#[test]
fn fuzz_body_survives_thousands_of_deterministic_mutations() {
    let mut x: u64 = 0x00c0_ffee;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let seed = SEEDS[(next() % SEEDS.len() as u64) as usize];
        let mut data = seed[..seed.len().min(64 + (next() % 1200) as usize)].to_vec();
        for _ in 0..1 + next() % 6 {
            let i = (next() % data.len().max(1) as u64) as usize;
            match next() % 4 {
                0 if !data.is_empty() => data[i] = 0,
                1 if !data.is_empty() => data[i] ^= 1 << (next() % 8),
                2 => data.splice(i..i, [0, 0, 1]).for_each(drop),
                _ => data.splice(i..i, [0, 0, 3]).for_each(drop),
            }
        }
        nal(&data);
    }
}
