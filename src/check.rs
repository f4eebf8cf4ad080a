//! `surge check`: what the preflight found, judged and rendered. Pure data, no I/O.

use std::time::Duration;

use crate::kafka::{BrokerInfo, TopicFacts};
use crate::report::table::Table;
use crate::scenario::TopicSpec;

/// The preflight's findings.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub servers: String,
    pub auth: String,
    pub brokers: Vec<BrokerInfo>,
    pub existing_topics: usize,
    pub round_trip: Duration,
    pub topics: Vec<TopicCheck>,
}

/// One scenario topic against the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicCheck {
    pub name: String,
    pub partitions: (i32, Option<i32>),
    pub replication_factor: (i32, Option<i32>),
    pub min_insync_replicas: (Option<String>, Option<String>),
    pub status: TopicStatus,
}

/// How a topic compares.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicStatus {
    Matches,
    /// It exists, but differs from the scenario: the run measures the cluster as it is.
    Differs(Vec<String>),
    /// Missing; `surge run` will create it.
    WillBeCreated,
    /// Missing, and this client may not create it: the run cannot start.
    CannotCreate(String),
}

/// Compares each scenario topic with what the cluster reported.
pub fn compare(wanted: &[TopicSpec], facts: &[TopicFacts]) -> Vec<TopicCheck> {
    wanted
        .iter()
        .zip(facts)
        .map(|(want, have)| {
            let want_isr = want
                .config
                .iter()
                .find(|(k, _)| k == "min.insync.replicas")
                .map(|(_, v)| v.clone());
            let status = match (&have.partitions, &have.creatable) {
                (None, Some(Err(reason))) => TopicStatus::CannotCreate(reason.clone()),
                (None, _) => TopicStatus::WillBeCreated,
                (Some(partitions), _) => {
                    let mut differences = Vec::new();
                    if *partitions != want.partitions {
                        differences.push(format!(
                            "{partitions} partitions, the scenario wants {}",
                            want.partitions
                        ));
                    }
                    if let Some(rf) = have
                        .replication_factor
                        .filter(|rf| *rf != want.replication_factor)
                    {
                        differences.push(format!(
                            "replication factor {rf}, the scenario wants {}",
                            want.replication_factor
                        ));
                    }
                    if let (Some(want), Some(have)) = (&want_isr, &have.min_insync_replicas)
                        && want != have
                    {
                        differences.push(format!(
                            "min.insync.replicas {have}, the scenario wants {want}"
                        ));
                    }
                    if differences.is_empty() {
                        TopicStatus::Matches
                    } else {
                        TopicStatus::Differs(differences)
                    }
                }
            };
            TopicCheck {
                name: want.name.clone(),
                partitions: (want.partitions, have.partitions),
                replication_factor: (want.replication_factor, have.replication_factor),
                min_insync_replicas: (want_isr, have.min_insync_replicas.clone()),
                status,
            }
        })
        .collect()
}

impl CheckReport {
    /// Whether `surge run` could start against this cluster.
    pub fn can_run(&self) -> bool {
        !self
            .topics
            .iter()
            .any(|t| matches!(t.status, TopicStatus::CannotCreate(_)))
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "connected to {} (auth: {}) in {} ms: {} broker(s), {} topic(s)\n",
            self.servers,
            self.auth,
            self.round_trip.as_millis(),
            self.brokers.len(),
            self.existing_topics
        );
        for broker in &self.brokers {
            out.push_str(&format!(
                "  broker {} at {}:{}\n",
                broker.id, broker.host, broker.port
            ));
        }
        if self.topics.is_empty() {
            return out;
        }
        let show = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
        let mut table = Table::new(&[
            "topic",
            "partitions",
            "replication",
            "min.insync.replicas",
            "status",
        ]);
        for topic in &self.topics {
            let status = match &topic.status {
                TopicStatus::Matches => "ok".to_string(),
                TopicStatus::Differs(_) => "differs".to_string(),
                TopicStatus::WillBeCreated => "missing: surge run creates it".to_string(),
                TopicStatus::CannotCreate(_) => "MISSING, cannot create".to_string(),
            };
            table.row(vec![
                topic.name.clone(),
                format!(
                    "{} / {}",
                    topic.partitions.0,
                    topic.partitions.1.map_or("-".into(), |p| p.to_string())
                ),
                format!(
                    "{} / {}",
                    topic.replication_factor.0,
                    topic
                        .replication_factor
                        .1
                        .map_or("-".into(), |p| p.to_string())
                ),
                format!(
                    "{} / {}",
                    show(&topic.min_insync_replicas.0),
                    show(&topic.min_insync_replicas.1)
                ),
                status,
            ]);
        }
        out.push_str(&format!("\nwanted / found\n{}\n", table.to_text()));
        for topic in &self.topics {
            match &topic.status {
                TopicStatus::Differs(differences) => {
                    out.push_str(&format!(
                        "note: topic {} has {}; the run measures the cluster as it is\n",
                        topic.name,
                        differences.join(", ")
                    ));
                }
                TopicStatus::CannotCreate(reason) => {
                    out.push_str(&format!(
                        "error: topic {} is missing and this client may not create it ({reason})\n  fix: create it with the scenario's partitions and replication factor, or grant CreateTopic\n",
                        topic.name
                    ));
                }
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, partitions: i32, rf: i32) -> TopicSpec {
        TopicSpec {
            name: name.into(),
            partitions,
            replication_factor: rf,
            config: vec![("min.insync.replicas".into(), "2".into())],
        }
    }

    fn facts(
        name: &str,
        partitions: Option<i32>,
        rf: Option<i32>,
        isr: Option<&str>,
        creatable: Option<Result<(), String>>,
    ) -> TopicFacts {
        TopicFacts {
            name: name.into(),
            partitions,
            replication_factor: rf,
            min_insync_replicas: isr.map(String::from),
            creatable,
        }
    }

    #[test]
    fn topics_are_compared_on_partitions_replication_and_min_isr() {
        let wanted = [
            topic("orders", 20, 3),
            topic("payments", 15, 3),
            topic("audit", 5, 3),
            topic("fresh", 1, 3),
        ];
        let found = [
            facts("orders", Some(20), Some(3), Some("2"), None),
            facts("payments", Some(10), Some(2), Some("1"), None),
            facts(
                "audit",
                None,
                None,
                None,
                Some(Err("Broker: Topic authorization failed".into())),
            ),
            facts("fresh", None, None, None, Some(Ok(()))),
        ];
        let checks = compare(&wanted, &found);
        assert_eq!(checks[0].status, TopicStatus::Matches);
        let TopicStatus::Differs(differences) = &checks[1].status else {
            panic!("{:?}", checks[1])
        };
        assert_eq!(differences.len(), 3);
        assert!(matches!(checks[2].status, TopicStatus::CannotCreate(_)));
        assert_eq!(checks[3].status, TopicStatus::WillBeCreated);
        let report = CheckReport {
            servers: "b:9092".into(),
            auth: "none".into(),
            brokers: vec![],
            existing_topics: 2,
            round_trip: Duration::from_millis(3),
            topics: checks,
        };
        assert!(!report.can_run());
        let text = report.render();
        assert!(
            text.contains("MISSING, cannot create") && text.contains("fix: create it"),
            "{text}"
        );
        assert!(
            text.contains("10 partitions, the scenario wants 15"),
            "{text}"
        );
    }
}
