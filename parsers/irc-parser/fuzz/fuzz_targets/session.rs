#![no_main]
//! `cargo fuzz run session fuzz/corpus/session fuzz/seeds` from parsers/irc-parser.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| irc_parser::fuzz_one(data));
