//! TLS key logs embedded in a pcapng file as Decryption Secrets Blocks (what
//! `editcap --inject-secrets tls,KEYS` and `lagtap capture --keylog` write).
//!
//! A block may sit anywhere in the file, also after the packets it decrypts (a
//! live capture writes a secret when the client logs it, just after the
//! handshake), so decoding first walks the file's block headers for them: one
//! sequential read that skips every other block's body. Wireshark reads them in
//! its first pass too; tshark without `-2` only applies those read before the
//! packets they decrypt.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::input;

const SHB: u32 = 0x0A0D_0D0A;
const DSB: u32 = 0x0000_000A;
/// `secrets_type` of a TLS key log (`TLSK`).
const TLS_KEY_LOG: u32 = 0x544c_534b;
/// Largest secrets block read (a key log of thousands of sessions is < 1 MiB).
const MAX_DSB: u32 = 16 << 20;

/// Reads exactly `buf.len()` bytes, or says the file ended (`Ok(false)`).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => return Ok(false),
            k => n += k,
        }
    }
    Ok(true)
}

/// Skips `n` bytes: by seeking in a plain file, by reading otherwise.
trait Skip {
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

impl Skip for BufReader<File> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        self.seek_relative(n as i64)
    }
}

impl Skip for Box<dyn Read + Send> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        io::copy(&mut self.take(n), &mut io::sink()).map(|_| ())
    }
}

/// The TLS key logs of every Decryption Secrets Block in the file, in file order.
/// Not a pcapng, standard input, or a file cut short: what was found so far.
pub fn tls_key_logs(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    if path.as_os_str() == "-" {
        return Ok(Vec::new());
    }
    let input = input::open_uncounted(path)?;
    if input.compression.is_some() {
        walk(input.reader)
    } else {
        walk(BufReader::with_capacity(1 << 20, File::open(path)?))
    }
}

fn walk<R: Read + Skip>(mut r: R) -> io::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut head = [0u8; 12];
    if !read_full(&mut r, &mut head)?
        || u32::from_le_bytes(head[..4].try_into().unwrap_or_default()) != SHB
    {
        return Ok(out);
    }
    // The section's byte order, from its magic.
    let mut big = head[8..12] == [0x1A, 0x2B, 0x3C, 0x4D];
    let u32_of = |b: &[u8], big: bool| {
        let a: [u8; 4] = b.try_into().unwrap_or_default();
        if big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    let mut len = u32_of(&head[4..8], big);
    let mut rest = u64::from(len).saturating_sub(12);
    loop {
        if len < 12 || len % 4 != 0 {
            return Ok(out);
        }
        r.skip(rest)?;
        let mut h = [0u8; 8];
        if !read_full(&mut r, &mut h)? {
            return Ok(out);
        }
        let ty = u32::from_le_bytes(h[..4].try_into().unwrap_or_default());
        if ty == SHB {
            let mut magic = [0u8; 4];
            if !read_full(&mut r, &mut magic)? {
                return Ok(out);
            }
            big = magic == [0x1A, 0x2B, 0x3C, 0x4D];
            len = u32_of(&h[4..8], big);
            rest = u64::from(len).saturating_sub(12);
            continue;
        }
        let ty = u32_of(&h[..4], big);
        len = u32_of(&h[4..8], big);
        rest = u64::from(len).saturating_sub(8);
        if ty == DSB && (20..=MAX_DSB).contains(&len) {
            let mut body = vec![0u8; (len - 8) as usize];
            if !read_full(&mut r, &mut body)? {
                return Ok(out);
            }
            rest = 0;
            let secrets_type = u32_of(&body[..4], big);
            let secrets_len = u32_of(&body[4..8], big) as usize;
            if secrets_type == TLS_KEY_LOG && secrets_len <= body.len() - 8 {
                out.push(body[8..8 + secrets_len].to_vec());
            }
        }
    }
}
