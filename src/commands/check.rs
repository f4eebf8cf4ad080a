//! `surge check`: the preflight against a real cluster.

use std::path::Path;

use crate::connect::{connect, runtime};
use crate::error::SurgeError;
use crate::scenario::{self, Overrides, Scenario, ScenarioError};
use crate::{check, kafka};

use super::validate;

/// A scenario that only names a cluster: what `surge check` uses without a scenario file.
const CONNECTIVITY_ONLY: &str = "[[topics]]\nname = \"surge-check\"\npartitions = 1\n\
[[events]]\nname = \"Probe\"\ntopic = \"surge-check\"\n[[phases]]\nrate = 1\nduration = \"1s\"\n";

/// A scenario that only says how to reach a real cluster (bootstrap, auth, client properties),
/// from the command line's flags alone, for a `command` that needs no scenario file.
pub(super) fn connectivity_scenario(
    overrides: &Overrides,
    command: &str,
) -> Result<Scenario, SurgeError> {
    let raw = toml::from_str(CONNECTIVITY_ONLY)
        .expect("the built-in connectivity scenario is valid TOML");
    let source = command.replace(' ', "-");
    let mut scenario = scenario::resolve(raw, Path::new(&source), String::new(), overrides)?;
    scenario.topics.clear();
    real_cluster(scenario, command)
}

/// The scenario, unless it names no real cluster (the embedded broker has no traffic of its own).
fn real_cluster(scenario: Scenario, command: &str) -> Result<Scenario, SurgeError> {
    if scenario.cluster.bootstrap.is_embedded() {
        return Err(SurgeError::Scenario(ScenarioError {
            file: "command line".into(),
            key: "--bootstrap".into(),
            problem: format!("{command} reads a real cluster, and none was given"),
            fix: "pass --bootstrap host:port (or set KAFKA_BOOTSTRAP_SERVERS)".into(),
        }));
    }
    Ok(scenario)
}

/// The preflight: connect and authenticate within bounds, list brokers and topics, and
/// compare the scenario's topics (when a scenario is given) with the cluster's.
pub fn preflight(
    path: Option<&Path>,
    overrides: &Overrides,
) -> Result<check::CheckReport, SurgeError> {
    let scenario = match path {
        Some(path) => real_cluster(validate(path, overrides)?, "surge check")?,
        None => connectivity_scenario(overrides, "surge check")?,
    };
    runtime()?.block_on(async {
        let connected = connect(&scenario).await?;
        let scenario = &connected.scenario;
        let info = connected.info.clone().expect("a real cluster was probed");
        let facts = kafka::describe_topics(
            &connected.servers,
            &scenario.cluster.producer,
            &info,
            &scenario.topics,
            scenario.limits.connect_timeout,
        )
        .await?;
        Ok(check::CheckReport {
            servers: connected.servers.clone(),
            auth: scenario.cluster.auth.name().into(),
            brokers: info.brokers.clone(),
            existing_topics: info.topics.len(),
            round_trip: info.round_trip,
            topics: check::compare(&scenario.topics, &facts),
        })
    })
}
