//! `surge compare` on fixed summaries: a pinned Markdown table for two sizing options, and
//! a refusal to compare different scenarios unless forced.

mod common;

use std::path::Path;

use surge::summary::{Capacity, Label, Status, Summary};

fn edit(dir: &Path, change: impl FnOnce(&mut Summary)) {
    let path = dir.join("summary.json");
    let mut summary = Summary::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(&mut summary);
    std::fs::write(path, serde_json::to_string_pretty(&summary).unwrap()).unwrap();
}

fn capacity(sustained: f64, p95_at: &[(f64, u64, Status)]) -> Capacity {
    Capacity {
        probes: common::probes(p95_at),
        sustained_rate: Some(sustained),
        target_peak: 100_000.0,
        headroom_percent: Some((sustained / 100_000.0 - 1.0) * 100.0),
        generator_limit: None,
        p95_limit_us: Some(100_000),
        elapsed_s: 300.0,
        budget_s: 600.0,
        conclusion: format!("sustains {sustained} events/s at e2e p95 < 100ms; target peak 100000"),
    }
}

fn two_options(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (small, large) = (root.join("m5-large-x2"), root.join("m5-xlarge-x3"));
    common::copy_fixture(&small);
    common::copy_fixture(&large);
    edit(&small, |s| {
        s.label = Some(Label {
            name: "m5.large x2".into(),
            brokers: Some(2),
            instance_type: Some("kafka.m5.large".into()),
            monthly_cost_usd: Some(500.0),
        });
        s.capacity = Some(capacity(
            40_000.0,
            &[
                (20_000.0, 30_000, Status::Pass),
                (40_000.0, 80_000, Status::Pass),
                (80_000.0, 900_000, Status::Fail),
            ],
        ));
    });
    edit(&large, |s| {
        s.label = Some(Label {
            name: "m5.xlarge x3".into(),
            brokers: Some(3),
            instance_type: Some("kafka.m5.xlarge".into()),
            monthly_cost_usd: Some(2500.0),
        });
        s.capacity = Some(capacity(
            125_000.0,
            &[
                (40_000.0, 20_000, Status::Pass),
                (80_000.0, 25_000, Status::Pass),
                (125_000.0, 70_000, Status::Pass),
                (160_000.0, 400_000, Status::Fail),
            ],
        ));
        s.latency.e2e_us.p95 /= 2;
    });
    (small, large)
}

#[test]
fn two_sizing_options_side_by_side_are_pinned() {
    let root = tempfile::tempdir().unwrap();
    let (small, large) = two_options(root.path());
    let out = root.path().join("out");
    let warnings = surge::compare(&[small, large], &out, false, 0.3).unwrap();
    assert!(warnings.is_empty());
    let markdown = std::fs::read_to_string(out.join("compare.md")).unwrap();
    insta::assert_snapshot!("compare_md", markdown);
    // $2,500 / 125 = $20 per 1,000 events/s; 3 brokers x 100k x 1.3 / 125k -> 4 brokers.
    assert!(markdown.contains("$20"), "{markdown}");
    assert!(markdown.contains("estimate"));
    for file in [
        "compare.html",
        "compare-distribution.svg",
        "compare-capacity.svg",
    ] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        let doc = roxmltree::Document::parse(text.trim_start_matches("<!DOCTYPE html>\n"))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        if file.ends_with(".svg") {
            // A chart copied out of the comparison still says which runs it shows.
            let desc = doc
                .root_element()
                .children()
                .find(|n| n.has_tag_name("desc"))
                .and_then(|n| n.text())
                .unwrap_or_else(|| panic!("{file} has no <desc>"));
            assert!(
                desc.contains("m5.large x2") && desc.contains("m5.xlarge x3"),
                "{desc}"
            );
        }
    }
}

#[test]
fn different_scenarios_are_refused_unless_forced() {
    let root = tempfile::tempdir().unwrap();
    let (small, large) = two_options(root.path());
    edit(&large, |s| s.scenario.name = "black-friday".into());
    let out = root.path().join("out");
    let error = surge::compare(&[small.clone(), large.clone()], &out, false, 0.3)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("black-friday") && error.contains("--force"),
        "{error}"
    );
    let warnings = surge::compare(&[small, large], &out, true, 0.3).unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        std::fs::read_to_string(out.join("compare.md"))
            .unwrap()
            .contains("warning")
    );
}

#[test]
fn runs_offered_different_plans_are_named_at_the_top_and_their_rows_marked() {
    let root = tempfile::tempdir().unwrap();
    let (full, half) = two_options(root.path());
    // The same cluster at half the rate, as `--rate-scale 0.5` runs it: its achieved rate is
    // half, which says nothing about the cluster.
    edit(&half, |s| {
        s.label = None;
        s.capacity = None;
        s.settings.rate_scale = 0.5;
        s.produced.target_rate /= 2.0;
        s.produced.achieved_rate /= 2.0;
    });
    edit(&full, |s| {
        s.label = None;
        s.capacity = None;
    });
    let out = root.path().join("out");
    let warnings = surge::compare(&[full.clone(), half.clone()], &out, false, 0.3).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("--rate-scale 0.5 here, 1 in the first run"),
        "{warnings:?}"
    );
    let markdown = std::fs::read_to_string(out.join("compare.md")).unwrap();
    let warning_at = markdown
        .find("did not run the same plan")
        .expect("a warning");
    let table_at = markdown.find("| achieved rate").expect("the table");
    assert!(warning_at < table_at, "the warning comes first");
    let row = markdown
        .lines()
        .find(|l| l.starts_with("| achieved rate †"))
        .expect("the achieved rate row is marked");
    assert!(row.contains("-50.0%"), "{row}");
    // Same plan, no marks.
    edit(&half, |s| {
        s.settings.rate_scale = 1.0;
        s.produced.target_rate *= 2.0;
    });
    let warnings = surge::compare(&[full, half], &out, false, 0.3).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let markdown = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(!markdown.contains('†'), "{markdown}");
}

#[test]
fn two_runs_compare_their_peak_phases_and_their_megabytes() {
    let root = tempfile::tempdir().unwrap();
    let (before, after) = (root.path().join("before"), root.path().join("after"));
    // reports/example is a whole run with bytes and phases; the second run's peak is slower.
    common::copy_dir(&common::repo("reports/example"), &before);
    common::copy_dir(&common::repo("reports/example"), &after);
    let peak_p95 = |s: &Summary| s.peak().unwrap().e2e_us.p95;
    let mut base = 0;
    edit(&before, |s| base = peak_p95(s));
    edit(&after, |s| {
        let peak = s.by_phase.iter_mut().find(|p| p.peak).unwrap();
        peak.e2e_us.p95 *= 2;
        s.produced.acked_mb_per_s /= 2.0;
    });
    let out = root.path().join("out");
    surge::compare(&[before, after], &out, false, 0.3).unwrap();
    let markdown = std::fs::read_to_string(out.join("compare.md")).unwrap();
    let row = |name: &str| {
        markdown
            .lines()
            .find(|l| l.starts_with(&format!("| {name}")))
            .unwrap_or_else(|| panic!("no `{name}` row in {markdown}"))
            .to_string()
    };
    let p95 = row("peak phase: e2e p95");
    assert!(
        p95.contains("+100.0%") || p95.contains("+99."),
        "{p95} from {base} us"
    );
    assert!(row("acked MB/s (measured phases)").contains("-50.0%"));
    assert!(row("peak phase: achieved rate").contains("(+0.0%)"));
}
