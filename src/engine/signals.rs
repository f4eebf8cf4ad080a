//! How a run is told to stop (Ctrl-C, SIGTERM, a fatal fault) and what keeps it authorised
//! while it runs (the MSK IAM token).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A stop request (first Ctrl-C: stop producing and drain) and an abort (second: stop now).
#[derive(Debug, Default)]
pub struct StopSignal {
    requested: AtomicBool,
    aborted: AtomicBool,
}

impl StopSignal {
    /// Asks the run to stop producing; a second call aborts the drain too.
    pub fn request(&self) {
        if self.requested.swap(true, Ordering::AcqRel) {
            self.aborted.store(true, Ordering::Release);
        }
    }

    /// Stops the run at once, drain included: what was measured so far is kept.
    pub fn abort(&self) {
        self.requested.store(true, Ordering::Release);
        self.aborted.store(true, Ordering::Release);
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    pub fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }
}

/// Turns Ctrl-C (SIGINT) and SIGTERM, which a CI runner sends when it cancels a job, into stop
/// requests: the first stops producing and drains, the second aborts the drain.
pub fn watch_interrupts(stop: Arc<StopSignal>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut interrupt), Ok(mut terminate)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = interrupt.recv() => stop.request(),
                    _ = terminate.recv() => stop.request(),
                }
            }
        }
        #[cfg(not(unix))]
        while tokio::signal::ctrl_c().await.is_ok() {
            stop.request();
        }
    })
}

/// Re-signs the MSK IAM token at 80% of its lifetime, off librdkafka's threads: the client
/// callback only reads the cached token, so it never blocks.
pub fn keep_iam_token_fresh(
    region: String,
    lifetime: Duration,
    timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = lifetime.mul_f64(0.8);
        loop {
            tokio::time::sleep(wait.max(Duration::from_secs(5))).await;
            wait = match crate::kafka::auth::refresh_iam_token(&region, timeout).await {
                Ok(lifetime) => lifetime.mul_f64(0.8),
                // Keep the old token while it lasts and try again soon; the failure goes on
                // the timeline, and an expired token ends the run (see `run`).
                Err(error) => {
                    crate::kafka::auth::note_iam_refresh_failure(&error.to_string());
                    Duration::from_secs(10)
                }
            };
        }
    })
}
