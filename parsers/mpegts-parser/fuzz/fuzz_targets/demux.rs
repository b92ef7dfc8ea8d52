#![no_main]
//! MPEG-TS or fMP4 bytes, as `mpegts_parser::fuzzing::demux` describes. Seeds:
//! `cargo test -p mpegts-parser --test fuzz_seeds -- --ignored`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mpegts_parser::fuzzing::demux(data));
