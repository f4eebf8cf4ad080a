//! `[[topics]]` and `[[events]]`: the topics surge creates, the event types it sends, and the
//! aggregates whose keys the events share.

use std::collections::{HashMap, HashSet};

use super::{Ctx, scalar_map};
use crate::scenario::raw::{RawEvent, RawSize, RawTopic};
use crate::scenario::shapes::cut;
use crate::scenario::units::{Scalar, Size};
use crate::scenario::{
    AggregateSpec, Bootstrap, EventSpec, KeyDistribution, ScenarioError, TopicSpec,
};

/// The largest event: librdkafka's default `message.max.bytes` (1,000,000) less 1 KiB for the
/// key, the headers and the record overhead.
pub const MAX_EVENT_SIZE: u64 = 1_000_000 - 1024;

/// `[[topics]]`: names unique, replication capped at the embedded broker count (noted).
pub(super) fn resolve_topics(
    ctx: &Ctx,
    raw: Vec<RawTopic>,
    bootstrap: &Bootstrap,
    notes: &mut Vec<String>,
) -> Result<Vec<TopicSpec>, ScenarioError> {
    if raw.is_empty() {
        return Err(ctx.err(
            "topics",
            "the scenario has no [[topics]]",
            "add at least one [[topics]] table with a name and partitions",
        ));
    }
    let mut topics: Vec<TopicSpec> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (i, topic) in raw.into_iter().enumerate() {
        let name = ctx.name(&format!("topics[{i}].name"), topic.name.as_ref(), "topic")?;
        if !seen.insert(name.clone()) {
            return Err(ctx.err(
                format!("topics[{i}].name"),
                format!("topic `{name}` is listed twice"),
                "give each [[topics]] entry its own name",
            ));
        }
        let partitions = ctx.positive(
            &format!("topics[{i}].partitions"),
            topic.partitions,
            1,
            10_000,
        )? as i32;
        let mut replication_factor = ctx.positive(
            &format!("topics[{i}].replication_factor"),
            topic.replication_factor,
            3,
            16,
        )? as i32;
        if let Bootstrap::Embedded { brokers } = bootstrap
            && replication_factor > *brokers
        {
            notes.push(format!(
                "topic {name}: replication factor {replication_factor} capped at the embedded broker count {brokers}"
            ));
            replication_factor = *brokers;
        }
        topics.push(TopicSpec {
            name,
            partitions,
            replication_factor,
            config: scalar_map(topic.config.as_ref()),
        });
    }
    Ok(topics)
}

/// The index of the topic named `name`, or an error at `key` listing the topics there are.
pub(super) fn topic_index(
    ctx: &Ctx,
    key: &str,
    name: &str,
    topics: &[TopicSpec],
) -> Result<usize, ScenarioError> {
    topics
        .iter()
        .position(|t| t.name == name)
        .ok_or_else(|| unknown_topic(ctx, key, name, topics))
}

/// The error for a topic name not under `[[topics]]`, listing the first few there are.
fn unknown_topic(ctx: &Ctx, key: &str, name: &str, topics: &[TopicSpec]) -> ScenarioError {
    let mut known: Vec<&str> = topics.iter().take(10).map(|t| t.name.as_str()).collect();
    if topics.len() > known.len() {
        known.push("...");
    }
    ctx.err(
        key,
        format!(
            "`{name}` is not one of the [[topics]] ({})",
            known.join(", ")
        ),
        "name a topic listed under [[topics]], or add it there",
    )
}

/// What resolving `[[events]]` looks names up in: each found by hashing, so that validation
/// stays linear in the file however many topics and events it lists.
struct Names<'a> {
    topics: &'a [TopicSpec],
    topic_at: HashMap<&'a str, usize>,
    events: HashSet<String>,
    aggregate_at: HashMap<String, usize>,
}

