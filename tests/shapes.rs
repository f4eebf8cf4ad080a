//! Every load shape through the real parser and the one pacer, with exact intended times.

use std::io::Write;
use std::time::Duration;

use surge::engine::Plan;
use surge::scenario::Overrides;

const HEAD: &str =
    "[[topics]]\nname = \"t\"\npartitions = 1\n[[events]]\nname = \"E\"\ntopic = \"t\"\n";

fn plan(phases: &str, dir: &std::path::Path) -> Plan {
    let path = dir.join("shape.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(format!("{HEAD}{phases}").as_bytes())
        .unwrap();
    let scenario = surge::validate(&path, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
    Plan::new(&scenario.phases)
}

fn at(plan: &Plan, event: u64) -> Duration {
    plan.tick(event).unwrap().intended
}

fn micros(us: u64) -> Duration {
    Duration::from_micros(us)
}

#[test]
fn step_is_a_staircase_of_constant_rates() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(
        "[[phases]]\nname = \"stairs\"\nshape = \"step\"\nrates = [\"1k/s\", \"2k/s\", 4000]\nduration = \"3s\"\n",
        dir.path(),
    );
    assert_eq!(plan.total_events(), 7000);
    assert_eq!(at(&plan, 999), micros(999_000));
    assert_eq!(at(&plan, 1000), micros(1_000_000));
    assert_eq!(at(&plan, 1001), micros(1_000_500));
    assert_eq!(at(&plan, 3000), micros(2_000_000));
    assert_eq!(at(&plan, 3001), micros(2_000_250));
}

#[test]
fn spike_bursts_to_a_multiple_of_the_base_and_returns() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(
        "[[phases]]\nname = \"sale\"\nshape = \"spike\"\nrate = 100\nfactor = 3\nspike_at = \"1s\"\nspike_duration = \"1s\"\nduration = \"3s\"\n",
        dir.path(),
    );
    assert_eq!(plan.total_events(), 100 + 300 + 100);
    assert_eq!(at(&plan, 99), micros(990_000));
    assert_eq!(at(&plan, 100), micros(1_000_000));
    assert_eq!(at(&plan, 103), micros(1_010_000));
    assert_eq!(at(&plan, 400), micros(2_000_000));
    assert_eq!(at(&plan, 401), micros(2_010_000));
    let names: Vec<String> = plan.phase_spans().into_iter().map(|s| s.0).collect();
    assert_eq!(names, vec!["sale", "sale:spike", "sale"]);
}

#[test]
fn ramp_and_replayed_curve_follow_the_integral_of_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("last-year.csv"),
        "seconds,events_per_second\n0,0\n2,200\n4,200\n",
    )
    .unwrap();
    // The curve, doubled: 0 -> 400/s over 2 s (N(t) = 100 t^2), then 400/s for 2 s.
    let replay = plan(
        "[[phases]]\nname = \"replay\"\nshape = \"replay\"\ncsv = \"last-year.csv\"\nscale = 2.0\n",
        dir.path(),
    );
    assert_eq!(replay.total_events(), 400 + 800);
    assert_eq!(at(&replay, 100), micros(1_000_000));
    assert_eq!(at(&replay, 25), micros(500_000));
    assert_eq!(at(&replay, 400), micros(2_000_000));
    assert_eq!(at(&replay, 401), micros(2_002_500));
    let ramp = plan(
        "[[phases]]\nfrom = \"1k/s\"\nto = \"3k/s\"\nduration = \"2s\"\n",
        dir.path(),
    );
    // N(t) = 1000 t + 500 t^2: 1500 events after 1 s, 4000 after 2 s.
    assert_eq!(ramp.total_events(), 4000);
    assert_eq!(at(&ramp, 1500), micros(1_000_000));
}

#[test]
fn shape_mistakes_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[phases]]\nshape = \"spike\"\nrate = 100\nfactor = 3\nspike_at = \"2s\"\nspike_duration = \"2s\"\nduration = \"3s\"\n",
            "phases[0].spike_duration",
        ),
        (
            "[[phases]]\nshape = \"step\"\nduration = \"3s\"\n",
            "phases[0].rates",
        ),
        (
            "[[phases]]\nshape = \"replay\"\ncsv = \"missing.csv\"\n",
            "phases[0].csv",
        ),
        (
            "[[phases]]\nshape = \"wave\"\nrate = 1\nduration = \"1s\"\n",
            "phases[0].shape",
        ),
    ];
    for (phases, key) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, format!("{HEAD}{phases}")).unwrap();
        let error = surge::validate(&path, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains(key), "expected {key} in: {error}");
    }
}
