//! Open-loop pacing: one plan of phases, one loop, intended times computed, never observed.
//!
//! Event `n` is due at the plan's start plus the time at which the integral of the target
//! rate reaches `n`. Latency is measured from that intended time, so a stalled generator
//! shows its stall as latency instead of hiding it (no coordinated omission).

use std::time::{Duration, Instant};

use crate::scenario::{Phase, Shape};

#[derive(Debug, Clone)]
struct Segment {
    start: Duration,
    duration: Duration,
    shape: Shape,
    first_event: u64,
    events: u64,
}

impl Segment {
    /// Events planned in the first `elapsed` of the segment (fractional).
    fn integral(&self, elapsed: f64) -> f64 {
        let d = self.duration.as_secs_f64();
        match self.shape {
            Shape::Constant(rate) => rate.0 * elapsed,
            Shape::Ramp { from, to } => {
                from.0 * elapsed + (to.0 - from.0) * elapsed * elapsed / (2.0 * d)
            }
        }
    }

    /// Seconds into the segment at which event `k` of the segment is due.
    fn offset_of(&self, k: u64) -> f64 {
        let k = k as f64;
        match self.shape {
            Shape::Constant(rate) => k / rate.0,
            Shape::Ramp { from, to } => {
                // Solve from*t + c*t^2 = k with c = (to-from)/(2d), in the stable form.
                let c = (to.0 - from.0) / (2.0 * self.duration.as_secs_f64());
                let root = (from.0 * from.0 + 4.0 * c * k).max(0.0).sqrt();
                let denominator = from.0 + root;
                if denominator <= 0.0 {
                    0.0
                } else {
                    2.0 * k / denominator
                }
            }
        }
    }
}

/// The whole load plan: phases laid end to end, with event numbers assigned.
#[derive(Debug, Clone)]
pub struct Plan {
    segments: Vec<Segment>,
    names: Vec<String>,
    warmup: Vec<bool>,
    total_events: u64,
    duration: Duration,
    /// This process's share of the plan: 1 unless it is one of several workers.
    share: f64,
}

/// One scheduled event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Event number across the whole plan.
    pub event: u64,
    /// Index of its phase.
    pub phase: usize,
    /// When it is due, from the plan's start.
    pub intended: Duration,
}

fn nanos(seconds: f64) -> Duration {
    Duration::from_nanos((seconds * 1e9).round() as u64)
}

impl Plan {
    /// Lays out the phases.
    pub fn new(phases: &[Phase]) -> Plan {
        let mut segments = Vec::with_capacity(phases.len());
        let mut start = Duration::ZERO;
        let mut first_event = 0;
        for phase in phases {
            let mut segment = Segment {
                start,
                duration: phase.duration,
                shape: phase.shape,
                first_event,
                events: 0,
            };
            // Events at offsets strictly inside the phase; a hair of slack absorbs float error.
            let planned = segment.integral(phase.duration.as_secs_f64());
            segment.events = (planned - 1e-9).ceil().max(0.0) as u64;
            first_event += segment.events;
            start += phase.duration;
            segments.push(segment);
        }
        Plan {
            segments,
            names: phases.iter().map(|p| p.name.clone()).collect(),
            warmup: phases.iter().map(|p| p.warmup).collect(),
            total_events: first_event,
            duration: start,
            share: 1.0,
        }
    }

    /// The plan as one of `workers` workers sees it: it walks the same events (each worker's
    /// pacers take their own share of them), but counts and rates are its share.
    pub fn shared_by(mut self, workers: u16) -> Plan {
        self.share = 1.0 / f64::from(workers.max(1));
        self
    }

    /// Events this process plans to send: the whole plan, or a worker's share of it.
    pub fn planned_events(&self) -> f64 {
        self.total_events as f64 * self.share
    }

    /// Events in the whole plan.
    pub fn total_events(&self) -> u64 {
        self.total_events
    }

    /// Events of the plan that producer instance `instance` of `instances` owns: each sends
    /// every `instances`-th event, from its own number on.
    pub fn events_of_instance(&self, instance: u64, instances: u64) -> u64 {
        let instances = instances.max(1);
        (self.total_events.saturating_add(instances - 1)).saturating_sub(instance) / instances
    }

