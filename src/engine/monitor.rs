//! The load generator watching itself once a second: its process CPU and memory, its busiest
//! thread, and (on the embedded broker) the brokers' own thread apart from surge's. A
//! saturated generator cannot be trusted to keep its schedule, so the verdict reads these.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// The thread librdkafka's mock cluster runs every embedded broker on.
const EMBEDDED_BROKERS_THREAD: &str = "rdk:mock";

/// CPU time is counted in clock ticks (10 ms): over a shorter window than this, one tick
/// reads as 5% or more, so no figure is given (a run's last partial second can be that short).
const SHORTEST_WINDOW: Duration = Duration::from_millis(200);

/// One second of the generator's own use of its host.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// The whole process, in percent of all the host's cores.
    pub cpu: Option<f64>,
    pub memory_mib: Option<f64>,
    /// surge's own threads (the embedded brokers' excluded), in percent of one core.
    pub process_cpu: Option<f64>,
    /// surge's busiest thread, in percent of one core.
    pub busiest_thread_cpu: Option<f64>,
    /// The embedded brokers' thread, in percent of one core (`None` on a real cluster).
    pub broker_cpu: Option<f64>,
}

/// Samples this process and its threads.
pub struct SelfMonitor {
    system: Option<System>,
    pid: Option<Pid>,
    cores: f64,
    threads: ThreadClock,
    /// When the last figures were taken (`None`: never): the next window starts there.
    sampled_at: Option<Instant>,
}

/// Each thread's CPU time from `/proc/self/task` (Linux): sysinfo's per-task usage does not
/// add up to the process's, so the clock ticks are read and differenced here.
#[derive(Default)]
struct ThreadClock {
    /// Per thread id: its name and CPU ticks (user and system) at the last sample.
    last: HashMap<u32, u64>,
    at: Option<Instant>,
}

impl ThreadClock {
    /// Per thread since the last call: its name and its CPU in percent of one core. `None`
    /// where `/proc` cannot be read, and on the first call (the baseline).
    fn sample(&mut self) -> Option<Vec<(String, f64)>> {
        let tasks = std::fs::read_dir("/proc/self/task").ok()?;
        // SAFETY: sysconf has no preconditions.
        let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let now = Instant::now();
        let elapsed = self.at.map(|at| now.duration_since(at).as_secs_f64());
        // The listing can skip a live thread while others start and end (procfs walks the
        // threads by position), so every thread of the last sample is also read by its id.
        let mut tids: Vec<u32> = tasks
            .flatten()
            .filter_map(|task| task.file_name().to_str()?.parse().ok())
            .collect();
        tids.extend(self.last.keys());
        tids.sort_unstable();
        tids.dedup();
        let mut seen = HashMap::new();
        let mut usage = Vec::new();
        for tid in tids {
            let Some((name, ticks)) =
                std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
                    .ok()
                    .as_deref()
                    .and_then(parse_stat)
            else {
                continue;
            };
            if let (Some(elapsed), Some(before)) = (elapsed, self.last.get(&tid)) {
                let seconds = ticks.saturating_sub(*before) as f64 / ticks_per_second;
                usage.push((name, seconds / elapsed.max(1e-3) * 100.0));
            }
            seen.insert(tid, ticks);
        }
        self.last = seen;
        self.at = Some(now);
        elapsed.map(|_| usage)
    }
}

/// A thread's name and its user plus system CPU ticks, from its `stat` line.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let name = stat.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3 of stat(5); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// A process's resident memory in MiB, to a tenth.
fn mib(process: &sysinfo::Process) -> f64 {
    (process.memory() as f64 / (1u64 << 20) as f64 * 10.0).round() / 10.0
}

/// Reads the process's memory, and its CPU when `cpu` (otherwise its CPU baseline stays
/// where the last sample left it).
fn refresh(system: &mut System, pid: Pid, cpu: bool) {
    let memory = ProcessRefreshKind::nothing().with_memory().without_tasks();
    let kind = if cpu { memory.with_cpu() } else { memory };
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, kind);
}

impl SelfMonitor {
    pub fn new() -> SelfMonitor {
        let pid = sysinfo::get_current_pid().ok();
        let mut monitor = SelfMonitor {
            system: System::new().ok(),
            pid,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
            threads: ThreadClock::default(),
            sampled_at: None,
        };
        // The first CPU reading is a baseline; usage is the difference to the next one.
        monitor.sample();
        monitor
    }

