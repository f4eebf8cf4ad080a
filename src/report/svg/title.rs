//! What a chart says about itself: a `<title>` and a `<desc>` naming the run, so a chart
//! copied out of its report still says where it came from.

use super::provenance;
use crate::report::escape;
use crate::summary::Summary;

/// Puts `<title>` and `<desc>` first inside the `<svg>` element.
pub(super) fn stamp(svg: String, title: &str, summary: &Summary) -> String {
    let description = format!(
        "{title}. Scenario {} ({}), run {}, started {}, cluster {} ({}).",
        summary.scenario.name,
        summary.scenario.file,
        summary.run_id,
        summary.started_at,
        summary.cluster.kind,
        summary.cluster.bootstrap
    );
    titled(
        svg,
        &format!("{title} — {}", provenance(summary)),
        &description,
    )
}

/// Puts a `<title>` and a `<desc>` first inside an `<svg>` element.
pub fn titled(svg: String, title: &str, description: &str) -> String {
    let Some(open) = svg.find("<svg") else {
        return svg;
    };
    let Some(close) = svg[open..].find('>').map(|at| open + at + 1) else {
        return svg;
    };
    format!(
        "{}\n<title>{}</title>\n<desc>{}</desc>{}",
        &svg[..close],
        escape(title),
        escape(description),
        &svg[close..]
    )
}
