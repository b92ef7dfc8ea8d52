#![no_main]
//! Arbitrary bytes as a playlist. Seeds: `mkdir -p corpus/playlist && cp
//! ../tests/data/*.m3u8 corpus/playlist/`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hls_parser::fuzzing::playlist(data));
