//! Reading files that came from outside the process (scenarios, curves, run directories that
//! travelled as CI artifacts, worker sets, credentials): every read stops at a cap, so a
//! damaged or hostile file (or `/dev/zero`) is an error naming it, not gigabytes of memory.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// What one kind of input file may weigh at most.
#[derive(Debug, Clone, Copy)]
pub struct Cap {
    /// What the file is, for the message: "scenario", "summary", ...
    pub what: &'static str,
    pub bytes: u64,
}

/// A scenario file: hand-written TOML, a few KB.
pub const SCENARIO: Cap = Cap {
    what: "scenario",
    bytes: 8 << 20,
};
/// A replayed-curve CSV: one line per point, a week at one point a second is about 10 MB.
pub const CURVE: Cap = Cap {
    what: "curve",
    bytes: 64 << 20,
};
/// `summary.json` and `worker.json`: a second of the timeline is about 450 bytes and 250 a
/// group, pretty-printed, so a week-long run with 16 groups writes about 2.7 GB.
pub const SUMMARY: Cap = Cap {
    what: "summary",
    bytes: 4 << 30,
};
/// `ledger.json`: one row per key, about 30 bytes each.
pub const LEDGER: Cap = Cap {
    what: "ledger",
    bytes: 2 << 30,
};
/// A broker-type file (`data/broker-types.toml` is about 3 KiB).
pub const BROKER_TYPES: Cap = Cap {
    what: "broker-type",
    bytes: 1 << 20,
};
/// A password or token file.
pub const SECRET: Cap = Cap {
    what: "password",
    bytes: 64 << 10,
};

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{} cannot be read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is larger than {} (a {what} file is at most that): it is not a file surge reads, or it is damaged",
        path.display(),
        size(*cap)
    )]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        cap: u64,
    },
    #[error("{} is not a regular file (a device, a FIFO or a directory): surge reads files", path.display())]
    NotAFile { path: PathBuf },
    #[error("{} is not UTF-8 text (at byte {at}): a {what} file is text", path.display())]
    NotText {
        path: PathBuf,
        what: &'static str,
        at: usize,
    },
}

/// A cap as people say it: `8 MiB`, `64 KiB`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// The bytes of `path`, at most `cap.bytes` of them.
pub fn read(path: &Path, cap: Cap) -> Result<Vec<u8>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A FIFO would block the open, a device never end: only regular files are read (a
    // symlink to one is followed), and one larger than the cap is refused unread.
    let metadata = std::fs::metadata(path).map_err(io)?;
    if !metadata.is_file() {
        return Err(InputError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if metadata.len() > cap.bytes {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            what: cap.what,
            cap: cap.bytes,
        });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(cap.bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > cap.bytes {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            what: cap.what,
            cap: cap.bytes,
        });
    }
    Ok(bytes)
}

/// The text of `path`, at most `cap.bytes` of it.
pub fn read_text(path: &Path, cap: Cap) -> Result<String, InputError> {
    String::from_utf8(read(path, cap)?).map_err(|e| InputError::NotText {
        path: path.to_path_buf(),
        what: cap.what,
        at: e.utf8_error().valid_up_to(),
    })
}

/// Reads one line (with its `\n`) into `line`, refusing one longer than `max` bytes: returns
/// `Ok(false)` at the end of the input, `Err(())` for a line over `max`.
pub fn read_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Result<bool, ()>> {
    line.clear();
    let read = reader
        .by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', line)?;
    if line.len() > max {
        return Ok(Err(()));
    }
    Ok(Ok(read > 0))
}

/// At most `max` characters of `value` for an error message, with an ellipsis and the full
/// length when cut: a 1 MB value is not echoed back.
pub fn quote(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        None => value.to_string(),
        Some((at, _)) => format!("{}… ({} bytes in all)", &value[..at], value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_its_cap_is_refused_without_reading_it_all() {
        let cap = Cap {
            what: "scenario",
            bytes: 1 << 20,
        };
        // /dev/zero never ends, and a FIFO blocks its reader: neither is read.
        let error = read(Path::new("/dev/zero"), cap).unwrap_err().to_string();
        assert!(error.contains("/dev/zero is not a regular file"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("summary.json");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let error = read(&fifo, cap).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
        let path = dir.path().join("s.toml");
        std::fs::write(&path, vec![b'#'; 1 << 20]).unwrap();
        assert_eq!(read(&path, cap).unwrap().len(), 1 << 20);
        std::fs::write(&path, vec![b'#'; (1 << 20) + 1]).unwrap();
        let error = read(&path, cap).unwrap_err().to_string();
        assert!(
            error.contains("larger than 1 MiB") && error.contains("scenario"),
            "{error}"
        );
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let error = read_text(&path, cap).unwrap_err().to_string();
        assert!(error.contains("not UTF-8 text (at byte 0)"), "{error}");
    }

    #[test]
    fn a_line_over_its_cap_is_refused() {
        let text = b"short\nlonger line\n";
        let mut reader = &text[..];
        let mut line = Vec::new();
        assert_eq!(read_line(&mut reader, &mut line, 8).unwrap(), Ok(true));
        assert_eq!(line, b"short\n");
        assert_eq!(read_line(&mut reader, &mut line, 8).unwrap(), Err(()));
        let mut reader = &text[..6];
        read_line(&mut reader, &mut line, 8).unwrap().unwrap();
        assert_eq!(read_line(&mut reader, &mut line, 8).unwrap(), Ok(false));
    }

    #[test]
    fn long_values_are_quoted_short() {
        assert_eq!(quote("abc", 5), "abc");
        let long = "é".repeat(1_000);
        let quoted = quote(&long, 100);
        assert!(quoted.starts_with(&"é".repeat(100)), "{quoted}");
        assert!(quoted.ends_with("… (2000 bytes in all)"), "{quoted}");
    }
}
