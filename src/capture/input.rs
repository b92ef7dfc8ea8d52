//! Opening a capture's bytes: a file, `-` for standard input, gzip or not.
//!
//! Everything downstream reads through `Read`, so a 20 GB capture is streamed, never
//! loaded. Compression is recognised by its magic bytes, not by the file name, because
//! researchers rename files and pipe them.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

/// Bytes of a capture plus what we learned while opening it.
pub struct Input {
    pub reader: Box<dyn Read + Send>,
    pub gzip: bool,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens `path` (`-` = stdin), transparently decompressing gzip.
pub fn open(path: &Path) -> io::Result<Input> {
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path)?)
    };
    from_reader(raw)
}

/// Wraps any reader, sniffing for gzip.
pub fn from_reader(raw: Box<dyn Read + Send>) -> io::Result<Input> {
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let head = buffered.fill_buf()?;
    if head.len() >= 2 && head[..2] == GZIP_MAGIC {
        Ok(Input {
            reader: Box::new(MultiGzDecoder::new(buffered)),
            gzip: true,
        })
    } else {
        Ok(Input {
            reader: Box::new(buffered),
            gzip: false,
        })
    }
}
