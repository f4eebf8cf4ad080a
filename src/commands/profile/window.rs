//! The window: every partition's end offset at its start, through it and at its end (one
//! request for all partitions, each reading timed at its middle), and the consumer groups'
//! committed offsets at both ends, each group's reading timed on its own.

use std::time::{Duration, Instant};

use crate::engine::StopSignal;
use crate::error::SurgeError;
use crate::kafka::CommittedOffsets;
use crate::kafka::profile::{EndOffsets, GroupListing};
use crate::profile::{GroupProfile, TopicProfile};

/// How long reading the groups' committed offsets may take at each end of the window.
pub const GROUP_READ_LIMIT: Duration = Duration::from_secs(30);

/// What the end offsets showed.
pub struct Offsets {
    /// Per topic and partition, its end offset at the first and at the last answer for it
    /// (`None`: it never answered).
    pub first: Marks,
    pub last: Marks,
    /// Between the first reading and the last.
    pub measured: Duration,
    /// The whole traffic's events/s per interval, at each interval's middle.
    pub curve: Vec<(f64, f64)>,
    /// Topics a partition of which stopped answering (deleted, or a leader moving).
    pub vanished: Vec<String>,
    /// Readings no broker answered (skipped).
    pub unanswered: u32,
}

/// Per topic and partition, an end offset (`None`: no answer for it).
type Marks = Vec<Vec<Option<i64>>>;

/// One reading of every end offset, timed at the middle of its request.
fn reading(
    ends: &EndOffsets,
    topics: &[(String, i32)],
    timeout: Duration,
) -> Result<(Marks, Instant), SurgeError> {
    let before = Instant::now();
    let marks = ends.read(topics, timeout)?;
    Ok((marks, before + before.elapsed() / 2))
}

/// Reads the end offsets at the window's start, every `clamp(window / 6, 1 s, 10 s)` (at most
/// 1,000 readings) and at its end; a stop request (Ctrl-C, SIGTERM) ends the window at once,
/// with a last reading.
pub async fn watch(
    ends: &EndOffsets,
    topics: &[(String, i32)],
    window: Duration,
    timeout: Duration,
    stop: &StopSignal,
) -> Result<Offsets, SurgeError> {
    let step = (window / 6)
        .clamp(Duration::from_secs(1), Duration::from_secs(10))
        .max(window / 1000);
    let (start, began) = reading(ends, topics, timeout)?;
    let mut first = start.clone();
    let mut current = start;
    let (mut at, mut curve, mut vanished) = (began, Vec::new(), Vec::new());
    let (mut target, mut unanswered) = (Duration::ZERO, 0);
    while target < window && !stop.is_requested() {
        target = (target + step).min(window);
        while !stop.is_requested() && began.elapsed() < target {
            let left = target.saturating_sub(began.elapsed());
            tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        }
        // A reading nobody answered is skipped: the next one spans its interval too.
        let Ok((marks, now)) = reading(ends, topics, timeout) else {
            unanswered += 1;
            continue;
        };
        let mut written = 0_i64;
        for (t, topic) in marks.into_iter().enumerate() {
            for (p, mark) in topic.into_iter().enumerate() {
                match (mark, current[t][p]) {
                    (Some(end), Some(before)) => written += (end - before).max(0),
                    (None, Some(_)) if !vanished.contains(&topics[t].0) => {
                        vanished.push(topics[t].0.clone());
                    }
                    _ => {}
                }
                if mark.is_some() {
                    first[t][p] = first[t][p].or(mark);
                    current[t][p] = mark;
                }
            }
        }
        let seconds = now.duration_since(at).as_secs_f64().max(1e-3);
        let middle = (at.duration_since(began) + now.duration_since(began)) / 2;
        curve.push((middle.as_secs_f64(), written as f64 / seconds));
        at = now;
    }
    Ok(Offsets {
        first,
        last: current,
        measured: at.duration_since(began),
        curve,
        vanished,
        unanswered,
    })
}

