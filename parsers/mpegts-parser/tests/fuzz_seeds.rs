//! The fuzz body over the real segments and deterministic pseudo-random
//! mutations of them.

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Seeds: control byte, then a segment. TS seeds are cut to 40 packets so that
/// mutations stay cheap; the fMP4 seeds are init + fragment (H.264), and the AV1 and
/// VP9 fragmented files; AV1 in MPEG-TS (ffmpeg's remux of the AV1 one).
fn seeds() -> Vec<Vec<u8>> {
    let ts = data("nginx-test-0.ts");
    let mut fmp4 = data("init.mp4");
    fmp4.extend_from_slice(&data("seg0.m4s"));
    let mut out = Vec::new();
    for control in [0x00u8, 0x02, 0x7e, 0x80] {
        let mut s = vec![control];
        s.extend_from_slice(&ts[..188 * 40]);
        out.push(s);
        let mut s = vec![control | 1];
        s.extend_from_slice(&fmp4);
        out.push(s);
    }
    let mut s = vec![0x10];
    s.extend_from_slice(&data("seg0-remux.ts"));
    out.push(s);
    // AV1 in MPEG-TS as ffmpeg muxes it (`av1`).
    out.push([&[0x00][..], &data("av1-frag-remux.ts")].concat());
    for f in ["av1-frag.mp4", "vp9-frag.mp4"] {
        out.push([&[0x01][..], &data(f)].concat());
    }
    // Low-latency fMP4 with a prft before every fragment (ffmpeg's dash muxer).
    let mut s = vec![0x03];
    s.extend_from_slice(&data("lldash-init.m4s"));
    s.extend_from_slice(&data("lldash-1.m4s"));
    out.push(s);
    out
}

#[test]
fn fuzz_body_survives_seeds_and_pseudo_random_mutations() {
    let mut state = 0x853c_49e6_748f_ea9bu64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in seeds() {
        mpegts_parser::fuzzing::demux(&seed);
        for _ in 0..300 {
            let mut m = seed.clone();
            for _ in 0..(next() % 16 + 1) {
                let i = 1 + (next() as usize) % (m.len() - 1);
                match next() % 5 {
                    0 => m[i] = next() as u8,
                    1 => m[i] = [0x47, 0x00, 0xff, 0x01, 0x40][next() as usize % 5],
                    2 => m[i] ^= 1 << (next() % 8),
                    3 if m.len() > 2 => drop(m.remove(i)),
                    _ => m.insert(i, next() as u8),
                }
            }
            mpegts_parser::fuzzing::demux(&m);
        }
    }
}

/// Writes the seed corpus for `cargo fuzz run demux` (run explicitly with
/// `--ignored`).
#[test]
#[ignore]
fn write_fuzz_seed_corpus() {
    let out = format!("{}/fuzz/corpus/demux", env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&out).unwrap();
    for (i, seed) in seeds().into_iter().enumerate() {
        std::fs::write(format!("{out}/seed{i}"), seed).unwrap();
    }
}
