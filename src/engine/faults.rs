//! Faults on the plan's clock: one schedule the run loop walks, and one handle that applies
//! each step to whatever the run owns (the embedded cluster, the group members, the
//! producers) or hands it to a shell.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::consumer::{CRASH, GroupShared, LEAVE};
use super::producer::InstanceShared;
use crate::kafka::EmbeddedCluster;
use crate::scenario::{Brokers, FaultKind, FaultSpec, Scenario};
use crate::summary::CommandRun;

/// One thing to do at one time: apply a fault, or undo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub at: Duration,
    /// Index into the scenario's faults.
    pub fault: usize,
    pub undo: bool,
    /// Which of the fault's steps (a scale has one per member; other kinds one).
    pub part: usize,
}

/// Every step of every fault, in time order; the run loop takes the ones that are due.
#[derive(Debug, Default)]
pub struct FaultSchedule {
    steps: Vec<Step>,
    next: usize,
}

impl FaultSchedule {
    pub fn new(faults: &[FaultSpec]) -> FaultSchedule {
        let mut steps: Vec<Step> = faults
            .iter()
            .enumerate()
            .flat_map(|(fault, spec)| {
                let applies = spec
                    .step_times()
                    .into_iter()
                    .enumerate()
                    .map(move |(part, at)| Step {
                        at,
                        fault,
                        undo: false,
                        part,
                    });
                let undo = spec.end().map(|at| Step {
                    at,
                    fault,
                    undo: true,
                    part: 0,
                });
                applies.chain(undo)
            })
            .collect();
        // At one instant, undo before apply, so back-to-back faults do not overlap.
        steps.sort_by_key(|s| (s.at, !s.undo, s.fault, s.part));
        FaultSchedule { steps, next: 0 }
    }

    /// The steps due at `now` that were not taken yet.
    pub fn due(&mut self, now: Duration) -> Vec<Step> {
        let start = self.next;
        while self.steps.get(self.next).is_some_and(|s| s.at <= now) {
            self.next += 1;
        }
        self.steps[start..self.next].to_vec()
    }
}

/// What happened to one fault during the run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaultLog {
    /// When it was applied and undone, from the plan's start.
    pub started: Option<Duration>,
    pub ended: Option<Duration>,
    pub commands: Vec<CommandRun>,
    /// Why it could not be applied or undone.
    pub error: Option<String>,
}

/// A step the engine itself must carry out.
pub enum Action {
    /// Start one more member of a group.
    JoinMember { group: usize, member: usize },
}

/// Applies faults to what the run owns.
pub struct FaultHandle<'a> {
    scenario: Arc<Scenario>,
    embedded: Option<&'a EmbeddedCluster>,
    groups: &'a [Arc<GroupShared>],
    instances: &'a [Arc<InstanceShared>],
    pub logs: Vec<FaultLog>,
    running: Vec<(usize, tokio::task::JoinHandle<CommandRun>)>,
}

