//! Authentication without AWS or a secured broker: IAM tokens signed with static
//! credentials, client configurations per mode, and secrets kept out of every output.

mod common;

use std::process::Command;
use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_types::region::Region;
use aws_types::sdk_config::SharedCredentialsProvider;
use base64::Engine;
use surge::kafka::{Delivery, DeliverySink, EventProducer, auth};
use surge::scenario::{Auth, SecretSource};

const PLANTED: &str = "Planted-Secret-7f3a9c";

#[test]
fn an_iam_token_from_static_credentials_is_a_well_formed_presigned_url() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let provider =
        SharedCredentialsProvider::new(Credentials::from_keys("AKIAEXAMPLEKEYID", PLANTED, None));
    let (token, expires_ms) = runtime
        .block_on(
            aws_msk_iam_sasl_signer::generate_auth_token_from_credentials_provider(
                Region::new("eu-west-1"),
                provider,
            ),
        )
        .unwrap();
    let url = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap(),
    )
    .unwrap();
    assert!(
        url.starts_with("https://kafka.eu-west-1.amazonaws.com/?"),
        "{url}"
    );
    for part in [
        "Action=kafka-cluster%3AConnect",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Credential=AKIAEXAMPLEKEYID%2F",
        "%2Feu-west-1%2Fkafka-cluster%2Faws4_request",
        "X-Amz-Expires=900",
        "X-Amz-Signature=",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    assert!(!url.contains(PLANTED), "the secret key never travels");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(expires_ms > now_ms && expires_ms <= now_ms + 900_000 + 5_000);
}

struct Discard;

impl DeliverySink for Discard {
    fn delivered(&self, _delivery: Delivery<'_>) {}
    fn client_error(&self, _reason: &str) {}
}

#[test]
fn every_auth_mode_builds_a_client_with_its_properties() {
    // SAFETY: these variables are used by this test only.
    unsafe {
        std::env::set_var("SURGE_TEST_AUTH_USER", "loadtest");
        std::env::set_var("SURGE_TEST_AUTH_PASSWORD", PLANTED);
    }
    let scram = Auth::Scram {
        ca_file: None,
        username: SecretSource::Env("SURGE_TEST_AUTH_USER".into()),
        password: SecretSource::Env("SURGE_TEST_AUTH_PASSWORD".into()),
    };
    let modes = [
        (Auth::None, vec![("security.protocol", "plaintext")]),
        (
            Auth::Tls { ca_file: None },
            vec![
                ("security.protocol", "ssl"),
                ("ssl.endpoint.identification.algorithm", "https"),
            ],
        ),
        (
            scram,
            vec![
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "loadtest"),
                ("sasl.password", PLANTED),
            ],
        ),
        (
            Auth::Iam {
                ca_file: None,
                region: None,
            },
            vec![
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "OAUTHBEARER"),
            ],
        ),
    ];
    for (mode, expected) in modes {
        let properties = auth::properties(&mode).unwrap();
        for (key, value) in expected {
            assert!(
                properties.contains(&(key.to_string(), value.to_string())),
                "{}: {key}={value} in {properties:?}",
                mode.name()
            );
        }
        // librdkafka accepts the configuration (no connection is made).
        EventProducer::create(
            "127.0.0.1:9",
            &properties,
            Arc::new(Discard),
            &["t"],
            &[],
            None,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", mode.name()));
    }
}

#[test]
fn secrets_appear_in_no_output_file_nor_on_the_console() {
    let _machine = common::exclusive();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_surge"))
        .args([
            "run",
            "--duration-scale",
            "0.25",
            "-X",
            &format!("sasl.password={PLANTED}"),
            "--out",
        ])
        .arg(out.path())
        .arg(common::repo("scenarios/smoke.toml"))
        .env_remove("KAFKA_BOOTSTRAP_SERVERS")
        .output()
        .unwrap();
    let console = common::console(&output);
    assert_eq!(output.status.code(), Some(0), "{console}");
    assert!(!console.contains(PLANTED), "console leaks the secret");
    let mut files = 0;
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PLANTED),
            "{} leaks the secret",
            path.display()
        );
        files += 1;
    }
    assert!(files >= 10, "{files} files written");
    let summary = common::written_summary(out.path());
    assert!(
        summary
            .cluster
            .producer_config
            .contains(&("sasl.password".into(), "***".into()))
    );

    // A failing SCRAM connection names the variable it read, never its value.
    let output = Command::new(env!("CARGO_BIN_EXE_surge"))
        .args([
            "check",
            "--bootstrap",
            "127.0.0.1:1",
            "--auth",
            "scram-sha-512",
        ])
        .env("SURGE_SASL_USERNAME", "loadtest")
        .env("SURGE_SASL_PASSWORD", PLANTED)
        .output()
        .unwrap();
    let console = common::console(&output);
    assert_eq!(output.status.code(), Some(2), "{console}");
    assert!(!console.contains(PLANTED), "{console}");
}

#[test]
fn missing_credentials_are_named_with_the_fix() {
    let output = Command::new(env!("CARGO_BIN_EXE_surge"))
        .args([
            "check",
            "--bootstrap",
            "127.0.0.1:1",
            "--auth",
            "scram-sha-512",
        ])
        .env_remove("SURGE_SASL_USERNAME")
        .env_remove("SURGE_SASL_PASSWORD")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains("SURGE_SASL_USERNAME is not set") && stderr.contains("fix:"),
        "{stderr}"
    );
}
