//! Runs the fuzz target's body over the committed seeds (fuzz/seeds) and
//! deterministic mutations of them, so every `cargo test` fuzzes a little without
//! nightly or cargo-fuzz; and holds the HPACK decoder to loona-hpack's on every
//! header block of the real capture and on mutations of them. `--ignored
//! write_seeds` remakes the seeds from the capture.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// splitmix64: deterministic, so a failing iteration reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four edits: flip a bit, set a byte, cut the tail, repeat a slice,
/// insert a byte.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if at < v.len() => v[at] ^= 1 << rng.below(8),
            1 if at < v.len() => v[at] = rng.next() as u8,
            2 => v.truncate(at),
            3 => {
                let from = rng.below(v.len() + 1);
                let piece: Vec<u8> = v[from..(from + rng.below(64)).min(v.len())].to_vec();
                v.splice(at..at, piece);
            }
            _ => v.insert(at, rng.next() as u8),
        }
    }
    v
}

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
}

fn seeds() -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(seeds_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn the_fuzz_body_survives_the_seeds_and_their_mutations() {
    let seeds = seeds();
    assert!(seeds.len() >= 6);
    for seed in &seeds {
        h2_parser::fuzzing::session(seed);
    }
    let mut rng = Rng(0x6832_7061_7273_6572);
    for i in 0..1500 {
        let seed = &seeds[rng.below(seeds.len())];
        let mut input = mutate(&mut rng, seed);
        // Vary the control byte too: piece size, gaps, preface, borrowing.
        if let Some(c) = input.first_mut() {
            *c = rng.next() as u8;
        }
        let run = std::panic::catch_unwind(|| h2_parser::fuzzing::session(&input));
        assert!(
            run.is_ok(),
            "iteration {i}: input {:02x?}",
            &input[..input.len().min(64)]
        );
    }
}

/// The header blocks of one direction, in order: HEADERS and PUSH_PROMISE
/// fragments (padding, priority and promised id removed) joined with their
/// CONTINUATIONs.
fn header_blocks(stream: &[u8], skip: usize) -> Vec<Vec<u8>> {
    let mut blocks = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    for (at, len, kind, flags, _) in frames(stream, skip) {
        let p = &stream[at + 9..at + 9 + len];
        let fragment = match kind {
            1 | 5 => {
                let pad = if flags & 0x8 != 0 {
                    usize::from(p[0])
                } else {
                    0
                };
                let lead = usize::from(flags & 0x8 != 0)
                    + if kind == 1 && flags & 0x20 != 0 { 5 } else { 0 }
                    + if kind == 5 { 4 } else { 0 };
                &p[lead..p.len() - pad]
            }
            9 => p,
            _ => continue,
        };
        open.get_or_insert_with(Vec::new)
            .extend_from_slice(fragment);
        if flags & 0x4 != 0 {
            blocks.push(open.take().unwrap());
        }
    }
    blocks
}

fn loona(bound: usize, blocks: &[&[u8]]) -> Vec<Option<Vec<h2_parser::fuzzing::RawField>>> {
    let mut d = loona_hpack::Decoder::new();
    d.set_max_allowed_table_size(bound);
    let mut out = Vec::new();
    for b in blocks {
        let mut fields = Vec::new();
        let ok = d.decode_with_cb(b, |n, v| fields.push((n.to_vec(), v.to_vec())));
        out.push(ok.is_ok().then_some(fields));
        if ok.is_err() {
            break;
        }
    }
    out
}

#[test]
fn hpack_decodes_every_real_header_block_as_loona_hpack_does() {
    let mut count = 0;
    let mut all = Vec::new();
    for conn in connections() {
        for (dir, skip) in [(C2S, 24), (S2C, 0)] {
            let blocks = header_blocks(&conn.stream(dir), skip);
            let refs: Vec<&[u8]> = blocks.iter().map(|b| &b[..]).collect();
            let ours = h2_parser::fuzzing::hpack(65_536, &refs);
            assert_eq!(ours, loona(65_536, &refs));
            assert!(ours.iter().all(Option::is_some));
            count += blocks.len();
            // Mutations leave out nghttp's 18 KB blocks (conn 0's requests):
            // loona-hpack takes tens of milliseconds per such block.
            if blocks.iter().all(|b| b.len() < 4096) {
                all.push(blocks);
            }
        }
    }
    assert_eq!(count, 39);
    // Mutations of one block of a direction: where both decoders accept a block,
    // they give the same fields (and neither panics).
    let mut rng = Rng(7);
    let mut agreed = 0;
    for _ in 0..3000 {
        let blocks = &all[rng.below(all.len())];
        if blocks.is_empty() {
            continue;
        }
        let mut blocks = blocks.clone();
        let k = rng.below(blocks.len());
        blocks[k] = mutate(&mut rng, &blocks[k]);
        let refs: Vec<&[u8]> = blocks.iter().map(|b| &b[..]).collect();
        let (ours, theirs) = (h2_parser::fuzzing::hpack(8192, &refs), loona(8192, &refs));
        for (a, b) in ours.iter().zip(&theirs) {
            match (a, b) {
                (Some(a), Some(b)) => {
                    assert_eq!(a, b);
                    agreed += 1;
                }
                _ => break,
            }
        }
    }
    assert!(agreed > 3000, "{agreed}");
}

#[test]
#[ignore = "writes fuzz/seeds from the capture"]
fn write_seeds() {
    let dir = seeds_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (n, conn) in connections().iter().enumerate() {
        let (c2s, s2c) = (conn.stream(C2S), conn.stream(S2C));
        // At most 20 KB of each direction: whole small connections, the start of
        // the big ones (conn 0's first header block and CONTINUATION are 18.6 KB).
        let (c, s) = (&c2s[..c2s.len().min(20_000)], &s2c[..s2c.len().min(20_000)]);
        let seed = h2_parser::fuzzing::seed(c, s);
        std::fs::write(dir.join(format!("conn{n}")), &seed).unwrap();
        // The same with one-byte pieces, gaps, and borrowing.
        let mut other = seed.clone();
        other[0] = 0xc0;
        std::fs::write(dir.join(format!("conn{n}-gaps-borrow")), other).unwrap();
    }
}