impl<'a> FaultHandle<'a> {
    pub fn new(
        scenario: Arc<Scenario>,
        embedded: Option<&'a EmbeddedCluster>,
        groups: &'a [Arc<GroupShared>],
        instances: &'a [Arc<InstanceShared>],
    ) -> FaultHandle<'a> {
        FaultHandle {
            logs: vec![FaultLog::default(); scenario.faults.len()],
            scenario,
            embedded,
            groups,
            instances,
            running: Vec::new(),
        }
    }

    /// Applies or undoes one step at `now`; a step that fails is logged on its fault.
    pub fn take(&mut self, step: Step, now: Duration) -> Option<Action> {
        let spec = &self.scenario.faults[step.fault];
        let log = &mut self.logs[step.fault];
        if step.undo {
            if log.started.is_none() || log.ended.is_some() {
                return None;
            }
            log.ended = Some(now);
        } else if step.part == 0 {
            log.started = Some(now);
        }
        // One worker of several acts only on what it runs: the cluster-wide commands run on
        // worker 0 alone, a member's step on the worker that runs that member. The others
        // record the window, which `surge merge` takes.
        let workers = self.scenario.workers;
        let acts_here = match &spec.kind {
            FaultKind::Command { .. } => workers.index == 0,
            FaultKind::MemberCrash { member, .. }
            | FaultKind::MemberLeave { member, .. }
            | FaultKind::MemberJoin { member, .. } => workers.runs_member(*member as usize),
            FaultKind::ScaleGroup { steps, .. } => steps
                .get(step.part)
                .is_some_and(|&m| workers.runs_member(m as usize)),
            _ => true,
        };
        if !acts_here {
            return None;
        }
        let result = match (&spec.kind, step.undo) {
            (FaultKind::Command { run, undo, timeout }, undo_step) => {
                let (label, command) = if undo_step {
                    ("undo", undo.as_ref())
                } else {
                    ("run", Some(run))
                };
                if let Some(command) = command {
                    let task = tokio::spawn(run_command(
                        label,
                        command.clone(),
                        *timeout,
                        scrubbed_env(&self.scenario),
                        self.scenario.clone(),
                    ));
                    self.running.push((step.fault, task));
                }
                Ok(None)
            }
            (FaultKind::ProducerPause, undo) => {
                for instance in self.instances {
                    instance.paused.store(!undo, Ordering::Release);
                }
                Ok(None)
            }
            (FaultKind::GroupPause { group }, undo) => {
                self.groups[*group].paused.store(!undo, Ordering::Release);
                Ok(None)
            }
            (FaultKind::MemberCrash { group, member }, false) => {
                self.depart(step.fault, *group, *member, CRASH)
            }
            (FaultKind::MemberLeave { group, member }, false) => {
                self.depart(step.fault, *group, *member, LEAVE)
            }
            (FaultKind::MemberJoin { group, member }, false) => {
                Ok(self.join(step.fault, *group, *member))
            }
            (
                FaultKind::ScaleGroup {
                    group,
                    from,
                    to,
                    steps,
                    ..
                },
                false,
            ) => match steps.get(step.part) {
                Some(&member) if to > from => Ok(self.join(step.fault, *group, member)),
                Some(&member) => self.depart(step.fault, *group, member, LEAVE),
                None => Ok(None),
            },
            (kind, undo) => self.embedded_step(kind, undo).map(|()| None),
        };
        result.unwrap_or_else(|error| {
            let log = &mut self.logs[step.fault];
            log.error.get_or_insert(format!(
                "fault `{}` could not be {}: {error}",
                spec.name,
                if step.undo { "undone" } else { "applied" }
            ));
            None
        })
    }

    /// Tells a member to leave or crash, noting what made its group rebalance.
    fn depart(
        &self,
        fault: usize,
        group: usize,
        member: u16,
        how: u8,
    ) -> Result<Option<Action>, String> {
        let shared = &self.groups[group];
        shared.note_trigger(fault, member as usize, false);
        shared.depart(member as usize, how);
        Ok(None)
    }

    /// A member to start, noting what made its group rebalance.
    fn join(&self, fault: usize, group: usize, member: u16) -> Option<Action> {
        self.groups[group].note_trigger(fault, member as usize, true);
        Some(Action::JoinMember {
            group,
            member: member as usize,
        })
    }

    fn embedded_step(&self, kind: &FaultKind, undo: bool) -> Result<(), String> {
        let cluster = self
            .embedded
            .ok_or("this fault needs the embedded broker, and the run uses a real cluster")?;
        match kind {
            FaultKind::BrokerDown { broker } if undo => cluster.broker_up(*broker),
            FaultKind::BrokerDown { broker } => cluster.broker_down(*broker),
            FaultKind::Rtt { brokers, rtt } => {
                let rtt = if undo { Duration::ZERO } else { *rtt };
                let all: Vec<i32> = match brokers {
                    Brokers::All => (1..=cluster.brokers()).collect(),
                    Brokers::One(b) => vec![*b],
                };
                all.into_iter()
                    .try_for_each(|b| cluster.set_round_trip_time(b, rtt))
            }
            FaultKind::RequestErrors { api, .. } if undo => {
                cluster.clear_request_errors(api);
                Ok(())
            }
            FaultKind::RequestErrors { api, error, count } => {
                cluster.request_errors(api, error, *count)
            }
            FaultKind::LeaderMove {
                topic,
                partition,
                broker,
            } => cluster.move_leader(&self.scenario.topics[*topic].name, *partition, *broker),
            _ => Ok(()),
        }
    }

    /// Collects commands that finished; returns why the run must stop, if a fault failed.
    pub async fn poll(&mut self) -> Option<String> {
        let mut index = 0;
        while index < self.running.len() {
            if self.running[index].1.is_finished() {
                let (fault, task) = self.running.remove(index);
                self.record(fault, task.await);
            } else {
                index += 1;
            }
        }
        self.failure()
    }

    fn record(&mut self, fault: usize, result: Result<CommandRun, tokio::task::JoinError>) {
        let log = &mut self.logs[fault];
        match result {
            Ok(run) => {
                if let Some(failure) = run.failure()
                    && log.error.is_none()
                {
                    let fix = if run.timed_out {
                        format!("raise faults[{fault}].timeout, or make the command return sooner")
                    } else {
                        format!("run `{}` by hand to see why it fails", run.command)
                    };
                    log.error = Some(format!(
                        "fault `{}` (faults[{fault}].{}): {failure}\n  fix: {fix}",
                        self.scenario.faults[fault].name, run.step
                    ));
                }
                log.commands.push(run);
            }
            Err(error) => {
                log.error
                    .get_or_insert(format!("a command task failed: {error}"));
            }
        }
    }

    fn failure(&self) -> Option<String> {
        self.logs.iter().find_map(|log| log.error.clone())
    }

    /// Undoes every fault still applied (a run that stops early leaves no broker down and no
    /// producer paused, and runs every `undo` command), then waits for the commands, each
    /// within its own timeout.
    pub async fn finish(&mut self, now: Duration) -> Option<String> {
        for fault in 0..self.scenario.faults.len() {
            let log = &self.logs[fault];
            if log.started.is_some()
                && log.ended.is_none()
                && self.scenario.faults[fault].duration.is_some()
            {
                self.take(
                    Step {
                        at: now,
                        fault,
                        undo: true,
                        part: 0,
                    },
                    now,
                );
            }
        }
        for (fault, task) in std::mem::take(&mut self.running) {
            self.record(fault, task.await);
        }
        self.failure()
    }
}