    /// Planned length of the whole plan.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The name of phase `index`.
    pub fn phase_name(&self, index: usize) -> &str {
        &self.names[index]
    }

    /// When event `event` is due, or `None` past the end of the plan.
    pub fn tick(&self, event: u64) -> Option<Tick> {
        if event >= self.total_events {
            return None;
        }
        let phase = self
            .segments
            .partition_point(|s| s.first_event + s.events <= event);
        let segment = &self.segments[phase];
        let offset = segment.offset_of(event - segment.first_event);
        Some(Tick {
            event,
            phase,
            intended: segment.start + nanos(offset).min(segment.duration),
        })
    }

    /// The phase running at `offset` from the start, or `None` after the plan.
    pub fn phase_at(&self, offset: Duration) -> Option<usize> {
        let index = self
            .segments
            .partition_point(|s| s.start + s.duration <= offset);
        (index < self.segments.len()).then_some(index)
    }

    /// Whether an event intended at `offset` belongs to a warmup phase.
    pub fn is_warmup_at(&self, offset: Duration) -> bool {
        self.phase_at(offset).is_some_and(|i| self.warmup[i])
    }

    /// Events planned before `offset` (fractional; this process's share).
    pub fn planned_before(&self, offset: Duration) -> f64 {
        self.segments
            .iter()
            .map(|s| {
                let inside = offset.saturating_sub(s.start).min(s.duration);
                s.integral(inside.as_secs_f64())
            })
            .sum::<f64>()
            * self.share
    }

    /// Events (this process's share) and seconds of the measured (non-warmup) phases.
    pub fn measured(&self) -> (f64, Duration) {
        let (events, time) = self
            .segments
            .iter()
            .zip(&self.warmup)
            .filter(|(_, warmup)| !**warmup)
            .fold((0, Duration::ZERO), |(events, time), (s, _)| {
                (events + s.events, time + s.duration)
            });
        (events as f64 * self.share, time)
    }

    /// Start and end offsets of each phase, with its name and warmup flag.
    pub fn phase_spans(&self) -> Vec<(String, Duration, Duration, bool)> {
        self.segments
            .iter()
            .zip(self.names.iter().zip(&self.warmup))
            .map(|(s, (name, warmup))| (name.clone(), s.start, s.start + s.duration, *warmup))
            .collect()
    }
}

/// Walks the plan for one of `instances` producer instances (every `instances`-th event).
#[derive(Debug, Clone)]
pub struct Pacer {
    next: u64,
    stride: u64,
}

impl Pacer {
    /// Instance `instance` of `instances` takes events `instance`, `instance + instances`, ...
    pub fn new(instance: u16, instances: u16) -> Pacer {
        Pacer {
            next: instance as u64,
            stride: instances.max(1) as u64,
        }
    }

    /// The next event of this instance without consuming it.
    pub fn peek(&self, plan: &Plan) -> Option<Tick> {
        plan.tick(self.next)
    }

    /// Moves past the current event.
    pub fn advance(&mut self) {
        self.next += self.stride;
    }
}

/// Time as the pacing loop sees it, so tests can drive it exactly.
pub trait Clock {
    /// Time since the plan started.
    fn elapsed(&self) -> Duration;
    /// Waits until `elapsed() >= at` or a short while, whichever is first.
    fn wait_until(&mut self, at: Duration);
}

/// The real clock: a monotonic instant at the plan's start.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    start: Instant,
}

impl MonotonicClock {
    /// A clock whose zero is `start`.
    pub fn starting_at(start: Instant) -> MonotonicClock {
        MonotonicClock { start }
    }

    /// How long to wait for `at`: never more than 50 ms, so that a stop request is noticed
    /// promptly.
    pub fn wait_length(&self, at: Duration) -> Duration {
        at.saturating_sub(self.elapsed())
            .min(Duration::from_millis(50))
    }
}

