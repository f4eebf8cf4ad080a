//! librdkafka's own reading of client properties: whether it accepts each one, and what the
//! merged configuration means once it has parsed it (every spelling it takes for a boolean or
//! an enum), so that no guard depends on a list of spellings of surge's own.

use rdkafka::ClientConfig;
use rdkafka::config::NativeClientConfig;
use rdkafka::error::KafkaError;

use super::properties::is_secret_property;
use crate::input::quote;

/// librdkafka's aliases (CONFIGURATION.md, "Alias for"): each spelling is one property, so a
/// later layer's `acks` replaces a default `request.required.acks`, never sits beside it.
const ALIASES: &[(&str, &str)] = &[
    ("acks", "request.required.acks"),
    ("bootstrap.servers", "metadata.broker.list"),
    ("compression.type", "compression.codec"),
    ("delivery.timeout.ms", "message.timeout.ms"),
    ("linger.ms", "queue.buffering.max.ms"),
    ("max.in.flight", "max.in.flight.requests.per.connection"),
    ("max.partition.fetch.bytes", "fetch.message.max.bytes"),
    ("retries", "message.send.max.retries"),
    ("sasl.mechanism", "sasl.mechanisms"),
    (
        "sasl.oauthbearer.client.credentials.client.id",
        "sasl.oauthbearer.client.id",
    ),
    (
        "sasl.oauthbearer.client.credentials.client.secret",
        "sasl.oauthbearer.client.secret",
    ),
];

/// The name librdkafka files `key` under.
pub fn canonical(key: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or(key, |(_, name)| name)
}

/// The value `properties` give `key` (under any of its librdkafka names), the last one set.
pub fn property<'a>(properties: &'a [(String, String)], key: &str) -> Option<&'a str> {
    properties
        .iter()
        .rev()
        .find(|(k, _)| canonical(k) == canonical(key))
        .map(|(_, v)| v.trim())
}

/// Properties a scenario or `-X` may not set, and why: they load code or run a command when a
/// client is made (validation makes one), or name the brokers behind `--bootstrap`'s back.
const REFUSED: &[(&str, &str)] = &[
    (
        "plugin.library.paths",
        "it loads shared libraries into surge",
    ),
    (
        "ssl.engine.location",
        "it loads an OpenSSL engine library into surge",
    ),
    ("ssl.providers", "it loads OpenSSL providers into surge"),
    ("sasl.kerberos.kinit.cmd", "it runs a shell command"),
    (
        "metadata.broker.list",
        "the brokers are --bootstrap's (or cluster.bootstrap's)",
    ),
];

/// Whether librdkafka accepts `key = value`; its reason when not. The value of a secret
/// property is never quoted back.
pub(super) fn check(key: &str, value: &str) -> Result<(), String> {
    if key.trim().is_empty() {
        return Err("a property with an empty name".into());
    }
    if let Some((_, why)) = REFUSED.iter().find(|(name, _)| *name == canonical(key)) {
        return Err(format!("surge does not pass this property on: {why}"));
    }
    let mut config = ClientConfig::new();
    config.set(key, value);
    match config.create_native_config() {
        Ok(_) => Ok(()),
        Err(_) if is_secret_property(key) => Err(format!(
            "librdkafka refuses the value of `{}` (not shown: it is a secret)",
            quote(key, 100)
        )),
        Err(KafkaError::ClientConfig(_, description, _, _)) => Err(format!(
            "librdkafka refuses it: {}",
            quote(&description, 200)
        )),
        Err(other) => Err(format!(
            "librdkafka refuses it: {}",
            quote(&other.to_string(), 200)
        )),
    }
}

/// A merged configuration as librdkafka parsed it.
pub(super) struct Reading(Option<NativeClientConfig>);

impl Reading {
    pub(super) fn of(pairs: &[(String, String)]) -> Reading {
        let mut config = ClientConfig::new();
        for (key, value) in pairs {
            config.set(key, value);
        }
        Reading(config.create_native_config().ok())
    }

    /// Whether librdkafka took the whole set (each property alone was checked before).
    pub(super) fn parsed(&self) -> bool {
        self.0.is_some()
    }

    pub(super) fn get(&self, key: &str) -> Option<String> {
        self.0.as_ref()?.get(key).ok()
    }

