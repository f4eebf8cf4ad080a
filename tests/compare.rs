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
        sustain: None,
        broker_type: None,
        stopped: false,
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
    let warnings =
        surge::compare(&[small, large], &out, &surge::CompareOptions::default()).unwrap();
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
    let error = surge::compare(
        &[small.clone(), large.clone()],
        &out,
        &surge::CompareOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("black-friday") && error.contains("--force"),
        "{error}"
    );
    let warnings = surge::compare(
        &[small, large],
        &out,
        &surge::CompareOptions {
            force: true,
            ..Default::default()
        },
    )
    .unwrap();
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
    let warnings = surge::compare(
        &[full.clone(), half.clone()],
        &out,
        &surge::CompareOptions::default(),
    )
    .unwrap();
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
    let warnings = surge::compare(&[full, half], &out, &surge::CompareOptions::default()).unwrap();
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
    surge::compare(&[before, after], &out, &surge::CompareOptions::default()).unwrap();
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

/// Two runs of express.m7g.large x3 at 40 MB/s in: one on 20 partitions, one on 5,000 (15,000
/// replicas, 5,000 a broker against a recommended 1,000). The comparison holds each against
/// the built-in file's limits and names the crowded one; a file of the user's and a type named
/// by flag work the same way, and a type no file has is refused.
#[test]
fn each_run_is_held_against_its_broker_type_and_a_crowded_one_is_named() {
    let root = tempfile::tempdir().unwrap();
    let (lean, crowded) = (root.path().join("lean"), root.path().join("crowded"));
    for (dir, partitions) in [(&lean, 20), (&crowded, 5_000)] {
        common::copy_fixture(dir);
        edit(dir, |s| {
            s.label = Some(Label {
                name: format!("{partitions} partitions"),
                brokers: Some(3),
                instance_type: Some("express.m7g.large".into()),
                monthly_cost_usd: None,
            });
            s.scenario.topics = vec![surge::summary::TopicInfo {
                name: "order-events".into(),
                partitions,
                replication_factor: 3,
            }];
            s.by_phase.clear();
            s.produced.acked_mb_per_s = 40.0;
        });
    }
    let out = root.path().join("out");
    let options = surge::CompareOptions::default();
    surge::compare(&[lean.clone(), crowded.clone()], &out, &options).unwrap();
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(
        md.contains("## Against each broker type's published limits"),
        "{md}"
    );
    assert!(md.contains("express.m7g.large x 3"), "{md}");
    // 40 MB/s over 3 brokers against 15.625 each; two groups read it: 26.7 against 31.25.
    assert!(md.contains("of 15.625 MB/s (85%)"), "{md}");
    assert!(md.contains("of 31.25 MB/s (85%)"), "{md}");
    assert!(
        md.contains("5000 partitions: partitions per broker (replicas included) 5,000 exceed express.m7g.large's recommended 1,000 (500%)"),
        "{md}"
    );
    assert!(!md.contains("20 partitions: partitions per broker"), "{md}");
    // The crowded run needs 15 brokers for its partitions; the lean one 4 for its throughput
    // (40 MB/s x 1.3 over 15.625 a broker: 3.3).
    let brokers_row: Vec<String> = (md.lines())
        .find(|l| l.contains("brokers its limits call for"))
        .unwrap()
        .split('|')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(brokers_row[1..], ["4", "15"], "{md}");
    assert!(
        md.contains("Limits from data/broker-types.toml (built in) (as of "),
        "{md}"
    );

    // A file of the user's, and the type given by flag to runs whose label names none.
    let mine = root.path().join("mine.toml");
    std::fs::write(
        &mine,
        "source = \"our lab\"\nas_of = \"today\"\n[[types]]\nname = \"lab.small\"\nkind = \"express\"\ningress_mb_s = 10.0\negress_mb_s = 20.0\npartitions_recommended = 100\n",
    )
    .unwrap();
    for dir in [&lean, &crowded] {
        edit(dir, |s| s.label = None);
    }
    let by_flag = surge::CompareOptions {
        broker_types: Some(mine.clone()),
        broker_type: Some("lab.small".into()),
        brokers: Some(2),
        ..surge::CompareOptions::default()
    };
    let out = root.path().join("mine-out");
    surge::compare(&[lean.clone(), crowded.clone()], &out, &by_flag).unwrap();
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains("lab.small x 2"), "{md}");
    // 20 MB/s a broker against 10.
    assert!(
        md.contains(
            "ingress per broker at the peak, MB/s 20 exceed lab.small's recommended 10 (200%)"
        ),
        "{md}"
    );
    assert!(
        md.contains("Limits from") && md.contains("mine.toml (as of today): our lab."),
        "{md}"
    );

    let unknown = surge::CompareOptions {
        broker_type: Some("express.m9.huge".into()),
        ..surge::CompareOptions::default()
    };
    let error = surge::compare(&[lean, crowded], &root.path().join("x"), &unknown).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("--broker-type express.m9.huge: no such type in data/broker-types.toml"),
        "{text}"
    );
    assert!(text.contains("fix:"), "{text}");
}

/// `surge capacity` reads the broker-type file before any probe: a bad one ends the command
/// at once with exit 2, naming the file, the key and the fix.
#[test]
fn capacity_refuses_a_bad_broker_type_file_before_probing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("types.toml");
    std::fs::write(
        &bad,
        "source = \"s\"\nas_of = \"d\"\n[[types]]\nname = \"x\"\nkind = \"express\"\ningress_mb_s = -1.0\negress_mb_s = 2.0\npartitions_recommended = 10\n",
    )
    .unwrap();
    let scenario = common::repo("tests/fixtures/capacity-knee.toml");
    let out = dir.path().join("out");
    for (file, expected) in [
        (bad.clone(), "types[0].ingress_mb_s (`x`) is -1"),
        (dir.path().join("missing.toml"), "cannot be read"),
    ] {
        let args = [
            "capacity",
            scenario.to_str().unwrap(),
            "--broker-types",
            file.to_str().unwrap(),
            "--broker-type",
            "x",
            "--out",
            out.to_str().unwrap(),
        ];
        let output = common::surge_within(&args, std::time::Duration::from_secs(20));
        let message = common::console(&output);
        assert_eq!(output.status.code(), Some(2), "{message}");
        assert!(
            message.contains(file.to_str().unwrap()) && message.contains(expected),
            "{message}"
        );
        assert!(message.contains("fix:"), "{message}");
        assert!(!out.join("probes").exists());
    }
}
