//! When the run may end: once every producer has flushed, each group has read past the
//! highest offset acked on every partition it reads (or, for one worker of several, has
//! committed past it, in whichever process its members run), the drain times out, or an abort.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::consumer::GroupShared;
use super::producer;
use super::setup::{Run, group_topics};
use super::signals::StopSignal;
use crate::kafka::CommittedOffsets;

/// How often one worker of several reads its groups' committed offsets while draining.
const COMMITTED_CHECK_EVERY: Duration = Duration::from_millis(500);

/// The drain's state: when it began, and for one worker of several, its offset readers.
pub(super) struct Drain {
    started: Option<Instant>,
    /// Per group (index), a reader of its committed offsets; `None` in a run of one process,
    /// and for a worker that cannot make the readers (it then drains by time).
    committed: Option<Vec<(usize, CommittedOffsets)>>,
    last_committed_check: Instant,
}

impl Drain {
    pub(super) fn new(run: &Run) -> Drain {
        Drain {
            started: None,
            committed: committed_readers(run),
            last_committed_check: Instant::now(),
        }
    }

    pub(super) fn is_draining(&self) -> bool {
        self.started.is_some()
    }

    /// Whether the run may end now. The drain starts once every producer has stopped sending,
    /// so that its timeout bounds the producers' flush and the groups' reading together: the
    /// wait ends at most `run.drain_timeout` after the last send (then the members stop and the
    /// dead letters are read back, each on its own bound). A late group that reads everything
    /// is marked caught up at `now`.
    pub(super) fn is_done(
        &mut self,
        run: &Run,
        stop: &StopSignal,
        producers_finished: bool,
        now: Duration,
    ) -> bool {
        let Some(started) = self.started else {
            let stopped_sending =
                (run.instances.iter()).all(|i| i.sending_done.load(Ordering::Acquire));
            if producers_finished || stopped_sending {
                self.started = Some(Instant::now());
            }
            return false;
        };
        let timed_out = started.elapsed() > run.scenario.limits.drain_timeout;
        if !producers_finished {
            return timed_out || stop.is_aborted();
        }
        // Every producer has flushed, so the acked offsets are final. A group has caught up
        // when it has consumed past the highest acked offset of every partition it reads.
        // (Acked minus consumed would not do: a send reported failed whose event the broker
        // wrote all the same is consumed too.)
        let acked_high = producer::acked_high(&run.instances);
        let caught_up = match &self.committed {
            Some(readers) => {
                if self.last_committed_check.elapsed() < COMMITTED_CHECK_EVERY {
                    false
                } else {
                    self.last_committed_check = Instant::now();
                    committed_everywhere(run, stop, readers, &acked_high, now)
                }
            }
            None => read_here(run, stop, &acked_high, now),
        };
        caught_up || timed_out || stop.is_aborted()
    }
}

impl Drop for Drain {
    /// The offset readers close on a thread of their own: a close waits (within its limit) for
    /// the coordinator, and this is dropped on the runtime's worker.
    fn drop(&mut self) {
        if let Some(readers) = self.committed.take() {
            std::thread::spawn(move || drop(readers));
        }
    }
}

/// Whether every group of this process has read everything acked on its topics.
fn read_here(run: &Run, stop: &StopSignal, acked_high: &[Vec<i64>], now: Duration) -> bool {
    let mut caught_up = true;
    for group in &run.groups {
        if group.has_read_everything(acked_high) {
            if group.joined_at.get().is_some() {
                let _ = group.caught_up_at.set(now);
            }
        } else if !never_joins(group, stop) {
            caught_up = false;
        }
    }
    caught_up
}

/// A late group a stop kept from joining: it reads nothing, and the drain does not wait for
/// it (what it did not read is reported as unread).
fn never_joins(group: &GroupShared, stop: &StopSignal) -> bool {
    stop.is_requested() && group.spec.starts_after.is_some() && group.joined_at.get().is_none()
}

/// For one worker of several: whether every group has committed past this worker's acks. A
/// late group that has is marked caught up at `now` (the merge takes the last worker's).
fn committed_everywhere(
    run: &Run,
    stop: &StopSignal,
    readers: &[(usize, CommittedOffsets)],
    acked_high: &[Vec<i64>],
    now: Duration,
) -> bool {
    let mut all = true;
    for (index, reader) in readers {
        let group = &run.groups[*index];
        if group.caught_up_at.get().is_some() || never_joins(group, stop) {
            continue;
        }
        if committed_past(group, reader, acked_high) {
            if group.joined_at.get().is_some() {
                let _ = group.caught_up_at.set(now);
            }
        } else {
            all = false;
        }
    }
    all
}

/// For one worker of several: a reader of each group's committed offsets.
fn committed_readers(run: &Run) -> Option<Vec<(usize, CommittedOffsets)>> {
    let scenario = &run.scenario;
    if !scenario.workers.is_distributed() {
        return None;
    }
    run.groups
        .iter()
        .enumerate()
        .map(|(index, group)| {
            CommittedOffsets::new(
                &run.servers,
                &scenario.cluster.consumer,
                &group.group_id,
                group_topics(scenario, group),
            )
            .map(|reader| (index, reader))
            .ok()
        })
        .collect()
}

/// Whether a group, in whichever process its members run, has committed past every offset
/// this worker's producers had acked on its topics.
fn committed_past(group: &GroupShared, reader: &CommittedOffsets, acked_high: &[Vec<i64>]) -> bool {
    let Some(committed) = tokio::task::block_in_place(|| reader.read(Duration::from_secs(2)))
    else {
        return false;
    };
    group.spec.topics.iter().zip(&committed).all(|(&t, next)| {
        acked_high[t]
            .iter()
            .zip(next)
            .all(|(&high, &next)| high < 0 || next > high)
    })
}

/// A late group's members fetch once they have settled, or once the join timeout has passed
/// (then it reads as it is, and any repeats are counted).
pub(super) fn release_settled(
    group: &GroupShared,
    workers: crate::scenario::WorkerShare,
    now: Duration,
    join_timeout: Duration,
) {
    if let Some(&joined) = group.joined_at.get()
        && group.holding.load(Ordering::Acquire)
        && (group.settled_in(workers) || now - joined > join_timeout)
    {
        group.holding.store(false, Ordering::Release);
    }
}
