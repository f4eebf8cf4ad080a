//! Fits what a profile measured into what one surge run holds, naming every cut in a note:
//! a measurement that does not fit is left out or bounded, never silently changed.

use std::time::Duration;

use super::Profile;
use crate::scenario::shapes::MAX_RATE;
use crate::scenario::{MAX_EVENT_SIZE, MAX_GROUPS, MAX_KEY_STATES};
use crate::workload::MAX_KEYS;

/// The longest name the scenario format takes.
const MAX_NAME: usize = 200;
const MAX_PARTITIONS: i32 = 10_000;
const MAX_REPLICATION: i32 = 16;
const MAX_MEMBERS: usize = 64;
/// A group's processing time stays under the default drain timeout (15 s) by this much.
pub const MAX_PROCESSING_TIME: Duration = Duration::from_secs(10);

/// Whether a scenario can hold a topic of this name, partition count and replication factor.
pub fn holds_topic(name: &str, partitions: i32, replication_factor: i32) -> bool {
    name.len() <= MAX_NAME
        && partitions <= MAX_PARTITIONS
        && replication_factor <= MAX_REPLICATION
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Bounds the profile to the scenario format's limits, in place (topics it cannot hold are
/// left out before measuring: see [`holds_topic`]).
pub fn fit(profile: &mut Profile) {
    bound_groups(profile);
    bound_sizes(profile);
    bound_keys(profile);
    let rate = profile.replayed_rate();
    if rate * profile.scale > MAX_RATE {
        let scale = (MAX_RATE / rate).floor().max(1.0);
        profile.notes.push(format!(
            "a peak of {}x the observed rate is more than surge offers (10M events/s): the \
             peak is {scale}x",
            profile.scale
        ));
        profile.scale = scale;
    }
}

/// Groups that neither committed nor had members are left out; the busiest [`MAX_GROUPS`] are
/// kept; members are at most 64.
fn bound_groups(profile: &mut Profile) {
    let before = profile.groups.len();
    profile
        .groups
        .retain(|g| g.rate > 0.0 || g.members.is_some_and(|m| m > 0));
    let idle = before - profile.groups.len();
    if idle > 0 {
        profile.notes.push(format!(
            "{idle} groups with offsets on these topics neither committed during the window nor \
             had members: left out"
        ));
    }
    profile
        .groups
        .sort_by(|a, b| b.rate.total_cmp(&a.rate).then_with(|| a.name.cmp(&b.name)));
    if profile.groups.len() > MAX_GROUPS {
        let cut: Vec<String> = profile.groups[MAX_GROUPS..]
            .iter()
            .map(|g| g.name.chars().take(60).collect())
            .collect();
        profile.groups.truncate(MAX_GROUPS);
        profile.notes.push(format!(
            "a run holds {MAX_GROUPS} groups: the busiest are kept, these left out: {}",
            cut.join(", ")
        ));
    }
    for group in &mut profile.groups {
        if group.members.is_some_and(|m| m > MAX_MEMBERS) {
            profile.notes.push(format!(
                "group {} had {} members: a scenario group holds {MAX_MEMBERS}",
                group.name.chars().take(60).collect::<String>(),
                group.members.unwrap_or_default()
            ));
            group.members = Some(MAX_MEMBERS);
        }
    }
}

/// Sizes above what a producer sends are written as that size.
fn bound_sizes(profile: &mut Profile) {
    for topic in &mut profile.topics {
        for kind in &mut topic.types {
            if kind.sizes.iter().any(|&s| s > MAX_EVENT_SIZE) {
                kind.sizes
                    .iter_mut()
                    .for_each(|s| *s = (*s).min(MAX_EVENT_SIZE));
                profile.notes.push(format!(
                    "records of {} on {} are larger than a producer sends ({MAX_EVENT_SIZE} \
                     bytes): those sizes are written as {MAX_EVENT_SIZE}",
                    super::scenario::comment_text(&kind.name),
                    topic.name
                ));
            }
        }
    }
}

/// Key counts at most [`MAX_KEYS`] each, and all the key states the run would hold (each key
/// once for the producers and once per group that reads its topic) at most [`MAX_KEY_STATES`]:
/// past that, every count is scaled down alike.
fn bound_keys(profile: &mut Profile) {
    let readers = |topic: &str| {
        1 + profile
            .groups
            .iter()
            .filter(|g| g.topics.iter().any(|t| t == topic))
            .count() as u64
    };
    let mut states = 0_u64;
    let mut clamped = false;
    for topic in &profile.topics {
        for kind in &topic.types {
            let keys = match &kind.keys {
                Some(keys) => keys.keys,
                None => kind.keyless_keys,
            };
            clamped |= keys > MAX_KEYS;
            states += keys.min(MAX_KEYS) * readers(&topic.name);
        }
    }
    let factor = if states > MAX_KEY_STATES {
        MAX_KEY_STATES as f64 / states as f64
    } else {
        1.0
    };
    let bounded = |keys: u64| ((keys.min(MAX_KEYS) as f64 * factor).floor() as u64).max(1);
    for topic in &mut profile.topics {
        for kind in &mut topic.types {
            match &mut kind.keys {
                Some(keys) => keys.keys = bounded(keys.keys),
                None => kind.keyless_keys = bounded(kind.keyless_keys),
            }
        }
    }
    if clamped {
        profile.notes.push(format!(
            "key counts above the {MAX_KEYS} surge draws from per event are written as {MAX_KEYS}"
        ));
    }
    if factor < 1.0 {
        profile.notes.push(format!(
            "the key counts would need {states} key states, more than the {MAX_KEY_STATES} a \
             run holds: every count is scaled by {factor:.3}"
        ));
    }
}
