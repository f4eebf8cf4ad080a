//! The load generator watching itself: its process CPU and memory, once a second. A saturated
//! generator cannot be trusted to keep its schedule, so the verdict reads these.

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Samples this process.
pub struct SelfMonitor {
    system: Option<System>,
    pid: Option<Pid>,
    cores: f64,
}

impl SelfMonitor {
    pub fn new() -> SelfMonitor {
        let pid = sysinfo::get_current_pid().ok();
        let mut system = System::new().ok();
        if let (Some(system), Some(pid)) = (system.as_mut(), pid) {
            // The first CPU reading is a baseline; usage is the difference to the next one.
            system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                false,
                ProcessRefreshKind::nothing().with_cpu().with_memory(),
            );
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        SelfMonitor { system, pid, cores }
    }

    /// CPU as a percentage of all cores since the last sample, and resident memory in MiB.
    pub fn sample(&mut self) -> (Option<f64>, Option<f64>) {
        let (Some(system), Some(pid)) = (self.system.as_mut(), self.pid) else {
            return (None, None);
        };
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            false,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        match system.process(pid) {
            Some(process) => {
                let cpu = process.cpu_usage() as f64 / self.cores;
                let memory = (process.memory() as f64 / (1u64 << 20) as f64 * 10.0).round() / 10.0;
                (Some(cpu.min(100.0)), Some(memory))
            }
            None => (None, None),
        }
    }
}

impl Default for SelfMonitor {
    fn default() -> Self {
        SelfMonitor::new()
    }
}
