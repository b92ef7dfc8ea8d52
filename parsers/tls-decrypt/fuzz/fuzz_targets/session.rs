#![no_main]
//! One TLS connection's bytes, split and interleaved as
//! `tls_decrypt::fuzzing::session` describes, decrypted with the test captures'
//! key logs. Seeds: `tls_decrypt::fuzzing::seed` of the test captures
//! (tests/fuzz_body.rs makes them).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tls_decrypt::fuzzing::session(data));
