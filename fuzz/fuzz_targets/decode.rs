#![no_main]
//! Arbitrary bytes as a capture file through the whole of `lagtap decode`, as
//! `lagtap::fuzzing::decode` describes. Seeds: fuzz/seeds/decode.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lagtap::fuzzing::decode(data));
