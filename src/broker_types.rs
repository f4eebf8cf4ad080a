//! Broker types and their published per-broker limits (`data/broker-types.toml`, built in, or
//! a file of the user's in the same format), and a run's measured throughput and partitions
//! held against them: what `surge compare` says of each sizing option.

use std::path::Path;

use serde::Deserialize;

use crate::summary::Summary;

/// The file surge ships, built in.
pub const BUILT_IN: &str = include_str!("../data/broker-types.toml");
/// How errors and reports name the built-in file.
pub const BUILT_IN_NAME: &str = "data/broker-types.toml (built in)";

/// What can be wrong with a broker-type file: its name, the key, and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}\n  fix: {fix}")]
pub struct BrokerTypesError {
    pub file: String,
    pub problem: String,
    pub fix: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    source: String,
    as_of: String,
    types: Vec<RawType>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    name: String,
    kind: String,
    ingress_mb_s: Option<f64>,
    egress_mb_s: Option<f64>,
    storage_mb_s: Option<f64>,
    network_mb_s: Option<f64>,
    partitions_recommended: u32,
    partitions_max: Option<u32>,
    usd_per_hour: Option<f64>,
}

/// What limits a broker's throughput, per broker, in MB/s (2^20 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throughput {
    /// Sustained ingress and egress, past which MSK throttles at its quota.
    Express { ingress: f64, egress: f64 },
    /// Storage throughput and network bandwidth: the ingress they allow depends on the
    /// replication factor and the consumer groups ([`crate::sizing::BOUND`]).
    Standard { storage: f64, network: f64 },
}

/// One broker type.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerType {
    pub name: String,
    pub throughput: Throughput,
    /// Partitions per broker, replicas included.
    pub partitions_recommended: u32,
    pub partitions_max: Option<u32>,
    pub usd_per_hour: Option<f64>,
}

/// A broker-type file, read and checked.
#[derive(Debug, Clone)]
pub struct BrokerTypes {
    /// Where the file's figures come from, and when they were read.
    pub source: String,
    pub as_of: String,
    /// The file, as errors and reports name it.
    pub file: String,
    pub types: Vec<BrokerType>,
}

impl BrokerTypes {
    /// The built-in file.
    pub fn built_in() -> BrokerTypes {
        parse(BUILT_IN, BUILT_IN_NAME).expect("the built-in broker-type file is valid")
    }

    /// The user's file at `path`, else the built-in one.
    pub fn load(path: Option<&Path>) -> Result<BrokerTypes, BrokerTypesError> {
        let Some(path) = path else {
            return Ok(BrokerTypes::built_in());
        };
        let file = path.display().to_string();
        let text = crate::input::read_text(path, crate::input::BROKER_TYPES).map_err(|e| {
            BrokerTypesError {
            file: file.clone(),
            problem: format!("cannot be read ({e})"),
            fix: "give --broker-types a readable TOML file in the format of data/broker-types.toml"
                .into(),
        }
        })?;
        parse(&text, &file)
    }

    /// The type called `name`, with or without MSK's `kafka.` prefix (`m5.xlarge` finds
    /// `kafka.m5.xlarge`).
    pub fn get(&self, name: &str) -> Option<&BrokerType> {
        let name = name.trim();
        (self.types.iter()).find(|t| {
            t.name.eq_ignore_ascii_case(name)
                || t.name
                    .strip_prefix("kafka.")
                    .is_some_and(|short| short.eq_ignore_ascii_case(name))
        })
    }
}

/// Reads a broker-type file's text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<BrokerTypes, BrokerTypesError> {
    let fail = |problem: String, fix: &str| BrokerTypesError {
        file: file.to_string(),
        problem,
        fix: fix.to_string(),
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        fail(
            e.to_string().trim().replace('\n', " "),
            "follow the format of data/broker-types.toml: source, as_of, and [[types]] with name, kind, limits and partitions_recommended",
        )
    })?;
    let mut types: Vec<BrokerType> = Vec::with_capacity(raw.types.len());
    for (index, t) in raw.types.into_iter().enumerate() {
        let name = t.name.clone();
        let key = |field: &str| format!("types[{index}].{field} (`{name}`)");
        let checked = checked_type(t, &key).map_err(|(problem, fix)| fail(problem, fix))?;
        if types.iter().any(|known| known.name == checked.name) {
            return Err(fail(
                format!("{} is given twice", key("name")),
                "give each broker type once",
            ));
        }
        types.push(checked);
    }
    if types.is_empty() {
        return Err(fail(
            "has no [[types]]".into(),
            "list at least one broker type",
        ));
    }
    Ok(BrokerTypes {
        source: raw.source,
        as_of: raw.as_of,
        file: file.to_string(),
        types,
    })
}

