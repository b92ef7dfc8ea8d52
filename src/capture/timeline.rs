//! A host's capture as a timeline of files.
//!
//! Long captures are rotated: `tcpdump -C/-G`, dumpcap's ring buffer, `editcap -c/-i`
//! and `lagtap capture --rotate-*` all cut one host's traffic into many files. They
//! are one input: the files of a host are read in time order through one flow table,
//! so a TCP flow, its reassembly state and the events it is building carry across
//! every file boundary (see `pipeline::run_files_with`).
//!
//! Which host a file belongs to, first match wins:
//! 1. the pcapng section comment `lagtap capture` writes (`host: NAME`);
//! 2. the rotation naming of the tools above, with the numbering taken off:
//!    `NAME_00001_20261202103000.pcapng` (dumpcap ring buffer, editcap),
//!    `NAME-00001.pcapng` (lagtap capture), `NAME.pcap1` (tcpdump -C; its first file
//!    is `NAME.pcap`);
//! 3. the file stem.
//!
//! Files are ordered by their first packet's time (what a rotation naming means), the
//! rotation number breaking ties, then the name.

use std::path::{Path, PathBuf};

use super::reader::CaptureReader;
use crate::time::Timestamp;

/// The compression suffixes a capture file may carry after its own extension.
const COMPRESSION: [&str; 3] = [".gz", ".zst", ".lz4"];
/// The extensions of capture files.
const CAPTURE_EXT: [&str; 3] = [".pcapng", ".pcap", ".cap"];

