#![no_main]
//! `cargo fuzz run parse fuzz/seeds` from parsers/ntp-parser.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ntp_parser::fuzz_one(data));
