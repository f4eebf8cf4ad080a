//! The profile as the console prints it: one line per topic and group, then the notes.

use std::fmt::Write;

use super::Profile;
use crate::format::{per_second, thousands};

/// A short account of what the profile measured.
pub fn render(profile: &Profile) -> String {
    let mut out = format!(
        "{}: {} over {:.1} s\n",
        profile.servers,
        per_second(profile.total_rate()),
        profile.measured.as_secs_f64()
    );
    for topic in &profile.topics {
        let _ = writeln!(
            out,
            "  topic {}: {}, {:.3} MB/s, {} types in {} sampled records",
            topic.name,
            per_second(topic.rate),
            topic.bytes_per_s() / (1 << 20) as f64,
            topic.types.len(),
            thousands(topic.sampled)
        );
    }
    for group in &profile.groups {
        let members = group
            .members
            .map_or("members unknown".to_string(), |m| format!("{m} members"));
        let _ = writeln!(
            out,
            "  group {}: {members}, {} of {} written, lag {}",
            super::scenario::comment_text(&group.name),
            per_second(group.rate),
            per_second(group.ingress),
            thousands(group.lag_end.max(0) as u64)
        );
    }
    for note in &profile.notes {
        let _ = writeln!(out, "  note: {}", super::scenario::comment_text(note));
    }
    out
}