/// A file name without compression suffix and capture extension.
fn stem(name: &str) -> &str {
    let mut s = name;
    for ext in COMPRESSION {
        s = s.strip_suffix(ext).unwrap_or(s);
    }
    for ext in CAPTURE_EXT {
        if let Some(t) = s.strip_suffix(ext) {
            return t;
        }
    }
    s
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The base name and rotation number a rotating capture tool gave `name`, if it
/// follows one of the namings in the module documentation.
pub fn rotation(name: &str) -> Option<(String, u64)> {
    let mut plain = name;
    for ext in COMPRESSION {
        plain = plain.strip_suffix(ext).unwrap_or(plain);
    }
    // tcpdump -C: `NAME.pcap`, `NAME.pcap1`, `NAME.pcap2`, ... (with -W, zero-padded).
    for ext in CAPTURE_EXT {
        if let Some(i) = plain.rfind(ext) {
            let (base, number) = (&plain[..i], &plain[i + ext.len()..]);
            if all_digits(number) && !base.is_empty() {
                return Some((base.to_string(), number.parse().ok()?));
            }
        }
    }
    let s = stem(name);
    // dumpcap's ring buffer and editcap: `NAME_NNNNN_YYYYMMDDHHMMSS`.
    if let Some((rest, stamp)) = s.rsplit_once('_') {
        if stamp.len() == 14 && all_digits(stamp) {
            if let Some((base, number)) = rest.rsplit_once('_') {
                if number.len() >= 5 && all_digits(number) && !base.is_empty() {
                    return Some((base.to_string(), number.parse().ok()?));
                }
            }
        }
    }
    // lagtap capture: `NAME-NNNNN`.
    if let Some((base, number)) = s.rsplit_once('-') {
        if number.len() == 5 && all_digits(number) && !base.is_empty() {
            return Some((base.to_string(), number.parse().ok()?));
        }
    }
    None
}

/// Whether `name` is a capture file by its name, rotated ones (`x.pcap3`) included.
pub fn is_capture_name(name: &str) -> bool {
    let mut plain = name;
    for ext in COMPRESSION {
        plain = plain.strip_suffix(ext).unwrap_or(plain);
    }
    CAPTURE_EXT.iter().any(|e| plain.ends_with(e))
        || (rotation(name).is_some() && CAPTURE_EXT.iter().any(|e| plain.contains(e)))
}

/// The host `lagtap capture` named in a section comment (`host: NAME` on its own line
/// after the `lagtap capture` line).
pub fn host_in_comments(comments: &[String]) -> Option<String> {
    comments
        .iter()
        .filter(|c| c.starts_with("lagtap capture"))
        .flat_map(|c| c.lines())
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// What a capture file says about its place in a timeline, read from its headers and
/// first packet.
#[derive(Clone, Debug)]
pub struct FileHead {
    pub path: PathBuf,
    /// The host: section comment, else rotation base, else file stem.
    pub host: String,
    pub rotation: Option<u64>,
    pub first_time: Option<Timestamp>,
}

impl FileHead {
    /// Reads `path`'s headers and first packet. An unreadable file is named by its
    /// file name alone; reading it later says what is wrong with it.
    pub fn read(path: &Path) -> FileHead {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("host");
        let rotated = rotation(name);
        let (comments, first_time) = match CaptureReader::open(path) {
            Ok(mut r) => {
                let t = r.first_packet_time();
                (r.info.comments.clone(), t)
            }
            Err(_) => (Vec::new(), None),
        };
        let host = host_in_comments(&comments)
            .or_else(|| rotated.as_ref().map(|(base, _)| base.clone()))
            .unwrap_or_else(|| stem(name).to_string());
        FileHead {
            path: path.to_path_buf(),
            host,
            rotation: rotated.map(|(_, n)| n),
            first_time,
        }
    }
}

/// Sorts one host's files into time order: first packet time (files without a
/// readable packet go last), then rotation number, then name.
pub fn order(files: &mut [FileHead]) {
    files.sort_by(|a, b| {
        let t = |f: &FileHead| f.first_time.map_or(i64::MAX, |t| t.0);
        t(a).cmp(&t(b))
            .then(a.rotation.cmp(&b.rotation))
            .then_with(|| a.path.cmp(&b.path))
    });
}

/// One host's files for `lagtap decode`: in time order, with the host they name
/// (`host` when given). Files that name different hosts are an error saying which.
pub fn one_host(files: &[PathBuf], host: Option<&str>) -> Result<(String, Vec<PathBuf>), String> {
    if let [one] = files {
        // One file is read as it is; stdin cannot be looked into first.
        let name = match host {
            Some(h) => h.to_string(),
            None if one.as_os_str() == "-" => "-".to_string(),
            None => FileHead::read(one).host,
        };
        return Ok((name, files.to_vec()));
    }
    let mut heads: Vec<FileHead> = files.iter().map(|f| FileHead::read(f)).collect();
    let name = match host {
        Some(h) => h.to_string(),
        None => {
            let mut names: Vec<&str> = heads.iter().map(|h| h.host.as_str()).collect();
            names.dedup();
            if names.len() > 1 {
                names.sort_unstable();
                names.dedup();
                return Err(format!(
                    "these files are of {} hosts ({}): decode one host at a time, or name \
                     them one host with --host NAME",
                    names.len(),
                    names.join(", ")
                ));
            }
            names.first().map_or_else(String::new, |n| n.to_string())
        }
    };
    order(&mut heads);
    Ok((name, heads.into_iter().map(|h| h.path).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_namings_of_the_capture_tools() {
        // dumpcap -b filesize / editcap -c (wireshark's file_util naming).
        assert_eq!(
            rotation("desktop_00003_20261202103000.pcapng"),
            Some(("desktop".into(), 3))
        );
        assert_eq!(
            rotation("my_host_00012_20261202103000.pcap.gz"),
            Some(("my_host".into(), 12))
        );
        // lagtap capture --rotate-*.
        assert_eq!(rotation("viewer-00001.pcapng"), Some(("viewer".into(), 1)));
        // tcpdump -C: the first file has no number.
        assert_eq!(rotation("srv.pcap"), None);
        assert_eq!(rotation("srv.pcap1"), Some(("srv".into(), 1)));
        assert_eq!(rotation("srv.pcap07"), Some(("srv".into(), 7)));
        // Not rotations.
        assert_eq!(rotation("desktop.pcap"), None);
        assert_eq!(rotation("run-2026.pcap"), None);
        assert_eq!(rotation("a_123_20261202103000.pcap"), None);
    }

    #[test]
    fn capture_names_include_rotated_ones() {
        assert!(is_capture_name("srv.pcap3"));
        assert!(is_capture_name("a.pcapng.zst"));
        assert!(is_capture_name("desktop_00003_20261202103000.pcapng"));
        assert!(!is_capture_name("notes.txt"));
        assert!(!is_capture_name("x-00001.txt"));
    }

    #[test]
    fn host_from_lagtap_capture_comment() {
        let c = vec!["lagtap capture\nhost: desk\nrole: viewer".to_string()];
        assert_eq!(host_in_comments(&c), Some("desk".into()));
        assert_eq!(host_in_comments(&["host: x".to_string()]), None);
    }
}
