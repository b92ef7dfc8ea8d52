//! Handshake messages out of a direction's handshake records, plaintext or
//! decrypted: reassembled across records (RFC 8446 §5.1 lets a message span many),
//! the few lagtap reads kept whole, the rest skipped without buffering.

/// Largest message kept whole: hellos and EncryptedExtensions are far smaller;
/// a larger one of those kinds is counted and skipped.
const MAX_KEPT: usize = 64 * 1024;

pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
pub const END_OF_EARLY_DATA: u8 = 5;
pub const ENCRYPTED_EXTENSIONS: u8 = 8;
pub const FINISHED: u8 = 20;
pub const KEY_UPDATE: u8 = 24;

/// Whether lagtap reads messages of this type (else they are skipped).
fn kept(ty: u8) -> bool {
    matches!(
        ty,
        CLIENT_HELLO
            | SERVER_HELLO
            | END_OF_EARLY_DATA
            | ENCRYPTED_EXTENSIONS
            | FINISHED
            | KEY_UPDATE
    )
}

#[derive(Default, Debug)]
pub struct Reader {
    buf: Vec<u8>,
    /// Body bytes of a skipped message still to come.
    skip: usize,
    pub oversized: u64,
}

impl Reader {
    /// Adds the payload of one handshake record; calls `msg(type, body)` for every
    /// message kept that is now complete (skipped messages are reported with an
    /// empty body once their header is seen).
    pub fn push(&mut self, mut data: &[u8], mut msg: impl FnMut(u8, &[u8])) {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                if self.skip > 0 {
                    return;
                }
            }
            if self.buf.is_empty() && data.len() >= 4 {
                // Fast path: whole messages straight from the record.
                let len = u32::from_be_bytes([0, data[1], data[2], data[3]]) as usize;
                let ty = data[0];
                if !kept(ty) || len > MAX_KEPT {
                    self.oversized += u64::from(kept(ty));
                    msg(ty, &[]);
                    self.skip = len;
                    data = &data[4..];
                    continue;
                }
                if data.len() >= 4 + len {
                    msg(ty, &data[4..4 + len]);
                    data = &data[4 + len..];
                    continue;
                }
            }
            if data.is_empty() {
                return;
            }
            self.buf.extend_from_slice(data);
            if self.buf.len() < 4 {
                return;
            }
            let len = u32::from_be_bytes([0, self.buf[1], self.buf[2], self.buf[3]]) as usize;
            let ty = self.buf[0];
            if !kept(ty) || len > MAX_KEPT {
                self.oversized += u64::from(kept(ty));
                msg(ty, &[]);
                let have = self.buf.len() - 4;
                let rest = std::mem::take(&mut self.buf);
                if have > len {
                    self.push(&rest[4 + len..], msg);
                } else {
                    self.skip = len - have;
                }
                return;
            }
            if self.buf.len() >= 4 + len {
                let rest = std::mem::take(&mut self.buf);
                msg(ty, &rest[4..4 + len]);
                self.push(&rest[4 + len..], msg);
            }
            return;
        }
    }

    /// Forget a partial message (the stream lost sync).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.skip = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(parts: &[&[u8]]) -> Vec<(u8, Vec<u8>)> {
        let mut r = Reader::default();
        let mut out = Vec::new();
        for p in parts {
            r.push(p, |t, b| out.push((t, b.to_vec())));
        }
        out
    }

    #[test]
    fn messages_split_over_records_and_records_with_many_messages() {
        let msgs = [
            &[1u8, 0, 0, 3, 9, 9, 9][..],
            &[11, 0, 0, 5, 1, 2, 3, 4, 5],
            &[20, 0, 0, 2, 7, 7],
        ]
        .concat();
        let whole = collect(&[&msgs]);
        assert_eq!(
            whole,
            vec![(1, vec![9, 9, 9]), (11, vec![]), (20, vec![7, 7])]
        );
        for cut in 0..msgs.len() {
            assert_eq!(
                collect(&[&msgs[..cut], &msgs[cut..]]),
                whole,
                "cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = msgs.chunks(1).collect();
        assert_eq!(collect(&bytes), whole);
    }
}
