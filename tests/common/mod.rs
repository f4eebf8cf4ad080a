//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use surge::engine::StopSignal;
use surge::scenario::{Overrides, Slo};
use surge::{RunOptions, RunOutcome, SurgeError};

/// Load tests share two cores: one at a time, so none measures another's load.
static HEAVY: Mutex<()> = Mutex::new(());

/// The longest one load test may hold the machine. A test still running then has hung: the
/// whole test binary stops with the test's name, at once, rather than at CI's time limit with
/// nothing said. The slowest test takes a few minutes.
const HUNG_AFTER: Duration = Duration::from_secs(15 * 60);

/// The machine, held by one load test; a watchdog ends the tests if it is held too long.
pub struct Machine {
    _held: MutexGuard<'static, ()>,
    /// Dropped with the machine, which tells the watchdog the test has ended.
    _ended: std::sync::mpsc::Sender<()>,
}

/// Takes the machine for one load test.
pub fn exclusive() -> Machine {
    let held = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let (ended, watch) = std::sync::mpsc::channel::<()>();
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = watch.recv_timeout(HUNG_AFTER) {
            // Straight to stderr: the harness captures what `eprintln!` writes from a test's
            // threads, and exiting would drop it.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{test} has held the machine for {} minutes: it hangs. Stopping this test binary.",
                HUNG_AFTER.as_secs() / 60
            );
            std::process::exit(101);
        }
    });
    Machine {
        _held: held,
        _ended: ended,
    }
}

/// Capacity probes at (offered rate, e2e p95, status), p99 twice the p95.
pub fn probes(p95_at: &[(f64, u64, surge::summary::Status)]) -> Vec<surge::summary::Probe> {
    p95_at
        .iter()
        .map(|&(rate, p95, status)| surge::summary::Probe {
            offered_rate: rate,
            status,
            achieved_rate: rate,
            e2e_p95_us: p95,
            e2e_p99_us: p95 * 2,
            max_lag: 10,
            reasons: vec![],
            throttled_share: 0.0,
            acked_mb_per_s: rate * 512.0 / 1_048_576.0,
            interrupted: false,
        })
        .collect()
}

/// Copies the fixed smoke run (tests/fixtures/smoke-run) into `to`, creating it.
pub fn copy_fixture(to: &Path) {
    copy_dir(&repo("tests/fixtures/smoke-run"), to);
}

/// Copies the files of `from` into `to` (made if missing).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// A path under the crate root.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Overrides with scaled rates and durations and extra SLOs.
pub fn overrides(rate_scale: f64, duration_scale: f64, slos: &[&str]) -> Overrides {
    Overrides {
        rate_scale: Some(rate_scale),
        duration_scale: Some(duration_scale),
        slos: slos.iter().map(|s| s.parse::<Slo>().unwrap()).collect(),
        ..Overrides::default()
    }
}

/// Runs a scenario in-process, the way `surge run` does.
pub fn run(scenario: &str, overrides: Overrides, out: &Path) -> Result<RunOutcome, SurgeError> {
    run_with_stop(scenario, overrides, out, Arc::new(StopSignal::default()))
}

pub fn run_with_stop(
    scenario: &str,
    overrides: Overrides,
    out: &Path,
    stop: Arc<StopSignal>,
) -> Result<RunOutcome, SurgeError> {
    surge::run(&options(scenario, overrides, out), stop)
}

/// A stop signal requested at fixed times, as Ctrl-C pressed at those moments.
pub struct TimedStops {
    signal: Arc<StopSignal>,
    requester: std::thread::JoinHandle<()>,
}

/// Requests a stop at each offset from now (in increasing order), on a thread of its own.
pub fn stops_at(offsets: &[Duration]) -> TimedStops {
    let signal = Arc::new(StopSignal::default());
    let began = std::time::Instant::now();
    let offsets = offsets.to_vec();
    let requester = {
        let signal = signal.clone();
        std::thread::spawn(move || {
            for at in offsets {
                std::thread::sleep(at.saturating_sub(began.elapsed()));
                signal.request();
            }
        })
    };
    TimedStops { signal, requester }
}

impl TimedStops {
    /// The signal, for a run or a capacity search.
    pub fn signal(&self) -> Arc<StopSignal> {
        self.signal.clone()
    }

    /// Waits until every stop was requested.
    pub fn join(self) {
        self.requester.join().unwrap();
    }
}

/// The options `surge run` would build for a scenario under the crate root, quiet.
pub fn options(scenario: &str, overrides: Overrides, out: &Path) -> RunOptions {
    RunOptions {
        scenario: repo(scenario),
        overrides,
        out: Some(out.to_path_buf()),
        quiet: true,
        metrics_addr: None,
        workers: Default::default(),
    }
}

/// Reads back the summary a run wrote.
pub fn written_summary(dir: &Path) -> surge::summary::Summary {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    surge::summary::Summary::from_json(&text).expect("summary.json parses")
}

/// A child process's stdout and stderr together, as a user sees them.
pub fn console(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
pub mod faketime;
pub mod kafka;
pub mod live;

/// `python3` with the packages the tests use on its path (prometheus-client, kubernetes-validate,
/// xmlschema), which scripts/test-python.sh fetches from PyPI into the cache the first time.
pub fn python() -> std::process::Command {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let path = PATH.get_or_init(|| {
        let output = std::process::Command::new(repo("scripts/test-python.sh"))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("scripts/test-python.sh runs");
        assert!(
            output.status.success(),
            "the tests' Python packages could not be fetched:\n{}",
            console(&output)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    });
    let mut command = std::process::Command::new("python3");
    command.env("PYTHONPATH", path);
    command
}

/// Runs surge with a hard limit; a run still going after `limit` is killed and fails the test.
pub fn surge_within(args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = spawn_surge(args, &[]);
    wait_within(&mut child, limit);
    child.wait_with_output().unwrap()
}

/// Starts surge with `envs` (and no `KAFKA_BOOTSTRAP_SERVERS` from the test's environment), its
/// output captured.
pub fn spawn_surge(args: &[&str], envs: &[(&str, String)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_surge"))
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .env_remove("KAFKA_BOOTSTRAP_SERVERS")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("surge starts")
}

/// Waits for a child to end; one still running after `limit` is killed and fails the test.
pub fn wait_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("surge did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
