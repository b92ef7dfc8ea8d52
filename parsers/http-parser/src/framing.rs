//! Message-body framing of HTTP/1.x (RFC 9112 §6 and §7.1): Content-Length,
//! chunked transfer coding and close-delimited bodies.
//!
//! Written by hand because the crates that implement chunked decoding own the
//! socket or buffer the body; a passive observer needs a step function that reports
//! which input bytes are body data and which are framing, without copying.

use crate::{MAX_CHUNK_LINE, MAX_CONTENT_LENGTH};

/// How the end of a body is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length`: this many body bytes remain.
    Length { remaining: u64 },
    /// `Transfer-Encoding: chunked`, at the given place in the chunk grammar.
    Chunked(Chunk),
    /// No length: the body runs until the connection closes (responses only).
    Close,
}

/// Where the chunked decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Expecting `chunk-size [ chunk-ext ] CRLF`.
    Size,
    /// Inside chunk data, this many bytes left.
    Data { remaining: u64 },
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last (zero-size) chunk: trailer fields until an empty line.
    Trailer,
}

/// The outcome of one framing step over the start of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The first `n` input bytes are body data (consumed).
    Body(usize),
    /// The first `n` input bytes are framing (chunk lines, CRLFs), consumed.
    Framing(usize),
    /// `n` framing bytes consumed and the body is complete.
    Done(usize),
    /// Nothing can be decided without more input.
    More,
    /// The bytes break the grammar; the reason is an anomaly name.
    Bad(&'static str),
}

impl Framing {
    /// Advances over the start of `input`. Call repeatedly until `More`.
    pub(crate) fn step(&mut self, input: &[u8]) -> Step {
        match self {
            Framing::Length { remaining } => {
                if *remaining == 0 {
                    return Step::Done(0);
                }
                let n = take(remaining, input.len());
                if n == 0 {
                    Step::More
                } else {
                    Step::Body(n)
                }
            }
            Framing::Close => {
                if input.is_empty() {
                    Step::More
                } else {
                    Step::Body(input.len())
                }
            }
            Framing::Chunked(chunk) => chunk_step(chunk, input),
        }
    }

    /// Skips `len` lost bytes if they fall inside body data whose extent is known.
    /// Returns false if the loss touches framing (then sync is lost).
    pub(crate) fn skip_gap(&mut self, len: u64) -> bool {
        match self {
            Framing::Length { remaining } | Framing::Chunked(Chunk::Data { remaining })
                if *remaining >= len =>
            {
                *remaining -= len;
                if let Framing::Chunked(c) = self {
                    if matches!(c, Chunk::Data { remaining: 0 }) {
                        *c = Chunk::DataEnd;
                    }
                }
                true
            }
            Framing::Close => true,
            _ => false,
        }
    }
}

/// Takes up to `available` bytes out of `remaining`.
fn take(remaining: &mut u64, available: usize) -> usize {
    let n = usize::try_from(*remaining).map_or(available, |r| r.min(available));
    *remaining -= n as u64;
    n
}

/// Finds one line (up to and including LF) at the start of `input`, capped.
fn line(input: &[u8]) -> Result<Option<usize>, &'static str> {
    let window = &input[..input.len().min(MAX_CHUNK_LINE)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) => Ok(Some(i + 1)),
        None if input.len() >= MAX_CHUNK_LINE => Err("http.chunk_line_too_long"),
        None => Ok(None),
    }
}

fn chunk_step(chunk: &mut Chunk, input: &[u8]) -> Step {
    match *chunk {
        Chunk::Size => {
            let len = match line(input) {
                Ok(Some(len)) => len,
                Ok(None) => return Step::More,
                Err(reason) => return Step::Bad(reason),
            };
            match parse_chunk_size(&input[..len]) {
                Some(0) => *chunk = Chunk::Trailer,
                Some(size) => *chunk = Chunk::Data { remaining: size },
                None => return Step::Bad("http.bad_chunk_size"),
            }
            Step::Framing(len)
        }
        Chunk::Data { mut remaining } => {
            let n = take(&mut remaining, input.len());
            *chunk = if remaining == 0 {
                Chunk::DataEnd
            } else {
                Chunk::Data { remaining }
            };
            if n == 0 {
                Step::More
            } else {
                Step::Body(n)
            }
        }
        Chunk::DataEnd => match input {
            [] | [b'\r'] => Step::More,
            [b'\r', b'\n', ..] => {
                *chunk = Chunk::Size;
                Step::Framing(2)
            }
            // Bare LF: tolerated, as most servers and clients do.
            [b'\n', ..] => {
                *chunk = Chunk::Size;
                Step::Framing(1)
            }
            _ => Step::Bad("http.bad_chunk_end"),
        },
        Chunk::Trailer => match line(input) {
            Ok(Some(len)) => {
                let content = &input[..len];
                if content == b"\r\n" || content == b"\n" {
                    Step::Done(len)
                } else {
                    Step::Framing(len)
                }
            }
            Ok(None) => Step::More,
            Err(reason) => Step::Bad(reason),
        },
    }
}

/// Parses `chunk-size [ BWS ; chunk-ext ] CRLF` (RFC 9112 §7.1.1): hex digits, then
/// optional whitespace and extensions, which are ignored.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let v = (b as char).to_digit(16)? as u64;
        size = size.checked_mul(16)?.checked_add(v)?;
    }
    if size > MAX_CONTENT_LENGTH {
        return None;
    }
    let rest = &line[digits..];
    let rest = rest
        .strip_suffix(b"\n")
        .map(|r| r.strip_suffix(b"\r").unwrap_or(r))?;
    let after_ws = rest.iter().skip_while(|&&b| b == b' ' || b == b'\t');
    match after_ws.clone().next() {
        None | Some(b';') => Some(size),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(framing: &mut Framing, input: &[u8]) -> (Vec<u8>, Option<usize>) {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            match framing.step(&input[pos..]) {
                Step::Body(n) => {
                    body.extend_from_slice(&input[pos..pos + n]);
                    pos += n;
                }
                Step::Framing(n) => pos += n,
                Step::Done(n) => return (body, Some(pos + n)),
                Step::More => return (body, None),
                Step::Bad(r) => panic!("{r}"),
            }
        }
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers_decodes_as_rfc_9112_says() {
        // RFC 9112 §7.1: chunk-size in hex, optional `;ext`, data, CRLF; last-chunk
        // `0`, then trailer fields and the final CRLF.
        let wire = b"4;name=value\r\nWiki\r\n5\r\npedia\r\nE \r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\nNEXT";
        let mut f = Framing::Chunked(Chunk::Size);
        let (body, end) = run(&mut f, wire);
        assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(end, Some(wire.len() - 4));
    }

    #[test]
    fn chunk_size_that_overflows_is_rejected() {
        assert_eq!(parse_chunk_size(b"fffffffffffffffffff\r\n"), None);
        assert_eq!(parse_chunk_size(b"10000000001\r\n"), None);
        assert_eq!(parse_chunk_size(b"1a\r\n"), Some(26));
        assert_eq!(parse_chunk_size(b"zz\r\n"), None);
        assert_eq!(parse_chunk_size(b"1 x\r\n"), None);
    }

    #[test]
    fn chunk_line_longer_than_the_cap_is_an_error_not_a_wait() {
        let mut f = Framing::Chunked(Chunk::Size);
        let long = vec![b'1'; MAX_CHUNK_LINE + 1];
        assert_eq!(f.step(&long), Step::Bad("http.chunk_line_too_long"));
    }
}
