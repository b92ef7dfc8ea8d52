//! Where body bytes go: a [`Sink`] per body counts, keeps or streams them (undoing
//! gzip when asked), and the [`Emitter`] queues the messages and counts anomalies.

use super::*;

/// Receives body bytes: counts, keeps or streams them, undoing gzip when needed.
pub(super) struct Sink {
    pub(super) id: u64,
    pub(super) mode: BodyMode,
    /// Streamed chunks without content coding point into the caller's input.
    pub(super) borrow: bool,
    pub(super) gzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    pub(super) kept: Vec<u8>,
    pub(super) decoded: u64,
    pub(super) truncated: bool,
}

impl Sink {
    pub(super) fn new(id: u64, mode: BodyMode, gzip: bool, borrow: bool) -> Sink {
        let gzip =
            (gzip && mode != BodyMode::Skip).then(|| flate2::write::GzDecoder::new(Vec::new()));
        Sink {
            id,
            mode,
            borrow,
            gzip,
            kept: Vec::new(),
            decoded: 0,
            truncated: false,
        }
    }

    pub(super) fn cap(&self) -> u64 {
        match self.mode {
            BodyMode::Keep => MAX_KEPT_BODY as u64,
            _ => MAX_STREAMED_DECODED,
        }
    }

    /// Takes wire body bytes `data` that started at s2c offset `wire_start`.
    pub(super) fn write(&mut self, wire_start: u64, data: &[u8], out: &mut Emitter) {
        if self.mode == BodyMode::Skip {
            self.decoded += data.len() as u64;
            return;
        }
        if self.gzip.is_none() {
            if self.truncated && self.mode == BodyMode::Keep {
                self.decoded += data.len() as u64;
                return;
            }
            let wire = wire_start..wire_start + data.len() as u64;
            if self.borrow && self.mode == BodyMode::Stream {
                self.deliver_in_input(wire, out);
            } else {
                self.deliver(wire, data, out);
            }
            return;
        }
        for (i, piece) in data.chunks(GZIP_STEP).enumerate() {
            let start = wire_start + (i * GZIP_STEP) as u64;
            let Some(gz) = self.gzip.as_mut() else { return };
            if gz.write_all(piece).is_err() {
                out.anomaly("http.gzip_error");
                self.stop_decoding();
                return;
            }
            let decoded = std::mem::take(gz.get_mut());
            self.deliver(start..start + piece.len() as u64, &decoded, out);
            if self.decoded > self.cap() {
                if self.mode == BodyMode::Stream {
                    out.anomaly("http.gzip_too_large");
                }
                self.stop_decoding();
                return;
            }
        }
    }

    pub(super) fn stop_decoding(&mut self) {
        self.gzip = None;
        self.truncated = true;
    }

    /// A streamed chunk whose bytes are the caller's input at `wire`.
    pub(super) fn deliver_in_input(&mut self, wire: Range<u64>, out: &mut Emitter) {
        let len = wire.end - wire.start;
        if len == 0 {
            return;
        }
        let body_offset = self.decoded;
        self.decoded += len;
        out.push(Message::BodyChunk(BodyChunk {
            id: self.id,
            body_offset,
            wire,
            data: Vec::new(),
            in_input: true,
        }));
    }

    pub(super) fn deliver(&mut self, wire: Range<u64>, data: &[u8], out: &mut Emitter) {
        if data.is_empty() {
            return;
        }
        let body_offset = self.decoded;
        self.decoded += data.len() as u64;
        match self.mode {
            BodyMode::Skip => {}
            BodyMode::Keep => {
                let room = MAX_KEPT_BODY - self.kept.len();
                if data.len() > room {
                    self.truncated = true;
                }
                self.kept.extend_from_slice(&data[..data.len().min(room)]);
            }
            BodyMode::Stream => out.push(Message::BodyChunk(BodyChunk {
                id: self.id,
                body_offset,
                wire,
                data: data.to_vec(),
                in_input: false,
            })),
        }
    }

    /// The body ended: flush the decoder.
    pub(super) fn finish(&mut self, wire_end: u64, complete: bool, out: &mut Emitter) {
        if let Some(mut gz) = self.gzip.take() {
            match gz.try_finish() {
                Ok(()) => {
                    let rest = std::mem::take(gz.get_mut());
                    self.deliver(wire_end..wire_end, &rest, out);
                }
                Err(_) => {
                    if complete {
                        out.anomaly("http.gzip_error");
                    }
                    self.truncated = true;
                }
            }
        }
    }
}

/// Output queue and anomaly counters, kept apart from the decoder states so both
/// can be borrowed at once.
#[derive(Default)]
pub(super) struct Emitter {
    pub(super) messages: VecDeque<Message>,
    pub(super) anomalies: Vec<(&'static str, u64)>,
}

impl Emitter {
    pub(super) fn push(&mut self, message: Message) {
        self.messages.push_back(message);
    }

    pub(super) fn anomaly(&mut self, reason: &'static str) {
        match self.anomalies.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.anomalies.push((reason, 1)),
        }
    }
}
