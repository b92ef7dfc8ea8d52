#![no_main]
//! Arbitrary bytes as a capture file, read whole, in pieces and gzip-compressed, as
//! `lagtap::fuzzing::capture` describes. Seeds: fuzz/seeds/capture.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lagtap::fuzzing::capture(data));
