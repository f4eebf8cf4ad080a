//! Writing the files of a run directory: each is written whole to a temporary file beside
//! it, then renamed over its name. A rename replaces a symlink planted under that name (it
//! never writes through one to its target), and a reader never sees half a file.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically, never following a symlink at `path`.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".surge-")
        .suffix(".part")
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    // A temporary file is private (0600); a report is not: 0644, whatever the umask (a run
    // directory is meant to be read, by CI and by colleagues).
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.as_file().sync_data()?;
    file.persist(path).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_symlink_is_replaced_and_its_target_left_alone() {
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("precious.txt");
        std::fs::write(&target, "keep me").unwrap();
        let run = tempfile::tempdir().unwrap();
        let link = run.path().join("throughput.svg");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write(&link, b"<svg/>").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read(&link).unwrap(), b"<svg/>");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&link).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        let left: Vec<_> = std::fs::read_dir(run.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }
}