    /// The property that turns TLS certificate or host name verification off, if one does.
    pub(super) fn tls_unverified(&self) -> Option<&'static str> {
        const VERIFY: &str = "enable.ssl.certificate.verification";
        const HOST: &str = "ssl.endpoint.identification.algorithm";
        if self.get(VERIFY).as_deref() == Some("false") {
            Some(VERIFY)
        } else if self.get(HOST).as_deref() == Some("none") {
            Some(HOST)
        } else {
            None
        }
    }

    /// `security.protocol` as librdkafka reads it: `plaintext`, `ssl`, `sasl_plaintext` or
    /// `sasl_ssl`.
    pub(super) fn protocol(&self) -> String {
        self.get("security.protocol")
            .unwrap_or_else(|| "plaintext".into())
            .to_ascii_lowercase()
    }

    /// `sasl.mechanisms` (or its alias `sasl.mechanism`), when `pairs` set it.
    pub(super) fn mechanism_set(&self, pairs: &[(String, String)]) -> Option<String> {
        pairs
            .iter()
            .any(|(k, _)| k == "sasl.mechanisms" || k == "sasl.mechanism")
            .then(|| self.get("sasl.mechanisms").unwrap_or_default())
    }

    /// The protocol, when `pairs` set it.
    pub(super) fn protocol_set(&self, pairs: &[(String, String)]) -> Option<String> {
        pairs
            .iter()
            .any(|(k, _)| k == "security.protocol")
            .then(|| self.protocol())
    }
}

/// Owned property pairs from a literal list (tests).
#[cfg(test)]
pub(super) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_librdkafka_takes_for_false_is_read_as_false() {
        for value in [
            "false", "FALSE", "f", "F", "0", "no", "off", "False", "n", "N",
        ] {
            let parsed = check("enable.ssl.certificate.verification", value);
            let reading = Reading::of(&pairs(&[("enable.ssl.certificate.verification", value)]));
            // A spelling librdkafka refuses cannot turn verification off either.
            assert!(
                parsed.is_err() || reading.tls_unverified().is_some(),
                "{value}: accepted, and not read as off"
            );
        }
        for value in ["true", "t", "T", "1", "yes", "on"] {
            let reading = Reading::of(&pairs(&[("enable.ssl.certificate.verification", value)]));
            assert_eq!(reading.tls_unverified(), None, "{value}");
        }
        for value in ["none", "NONE", "None"] {
            let reading = Reading::of(&pairs(&[("ssl.endpoint.identification.algorithm", value)]));
            assert_eq!(
                reading.tls_unverified(),
                Some("ssl.endpoint.identification.algorithm"),
                "{value}"
            );
        }
        assert_eq!(Reading::of(&[]).tls_unverified(), None);
    }

    #[test]
    fn properties_that_load_code_are_refused_before_librdkafka_sees_them() {
        for key in [
            "plugin.library.paths",
            "ssl.engine.location",
            "ssl.providers",
            "sasl.kerberos.kinit.cmd",
            "bootstrap.servers",
        ] {
            let refused = check(key, "/lib/x86_64-linux-gnu/libbz2.so.1.0");
            assert!(
                refused.as_ref().is_err_and(|e| e.contains("does not pass")),
                "{key}: {refused:?}"
            );
        }
        assert_eq!(canonical("acks"), "request.required.acks");
        assert_eq!(canonical("linger.ms"), "queue.buffering.max.ms");
        assert_eq!(canonical("fetch.min.bytes"), "fetch.min.bytes");
    }

    #[test]
    fn the_protocol_is_read_in_any_case() {
        for (value, read) in [
            ("PLAINTEXT", "plaintext"),
            ("Ssl", "ssl"),
            ("SASL_PLAINTEXT", "sasl_plaintext"),
            ("sasl_ssl", "sasl_ssl"),
        ] {
            let set = pairs(&[("security.protocol", value)]);
            assert_eq!(Reading::of(&set).protocol_set(&set).as_deref(), Some(read));
        }
        assert_eq!(Reading::of(&[]).protocol_set(&[]), None);
    }

    #[test]
    fn librdkafka_refusals_are_named_and_secrets_not_echoed() {
        let refused = check("linger.ms", "abc");
        // librdkafka names the property it aliases (queue.buffering.max.ms); the caller names
        // the key as written.
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("Invalid value")),
            "{refused:?}"
        );
        assert!(check("acks", "constant").is_err());
        assert!(check("no.such.property", "1").is_err());
        assert!(check("", "1").unwrap_err().contains("empty name"));
        assert!(check("linger.ms", "5").is_ok());
        let long = "9".repeat(10_000);
        assert!(check("linger.ms", &long).unwrap_err().len() < 400);
        let secret = check("sasl.password", "hunter2\0").unwrap_err();
        assert!(!secret.contains("hunter2"), "{secret}");
    }
}