/// One group's committed offsets (per topic and partition, -1 for none), and when they were read.
pub type Commits = Option<(Instant, Vec<Vec<i64>>)>;

/// Groups whose offsets are read at once, each by its own client.
const GROUP_READERS: usize = 8;

/// Each group's committed offsets on the topics, [`GROUP_READERS`] groups at a time, all within
/// [`GROUP_READ_LIMIT`]: a group whose coordinator did not answer, or that the bound left
/// unread, is `None` (and counted in a note).
pub fn committed(
    servers: &str,
    properties: &[(String, String)],
    groups: &[GroupListing],
    topics: &[(String, i32)],
    timeout: Duration,
    notes: &mut Vec<String>,
) -> Vec<Commits> {
    let deadline = Instant::now() + GROUP_READ_LIMIT;
    let read = |group: &GroupListing| -> Option<Commits> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let reader = CommittedOffsets::new(servers, properties, &group.name, topics.to_vec()).ok();
        Some(reader.and_then(|r| r.read(timeout.min(left)).map(|o| (Instant::now(), o))))
    };
    let per_reader = groups.len().div_ceil(GROUP_READERS).max(1);
    let answers: Vec<Option<Commits>> = std::thread::scope(|scope| {
        let readers: Vec<_> = groups
            .chunks(per_reader)
            .map(|chunk| {
                let handle = scope.spawn(move || chunk.iter().map(read).collect::<Vec<_>>());
                (chunk.len(), handle)
            })
            .collect();
        readers
            .into_iter()
            .flat_map(|(len, r)| r.join().unwrap_or_else(|_| vec![None; len]))
            .collect()
    });
    let unread = answers.iter().filter(|a| a.is_none()).count();
    let commits: Vec<Commits> = answers.into_iter().map(Option::flatten).collect();
    if unread > 0 {
        notes.push(format!(
            "{unread} groups' offsets were not read within {} s: they are left out",
            GROUP_READ_LIMIT.as_secs()
        ));
    }
    commits
}

/// Every group with an offset committed on a profiled topic: its lag at both ends, and the
/// events/s it committed between its two readings.
pub fn group_profiles(
    groups: &[GroupListing],
    at_end: &[GroupListing],
    commits: [&[Commits]; 2],
    topics: &[TopicProfile],
    offsets: &Offsets,
) -> Vec<GroupProfile> {
    groups
        .iter()
        .enumerate()
        .filter_map(|(g, group)| {
            let (Some((began, before)), Some((ended, after))) = (&commits[0][g], &commits[1][g])
            else {
                return None;
            };
            let on: Vec<usize> = (0..topics.len())
                .filter(|&t| after[t].iter().any(|&c| c >= 0))
                .collect();
            if on.is_empty() {
                return None;
            }
            let lag = |marks: &Marks, commits: &[Vec<i64>]| -> i64 {
                on.iter()
                    .flat_map(|&t| marks[t].iter().zip(&commits[t]))
                    .filter_map(|(&end, &c)| Some((end? - c).max(0)).filter(|_| c >= 0))
                    .sum()
            };
            let consumed: i64 = on
                .iter()
                .flat_map(|&t| before[t].iter().zip(&after[t]))
                .filter(|&(&b, &a)| b >= 0 && a >= 0)
                .map(|(&b, &a)| (a - b).max(0))
                .sum();
            let seconds = ended.duration_since(*began).as_secs_f64().max(1e-3);
            let end = at_end.iter().find(|e| e.name == group.name);
            Some(GroupProfile {
                name: group.name.clone(),
                state: end.map_or(group.state.clone(), |e| e.state.clone()),
                members: end.map(|e| e.members),
                topics: on.iter().map(|&t| topics[t].name.clone()).collect(),
                lag_start: lag(&offsets.first, before),
                lag_end: lag(&offsets.last, after),
                rate: consumed as f64 / seconds,
                // In offsets, as the group's committed rate is.
                ingress: on.iter().map(|&t| topics[t].offset_rate).sum(),
            })
        })
        .collect()
}
