//! The fuzz target's body over seeds made from the test captures, and over
//! pseudo-random mutations of them: no panic, offsets always consistent, and the
//! unmutated seeds decrypt.

mod common;

#[test]
fn fuzz_body_survives_seeds_and_pseudo_random_mutations() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in [
        "tls12-aes128gcm",
        "tls12-chacha20",
        "tls13-aes128gcm",
        "tls13-chacha20",
    ] {
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
