//! librdkafka client properties: the defaults under the scenario's and the flags' own, the
//! checks on what they may say (no secrets in the file, TLS verification on unless the flag
//! turns it off), and how the layers merge.

use super::Ctx;
use super::idempotence::idempotence_default;
use super::librdkafka;
use crate::input::quote;
use crate::scenario::{Auth, Bootstrap, ScenarioError};

/// The warning every report shows for a run with TLS verification off.
pub const INSECURE_TLS_WARNING: &str = "TLS verification was OFF for this run (--insecure-skip-tls-verify): the brokers' certificates and host names were not checked";

/// The ADR's producer settings (acks=all, retries, snappy, 16 KiB batches, 10 ms linger).
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("retries", "3"),
    ("compression.type", "snappy"),
    ("batch.size", "16384"),
    ("linger.ms", "10"),
];

/// The ADR's consumer settings: earliest, manual commits, 1 KiB minimum fetch.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("auto.offset.reset", "earliest"),
    ("enable.auto.commit", "false"),
    ("fetch.min.bytes", "1024"),
];

/// Both clients on a real cluster: TCP_NODELAY, as Kafka's Java client (the ADR's Spring
/// services) always sets it. librdkafka leaves Nagle on by default, which held each connection
/// to the local cluster to a few dozen acks=all requests a second (publish p50 937 ms against
/// 54 ms at 600 events/s, benches/README.md). The embedded broker keeps Nagle on: it pays for
/// every small request in-process (black-friday's e2e p95 went from 0.4 s to 2.7 s without it).
const REAL_CLUSTER_DEFAULTS: &[(&str, &str)] = &[("socket.nagle.disable", "true")];

/// Client defaults that apply on the embedded broker only, each with the reason a report
/// shows. Scenario keys and -X still win over them.
const EMBEDDED_CONSUMER_DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "fetch.wait.max.ms",
        "10",
        "the embedded broker holds an empty fetch for the whole wait, so 500 ms would measure the wait",
    ),
    (
        "session.timeout.ms",
        "6000",
        "the embedded broker's group coordinator can wait out a whole session before a rebalance completes",
    ),
    (
        "heartbeat.interval.ms",
        "500",
        "members learn of a rebalance on their next heartbeat",
    ),
];
const EMBEDDED_PRODUCER_DEFAULTS: &[(&str, &str, &str)] = &[(
    "linger.ms",
    "25",
    "the embedded broker looks batches up linearly, so many tiny batches measure its lookup",
)];

/// Properties from one source, for each kind of client.
pub(super) struct ClientProperties {
    pub(super) producer: Vec<(String, String)>,
    pub(super) consumer: Vec<(String, String)>,
}

impl ClientProperties {
    /// `-X key=value`: a `producer.` or `consumer.` prefix targets one client, no prefix both.
    pub(super) fn from_flags(properties: &[(String, String)]) -> ClientProperties {
        let mut producer = Vec::new();
        let mut consumer = Vec::new();
        for (key, value) in properties {
            if let Some(key) = key.strip_prefix("producer.") {
                producer.push((key.to_string(), value.clone()));
            } else if let Some(key) = key.strip_prefix("consumer.") {
                consumer.push((key.to_string(), value.clone()));
            } else {
                producer.push((key.clone(), value.clone()));
                consumer.push((key.clone(), value.clone()));
            }
        }
        ClientProperties { producer, consumer }
    }
}

