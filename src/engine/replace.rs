//! A producer client that hit a fatal error (the idempotent producer's out-of-sequence and
//! unknown-producer answers it cannot retry safely) is replaced: what it held is purged, each
//! event a failed send with the reason, and a new client sends from the next event on.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::producer::InstanceShared;
use crate::kafka::{ConnectError, EventProducer};

/// Makes a new client for an instance whose client hit a fatal error.
pub type Rebuild<'a> = &'a (dyn Fn() -> Result<EventProducer<InstanceShared>, ConnectError> + Sync);

/// Replaces a client that hit a fatal error (the idempotent producer's out-of-sequence and
/// unknown-producer answers it cannot retry safely): what it still held is purged, each event
/// a failed send with the reason, never a lost one, and a new client sends from the next
/// event on. Returns false when no new client could be made (every later send then fails).
pub(super) fn replace_after_fatal(
    producer: &RefCell<EventProducer<InstanceShared>>,
    shared: &InstanceShared,
    rebuild: Rebuild<'_>,
) -> bool {
    let reason = producer
        .borrow()
        .fatal_error()
        .unwrap_or_else(|| "fatal producer error".into());
    {
        let old = producer.borrow();
        old.purge();
        // The purged events' reports are served here, by the client that holds them.
        old.flush(PURGE_REPORTS_WAIT);
    }
    let replaced = shared.rebuilds.load(Ordering::Relaxed) < MAX_REPLACEMENTS
        && match rebuild() {
            Ok(fresh) => {
                shared.note_error(&format!(
                    "{reason}: the producer was replaced, and the events it held count as failed sends"
                ));
                shared.rebuilds.fetch_add(1, Ordering::Relaxed);
                drop(producer.replace(fresh));
                true
            }
            Err(error) => {
                shared.note_error(&format!(
                    "{reason}: the producer could not be replaced ({error}); the events left count as failed sends"
                ));
                false
            }
        };
    if !replaced && shared.rebuilds.load(Ordering::Relaxed) >= MAX_REPLACEMENTS {
        shared.note_error(&format!(
            "{reason}: the producer was replaced {MAX_REPLACEMENTS} times already; the events left count as failed sends"
        ));
    }
    // Cleared once the old client is gone: its purge may have raised the flag again.
    shared.fatal.store(false, Ordering::Release);
    replaced
}

/// The most clients one instance makes after fatal errors: a cluster that fails every new
/// producer the same way is named, not retried for the rest of the run.
const MAX_REPLACEMENTS: u64 = 10;

/// How long a replaced client has to hand over the reports of the events it purged.
const PURGE_REPORTS_WAIT: Duration = Duration::from_secs(5);
