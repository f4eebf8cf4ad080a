//! libfaketime, fetched from Debian's packages the first time a test needs it (`apt-get
//! download`, unpacked under the build's test directory, nothing installed): a process run
//! under it sees its wall clock moved by a fixed offset, as on a host whose clock drifted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// One fetch at a time; the library is kept for later runs.
static FETCH: Mutex<()> = Mutex::new(());

/// The multithreaded preload library, fetched when missing.
pub fn library() -> PathBuf {
    let _fetching = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faketime");
    if let Some(found) = find(&root) {
        return found;
    }
    let download = tempfile::tempdir().unwrap();
    let fetched = |dir: &Path| {
        let status = Command::new("apt-get")
            .args(["download", "-q", "libfaketime"])
            .current_dir(dir)
            .status();
        status.is_ok_and(|s| s.success())
    };
    // A machine whose package lists were never read needs them first.
    if !fetched(download.path()) {
        let _ = Command::new("apt-get").args(["update", "-q"]).status();
        assert!(
            fetched(download.path()),
            "`apt-get download libfaketime` failed: the skewed-clock tests need Debian's libfaketime"
        );
    }
    let package = std::fs::read_dir(download.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("apt-get download wrote no .deb");
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&package)
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success(), "dpkg-deb -x {}", package.display());
    find(&root).expect("libfaketimeMT.so.1 in Debian's libfaketime")
}

/// Runs `command` with its wall clock `offset` away (libfaketime's relative form: "+0.05" is
/// 50 ms ahead). Monotonic clocks are left alone, so timeouts and pacing are unchanged.
pub fn skew(command: &mut Command, offset: &str) {
    command
        .env("LD_PRELOAD", library())
        .env("FAKETIME", offset)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
}

fn find(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find(&path) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == "libfaketimeMT.so.1") {
            return Some(path);
        }
    }
    None
}