type Problem = (String, &'static str);

/// A number as a user can read it in an error: 1e308 in short, not in its 309 digits.
fn short(value: f64) -> String {
    if value != 0.0 && !(1e-3..1e9).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

/// One type's figures, each finite and positive, with the limits its kind needs.
fn checked_type(t: RawType, key: &dyn Fn(&str) -> String) -> Result<BrokerType, Problem> {
    if t.name.trim().is_empty() || t.name.len() > 100 {
        return Err((
            format!("{} is empty or too long", key("name")),
            "name the type, e.g. express.m7g.large",
        ));
    }
    let positive = |field: &str, value: Option<f64>| -> Result<f64, Problem> {
        match value {
            Some(v) if v.is_finite() && (0.01..1e9).contains(&v) => Ok(v),
            Some(v) => Err((
                format!("{} is {}", key(field), short(v)),
                "give MB/s from 0.01 to 1e9",
            )),
            None => Err((
                format!("{} is missing", key(field)),
                "give the limit in MB/s",
            )),
        }
    };
    // Each kind takes two of the limits, in the order its throughput takes them; the other
    // kind's two must be absent.
    let limits = [
        ("ingress_mb_s", t.ingress_mb_s),
        ("egress_mb_s", t.egress_mb_s),
        ("storage_mb_s", t.storage_mb_s),
        ("network_mb_s", t.network_mb_s),
    ];
    type Make = fn(f64, f64) -> Throughput;
    let (own, other, make): (_, _, Make) = match t.kind.as_str() {
        "express" => (&limits[..2], &limits[2..], |ingress, egress| {
            Throughput::Express { ingress, egress }
        }),
        "standard" => (&limits[2..], &limits[..2], |storage, network| {
            Throughput::Standard { storage, network }
        }),
        other => {
            return Err((
                format!("{} is \"{other}\"", key("kind")),
                "use kind = \"express\" or kind = \"standard\"",
            ));
        }
    };
    if let Some((field, _)) = other.iter().find(|(_, value)| value.is_some()) {
        return Err((
            format!("{} does not apply to kind = \"{}\"", key(field), t.kind),
            "remove it, or change kind",
        ));
    }
    let throughput = make(positive(own[0].0, own[0].1)?, positive(own[1].0, own[1].1)?);
    if t.partitions_recommended == 0 {
        return Err((
            format!("{} is 0", key("partitions_recommended")),
            "give the partitions a broker may hold, replicas included",
        ));
    }
    if t.partitions_max
        .is_some_and(|max| max < t.partitions_recommended)
    {
        return Err((
            format!("{} is under partitions_recommended", key("partitions_max")),
            "give a maximum at or above the recommendation",
        ));
    }
    if let Some(price) = t.usd_per_hour
        && !(price.is_finite() && (0.0..1e6).contains(&price))
    {
        return Err((
            format!("{} is {price}", key("usd_per_hour")),
            "give the on-demand price per broker-hour in USD",
        ));
    }
    Ok(BrokerType {
        name: t.name.trim().to_string(),
        throughput,
        partitions_recommended: t.partitions_recommended,
        partitions_max: t.partitions_max,
        usd_per_hour: t.usd_per_hour,
    })
}

/// What a run measured, for holding against a type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub brokers: u32,
    /// Payload MB/s into the cluster (acked) and out of it (read by every group), at the peak.
    pub ingress_mb_s: f64,
    pub egress_mb_s: f64,
    /// Partition replicas over every topic (partitions x replication factor); `None` when the
    /// run does not say (a summary written before topics were kept).
    pub replicas: Option<u64>,
    pub replication_factor: u32,
    pub groups: u32,
}

impl Measured {
    /// What a run measured at its peak phase (else over its measured phases), counting
    /// `brokers` brokers.
    pub fn of(summary: &Summary, brokers: u32) -> Measured {
        let (ingress, egress) = summary
            .peak()
            .filter(|p| p.seconds > 0.0)
            .map_or((summary.produced.acked_mb_per_s, f64::NAN), |p| {
                (p.acked_mb_per_s, p.consumed_mb_per_s)
            });
        let egress = if egress.is_finite() {
            egress
        } else {
            ingress * summary.groups.len() as f64
        };
        let topics = &summary.scenario.topics;
        // A topic left to the brokers' default replication factor is counted at 3.
        let rf = |r: i32| if r > 0 { r as u64 } else { 3 };
        Measured {
            brokers,
            ingress_mb_s: ingress.max(0.0),
            egress_mb_s: egress.max(0.0),
            replicas: (!topics.is_empty()).then(|| {
                (topics.iter())
                    .map(|t| (t.partitions.max(0) as u64).saturating_mul(rf(t.replication_factor)))
                    .fold(0, u64::saturating_add)
            }),
            replication_factor: topics
                .iter()
                .map(|t| rf(t.replication_factor))
                .max()
                .unwrap_or(3) as u32,
            groups: summary.groups.len().min(u32::MAX as usize) as u32,
        }
    }
}

/// One limit of a type against what a run measured, per broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// `ingress`, `egress` or `partitions`.
    pub what: &'static str,
    pub measured: f64,
    pub limit: f64,
}

