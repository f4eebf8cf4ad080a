//! Measurement primitives: HDR latency recorders, the ordering and loss checker, and the
//! per-second timeline. Everything here is plain data, merged by addition, free of I/O.

pub mod brokers;
pub mod causes;
pub mod checker;
pub mod delivery;
pub mod histograms;
pub mod key;
pub mod latency;
pub mod ledger;
pub mod median_band;
pub mod ownership;
pub mod timeline;

pub use checker::{
    KeyId, LedgerFile, LossReport, Observation, OrderingChecker, Partition, SentLedger,
};
pub use histograms::{Histograms, IntervalSample, Intervals, StoredInterval};
pub use latency::{LatencyRecorder, LatencyStats, new_histogram};
pub use ownership::Ownership;
pub use timeline::{GroupPoint, TimelinePoint};