/// Environment variables a command must not see: the SASL password variables, and the AWS
/// secrets when surge signed MSK IAM tokens with them.
fn scrubbed_env(scenario: &Scenario) -> Vec<String> {
    let mut names = vec!["SURGE_SASL_PASSWORD".to_string()];
    match &scenario.cluster.auth {
        crate::scenario::Auth::Scram {
            password: crate::scenario::SecretSource::Env(name),
            ..
        } => names.push(name.clone()),
        crate::scenario::Auth::Iam { .. } => {
            names.extend(
                [
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN",
                    "AWS_ACCESS_KEY_ID",
                ]
                .map(String::from),
            );
        }
        _ => {}
    }
    names
}

/// The most output a command keeps (its end).
const OUTPUT_LIMIT: usize = 4096;

async fn run_command(
    step: &'static str,
    command: String,
    timeout: Duration,
    scrub: Vec<String>,
    scenario: Arc<Scenario>,
) -> CommandRun {
    let started = Instant::now();
    let mut shell = tokio::process::Command::new("sh");
    shell
        .arg("-c")
        .arg(&command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    shell.process_group(0);
    for name in &scrub {
        shell.env_remove(name);
    }
    let finish = |exit_code, timed_out, output: String| CommandRun {
        step: step.into(),
        command: command.clone(),
        exit_code,
        timed_out,
        seconds: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        output: tail(
            &super::redact::redact_errors(&[output], &scenario).join(""),
            OUTPUT_LIMIT,
        ),
    };
    let child = match shell.spawn() {
        Ok(child) => child,
        Err(error) => return finish(None, false, format!("could not start sh: {error}")),
    };
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            finish(output.status.code(), false, text)
        }
        Ok(Err(error)) => finish(None, false, error.to_string()),
        Err(_) => {
            // The shell is killed on drop; its children share its process group, which is
            // killed here by its id. (Not through the `kill` program: procps-ng 4.0.2's, on
            // this project's machine, took `kill -KILL -PGID` far wider than the group.)
            if let Some(group) = pid.and_then(|p| i32::try_from(p).ok()).filter(|&p| p > 1) {
                // SAFETY: kill(2) with a negative id signals that process group only.
                unsafe { libc::kill(-group, libc::SIGKILL) };
            }
            finish(None, true, String::new())
        }
    }
}

fn tail(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::FaultKind;

    fn fault(name: &str, at: u64, duration: Option<u64>) -> FaultSpec {
        FaultSpec {
            name: name.into(),
            at: Duration::from_secs(at),
            duration: duration.map(Duration::from_secs),
            kind: FaultKind::ProducerPause,
        }
    }

    #[test]
    fn the_schedule_yields_each_step_once_in_time_order_undo_first() {
        let faults = [
            fault("a", 5, Some(5)),
            fault("b", 10, None),
            fault("c", 2, None),
        ];
        let mut schedule = FaultSchedule::new(&faults);
        assert!(schedule.due(Duration::from_secs(1)).is_empty());
        let first = schedule.due(Duration::from_secs(5));
        assert_eq!(
            first.iter().map(|s| (s.fault, s.undo)).collect::<Vec<_>>(),
            [(2, false), (0, false)]
        );
        assert!(schedule.due(Duration::from_secs(5)).is_empty());
        let at_ten = schedule.due(Duration::from_secs(60));
        assert_eq!(
            at_ten.iter().map(|s| (s.fault, s.undo)).collect::<Vec<_>>(),
            [(0, true), (1, false)]
        );
    }

    #[test]
    fn long_output_keeps_its_end() {
        let text = "a".repeat(5000) + "END";
        let kept = tail(&text, 100);
        assert!(kept.ends_with("END") && kept.len() <= 103);
    }
}
