use std::process::ExitCode;
use std::sync::Arc;

use surge::cli::Command;
use surge::engine::StopSignal;

fn main() -> ExitCode {
    let cli = surge::cli::parse();
    let result = match cli.command {
        Command::Validate(args) => {
            surge::validate(&args.scenario, &args.overrides()).map(|scenario| {
                println!(
                    "{}: ok ({} topics, {} events, {} phases, {} consumer groups, {} SLOs)",
                    args.scenario.display(),
                    scenario.topics.len(),
                    scenario.events.len(),
                    scenario.phases.len(),
                    scenario.groups.len(),
                    scenario.slos.len()
                );
                for fault in &scenario.faults {
                    println!(
                        "  fault {} at {}: {}",
                        fault.name,
                        surge::scenario::units::format_duration(fault.at),
                        fault.describe(&scenario.topics, &scenario.groups)
                    );
                }
                let commands = scenario.commands();
                if !commands.is_empty() {
                    println!("shell commands this scenario runs (only with --allow-commands):");
                    for (key, command) in commands {
                        println!("  {key}: {command}");
                    }
                }
                0
            })
        }
        Command::Check(args) => {
            if args.cluster.insecure_skip_tls_verify {
                eprintln!("WARNING: {}", surge::scenario::INSECURE_TLS_WARNING);
            }
            surge::check(args.scenario.as_deref(), &args.cluster.overrides()).map(|report| {
                print!("{}", report.render());
                if report.can_run() { 0 } else { 2 }
            })
        }
        Command::Profile(args) => {
            if args.cluster.insecure_skip_tls_verify {
                eprintln!("WARNING: {}", surge::scenario::INSECURE_TLS_WARNING);
            }
            eprintln!(
                "profiling for {} (read-only)...",
                surge::scenario::units::format_duration(args.window)
            );
            surge::profile(&args.options(), Arc::new(StopSignal::default())).map(|outcome| {
                print!("{}", surge::profile::render(&outcome.profile));
                println!("scenario written to {}", outcome.scenario.display());
                if let Some(curve) = &outcome.curve {
                    println!("its rate curve: {}", curve.display());
                }
                // Interrupted: what was measured is written, and the exit code says it is partial.
                if outcome.partial { 3 } else { 0 }
            })
        }
        Command::Report(args) => surge::regenerate(&args.run_dir).map(|failures| {
            for (path, error) in &failures {
                eprintln!("error: could not write {}: {error}", path.display());
            }
            println!("reports written to {}", args.run_dir.display());
            if failures.is_empty() { 0 } else { 2 }
        }),
        Command::Replay(args) => {
            surge::replay::replay(&args.options(), Arc::new(StopSignal::default())).map(|report| {
                print!("{}", report.render());
                report.exit_code()
            })
        }
        Command::Compare(args) => {
            let out = args.out.clone().unwrap_or_else(surge::default_compare_dir);
            surge::compare(&args.run_dirs, &out, &args.options()).map(|warnings| {
                for warning in warnings {
                    eprintln!("warning: {warning}");
                }
                println!("comparison written to {}", out.display());
                0
            })
        }
        Command::Capacity(args) => {
            surge::capacity(&args.options(), Arc::new(StopSignal::default()))
                .map(|outcome| finish(&outcome))
        }
        Command::Merge(args) => surge::merge::merge(&args.worker_dirs, &args.out, args.max_skew)
            .map(|outcome| finish(&outcome)),
        Command::Run(args) => {
            if args.run.scenario.insecure_skip_tls_verify {
                eprintln!("WARNING: {}", surge::scenario::INSECURE_TLS_WARNING);
            }
            surge::run(&args.options(), Arc::new(StopSignal::default()))
                .map(|outcome| finish(&outcome))
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// Prints a run's summary and where its reports are; returns its exit code: the verdict's, or 2
/// when an output file could not be written (a CI gate must not pass on a missing report).
fn finish(outcome: &surge::RunOutcome) -> u8 {
    print!("{}", surge::report::console::render(&outcome.summary));
    println!("\nreports: {}", outcome.out_dir.display());
    for (path, error) in &outcome.report_failures {
        eprintln!("error: could not write {}: {error}", path.display());
    }
    // The CI job summary is a convenience: failing to write it does not change the verdict.
    if let Some(Err(error)) =
        surge::report::step_summary::append_from_env(&outcome.summary, &outcome.out_dir)
    {
        eprintln!("warning: could not append to the CI job summary: {error}");
    }
    if outcome.report_failures.is_empty() {
        outcome.status.exit_code()
    } else {
        2
    }
}
