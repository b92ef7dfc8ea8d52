//! Flows: packets grouped by 5-tuple, TCP reassembled per direction, handed to a
//! consumer as timed in-order byte streams (TCP) or datagrams (UDP).

pub mod defrag;
pub mod detect;
pub mod reassembly;
pub mod seq;
pub mod table;

pub use detect::Protocol;
pub use reassembly::{Chunk, HalfStats, StreamEvent};
pub use table::{Dir, FlowHandler, FlowMeta, FlowTable, TcpEventKind, TransportKind};
