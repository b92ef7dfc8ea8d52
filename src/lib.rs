//! lagtap: latencies of crowdsourced live streaming, measured from packet captures.
//!
//! Data flows one way: capture source → link layer → flows (TCP reassembly) →
//! protocol sessions → per-host events → correlation → report. See docs/.

pub mod anomalies;
pub mod capture;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod correlate;
pub mod decode;
pub mod events;
pub mod flow;
pub mod fuzzing;
pub mod inspect;
pub mod link;
pub mod live;
pub mod pipeline;
pub mod report;
pub mod tables;
pub mod time;