/// `[[events]]`, each checked against the topics, and the aggregates they name.
pub(super) fn resolve_events(
    ctx: &Ctx,
    raw: Vec<RawEvent>,
    topics: &[TopicSpec],
) -> Result<(Vec<AggregateSpec>, Vec<EventSpec>), ScenarioError> {
    if raw.is_empty() {
        return Err(ctx.err(
            "events",
            "the scenario has no [[events]]",
            "add at least one [[events]] table with a name and a topic",
        ));
    }
    let mut aggregates: Vec<AggregateSpec> = Vec::new();
    let mut events: Vec<EventSpec> = Vec::new();
    let mut names = Names {
        topics,
        topic_at: topics
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect(),
        events: HashSet::new(),
        aggregate_at: HashMap::new(),
    };
    for (i, event) in raw.iter().enumerate() {
        let spec = resolve_event(ctx, i, event, &mut names, &mut aggregates)?;
        events.push(spec);
    }
    let total: f64 = events.iter().map(|e| e.weight).sum();
    if !total.is_finite() {
        return Err(ctx.err(
            "events",
            "the events' weights add up to more than a number can hold",
            "weights are relative shares of the mix: use small numbers, e.g. 1 to 100",
        ));
    }
    Ok((aggregates, events))
}

/// One `[[events]]` entry: a name of its own, a topic, a weight, a size and an aggregate.
fn resolve_event(
    ctx: &Ctx,
    i: usize,
    event: &RawEvent,
    names: &mut Names,
    aggregates: &mut Vec<AggregateSpec>,
) -> Result<EventSpec, ScenarioError> {
    let key = |field: &str| format!("events[{i}].{field}");
    let name = ctx.name(&key("name"), event.name.as_ref(), "event")?;
    if !names.events.insert(name.clone()) {
        return Err(ctx.err(
            key("name"),
            format!("event `{name}` is listed twice"),
            "give each [[events]] entry its own name",
        ));
    }
    let topic_name = event.topic.as_ref().ok_or_else(|| {
        ctx.err(
            key("topic"),
            "the event has no topic",
            "add topic = \"...\" naming one of the [[topics]]",
        )
    })?;
    let topic = *names
        .topic_at
        .get(topic_name.as_str())
        .ok_or_else(|| unknown_topic(ctx, &key("topic"), topic_name, names.topics))?;
    let weight = event.weight.unwrap_or(1.0);
    if !(weight.is_finite() && weight > 0.0) {
        return Err(ctx.err(
            key("weight"),
            format!("{weight} is not a weight"),
            "use a number above 0; weights are relative shares of the mix",
        ));
    }
    let (size_min, size_max, size_quantiles) = match &event.size {
        Some(RawSize::Quantiles(table)) => resolve_quantiles(ctx, &key("size"), table)?,
        Some(RawSize::One(size)) => {
            let (min, max) = resolve_size(ctx, &key("size"), Some(size))?;
            (min, max, Vec::new())
        }
        None => (512, 512, Vec::new()),
    };
    let aggregate = resolve_aggregate(
        ctx,
        i,
        event,
        &name,
        topic,
        aggregates,
        &mut names.aggregate_at,
    )?;
    Ok(EventSpec {
        name,
        aggregate,
        weight,
        size_min,
        size_max,
        size_quantiles,
    })
}

/// Sizes at evenly spaced quantiles: 2 to 101 of them, each a size, smallest first.
fn resolve_quantiles(
    ctx: &Ctx,
    key: &str,
    table: &[Scalar],
) -> Result<(u64, u64, Vec<u64>), ScenarioError> {
    if !(2..=101).contains(&table.len()) {
        return Err(ctx.err(
            key,
            format!("a list of {} sizes is not a size distribution", table.len()),
            "list 2 to 101 sizes at evenly spaced quantiles, smallest first, e.g. [\"400B\", \"800B\", \"2KiB\"]",
        ));
    }
    let sizes = table
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let item = format!("{key}[{i}]");
            match resolve_size(ctx, &item, Some(size))? {
                (low, high) if low == high => Ok(low),
                _ => Err(ctx.err(
                    item,
                    "a range inside a list of sizes",
                    "write one size per quantile, e.g. \"800B\"",
                )),
            }
        })
        .collect::<Result<Vec<u64>, ScenarioError>>()?;
    if let Some(i) = sizes.windows(2).position(|w| w[1] < w[0]) {
        return Err(ctx.err(
            format!("{key}[{}]", i + 1),
            format!("{} bytes is smaller than the size before it", sizes[i + 1]),
            "list the sizes smallest first: each is the size at a higher quantile",
        ));
    }
    Ok((sizes[0], sizes[sizes.len() - 1], sizes))
}