impl Held {
    pub fn over(&self) -> bool {
        self.measured > self.limit
    }

    /// The share of the limit used, in percent.
    pub fn percent(&self) -> f64 {
        100.0 * self.measured / self.limit
    }
}

impl BrokerType {
    /// The ingress one broker of this type sustains, in MB/s, for a cluster with this
    /// replication factor and these consumer groups.
    pub fn ingress_limit(&self, replication_factor: u32, groups: u32) -> f64 {
        match self.throughput {
            Throughput::Express { ingress, .. } => ingress,
            Throughput::Standard { storage, network } => {
                let rf = f64::from(replication_factor.max(1));
                (storage / rf).min(network / (rf - 1.0 + f64::from(groups)).max(1.0))
            }
        }
    }

    /// Each of the type's limits against what a run measured, per broker.
    pub fn hold(&self, m: &Measured) -> Vec<Held> {
        let brokers = f64::from(m.brokers.max(1));
        let mut held = vec![Held {
            what: "ingress",
            measured: m.ingress_mb_s / brokers,
            limit: self.ingress_limit(m.replication_factor, m.groups),
        }];
        if let Throughput::Express { egress, .. } = self.throughput {
            held.push(Held {
                what: "egress",
                measured: m.egress_mb_s / brokers,
                limit: egress,
            });
        }
        if let Some(replicas) = m.replicas {
            held.push(Held {
                what: "partitions",
                measured: replicas as f64 / brokers,
                limit: f64::from(self.partitions_recommended),
            });
        }
        held
    }

