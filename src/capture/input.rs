//! Opening a capture's bytes: a file, `-` for standard input, compressed or not.
//!
//! Everything downstream reads through `Read`, so a 20 GB capture is streamed, never
//! loaded. Compression is recognised by its magic bytes, not by the file name, because
//! researchers rename files and pipe them. The formats are the ones Wireshark 4.x
//! reads: gzip, zstd and LZ4 (frame format); each decoder streams, holding at most one
//! block or window of the compressed data.
//!
//! A compressed stream that is cut short or damaged does not fail the read: the
//! decoder's error ends the bytes there (the capture reader then counts a
//! `truncated_file` as for any file cut inside a record), and the reader counts what
//! the decoder said (`compressed_stream_truncated` or `compressed_stream_corrupt`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use flate2::bufread::MultiGzDecoder;

/// A compression format lagtap reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Lz4,
}

impl Compression {
    /// The name in a capture's format (`pcapng+zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
        }
    }

    /// The format whose magic bytes start `head`, if any.
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&GZIP_MAGIC) {
            Some(Compression::Gzip)
        } else if head.starts_with(&ZSTD_MAGIC) {
            Some(Compression::Zstd)
        } else if head.starts_with(&LZ4_FRAME_MAGIC) {
            Some(Compression::Lz4)
        } else {
            None
        }
    }
}

/// What went wrong inside a compressed stream, shared between the decoder's wrapper
/// and the capture reader that counts it (the first trouble wins).
#[derive(Clone, Debug, Default)]
pub struct StreamTrouble(Arc<Mutex<Option<&'static str>>>);

impl StreamTrouble {
    fn set(&self, reason: &'static str) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(reason);
        }
    }

    /// The anomaly reason, left in place.
    pub fn peek(&self) -> Option<&'static str> {
        self.0.lock().ok().and_then(|slot| *slot)
    }

    /// The anomaly reason, once (later calls give `None`).
    pub fn take(&self) -> Option<&'static str> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Bytes of a capture plus what we learned while opening it.
pub struct Input {
    pub reader: Box<dyn Read + Send>,
    pub compression: Option<Compression>,
    /// Set when the compressed stream ended in an error (read as the end of the data).
    pub trouble: StreamTrouble,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// RFC 8878 §3.1.1: a Zstandard frame starts with 0xFD2FB528, little-endian.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// LZ4 frame format (lz4_Frame_format.md, "General Structure"): 0x184D2204,
/// little-endian.
const LZ4_FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// Bytes read from capture files so far by every reader in this process (as stored:
/// compressed bytes for a compressed file). What a progress bar measures against the
/// files' sizes; one relaxed add per read of 64 KiB or more costs nothing.
static FILE_BYTES_READ: AtomicU64 = AtomicU64::new(0);

/// The bytes of capture files read so far in this process (see [`FILE_BYTES_READ`]).
pub fn file_bytes_read() -> u64 {
    FILE_BYTES_READ.load(Ordering::Relaxed)
}

/// A file whose reads are added to [`FILE_BYTES_READ`].
struct Counted(File);

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        FILE_BYTES_READ.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens `path` (`-` = stdin), transparently decompressing gzip, zstd and LZ4.
pub fn open(path: &Path) -> io::Result<Input> {
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(Counted(File::open(path)?))
    };
    from_reader(raw)
}

/// [`open`] for a look through a file before it is read for packets (the secrets
/// pre-scan): its bytes are not counted as progress.
pub fn open_uncounted(path: &Path) -> io::Result<Input> {
    from_reader(Box::new(File::open(path)?))
}

/// Wraps any reader, sniffing for compression.
pub fn from_reader(raw: Box<dyn Read + Send>) -> io::Result<Input> {
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let head = buffered.fill_buf()?;
    if head.len() >= MAGIC_LEN || head.is_empty() {
        let compression = Compression::sniff(head);
        return decompressed(buffered, compression);
    }
    // A pipe may hand over the first bytes a few at a time: gather enough to tell.
    let mut head = Vec::with_capacity(MAGIC_LEN);
    while head.len() < MAGIC_LEN {
        let got = buffered.fill_buf()?;
        if got.is_empty() {
            break;
        }
        let n = got.len().min(MAGIC_LEN - head.len());
        head.extend_from_slice(&got[..n]);
        buffered.consume(n);
    }
    let compression = Compression::sniff(&head);
    decompressed(io::Cursor::new(head).chain(buffered), compression)
}

/// The longest magic number sniffed.
const MAGIC_LEN: usize = 4;

fn decompressed<B: BufRead + Send + 'static>(
    bytes: B,
    compression: Option<Compression>,
) -> io::Result<Input> {
    let trouble = StreamTrouble::default();
    let reader: Box<dyn Read + Send> = match compression {
        None => Box::new(bytes),
        Some(Compression::Gzip) => {
            Box::new(Guarded::new(MultiGzDecoder::new(bytes), trouble.clone()))
        }
        Some(Compression::Zstd) => Box::new(Guarded::new(
            zstd::stream::read::Decoder::with_buffer(bytes)?,
            trouble.clone(),
        )),
        Some(Compression::Lz4) => Box::new(Guarded::new(
            lz4_flex::frame::FrameDecoder::new(bytes),
            trouble.clone(),
        )),
    };
    Ok(Input {
        reader,
        compression,
        trouble,
    })
}

/// A decoder whose first error (a stream cut short, corrupt data) ends its bytes,
/// recorded in `trouble` for the capture reader to count.
struct Guarded<R> {
    inner: R,
    trouble: StreamTrouble,
    done: bool,
}

impl<R> Guarded<R> {
    fn new(inner: R, trouble: StreamTrouble) -> Self {
        Guarded {
            inner,
            trouble,
            done: false,
        }
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        loop {
            match self.inner.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    self.trouble
                        .set(if e.kind() == io::ErrorKind::UnexpectedEof {
                            "compressed_stream_truncated"
                        } else {
                            "compressed_stream_corrupt"
                        });
                    return Ok(0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe that hands over one byte per read.
    struct Trickle(io::Cursor<Vec<u8>>);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn magic_bytes_arriving_one_at_a_time_are_still_recognised() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, b"\xd4\xc3\xb2\xa1 and the rest").unwrap();
        let packed = gz.finish().unwrap();
        for (bytes, want) in [
            (packed.clone(), Some(Compression::Gzip)),
            (b"\xd4\xc3\xb2\xa1 and the rest".to_vec(), None),
            (b"\x28\xb5".to_vec(), None),
            (Vec::new(), None),
        ] {
            let mut input = from_reader(Box::new(Trickle(io::Cursor::new(bytes.clone())))).unwrap();
            assert_eq!(input.compression, want);
            let mut out = Vec::new();
            input.reader.read_to_end(&mut out).unwrap();
            if want.is_some() {
                assert_eq!(out, b"\xd4\xc3\xb2\xa1 and the rest");
            } else {
                assert_eq!(out, bytes);
            }
        }
    }
}