impl Clock for MonotonicClock {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn wait_until(&mut self, at: Duration) {
        // Always sleep, never spin: a spinning generator steals the CPU the clients need.
        // Timer slack makes short sleeps overshoot a little; the events then due go out
        // together, and their lateness is recorded as schedule lag.
        let remaining = self.wait_length(at);
        if !remaining.is_zero() {
            std::thread::sleep(remaining);
        }
    }
}

/// Why the pacing loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaceEnd {
    /// Every event of this instance was sent.
    Finished,
    /// A stop was requested (Ctrl-C, or an error elsewhere).
    Stopped,
    /// The generator was still behind its schedule when the grace period ran out.
    OutOfTime,
}

/// The pacer sleeps at least this long between bursts: the events that fall due meanwhile go
/// out together, each still stamped with its own intended time. Waking for every event cost a
/// sleep and a thread wake-up per event (issue 11: 30 µs of CPU per event at 10k/s).
pub const MIN_WAKE: Duration = Duration::from_millis(1);

/// A burst reads the clock once and sends the events then due, at most this many before it
/// reads the clock (and the stop request) again. Every event of a burst is stamped with the
/// burst's start, so schedule lag can read low by the time a burst takes (about 1 µs an event).
pub const BURST_MAX: usize = 64;

/// The one pacing loop: sends each burst of due events, then waits for the next (at least
/// [`MIN_WAKE`]). `send` gets the tick and the elapsed time at which its burst started.
pub fn pace<C: Clock>(
    plan: &Plan,
    pacer: &mut Pacer,
    clock: &mut C,
    deadline: Duration,
    mut stop_requested: impl FnMut() -> bool,
    mut send: impl FnMut(Tick, Duration),
) -> PaceEnd {
    loop {
        if stop_requested() {
            return PaceEnd::Stopped;
        }
        let Some(mut tick) = pacer.peek(plan) else {
            return PaceEnd::Finished;
        };
        let now = clock.elapsed();
        if now > deadline {
            return PaceEnd::OutOfTime;
        }
        if tick.intended > now {
            clock.wait_until(tick.intended.max(now + MIN_WAKE));
            continue;
        }
        for _ in 0..BURST_MAX {
            send(tick, now);
            pacer.advance();
            match pacer.peek(plan) {
                Some(next) if next.intended <= now => tick = next,
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Rate;

    fn phase(name: &str, shape: Shape, millis: u64, warmup: bool) -> Phase {
        Phase {
            name: name.into(),
            shape,
            duration: Duration::from_millis(millis),
            warmup,
        }
    }

    #[test]
    fn the_instances_shares_add_up_to_the_plan_and_differ_by_at_most_one() {
        // 7 events (7 ms at 1,000/s): shares that do not divide evenly.
        let plan = Plan::new(&[phase("steady", constant(1_000.0), 7, false)]);
        let total = plan.total_events();
        for instances in 1..=4 {
            let shares: Vec<u64> = (0..instances)
                .map(|i| plan.events_of_instance(i, instances))
                .collect();
            assert_eq!(shares.iter().sum::<u64>(), total, "{instances}: {shares:?}");
            assert!(shares.windows(2).all(|w| w[0] == w[1] || w[0] == w[1] + 1));
        }
        // An instance past the count (a crafted file) owns nothing, without overflow.
        assert_eq!(plan.events_of_instance(u64::MAX, 3), 0);
    }

    fn constant(rate: f64) -> Shape {
        Shape::Constant(Rate(rate))
    }

    /// A clock that jumps straight to each wake-up time; senders can make it run late.
    #[derive(Clone, Default)]
    struct FakeClock {
        now: std::rc::Rc<std::cell::Cell<Duration>>,
        reads: std::rc::Rc<std::cell::Cell<u64>>,
    }

    impl FakeClock {
        fn at(now: Duration) -> FakeClock {
            let clock = FakeClock::default();
            clock.now.set(now);
            clock
        }
        fn stall(&self, by: Duration) {
            self.now.set(self.now.get() + by);
        }
    }

    impl Clock for FakeClock {
        fn elapsed(&self) -> Duration {
            self.reads.set(self.reads.get() + 1);
            self.now.get()
        }
        fn wait_until(&mut self, at: Duration) {
            self.now.set(self.now.get().max(at));
        }
    }

    /// Runs the loop; `stall_after` makes the send of that event take 3.5 ms.
    fn run(
        plan: &Plan,
        instance: u16,
        instances: u16,
        stall_after: Option<u64>,
    ) -> Vec<(Tick, Duration)> {
        let mut clock = FakeClock::default();
        let handle = clock.clone();
        let mut sent = Vec::new();
        let mut pacer = Pacer::new(instance, instances);
        let end = pace(
            plan,
            &mut pacer,
            &mut clock,
            Duration::from_secs(3600),
            || false,
            |tick, at| {
                sent.push((tick, at));
                if Some(tick.event) == stall_after {
                    handle.stall(Duration::from_micros(3500));
                }
            },
        );
        assert_eq!(end, PaceEnd::Finished);
        sent
    }

    #[test]
    fn constant_phases_schedule_exact_intended_times() {
        let plan = Plan::new(&[
            phase("warm", constant(1000.0), 5, true),
            phase("steady", constant(500.0), 10, false),
        ]);
        assert_eq!(plan.total_events(), 10);
        let sent = run(&plan, 0, 1, None);
        let intended: Vec<u64> = sent
            .iter()
            .map(|(t, _)| t.intended.as_micros() as u64)
            .collect();
        assert_eq!(
            intended,
            vec![0, 1000, 2000, 3000, 4000, 5000, 7000, 9000, 11_000, 13_000]
        );
        let phases: Vec<usize> = sent.iter().map(|(t, _)| t.phase).collect();
        assert_eq!(phases, vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
        // With a clock that is never late, each event leaves exactly when intended.
        assert!(sent.iter().all(|(tick, at)| tick.intended == *at));
    }

    #[test]
    fn a_stalled_sender_keeps_its_schedule_and_shows_the_lag() {
        let plan = Plan::new(&[phase("steady", constant(1000.0), 5, false)]);
        let sent: Vec<(u128, u128)> = run(&plan, 0, 1, Some(2))
            .iter()
            .map(|(t, at)| (t.intended.as_micros(), at.as_micros()))
            .collect();
        // The send of event 2 stalls 3.5 ms: events 3 and 4 leave late but keep their intended times.
        assert_eq!(
            sent,
            vec![
                (0, 0),
                (1000, 1000),
                (2000, 2000),
                (3000, 5500),
                (4000, 5500)
            ]
        );
    }

    #[test]
    fn fast_plans_wake_once_a_millisecond_and_send_what_is_due() {
        // 10k/s for 10 ms: 100 events, 0.1 ms apart.
        let plan = Plan::new(&[phase("steady", constant(10_000.0), 10, false)]);
        let mut clock = FakeClock::default();
        let handle = clock.clone();
        let mut wakes = 0u32;
        let mut last = Duration::ZERO;
        let mut sent = Vec::new();
        let end = pace(
            &plan,
            &mut Pacer::new(0, 1),
            &mut clock,
            Duration::from_secs(1),
            || false,
            |tick, at| {
                if at != last {
                    wakes += 1;
                    last = at;
                }
                sent.push((tick.intended, at));
            },
        );
        assert_eq!(end, PaceEnd::Finished);
        assert_eq!(sent.len(), 100);
        // About one wake-up per millisecond, not one per event.
        assert!(wakes <= 11, "{wakes} wake-ups for 100 events in 10 ms");
        // Each event leaves at most one wake-up late, and keeps its own intended time.
        for (intended, at) in &sent {
            assert!(
                *at >= *intended && *at - *intended <= MIN_WAKE,
                "{intended:?} at {at:?}"
            );
        }
        assert_eq!(sent[37].0, Duration::from_micros(3700));
        assert!(handle.elapsed() <= Duration::from_millis(11));
    }

    #[test]
    fn a_burst_reads_the_clock_once_and_a_backlog_is_sent_in_capped_bursts() {
        // 1M/s for 1 ms, with the clock already 10 ms late: all 1000 events are due at once.
        let plan = Plan::new(&[phase("steady", constant(1_000_000.0), 1, false)]);
        let mut clock = FakeClock::at(Duration::from_millis(10));
        let reads = clock.reads.clone();
        let mut stamps = Vec::new();
        let mut stop_checks = 0u32;
        let end = pace(
            &plan,
            &mut Pacer::new(0, 1),
            &mut clock,
            Duration::from_secs(1),
            || {
                stop_checks += 1;
                false
            },
            |tick, at| stamps.push((tick.intended, at)),
        );
        assert_eq!(end, PaceEnd::Finished);
        assert_eq!(stamps.len(), 1000);
        let bursts = 1000_u64.div_ceil(BURST_MAX as u64);
        // One clock read (and one stop check) per burst, plus the final check that ends the loop.
        assert_eq!(reads.get(), bursts);
        assert_eq!(stop_checks as u64, bursts + 1);
        // Events keep their own intended times; each is stamped with its burst's start.
        assert_eq!(stamps[999].0, Duration::from_micros(999));
        assert!(
            stamps
                .iter()
                .all(|(_, at)| *at == Duration::from_millis(10))
        );
    }

    #[test]
    fn instances_interleave_the_same_schedule() {
        let plan = Plan::new(&[phase("steady", constant(1000.0), 6, false)]);
        let first: Vec<u64> = run(&plan, 0, 2, None)
            .iter()
            .map(|(t, _)| t.event)
            .collect();
        let second: Vec<u64> = run(&plan, 1, 2, None)
            .iter()
            .map(|(t, _)| t.event)
            .collect();
        assert_eq!(first, vec![0, 2, 4]);
        assert_eq!(second, vec![1, 3, 5]);
        assert_eq!(plan.tick(3).unwrap().intended, Duration::from_millis(3));
    }

    #[test]
    fn ramps_follow_the_integral_of_the_rate() {
        // 0 -> 2000/s over 1 s: N(t) = 1000 t^2, so event k is due at sqrt(k/1000) s.
        let plan = Plan::new(&[phase(
            "ramp",
            Shape::Ramp {
                from: Rate(0.0),
                to: Rate(2000.0),
            },
            1000,
            false,
        )]);
        assert_eq!(plan.total_events(), 1000);
        for k in [0u64, 1, 10, 250, 999] {
            let expected = (k as f64 / 1000.0).sqrt();
            let got = plan.tick(k).unwrap().intended.as_secs_f64();
            assert!(
                (got - expected).abs() < 1e-6,
                "event {k}: {got} vs {expected}"
            );
        }
        assert!((plan.planned_before(Duration::from_millis(500)) - 250.0).abs() < 1e-6);
    }

    #[test]
    fn plan_reports_phases_warmup_and_measured_share() {
        let plan = Plan::new(&[
            phase("warm", constant(100.0), 1000, true),
            phase("steady", constant(200.0), 2000, false),
            phase("idle", constant(0.0), 500, false),
        ]);
        assert_eq!(plan.total_events(), 500);
        assert_eq!(plan.measured(), (400.0, Duration::from_millis(2500)));
        assert!(plan.is_warmup_at(Duration::from_millis(999)));
        assert!(!plan.is_warmup_at(Duration::from_millis(1000)));
        assert_eq!(plan.phase_at(Duration::from_millis(3200)), Some(2));
        assert_eq!(plan.phase_at(Duration::from_millis(3500)), None);
        assert!(plan.tick(500).is_none());
        assert_eq!(plan.duration(), Duration::from_millis(3500));
    }

    #[test]
    fn stop_and_deadline_end_the_loop() {
        let plan = Plan::new(&[phase("steady", constant(1000.0), 1000, false)]);
        let mut clock = FakeClock::default();
        let mut calls = 0;
        let end = pace(
            &plan,
            &mut Pacer::new(0, 1),
            &mut clock,
            Duration::from_secs(5),
            || {
                calls += 1;
                calls > 3
            },
            |_, _| {},
        );
        assert_eq!(end, PaceEnd::Stopped);
        let mut late = FakeClock::at(Duration::from_secs(10));
        let end = pace(
            &plan,
            &mut Pacer::new(0, 1),
            &mut late,
            Duration::from_secs(5),
            || false,
            |_, _| {},
        );
        assert_eq!(end, PaceEnd::OutOfTime);
    }
}
