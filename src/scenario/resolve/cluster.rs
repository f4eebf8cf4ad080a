//! `[cluster]`: where the brokers are, how clients authenticate, and with which properties.

use super::idempotence::without_idempotence;
use super::properties::{
    ClientProperties, check_properties, client_defaults, insecure_defaults, merge, property_name,
};
use super::{Ctx, Overrides, scalar_map};
use crate::scenario::raw::RawCluster;
use crate::scenario::{Auth, Bootstrap, ClusterProfile, ScenarioError, SecretSource};

/// The cluster profile: the bootstrap, the auth mode, and each client's properties merged from
/// defaults, `--insecure-skip-tls-verify`, the scenario and `-X`, later layers winning.
pub(super) fn resolve_cluster(
    ctx: &Ctx,
    raw: RawCluster,
    overrides: &Overrides,
    notes: &mut Vec<String>,
) -> Result<ClusterProfile, ScenarioError> {
    let bootstrap = resolve_bootstrap(ctx, &raw, overrides)?;
    let written = ClientProperties {
        producer: scalar_map(raw.producer.as_ref()),
        consumer: scalar_map(raw.consumer.as_ref()),
    };
    let flags = ClientProperties::from_flags(&overrides.properties);
    let auth = resolve_auth(ctx, &raw, overrides)?;
    let protocol_override = check_properties(
        ctx,
        &written,
        &flags,
        &bootstrap,
        &auth,
        overrides.insecure_skip_tls_verify,
    )?;
    let (defaults, why_not_idempotent) = client_defaults(&bootstrap, &written, &flags, notes);
    let insecure = insecure_defaults(overrides.insecure_skip_tls_verify);
    if bootstrap.is_embedded() && auth != Auth::None {
        return Err(ctx.err(
            "cluster.auth",
            format!(
                "auth `{}` needs a real cluster, and the scenario runs on the embedded broker",
                auth.name()
            ),
            "give --bootstrap (or cluster.bootstrap) the cluster's TLS/SASL listeners",
        ));
    }
    if raw.embedded_rtt.is_some() {
        return Err(ctx.err(
            "cluster.embedded_rtt",
            "round-trip injection is a fault now, on the scenario's timeline",
            "replace it with\n  [[faults]]\n  kind = \"rtt\"\n  at = \"0s\"\n  rtt = \"2ms\"",
        ));
    }
    let producer = merge(&[
        defaults.producer,
        insecure.clone(),
        written.producer,
        flags.producer,
    ]);
    let producer_reorders = without_idempotence(&producer, why_not_idempotent.as_deref());
    let consumer_set = [
        ("cluster.consumer", &written.consumer),
        ("-X", &flags.consumer),
    ]
    .iter()
    .flat_map(|(section, pairs)| {
        pairs
            .iter()
            .map(move |(key, _)| (key.clone(), property_name(section, key)))
    })
    .collect();
    Ok(ClusterProfile {
        bootstrap,
        auth,
        producer,
        consumer: merge(&[
            defaults.consumer,
            insecure,
            written.consumer,
            flags.consumer,
        ]),
        consumer_set,
        insecure_tls: overrides.insecure_skip_tls_verify,
        protocol_override,
        producer_reorders,
    })
}

/// `--bootstrap` or `cluster.bootstrap`: `host:port` pairs, or the embedded broker when unset
/// or `embedded`.
fn resolve_bootstrap(
    ctx: &Ctx,
    raw: &RawCluster,
    overrides: &Overrides,
) -> Result<Bootstrap, ScenarioError> {
    let brokers = ctx.positive("cluster.embedded_brokers", raw.embedded_brokers, 3, 10)? as i32;
    let written = overrides
        .bootstrap
        .clone()
        .or(raw.bootstrap.clone())
        .filter(|b| !b.trim().is_empty());
    let servers = match written.as_deref().map(str::trim) {
        None | Some("embedded") => return Ok(Bootstrap::Embedded { brokers }),
        Some(servers) => servers,
    };
    for server in servers.split(',') {
        let server = server.trim();
        let port_ok = server
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(ctx.err(
                "cluster.bootstrap",
                format!("`{server}` is not a broker address"),
                "write host:port pairs separated by commas, e.g. 127.0.0.1:9092, or \"embedded\"",
            ));
        }
    }
    Ok(Bootstrap::Servers(servers.to_string()))
}

/// `--auth` or `cluster.auth`, with `--ca-file` or `cluster.ca_file`.
fn resolve_auth(ctx: &Ctx, raw: &RawCluster, overrides: &Overrides) -> Result<Auth, ScenarioError> {
    let ca_file = overrides
        .ca_file
        .clone()
        .or_else(|| raw.ca_file.as_ref().map(std::path::PathBuf::from));
    let mode = overrides
        .auth
        .as_deref()
        .or(raw.auth.as_deref())
        .unwrap_or("none");
    let auth = match mode {
        "none" => Auth::None,
        "tls" => Auth::Tls { ca_file },
        "scram-sha-512" => Auth::Scram {
            ca_file,
            username: SecretSource::Env(
                raw.username_env
                    .clone()
                    .unwrap_or_else(|| "SURGE_SASL_USERNAME".into()),
            ),
            password: scram_password(ctx, raw)?,
        },
        "iam" => Auth::Iam {
            ca_file,
            region: raw.aws_region.clone(),
        },
        other => {
            return Err(ctx.err(
                "cluster.auth",
                format!("`{other}` is not an auth mode"),
                "use \"none\", \"tls\", \"scram-sha-512\" or \"iam\"",
            ));
        }
    };
    Ok(auth)
}

/// Where the SCRAM password comes from: `password_file`, or `password_env`
/// (`SURGE_SASL_PASSWORD` when neither is set).
fn scram_password(ctx: &Ctx, raw: &RawCluster) -> Result<SecretSource, ScenarioError> {
    match (&raw.password_file, &raw.password_env) {
        (Some(_), Some(_)) => Err(ctx.err(
            "cluster.password_file",
            "both password_file and password_env are set",
            "keep one of them",
        )),
        (Some(file), None) => Ok(SecretSource::File(file.into())),
        (None, env) => Ok(SecretSource::Env(
            env.clone().unwrap_or_else(|| "SURGE_SASL_PASSWORD".into()),
        )),
    }
}