/// An event's size: a size or a range of sizes, in bytes, at most [`MAX_EVENT_SIZE`].
fn resolve_size(ctx: &Ctx, key: &str, size: Option<&Scalar>) -> Result<(u64, u64), ScenarioError> {
    let fix = "write a size such as \"512B\" or \"2KiB\", or a range such as \"256B..2KiB\"";
    let text = match size {
        None => return Ok((512, 512)),
        Some(Scalar::Int(bytes)) if *bytes > 0 => format!("{bytes}B"),
        Some(Scalar::Text(text)) => text.clone(),
        Some(other) => return Err(ctx.err(key, format!("`{other}` is not a size"), fix)),
    };
    let parse = |part: &str| {
        part.parse::<Size>()
            .map(|s| s.0)
            .map_err(|problem| ctx.err(key, problem, fix))
    };
    let (min, max) = match text.split_once("..") {
        Some((low, high)) => (parse(low)?, parse(high)?),
        None => {
            let size = parse(&text)?;
            (size, size)
        }
    };
    if min > max {
        return Err(ctx.err(
            key,
            format!("`{}` is not a usable size range", cut(&text)),
            "keep min <= max",
        ));
    }
    if max > MAX_EVENT_SIZE {
        return Err(ctx.err(
            key,
            format!("`{}` is larger than a producer sends ({MAX_EVENT_SIZE} bytes)", cut(&text)),
            "keep events at most 998,976 bytes: librdkafka's message.max.bytes (1,000,000) less 1 KiB for key, headers and record overhead",
        ));
    }
    Ok((min, max))
}

/// The index of the event's aggregate (its lowercased name unless it names one). The first
/// event of an aggregate sets its topic, keys and distribution; every later one must agree.
fn resolve_aggregate(
    ctx: &Ctx,
    i: usize,
    event: &RawEvent,
    event_name: &str,
    topic: usize,
    aggregates: &mut Vec<AggregateSpec>,
    aggregate_at: &mut HashMap<String, usize>,
) -> Result<usize, ScenarioError> {
    let keys = ctx.positive(
        &format!("events[{i}].keys"),
        event.keys,
        10_000,
        u32::MAX as i64,
    )? as u64;
    let distribution = key_distribution(ctx, i, event)?;
    let aggregate_name = event
        .aggregate
        .clone()
        .unwrap_or_else(|| event_name.to_lowercase());
    let Some(&index) = aggregate_at.get(&aggregate_name) else {
        aggregate_at.insert(aggregate_name.clone(), aggregates.len());
        aggregates.push(AggregateSpec {
            name: aggregate_name,
            topic,
            keys,
            distribution,
        });
        return Ok(aggregates.len() - 1);
    };
    let existing = &aggregates[index];
    let same_keys = event.keys.is_none_or(|k| k as u64 == existing.keys);
    if existing.topic != topic
        || !same_keys
        || (event.distribution.is_some() && distribution != existing.distribution)
    {
        return Err(ctx.err(
            format!("events[{i}].aggregate"),
            format!("aggregate `{aggregate_name}` is already used with another topic, key count or distribution"),
            "events of one aggregate share its keys and partition: give them the same topic, keys and distribution, or another aggregate name",
        ));
    }
    Ok(index)
}

/// How the event picks its keys: uniformly, or by a Zipf law with a positive exponent.
fn key_distribution(
    ctx: &Ctx,
    i: usize,
    event: &RawEvent,
) -> Result<KeyDistribution, ScenarioError> {
    match event.distribution.as_deref().unwrap_or("uniform") {
        "uniform" => Ok(KeyDistribution::Uniform),
        "zipf" => {
            let exponent = event.zipf_exponent.unwrap_or(1.0);
            if !(exponent.is_finite() && exponent > 0.0) {
                return Err(ctx.err(
                    format!("events[{i}].zipf_exponent"),
                    format!("{exponent} is not a zipf exponent"),
                    "use a number above 0, e.g. 1.0",
                ));
            }
            Ok(KeyDistribution::Zipf { exponent })
        }
        other => Err(ctx.err(
            format!("events[{i}].distribution"),
            format!("`{other}` is not a key distribution"),
            "use \"uniform\" or \"zipf\"",
        )),
    }
}
