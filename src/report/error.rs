//! What can go wrong reading a run back or rendering its files. Each message is what the
//! user reads, so it names the file; the fields let a caller tell a missing file from a
//! damaged one without parsing text.

use std::io;
use std::path::PathBuf;

/// Why a run could not be read back, or an export could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file of the run dir could not be read.
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The run dir itself could not be listed.
    #[error("{source}")]
    ListDir { path: PathBuf, source: io::Error },
    /// A file was too large to be one surge wrote, or not text.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// A file was read but does not hold what surge wrote. The detail (which can quote the
    /// file) is shown short.
    #[error("{}: {}", path.display(), crate::input::quote(detail, 300))]
    Parse { path: PathBuf, detail: String },
    /// A file the run recorded is not in its directory.
    #[error(
        "{} is missing (the run recorded it; without it the charts would show less than was measured)",
        crate::input::quote(&path.display().to_string(), 300)
    )]
    Missing { path: PathBuf },
    /// A chart could not be drawn.
    #[error("{detail}")]
    Chart { chart: &'static str, detail: String },
    /// An export's bytes could not be encoded.
    #[error("{detail}")]
    Encode { file: String, detail: String },
    /// A file outside the run dir could not be written.
    #[error("{}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

impl ReportError {
    /// A plotting failure while drawing `chart`.
    pub(super) fn chart(chart: &'static str, error: impl std::fmt::Display) -> ReportError {
        ReportError::Chart {
            chart,
            detail: error.to_string(),
        }
    }

    /// A failure to encode `file`.
    pub(super) fn encode(file: impl Into<String>, error: impl std::fmt::Display) -> ReportError {
        ReportError::Encode {
            file: file.into(),
            detail: error.to_string(),
        }
    }
}
