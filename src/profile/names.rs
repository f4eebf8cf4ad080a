//! Names a profiled scenario gives what it found on the cluster: event types and groups
//! become unique scenario names that cannot break the file or steer it (any text is
//! sanitized, case and `-`/`_` folded), and redacted types stable placeholders.

use std::collections::HashSet;

use super::Profile;

/// Unique scenario names for every topic's types: the type name (or a stable placeholder when
/// redacted), `TOPIC-record` for records without one.
pub(super) fn event_names(profile: &Profile) -> Vec<Vec<String>> {
    // An event's aggregate is its lowercased name: names must differ in more than case.
    let mut taken = HashSet::new();
    profile
        .topics
        .iter()
        .map(|topic| {
            topic
                .types
                .iter()
                .map(|kind| {
                    let base = if kind.name.is_empty() {
                        sanitized(&format!("{}-record", topic.name))
                    } else if profile.redact_types {
                        format!("type-{:016x}", stable_hash(&kind.name))
                    } else {
                        sanitized(&kind.name)
                    };
                    unique(&base, &mut taken, |name| name.to_lowercase())
                })
                .collect()
        })
        .collect()
}

/// `base`, or `base-2`, `base-3`, ...: the first whose folded form is not taken yet.
fn unique(base: &str, taken: &mut HashSet<String>, fold: impl Fn(&str) -> String) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while !taken.insert(fold(&name)) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Unique group names of letters, digits, `-` and `_` (a group's name names its files, so no
/// dot, and two names may not differ only in case or in `-` against `_`).
pub(super) fn group_names(profile: &Profile) -> Vec<String> {
    let mut taken = HashSet::new();
    profile
        .groups
        .iter()
        .map(|group| {
            let base = sanitized(&group.name).replace('.', "_");
            unique(&base, &mut taken, |name| {
                name.to_lowercase().replace('_', "-")
            })
        })
        .collect()
}

/// A scenario name from any text: letters, digits, `-`, `_` and `.` kept, others `_`.
pub fn sanitized(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(180)
        .collect();
    if name.is_empty() { "_".into() } else { name }
}

/// FNV-1a: the same placeholder for the same type name in every profile.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