    /// Use since the last sample; only the memory when that was less than [`SHORTEST_WINDOW`]
    /// ago (the next sample then covers the whole window).
    pub fn sample(&mut self) -> Sample {
        let (Some(system), Some(pid)) = (self.system.as_mut(), self.pid) else {
            return Sample::default();
        };
        if self
            .sampled_at
            .is_some_and(|at| at.elapsed() < SHORTEST_WINDOW)
        {
            refresh(system, pid, false);
            return Sample {
                memory_mib: system.process(pid).map(mib),
                ..Sample::default()
            };
        }
        self.sampled_at = Some(Instant::now());
        refresh(system, pid, true);
        let Some(process) = system.process(pid) else {
            return Sample::default();
        };
        let mut sample = Sample {
            cpu: Some((process.cpu_usage() as f64 / self.cores).min(100.0)),
            memory_mib: Some(mib(process)),
            ..Sample::default()
        };
        // Threads are read on Linux only; elsewhere the process figure is all there is.
        let Some(threads) = self.threads.sample() else {
            return sample;
        };
        let (mut surge, mut brokers, mut busiest) = (0.0, None::<f64>, 0.0f64);
        for (name, cpu) in threads {
            if name == EMBEDDED_BROKERS_THREAD {
                *brokers.get_or_insert(0.0) += cpu;
            } else {
                surge += cpu;
                busiest = busiest.max(cpu);
            }
        }
        sample.process_cpu = Some(surge);
        sample.busiest_thread_cpu = Some(busiest);
        sample.broker_cpu = brokers;
        sample
    }
}

impl Default for SelfMonitor {
    fn default() -> Self {
        SelfMonitor::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_stat_line_reads_as_its_name_and_cpu_ticks() {
        let line = "4242 (rdk:broker 1) S 1 2 3 4 5 6 7 8 9 10 120 30 0 0 20 0 9 0 100";
        assert_eq!(parse_stat(line), Some(("rdk:broker 1".to_string(), 150)));
        assert_eq!(parse_stat("garbage"), None);
    }

    /// This thread's CPU time so far.
    fn thread_cpu() -> std::time::Duration {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a pointer to a timespec this frame owns.
        let done = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        assert_eq!(done, 0);
        std::time::Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }

    /// A window too short for the clock's ticks gives the memory alone and keeps the
    /// baseline, so the next sample covers the whole window; a long enough one gives the CPU.
    #[test]
    fn a_window_under_200ms_gives_no_cpu_figures() {
        let mut monitor = SelfMonitor::new();
        std::thread::sleep(SHORTEST_WINDOW);
        let sample = monitor.sample();
        assert!(
            sample.cpu.is_some() && sample.busiest_thread_cpu.is_some(),
            "{sample:?}"
        );
        // The last sample "in the future": however long this host stalls, the window is short.
        let baseline = Instant::now() + Duration::from_secs(3600);
        monitor.sampled_at = Some(baseline);
        let short = monitor.sample();
        assert!(short.memory_mib.is_some(), "{short:?}");
        assert_eq!(
            Sample {
                memory_mib: None,
                ..short
            },
            Sample::default()
        );
        assert_eq!(monitor.sampled_at, Some(baseline));
    }

    /// The busiest thread's reading is the spinning thread's own CPU time over the interval,
    /// whatever else shares the cores: the thread spins until it has used 300 ms of CPU, and
    /// the reading must be that share of the wall time (give or take two clock ticks), never
    /// more than one core.
    #[test]
    fn a_busy_thread_reads_its_own_cpu_share() {
        let mut clock = ThreadClock::default();
        let began = Instant::now();
        let cpu_before = thread_cpu();
        assert!(clock.sample().is_none(), "the first sample is a baseline");
        while thread_cpu() - cpu_before < std::time::Duration::from_millis(300) {
            std::hint::black_box(0u64);
        }
        let usage = clock.sample().expect("/proc/self/task is readable");
        let wall = began.elapsed().as_secs_f64();
        let share = (thread_cpu() - cpu_before).as_secs_f64() / wall * 100.0;
        let busiest = usage.iter().map(|(_, cpu)| *cpu).fold(0.0, f64::max);
        let tick = 100.0 * 0.02 / wall;
        assert!(
            busiest >= share - tick && busiest < 115.0,
            "busiest {busiest:.1}% against this thread's {share:.1}% ({usage:?})"
        );
    }
}