/// The first property of `layers` (section, pairs) that `matches`: how to name it in an error
/// (`-X key` or `section."key"`), its key and its value.
fn find_property<'a>(
    layers: &[(&str, &'a Vec<(String, String)>)],
    matches: impl Fn(&str, &str) -> bool,
) -> Option<(String, &'a str, &'a str)> {
    layers.iter().find_map(|(section, pairs)| {
        let (key, value) = pairs.iter().find(|(k, v)| matches(k, v))?;
        Some((property_name(section, key), key.as_str(), value.as_str()))
    })
}

/// Rejects a secret written in the file, a property librdkafka would refuse, TLS
/// verification turned off or a security protocol other than `--auth`'s without the flag, and
/// TLS or SASL asked of the embedded broker. Returns the warning every report carries when the
/// flag let the protocol be overridden.
pub(super) fn check_properties(
    ctx: &Ctx,
    written: &ClientProperties,
    flags: &ClientProperties,
    bootstrap: &Bootstrap,
    auth: &Auth,
    insecure_skip_tls_verify: bool,
) -> Result<Option<String>, ScenarioError> {
    let layers = [
        ("cluster.producer", &written.producer),
        ("cluster.consumer", &written.consumer),
        ("-X", &flags.producer),
        ("-X", &flags.consumer),
    ];
    if let Some((name, _, _)) = find_property(&layers[..2], |k, _| is_secret_property(k)) {
        return Err(ctx.err(
            name,
            "a secret is written in the scenario file",
            "remove it from the file and pass it at run time (an environment variable read by -X, or a credentials file)",
        ));
    }
    for (section, pairs) in &layers {
        for (key, value) in pairs.iter() {
            if let Err(problem) = librdkafka::check(key, value) {
                return Err(ctx.err(
                    property_name(section, key),
                    problem,
                    "correct the property; librdkafka's CONFIGURATION.md lists every one and the values it takes",
                ));
            }
        }
    }
    let mut warning = None;
    for (client, which) in [("producer", 0), ("consumer", 1)] {
        let own = [layers[which], layers[which + 2]];
        if let Some(found) = check_security(ctx, client, &own, auth, insecure_skip_tls_verify)? {
            warning = Some(found);
        }
    }
    // The embedded broker speaks plaintext only: a client told to use TLS or SASL would wait out
    // the group join and report a timeout instead of what is wrong. (sasl.* alone is ignored on
    // a plaintext connection; the protocol decides.)
    let speaks_other = |k: &str, v: &str| {
        k == "security.protocol"
            && librdkafka::Reading::of(&[(k.into(), v.into())]).protocol() != "plaintext"
    };
    if bootstrap.is_embedded()
        && let Some((name, key, value)) = find_property(&layers, speaks_other)
    {
        return Err(ctx.err(
            name,
            format!("`{key}={}` asks for TLS or SASL, and the embedded broker speaks plaintext only", quote(value, 40)),
            "give --bootstrap (or cluster.bootstrap) a real cluster's TLS/SASL listeners, or drop the property",
        ));
    }
    Ok(warning)
}

/// One client's TLS verification and security protocol, as librdkafka reads its merged
/// properties (`own`: the scenario's, then -X): verification off, or a protocol other than
/// the auth mode's, is an error without `--insecure-skip-tls-verify`. Returns the warning for
/// a protocol the flag let through.
fn check_security(
    ctx: &Ctx,
    client: &str,
    own: &[(&str, &Vec<(String, String)>)],
    auth: &Auth,
    insecure_skip_tls_verify: bool,
) -> Result<Option<String>, ScenarioError> {
    let merged = merge(&[own[0].1.clone(), own[1].1.clone()]);
    let read = librdkafka::Reading::of(&merged);
    if !read.parsed() {
        // Fail closed: what cannot be read cannot be said to keep TLS on.
        return Err(ctx.err(
            "cluster",
            format!("librdkafka refuses the {client}'s properties taken together"),
            "check the scenario's and -X properties against librdkafka's CONFIGURATION.md",
        ));
    }
    if !insecure_skip_tls_verify && let Some(key) = read.tls_unverified() {
        let (name, value) = last_setting(own, key);
        return Err(ctx.err(
            name,
            format!("`{key}={}` turns off TLS certificate or host name verification (for librdkafka's {client})", quote(&value, 100)),
            "remove it, or pass --insecure-skip-tls-verify to run without verification on purpose (every report will say so)",
        ));
    }
    let settings = [
        (
            "security.protocol",
            auth.protocol(),
            read.protocol_set(&merged),
        ),
        (
            "sasl.mechanisms",
            auth.mechanism(),
            read.mechanism_set(&merged),
        ),
    ];
    let mut warning = None;
    for (key, wanted, set) in settings {
        let (Some(wanted), Some(set)) = (wanted, set) else {
            continue;
        };
        if set.eq_ignore_ascii_case(wanted) {
            continue;
        }
        // Named as written: `sasl.mechanism` is librdkafka's alias of `sasl.mechanisms`.
        let (name, value) = last_setting(own, key);
        if !insecure_skip_tls_verify {
            return Err(ctx.err(
                name.clone(),
                format!(
                    "`{name} = {}` contradicts auth `{}`, which uses {wanted}",
                    quote(&value, 40),
                    auth.name()
                ),
                "drop it (--auth sets it), choose the auth mode that uses it, or pass --insecure-skip-tls-verify to downgrade on purpose (every report will say so)",
            ));
        }
        warning = Some(format!(
            "{key} was {set} for this run's {client}s although auth `{}` uses {wanted} ({name}, allowed by --insecure-skip-tls-verify)",
            auth.name()
        ));
    }
    Ok(warning)
}

/// How an error names a property: `-X key` or `section."key"`.
pub(super) fn property_name(section: &str, key: &str) -> String {
    if section == "-X" {
        format!("-X {}", quote(key, 100))
    } else {
        format!("{section}.\"{}\"", quote(key, 100))
    }
}

/// Where `key` was set last among `layers` (the setting that wins), and its value.
fn last_setting(layers: &[(&str, &Vec<(String, String)>)], key: &str) -> (String, String) {
    layers
        .iter()
        .rev()
        .find_map(|(section, pairs)| {
            let same = |k: &String| librdkafka::canonical(k) == librdkafka::canonical(key);
            let (written, value) = pairs.iter().rev().find(|(k, _)| same(k))?;
            Some((property_name(section, written), value.clone()))
        })
        .unwrap_or_else(|| (key.to_string(), String::new()))
}

/// The defaults under the scenario's and the flags' properties: the ADR's settings and the
/// idempotent producer (unless what the scenario and flags set rules it out: the reason is
/// returned), then TCP_NODELAY on a real cluster or, on the embedded broker, its own defaults
/// for whatever the scenario and flags leave alone (each one noted).
pub(super) fn client_defaults(
    bootstrap: &Bootstrap,
    written: &ClientProperties,
    flags: &ClientProperties,
    notes: &mut Vec<String>,
) -> (ClientProperties, Option<String>) {
    let mut producer = defaults(PRODUCER_DEFAULTS);
    let mut consumer = defaults(CONSUMER_DEFAULTS);
    let set: Vec<_> = written.producer.iter().chain(&flags.producer).collect();
    let without_idempotence = idempotence_default(&set).err();
    if without_idempotence.is_none() {
        producer.push(("enable.idempotence".into(), "true".into()));
    }
    if bootstrap.is_embedded() {
        let set: Vec<_> = written.producer.iter().chain(&flags.producer).collect();
        embedded_defaults(EMBEDDED_PRODUCER_DEFAULTS, &mut producer, &set, notes);
        let set: Vec<_> = written.consumer.iter().chain(&flags.consumer).collect();
        embedded_defaults(EMBEDDED_CONSUMER_DEFAULTS, &mut consumer, &set, notes);
    } else {
        producer.extend(defaults(REAL_CLUSTER_DEFAULTS));
        consumer.extend(defaults(REAL_CLUSTER_DEFAULTS));
    }
    (ClientProperties { producer, consumer }, without_idempotence)
}

/// Adds embedded-only defaults that the scenario and flags left alone, noting each one.
fn embedded_defaults(
    table: &[(&str, &str, &str)],
    defaults: &mut Vec<(String, String)>,
    written: &[&(String, String)],
    notes: &mut Vec<String>,
) {
    for (key, value, why) in table {
        if !written.iter().any(|(k, _)| k == key) {
            defaults.push((key.to_string(), value.to_string()));
            notes.push(format!("{key} = {value} on the embedded broker: {why}"));
        }
    }
}

/// What `--insecure-skip-tls-verify` adds: both checks off. The scenario and -X may still set
/// them explicitly.
pub(super) fn insecure_defaults(insecure_skip_tls_verify: bool) -> Vec<(String, String)> {
    if insecure_skip_tls_verify {
        defaults(&[
            ("enable.ssl.certificate.verification", "false"),
            ("ssl.endpoint.identification.algorithm", "none"),
        ])
    } else {
        Vec::new()
    }
}

/// Later entries win: defaults, then the scenario, then `-X`.
/// Merges property layers: each key once, in first-seen order, the last layer's value winning.
pub fn merge(layers: &[Vec<(String, String)>]) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::new();
    for (key, value) in layers.iter().flatten() {
        // Two spellings of one property (`acks`, `request.required.acks`) are one key: the
        // later replaces the earlier, spelling and all.
        let same = |k: &String| librdkafka::canonical(k) == librdkafka::canonical(key);
        match merged.iter_mut().find(|(k, _)| same(k)) {
            Some(slot) => *slot = (key.clone(), value.clone()),
            None => merged.push((key.clone(), value.clone())),
        }
    }
    merged
}

/// A table of constant properties as owned pairs.
fn defaults(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Property names whose values are credentials.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "passphrase",
        "sasl.oauthbearer.config",
        "private.key",
        "ssl.key.pem",
        "ssl_key",
        "aws_secret",
        "session.token",
    ]
    .iter()
    .any(|needle| key.contains(needle))
}

#[cfg(test)]
mod secret_tests {
    use super::is_secret_property;

    #[test]
    fn every_sensitive_librdkafka_property_is_secret() {
        // The properties librdkafka itself marks sensitive, and surge's AWS variables.
        for key in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "ssl_key",
            "sasl.oauthbearer.config",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.assertion.private.key.passphrase",
            "sasl.oauthbearer.assertion.private.key.pem",
        ] {
            assert!(is_secret_property(key), "{key}");
        }
        for key in [
            "sasl.username",
            "ssl.ca.location",
            "linger.ms",
            "sasl.oauthbearer.client.id",
        ] {
            assert!(!is_secret_property(key), "{key}");
        }
    }
}
