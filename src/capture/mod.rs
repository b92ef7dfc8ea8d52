//! Capture sources: files (pcap, pcapng, gzip/zstd/lz4, stdin) and, behind the `live` feature,
//! interfaces.

pub mod input;
pub mod reader;
pub mod secrets;
#[cfg(test)]
pub(crate) mod testdata;
pub mod timeline;

pub use reader::{link_type_name, CaptureError, CaptureInfo, CaptureReader, Packet};
