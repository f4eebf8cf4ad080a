//! Secrets kept out of everything a run writes: client properties, client errors, and the
//! scenario's text as the summary quotes it.

use crate::scenario::{Scenario, is_secret_property};

/// Replaces the values of secret properties.
pub fn redact_properties(properties: &[(String, String)]) -> Vec<(String, String)> {
    properties
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if is_secret_property(k) {
                    "***".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

/// Environment variables whose values are credentials wherever they turn up.
const SECRET_ENV: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "SURGE_SASL_PASSWORD",
];

/// Client error strings with every secret the run used replaced by `***`: the values of the
/// secret client properties, and of the AWS and SASL secrets in the environment.
pub fn redact_errors(errors: &[String], scenario: &Scenario) -> Vec<String> {
    let mut secrets: Vec<(String, String)> = scenario
        .cluster
        .producer
        .iter()
        .chain(&scenario.cluster.consumer)
        .filter(|(k, v)| is_secret_property(k) && !v.is_empty())
        .cloned()
        .collect();
    for name in SECRET_ENV {
        if let Ok(value) = std::env::var(name) {
            secrets.push(((*name).to_ascii_lowercase().replace('_', "."), value));
        }
    }
    errors
        .iter()
        .map(|error| crate::kafka::redact(error, &secrets))
        .collect()
}

/// Redacts secret-looking assignments in a scenario's text, line by line.
pub fn redact_source(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once('=') {
            Some((key, _)) if is_secret_property(key.trim().trim_matches('"')) => {
                format!("{} = \"***\"", key.trim_end())
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use crate::kafka::redact_values;

    #[test]
    fn short_secrets_are_redacted_as_values_only() {
        let error = "Connect to ipv4#127.0.0.1:9092 failed: sasl.password=1, user: 1";
        let clean = redact_values(error, &["1"]);
        assert_eq!(
            clean,
            "Connect to ipv4#127.0.0.1:9092 failed: sasl.password=***, user: ***"
        );
        for secret in [" ", ".", "7", "a"] {
            let text = format!("broker 127.0.0.7:9092 a. b. password=\"{secret}\" x");
            let clean = redact_values(&text, &[secret]);
            assert!(clean.contains("password=\"***\""), "{secret:?}: {clean}");
            assert!(
                clean.starts_with("broker 127.0.0.7:9092 a. b. "),
                "{secret:?}: {clean}"
            );
        }
    }

    #[test]
    fn the_parts_of_a_structured_secret_are_secrets_too() {
        let properties = [(
            "sasl.oauthbearer.config".to_string(),
            "principal=admin bogus_hunter2SECRETpart".to_string(),
        )];
        let clean = crate::kafka::redact(
            "Unrecognized sasl.oauthbearer.config beginning at: bogus_hunter2SECRETpart",
            &properties,
        );
        assert!(!clean.contains("hunter2"), "{clean}");
        let properties = [(
            "sasl.oauthbearer.config".to_string(),
            "principal=admin lifeSeconds=hunter2".to_string(),
        )];
        for text in [
            "Unrecognized sasl.oauthbearer.config beginning at: hunter2",
            "non-integral 'lifeSeconds=': hunter2",
        ] {
            let clean = crate::kafka::redact(text, &properties);
            assert!(!clean.contains("hunter2"), "{clean}");
        }
    }

    #[test]
    fn long_secrets_are_redacted_wherever_they_appear() {
        let clean = redact_values(
            "prefixhunter2-longpasssuffix and 'hunter2-longpass'",
            &["hunter2-longpass"],
        );
        assert_eq!(clean, "prefix***suffix and '***'");
        let clean = redact_values("a=abcdefgh12 b=12", &["12", "abcdefgh12"]);
        assert_eq!(clean, "a=*** b=***");
    }
}
