#![no_main]
//! One connection's bytes, split and interleaved as `http_parser::fuzzing::session`
//! describes. Seeds: `cargo test -p http-parser --test session -- --ignored`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| http_parser::fuzzing::session(data));
