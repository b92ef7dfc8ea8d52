#![no_main]
//! Both directions of one connection, whole and in pieces, as
//! `h2_parser::fuzzing::session` describes (frames, HPACK, streams, gaps, borrowed
//! bodies). Seeds: fuzz/seeds, cut from tests/data/h2c.pcap.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| h2_parser::fuzzing::session(data));
