//! Follows a key log a client is writing (`SSLKEYLOGFILE`) during `lagtap capture
//! --keylog`, handing over each complete new line once, so the capture can store it
//! in a Decryption Secrets Block as soon as it appears: one file then carries both
//! the packets and the keys to read them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

/// Most key log bytes kept to repeat at the start of each rotated file (a key log
/// of thousands of sessions is well under this).
const MAX_KEPT: usize = 16 << 20;

pub struct KeyLogFollower {
    path: PathBuf,
    /// Bytes of the file already handed over (complete lines only).
    pos: u64,
    /// Every line handed over so far (for the next rotated file), bounded.
    all: Vec<u8>,
    pub dropped_bytes: u64,
}

impl KeyLogFollower {
    /// The file need not exist yet: clients create it when their first session
    /// starts.
    pub fn new(path: PathBuf) -> KeyLogFollower {
        KeyLogFollower {
            path,
            pos: 0,
            all: Vec::new(),
            dropped_bytes: 0,
        }
    }

    /// The complete lines appended since the last call (empty when none). A file
    /// that shrank (rewritten from scratch) is read again from its start.
    pub fn poll(&mut self) -> io::Result<Vec<u8>> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len < self.pos {
            self.pos = 0;
        }
        if len == self.pos {
            return Ok(Vec::new());
        }
        f.seek(SeekFrom::Start(self.pos))?;
        let mut new = Vec::new();
        f.take(len - self.pos).read_to_end(&mut new)?;
        // Only whole lines: a client may be half way through writing one.
        let Some(end) = new.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        new.truncate(end + 1);
        self.pos += new.len() as u64;
        if self.all.len() + new.len() <= MAX_KEPT {
            self.all.extend_from_slice(&new);
        } else {
            self.dropped_bytes += new.len() as u64;
        }
        Ok(new)
    }

    /// Everything handed over so far, for the start of a new rotated file.
    pub fn all(&self) -> &[u8] {
        &self.all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn new_complete_lines_are_handed_over_once() {
        let dir = std::env::temp_dir().join(format!("lagtap-keyfollow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys");
        let _ = std::fs::remove_file(&path);
        let mut f = KeyLogFollower::new(path.clone());
        assert!(f.poll().unwrap().is_empty(), "no file yet");
        let mut w = std::fs::File::create(&path).unwrap();
        w.write_all(b"# SSL/TLS secrets log file\nCLIENT_RANDOM aa")
            .unwrap();
        w.flush().unwrap();
        assert_eq!(f.poll().unwrap(), b"# SSL/TLS secrets log file\n");
        w.write_all(b" bb\nCLIENT_TRAFFIC_SECRET_0 cc dd\n")
            .unwrap();
        w.flush().unwrap();
        assert_eq!(
            f.poll().unwrap(),
            b"CLIENT_RANDOM aa bb\nCLIENT_TRAFFIC_SECRET_0 cc dd\n"
        );
        assert!(f.poll().unwrap().is_empty());
        assert_eq!(f.all().iter().filter(|&&b| b == b'\n').count(), 3);
        // Rewritten from scratch: read from its start again.
        std::fs::write(&path, b"CLIENT_RANDOM ee ff\n").unwrap();
        assert_eq!(f.poll().unwrap(), b"CLIENT_RANDOM ee ff\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
