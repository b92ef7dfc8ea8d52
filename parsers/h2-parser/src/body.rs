//! Where a response body goes: counted, kept (playlists; gzip undone at the end) or
//! streamed out as [`Message::BodyChunk`]s (segments).

use std::collections::VecDeque;
use std::io::Read;

use crate::{BodyChunk, BodyMode, Message, MAX_KEPT_BODY};

/// The body of one response as it arrives in DATA frames.
pub(crate) struct Sink {
    pub mode: BodyMode,
    /// Kept bytes are gzip-coded: decode them when the body ends.
    gzip: bool,
    /// Streamed chunks point into the caller's input instead of copying it.
    borrow: bool,
    kept: Vec<u8>,
    /// Body bytes so far (DATA payload without padding, lost ones included).
    pub wire_len: u64,
    /// Kept bytes were dropped (over the cap) or lost (capture gap).
    truncated: bool,
}

/// What a finished sink leaves in the response.
pub(crate) struct Finished {
    pub body: Option<Vec<u8>>,
    pub decoded_len: u64,
    pub truncated: bool,
}

impl Sink {
    pub fn new(mode: BodyMode, gzip: bool, borrow: bool) -> Sink {
        Sink {
            mode,
            gzip,
            borrow,
            kept: Vec::new(),
            wire_len: 0,
            truncated: false,
        }
    }

    /// Body bytes `data` of stream `stream_id`, the first at stream offset `at`.
    pub fn write(&mut self, stream_id: u32, at: u64, data: &[u8], out: &mut VecDeque<Message>) {
        let body_offset = self.wire_len;
        self.wire_len += data.len() as u64;
        match self.mode {
            BodyMode::Skip => {}
            BodyMode::Keep => {
                let room = MAX_KEPT_BODY.saturating_sub(self.kept.len());
                if data.len() > room {
                    self.truncated = true;
                }
                self.kept.extend_from_slice(&data[..data.len().min(room)]);
            }
            BodyMode::Stream => out.push_back(Message::BodyChunk(BodyChunk {
                id: u64::from(stream_id),
                body_offset,
                wire: at..at + data.len() as u64,
                data: if self.borrow {
                    Vec::new()
                } else {
                    data.to_vec()
                },
                in_input: self.borrow,
            })),
        }
    }

    /// `len` body bytes were lost in a capture gap.
    pub fn gap(&mut self, stream_id: u32, len: u64, out: &mut VecDeque<Message>) {
        if self.mode == BodyMode::Stream {
            out.push_back(Message::BodyGap {
                stream_id,
                body_offset: self.wire_len,
                len,
            });
        }
        self.wire_len += len;
        self.truncated = true;
    }

    pub fn finish(self) -> Finished {
        match self.mode {
            BodyMode::Keep if self.truncated => Finished {
                // A kept body with a hole or cut at the cap is not the body: give
                // none rather than something a playlist parser would misread.
                body: None,
                decoded_len: self.wire_len,
                truncated: true,
            },
            BodyMode::Keep if self.gzip => {
                let mut body = Vec::new();
                let limit = MAX_KEPT_BODY as u64 + 1;
                let ok = flate2::read::GzDecoder::new(&self.kept[..])
                    .take(limit)
                    .read_to_end(&mut body)
                    .is_ok();
                let truncated = !ok || body.len() > MAX_KEPT_BODY;
                body.truncate(MAX_KEPT_BODY);
                Finished {
                    decoded_len: body.len() as u64,
                    body: (!truncated).then_some(body),
                    truncated,
                }
            }
            BodyMode::Keep => Finished {
                decoded_len: self.wire_len,
                body: Some(self.kept),
                truncated: false,
            },
            BodyMode::Skip | BodyMode::Stream => Finished {
                body: None,
                decoded_len: self.wire_len,
                truncated: false,
            },
        }
    }
}
