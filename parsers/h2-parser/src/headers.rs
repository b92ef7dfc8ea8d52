//! Header blocks and what they do to streams: a request, a response (interim,
//! final, trailers), a server push, SETTINGS, GOAWAY, a stream reset, and when
//! a stream is done.

use super::*;

impl Session {
    /// A HEADERS or PUSH_PROMISE frame is complete: strip padding and the fields
    /// before the block fragment.
    pub(super) fn block_start(&mut self, dir: Direction, f: Frame, end: u64) {
        let half = &mut self.halves[idx(dir)];
        let p = &half.payload;
        let pad = if f.h.has(PADDED) {
            usize::from(p[0])
        } else {
            0
        };
        let lead = f.h.lead_len() as usize;
        if lead + pad > p.len() {
            return self.lose(dir, "h2.bad_padding");
        }
        let promised = (f.h.kind == PUSH_PROMISE).then(|| {
            let at = lead - 4;
            u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]) & 0x7fff_ffff
        });
        half.fragments.clear();
        half.fragments.extend_from_slice(&p[lead..p.len() - pad]);
        half.block = Some(Block {
            stream: f.h.stream,
            promised,
            end_stream: f.h.kind == HEADERS && f.h.has(END_STREAM),
            start: f.start,
        });
        if f.h.has(END_HEADERS) {
            self.block_end(dir, end);
        }
    }

    /// The header block is complete, its last frame ending at `end`: decode it
    /// (always, so the dynamic table stays right) and apply it to its stream.
    pub(super) fn block_end(&mut self, dir: Direction, end: u64) {
        let half = &mut self.halves[idx(dir)];
        let Some(block) = half.block.take() else {
            return;
        };
        let mut fields = Fields::default();
        let decoded = half.hpack.decode(&half.fragments, |n, v| fields.add(n, v));
        half.fragments.clear();
        if let Err(reason) = decoded {
            return self.lose(dir, reason);
        }
        if fields.dropped {
            self.anomaly("h2.header_list_too_long");
        }
        match (dir, block.promised) {
            (Direction::ClientToServer, _) => self.request_headers(block, fields, end),
            (Direction::ServerToClient, None) => self.response_headers(block, fields, end),
            (Direction::ServerToClient, Some(promised)) => {
                self.push_promise(block, promised, fields, end)
            }
        }
    }

    pub(super) fn new_request(&mut self, fields: Fields, start: u64, end: u64) -> Request {
        let method = fields.pseudo(":method");
        if method.is_none() {
            self.anomaly("h2.request_without_method");
        }
        Request {
            method: method.unwrap_or_default(),
            path: fields.pseudo(":path").unwrap_or_default(),
            authority: fields.pseudo(":authority"),
            scheme: fields.pseudo(":scheme"),
            protocol: fields.pseudo(":protocol"),
            headers: fields.regular,
            trailers: Vec::new(),
            start,
            head_end: end,
            end,
            body_len: 0,
            complete: true,
        }
    }

    /// Opens stream `id`, ending the oldest one if too many are open.
    pub(super) fn open(&mut self, id: u32) -> &mut Stream {
        self.open_as(id, false)
    }

    /// Opens stream `id`; `pushed`: the client's side is done from the start (a
    /// promised request has no body).
    pub(super) fn open_as(&mut self, id: u32, pushed: bool) -> &mut Stream {
        if self.streams.len() >= MAX_STREAMS && !self.streams.contains_key(&id) {
            self.anomaly("h2.too_many_streams");
            if let Some(oldest) = self.streams.keys().next().copied() {
                if let Some(s) = self.streams.get_mut(&oldest) {
                    s.end_half(C2S, None);
                    s.end_half(S2C, None);
                }
                self.close_if_done(oldest);
            }
        }
        let parity = usize::from(id % 2 == 0);
        self.max_opened[parity] = self.max_opened[parity].max(id);
        let over = self
            .halves
            .each_ref()
            .map(|h| matches!(h.state, State::Dead));
        let s = self.streams.entry(id).or_default();
        s.done[C2S] |= pushed;
        // A side that has ended or was lost sends nothing more on it.
        for (d, over) in over.into_iter().enumerate() {
            if over {
                s.end_half(d, None);
            }
        }
        s
    }

    pub(super) fn request_headers(&mut self, block: Block, fields: Fields, end: u64) {
        let id = block.stream;
        if id % 2 == 0 {
            return self.anomaly("h2.client_stream_id_even");
        }
        match self.streams.get(&id) {
            Some(s) if s.done[C2S] => return self.anomaly("h2.headers_after_end_stream"),
            Some(s) if s.request.is_some() => {
                if let Some(r) = self.streams.get_mut(&id).and_then(|s| s.request.as_mut()) {
                    r.trailers = fields.regular;
                }
                if !block.end_stream {
                    self.anomaly("h2.trailers_without_end_stream");
                }
            }
            None if id <= self.max_opened[0] => {
                return self.anomaly("h2.headers_on_closed_stream");
            }
            _ => {
                let request = self.new_request(fields, block.start, end);
                self.open(id).request = Some(request);
            }
        }
        if block.end_stream {
            if let Some(s) = self.streams.get_mut(&id) {
                s.end_half(C2S, Some(end));
            }
            self.close_if_done(id);
        }
    }

    pub(super) fn response_headers(&mut self, block: Block, fields: Fields, end: u64) {
        let id = block.stream;
        let parity = usize::from(id % 2 == 0);
        match self.streams.get(&id) {
            Some(s) if s.done[S2C] => return self.anomaly("h2.headers_after_end_stream"),
            Some(_) => {}
            // Closed already (e.g. reset by the client while this was on its way).
            None if id <= self.max_opened[parity] => return,
            None => {
                self.anomaly("h2.response_without_request");
                self.open(id);
            }
        }
        let status = fields.pseudo(":status").and_then(|s| s.parse::<u16>().ok());
        if status.is_none() && self.streams.get(&id).is_some_and(|s| s.response.is_none()) {
            self.anomaly("h2.bad_status");
        }
        let status = status.unwrap_or(0);
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if let Some(r) = &mut s.response {
            r.trailers = fields.regular;
            r.end = r.end.max(end);
            if !block.end_stream {
                count(&mut self.anomalies, "h2.trailers_without_end_stream");
            }
        } else if (100..200).contains(&status) && !block.end_stream {
            s.interim.push(status);
            return;
        } else {
            let headers = fields.regular;
            let mut response = Response {
                status,
                content_type: find(&headers, "content-type").map(str::to_string),
                content_length: find(&headers, "content-length").and_then(|v| v.parse().ok()),
                content_encoding: find(&headers, "content-encoding").map(str::to_string),
                headers,
                trailers: Vec::new(),
                start: block.start,
                head_end: end,
                body_start: None,
                body_end: None,
                end,
                body_len: 0,
                body_decoded_len: 0,
                body_mode: BodyMode::Skip,
                body: None,
                body_truncated: false,
                complete: true,
            };
            let mut mode = (self.policy)(s.request.as_ref(), &response);
            let coding = response
                .content_encoding
                .as_deref()
                .map(|c| c.trim().to_ascii_lowercase());
            let gzip = matches!(coding.as_deref(), Some("gzip" | "x-gzip"));
            let plain = matches!(coding.as_deref(), None | Some("identity"));
            if mode != BodyMode::Skip && !plain && !(gzip && mode == BodyMode::Keep) {
                count(&mut self.anomalies, "h2.unsupported_content_encoding");
                mode = BodyMode::Skip;
            }
            response.body_mode = mode;
            if mode == BodyMode::Stream {
                self.out.push_back(Message::BodyStart {
                    stream_id: id,
                    path: s.request.as_ref().map(|r| r.path.clone()),
                    content_type: response.content_type.clone(),
                });
            }
            s.sink = Some(Sink::new(mode, gzip, self.borrow));
            s.response = Some(response);
        }
        if block.end_stream {
            s.end_half(S2C, Some(end));
            self.close_if_done(id);
        }
    }

    pub(super) fn push_promise(&mut self, block: Block, promised: u32, fields: Fields, end: u64) {
        if promised == 0 || promised % 2 == 1 {
            return self.lose(Direction::ServerToClient, "h2.bad_promised_stream");
        }
        if self.streams.contains_key(&promised) || promised <= self.max_opened[1] {
            return self.anomaly("h2.promised_stream_reused");
        }
        let request = self.new_request(fields, block.start, end);
        let s = self.open_as(promised, true);
        s.request = Some(request);
        s.promised_on = Some(block.stream);
    }

    /// Applies a SETTINGS frame from `dir` to what the other direction may send.
    pub(super) fn settings(&mut self, dir: Direction) {
        let d = idx(dir);
        let payload = std::mem::take(&mut self.halves[d].payload);
        for p in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([p[0], p[1]]);
            let value = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
            match id {
                SETTINGS_HEADER_TABLE_SIZE => {
                    if value > MAX_HEADER_TABLE_SIZE {
                        self.anomaly("h2.header_table_size_capped");
                    }
                    let peer = &mut self.halves[1 - d];
                    let bound = value.min(MAX_HEADER_TABLE_SIZE);
                    // Only ever raised: the peer's encoder may still use the old
                    // size until it has seen this frame, and lowering the table is
                    // its size update's job, which the decoder follows.
                    if bound > peer.table_bound {
                        peer.table_bound = bound;
                        peer.hpack.set_bound(bound as usize);
                    }
                }
                SETTINGS_MAX_FRAME_SIZE => {
                    if !(DEFAULT_MAX_FRAME_SIZE..=FRAME_SIZE_LIMIT).contains(&value) {
                        return self.lose(dir, "h2.bad_max_frame_size");
                    }
                    // Raised only, for the same reason.
                    let peer = &mut self.halves[1 - d];
                    peer.max_frame = peer.max_frame.max(value);
                }
                _ => {}
            }
        }
        self.halves[d].payload = payload;
    }

    /// RST_STREAM or GOAWAY stopped stream `id`.
    pub(super) fn stop_stream(&mut self, id: u32, reason: End) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        s.end.get_or_insert(reason);
        s.end_half(C2S, None);
        s.end_half(S2C, None);
        self.close_if_done(id);
    }

    pub(super) fn goaway(&mut self, dir: Direction, last: u32, error_code: u32, offset: u64) {
        self.out.push_back(Message::GoAway(GoAway {
            by: dir,
            last_stream_id: last,
            error_code,
            offset,
        }));
        // The streams the receiver opened above `last` were not processed: the
        // client's (odd) ones when the server sends it, pushed (even) ones when the
        // client does.
        let theirs = match dir {
            Direction::ServerToClient => 1,
            Direction::ClientToServer => 0,
        };
        let refused: Vec<u32> = self
            .streams
            .range(last.saturating_add(1)..)
            .map(|(&id, _)| id)
            .filter(|id| id % 2 == theirs)
            .collect();
        for id in refused {
            self.stop_stream(id, End::Refused { by: dir, offset });
        }
    }

    /// Reports stream `id` if both sides are done with it.
    pub(super) fn close_if_done(&mut self, id: u32) {
        if self.streams.get(&id).is_none_or(|s| s.done != [true, true]) {
            return;
        }
        let Some(s) = self.streams.remove(&id) else {
            return;
        };
        let end = s.end.unwrap_or(if s.cut { End::Cut } else { End::Closed });
        self.out.push_back(Message::Exchange(Box::new(Exchange {
            stream_id: id,
            promised_on: s.promised_on,
            request: s.request,
            response: s.response,
            interim_statuses: s.interim,
            end,
        })));
    }
}
