//! NTP datagrams → `ntp_exchange` events: T1/T4 are this capture's times of request
//! and reply, T2/T3 come from the reply.

use ntp_parser::{parse, Pairer};

use super::{Ctx, Decoder};
use crate::anomalies::Anomalies;
use crate::events::Event;
use crate::flow::Dir;
use crate::time::Timestamp;

#[derive(Default)]
pub struct NtpDecoder {
    pairer: Pairer,
    malformed: u64,
}

impl Decoder for NtpDecoder {
    fn feed(&mut self, _dir: Dir, _offset: u64, data: &[u8]) -> usize {
        data.len()
    }
    fn gap(&mut self, _dir: Dir, _offset: u64, _len: u64) {}
    fn end(&mut self, _dir: Dir, _offset: u64) {}

    fn datagram(&mut self, _dir: Dir, ts: Timestamp, payload: &[u8], ctx: &mut Ctx<'_>) {
        let Ok(packet) = parse(payload) else {
            self.malformed += 1;
            return;
        };
        if let Some(x) = self.pairer.push(&packet, ts.0) {
            ctx.out.push(Event::NtpExchange {
                flow: ctx.meta.id,
                client: ctx.meta.client.to_string(),
                server: ctx.meta.server.to_string(),
                t1_ns: x.request_capture_ns,
                t2_ns: x.server_receive_ns,
                t3_ns: x.server_transmit_ns,
                t4_ns: x.reply_capture_ns,
                offset_ns: x.offset_ns(),
                delay_ns: x.delay_ns(),
                stratum: x.stratum,
            });
        }
    }

    fn collect(&mut self, _ctx: &mut Ctx<'_>) {}

    fn anomalies(&self, out: &mut Anomalies) {
        out.add("ntp.malformed", self.malformed);
        for (k, v) in self.pairer.anomalies() {
            out.add(k, *v);
        }
    }

    fn undecodable(&self) -> Option<&'static str> {
        None
    }
}