    /// Brokers of this type that hold `m`'s throughput and partitions with `headroom` on the
    /// throughput (0.3 = 30%): the count its published limits call for.
    pub fn brokers_for(&self, m: &Measured, headroom: f64) -> u32 {
        let ingress =
            m.ingress_mb_s * (1.0 + headroom) / self.ingress_limit(m.replication_factor, m.groups);
        let egress = match self.throughput {
            Throughput::Express { egress, .. } => m.egress_mb_s * (1.0 + headroom) / egress,
            Throughput::Standard { .. } => 0.0,
        };
        let partitions = m.replicas.unwrap_or(0) as f64 / f64::from(self.partitions_recommended);
        let needed = ingress.max(egress).max(partitions).ceil();
        if needed.is_finite() {
            needed.clamp(1.0, f64::from(u32::MAX)) as u32
        } else {
            u32::MAX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_file_reads_and_names_its_source() {
        let types = BrokerTypes::built_in();
        assert!(types.source.contains("Amazon MSK"));
        let large = types.get("express.m7g.large").unwrap();
        assert_eq!(
            large.throughput,
            Throughput::Express {
                ingress: 15.625,
                egress: 31.25
            }
        );
        assert_eq!(types.get("m5.xlarge").unwrap().name, "kafka.m5.xlarge");
        assert!(types.get("m5.huge").is_none());
    }

    fn measured(brokers: u32, ingress: f64, egress: f64, replicas: u64) -> Measured {
        Measured {
            brokers,
            ingress_mb_s: ingress,
            egress_mb_s: egress,
            replicas: Some(replicas),
            replication_factor: 3,
            groups: 2,
        }
    }

    #[test]
    fn an_express_type_holds_ingress_egress_and_partitions_per_broker() {
        let types = BrokerTypes::built_in();
        let large = types.get("express.m7g.large").unwrap();
        // 3 brokers, 30 MB/s in, 60 out, 20 partitions x RF 3 = 60 replicas.
        let held = large.hold(&measured(3, 30.0, 60.0, 60));
        assert_eq!(held.len(), 3);
        assert_eq!((held[0].measured, held[0].limit), (10.0, 15.625));
        assert!(!held[1].over());
        assert_eq!(held[2].measured, 20.0);
        // 5,000 partitions x 3 on 3 brokers: 5,000 each, five times the recommendation.
        let crowded = large.hold(&measured(3, 30.0, 60.0, 15_000));
        assert!(crowded[2].over() && crowded[2].percent() == 500.0);
        // The count the limits call for: partitions, not throughput, here.
        assert_eq!(large.brokers_for(&measured(3, 30.0, 60.0, 15_000), 0.3), 15);
        assert_eq!(large.brokers_for(&measured(3, 30.0, 60.0, 60), 0.3), 3);
    }

    #[test]
    fn a_standard_type_s_ingress_follows_the_bound() {
        let types = BrokerTypes::built_in();
        let m5 = types.get("kafka.m5.2xlarge").unwrap();
        // min(250 / 3, 320 / (3 - 1 + 2)) = min(83.3, 80) = 80 MB/s a broker.
        assert_eq!(m5.ingress_limit(3, 2), 80.0);
        assert_eq!(m5.hold(&measured(3, 300.0, 600.0, 60)).len(), 2);
    }

    #[test]
    fn a_bad_file_is_named_with_its_key_and_fix() {
        let error = |text: &str| parse(text, "mine.toml").unwrap_err().to_string();
        let head = "source = \"s\"\nas_of = \"d\"\n";
        let express = |extra: &str| {
            format!(
                "{head}[[types]]\nname = \"x\"\nkind = \"express\"\ningress_mb_s = 1.0\negress_mb_s = 2.0\npartitions_recommended = 10\n{extra}"
            )
        };
        assert!(parse(&express(""), "mine.toml").is_ok());
        let negative = error(&express("").replace("ingress_mb_s = 1.0", "ingress_mb_s = -1.0"));
        assert!(
            negative.contains("mine.toml: types[0].ingress_mb_s (`x`) is -1"),
            "{negative}"
        );
        assert!(negative.contains("fix:"));
        let nan = error(&express("").replace("ingress_mb_s = 1.0", "ingress_mb_s = nan"));
        assert!(nan.contains("ingress_mb_s"), "{nan}");
        // In short, not in its 309 digits.
        let huge = error(&express("").replace("egress_mb_s = 2.0", "egress_mb_s = 1e308"));
        assert!(huge.contains("egress_mb_s (`x`) is 1e308"), "{huge}");
        assert!(huge.len() < 300, "{huge}");
        let standard = express("").replace("\"express\"", "\"standard\"");
        let ingress = error(&standard);
        assert!(
            ingress.contains("ingress_mb_s (`x`) does not apply to kind = \"standard\""),
            "{ingress}"
        );
        let standard = standard
            .replace("ingress_mb_s = 1.0", "storage_mb_s = 1.0")
            .replace("egress_mb_s = 2.0", "network_mb_s = 2.0");
        assert!(parse(&standard, "mine.toml").is_ok());
        let wrong = error(&express("storage_mb_s = 5.0"));
        assert!(
            wrong.contains("does not apply to kind = \"express\""),
            "{wrong}"
        );
        let unknown = error(&express("ingres_mb_s = 5.0"));
        assert!(unknown.contains("ingres_mb_s"), "{unknown}");
        let twice = error(&format!("{}{}", express(""), express("").replace(head, "")));
        assert!(twice.contains("given twice"), "{twice}");
        let kind = error(&express("").replace("\"express\"", "\"serverless\""));
        assert!(kind.contains("\"serverless\""), "{kind}");
        let under = error(&express("partitions_max = 5"));
        assert!(under.contains("partitions_max"), "{under}");
        assert!(error(&format!("{head}types = []")).contains("no [[types]]"));
    }
}
