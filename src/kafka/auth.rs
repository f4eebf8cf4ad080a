//! Authentication: librdkafka properties for each mode, secrets read at run time (never from
//! the scenario file), and MSK IAM tokens served to librdkafka's OAUTHBEARER callback.

use std::error::Error;
use std::path::Path;
use std::sync::{OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_types::region::Region;
use rdkafka::client::OAuthToken;

use super::ConnectError;
use crate::scenario::{Auth, SecretSource};

/// Reads a secret; errors name where it was looked for, never its value.
pub fn read_secret(source: &SecretSource) -> Result<String, ConnectError> {
    match source {
        SecretSource::Env(name) => std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| ConnectError::Credentials {
            detail: match std::env::var_os(name) {
                Some(_) => format!("the environment variable {name} is set but empty"),
                None => format!("the environment variable {name} is not set"),
            },
            fix: format!("export {name}, or name another variable with cluster.username_env / cluster.password_env"),
        }),
        SecretSource::File(path) => crate::input::read_text(path, crate::input::SECRET).map(|text| text.trim().to_string()).map_err(|e| ConnectError::Credentials {
            detail: format!("cannot read the password file: {e}"),
            fix: "check cluster.password_file and its permissions".into(),
        }),
    }
}

fn tls_properties(
    ca_file: &Option<std::path::PathBuf>,
    properties: &mut Vec<(String, String)>,
) -> Result<(), ConnectError> {
    let location = match ca_file {
        // librdkafka looks for the system's CA bundle in the usual places.
        None => "probe".to_string(),
        Some(path) if Path::new(path).is_file() => path.display().to_string(),
        Some(path) => {
            return Err(ConnectError::Credentials {
                detail: format!("the CA file {} does not exist", path.display()),
                fix: "point cluster.ca_file at a PEM file, or remove it to use the system's roots"
                    .into(),
            });
        }
    };
    properties.push(("ssl.ca.location".into(), location));
    properties.push((
        "ssl.endpoint.identification.algorithm".into(),
        "https".into(),
    ));
    Ok(())
}

/// The librdkafka properties an auth mode needs, secrets included (callers redact them).
pub fn properties(auth: &Auth) -> Result<Vec<(String, String)>, ConnectError> {
    let mut properties: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: &str| properties.push((key.to_string(), value.to_string()));
    match auth {
        Auth::None => set("security.protocol", "plaintext"),
        Auth::Tls { .. } => set("security.protocol", "ssl"),
        Auth::Scram {
            username, password, ..
        } => {
            set("security.protocol", "sasl_ssl");
            set("sasl.mechanism", "SCRAM-SHA-512");
            set("sasl.username", &read_secret(username)?);
            set("sasl.password", &read_secret(password)?);
        }
        Auth::Iam { .. } => {
            set("security.protocol", "sasl_ssl");
            set("sasl.mechanism", "OAUTHBEARER");
        }
    }
    if let Auth::Tls { ca_file } | Auth::Scram { ca_file, .. } | Auth::Iam { ca_file, .. } = auth {
        tls_properties(ca_file, &mut properties)?;
    }
    Ok(properties)
}

/// The AWS region of an MSK broker, from its host name
/// (`b-1.name.abc123.c2.kafka.us-east-1.amazonaws.com:9098`), or `AWS_REGION`.
pub fn infer_region(servers: &str) -> Option<String> {
    let from_host = servers.split(',').find_map(|server| {
        let host = server
            .trim()
            .rsplit_once(':')
            .map_or(server.trim(), |(h, _)| h);
        let labels: Vec<&str> = host.split('.').collect();
        let at = labels
            .iter()
            .position(|l| *l == "kafka" || *l == "kafka-serverless")?;
        labels
            .get(at + 1)
            .filter(|r| r.contains('-'))
            .map(|r| r.to_string())
    });
    from_host
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
}

/// The current MSK IAM token, shared by every client of this process.
struct CachedToken {
    token: String,
    expires_ms: i64,
}

static IAM_TOKEN: OnceLock<RwLock<Option<CachedToken>>> = OnceLock::new();

fn cache() -> &'static RwLock<Option<CachedToken>> {
    IAM_TOKEN.get_or_init(|| RwLock::new(None))
}

/// Signs a new MSK IAM token with the standard AWS credential chain (env, profile, web
/// identity, container, IMDS) and caches it for the clients. Returns its lifetime.
pub async fn refresh_iam_token(region: &str, timeout: Duration) -> Result<Duration, ConnectError> {
    let signing = aws_msk_iam_sasl_signer::generate_auth_token(Region::new(region.to_string()));
    let (token, expires_ms) = tokio::time::timeout(timeout, signing)
        .await
        .map_err(|_| ConnectError::Credentials {
            detail: format!("no AWS credentials within {}s", timeout.as_secs()),
            fix: "provide credentials the standard way (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a web identity, a task or instance role)".into(),
        })?
        .map_err(|e| ConnectError::Credentials {
            detail: format!("cannot sign an MSK IAM token: {e}"),
            fix: "check the AWS credentials and the region (cluster.aws_region or AWS_REGION)".into(),
        })?;
    store_token(token, expires_ms);
    health().expired = None;
    Ok(Duration::from_millis((expires_ms - now_ms()).max(0) as u64))
}

/// What became of the token refreshes during a run.
#[derive(Default)]
struct IamHealth {
    /// Failures not yet put on the timeline.
    pending: Vec<String>,
    /// Why the token expired without a successor, once it has.
    expired: Option<String>,
}

static IAM_HEALTH: std::sync::Mutex<IamHealth> = std::sync::Mutex::new(IamHealth {
    pending: Vec::new(),
    expired: None,
});

fn health() -> std::sync::MutexGuard<'static, IamHealth> {
    IAM_HEALTH.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Forgets what earlier runs of this process saw.
pub fn reset_iam_health() {
    *health() = IamHealth::default();
}

/// Records a failed refresh: it goes on the timeline, and once the current token has expired
/// the run cannot go on (see [`iam_token_expired`]).
pub fn note_iam_refresh_failure(cause: &str) {
    let expired = cache()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_none_or(|cached| cached.expires_ms <= now_ms());
    let mut health = health();
    health
        .pending
        .push(format!("MSK IAM token refresh failed: {cause}"));
    if expired {
        health.expired = Some(cause.to_string());
    }
}

/// Refresh failures since the last call, for the timeline.
pub fn take_iam_events() -> Vec<String> {
    std::mem::take(&mut health().pending)
}

/// The cause, once the token has expired and no refresh replaced it.
pub fn iam_token_expired() -> Option<String> {
    health().expired.clone()
}

/// Puts a signed token into the cache the clients read.
pub fn store_token(token: String, expires_ms: i64) {
    *cache().write().unwrap_or_else(|e| e.into_inner()) = Some(CachedToken { token, expires_ms });
}

/// Serves librdkafka's synchronous refresh callback from the cache: it never blocks.
pub(crate) fn current_token() -> Result<OAuthToken, Box<dyn Error>> {
    let guard = cache().read().unwrap_or_else(|e| e.into_inner());
    let cached = guard
        .as_ref()
        .ok_or("no MSK IAM token has been signed yet")?;
    Ok(OAuthToken {
        token: cached.token.clone(),
        principal_name: "surge".into(),
        lifetime_ms: cached.expires_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_refresh_is_an_event_and_an_expired_token_ends_the_run() {
        reset_iam_health();
        store_token("still valid".into(), now_ms() + 60_000);
        note_iam_refresh_failure("no AWS credentials within 10s");
        assert_eq!(
            take_iam_events(),
            ["MSK IAM token refresh failed: no AWS credentials within 10s"]
        );
        assert!(take_iam_events().is_empty());
        assert_eq!(iam_token_expired(), None, "the old token still lasts");
        store_token("expired".into(), now_ms() - 1);
        note_iam_refresh_failure(
            "ExpiredToken: the security token included in the request is expired",
        );
        assert_eq!(
            iam_token_expired().as_deref(),
            Some("ExpiredToken: the security token included in the request is expired")
        );
        reset_iam_health();
        store_token(String::new(), 0);
    }

    #[test]
    fn regions_come_from_msk_host_names() {
        assert_eq!(
            infer_region("b-1.orders.ab12cd.c2.kafka.us-east-1.amazonaws.com:9098").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            infer_region("boot-x1.c1.kafka-serverless.eu-west-1.amazonaws.com:9098").as_deref(),
            Some("eu-west-1")
        );
    }

    #[test]
    fn each_mode_sets_the_right_properties() {
        let get = |props: &[(String, String)], key: &str| {
            props.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        };
        let none = properties(&Auth::None).unwrap();
        assert_eq!(
            get(&none, "security.protocol").as_deref(),
            Some("plaintext")
        );
        let tls = properties(&Auth::Tls { ca_file: None }).unwrap();
        assert_eq!(get(&tls, "security.protocol").as_deref(), Some("ssl"));
        assert_eq!(get(&tls, "ssl.ca.location").as_deref(), Some("probe"));
        assert_eq!(
            get(&tls, "ssl.endpoint.identification.algorithm").as_deref(),
            Some("https")
        );
        let iam = properties(&Auth::Iam {
            ca_file: None,
            region: None,
        })
        .unwrap();
        assert_eq!(get(&iam, "sasl.mechanism").as_deref(), Some("OAUTHBEARER"));
        assert_eq!(get(&iam, "security.protocol").as_deref(), Some("sasl_ssl"));
        let missing = Auth::Tls {
            ca_file: Some("/no/such/ca.pem".into()),
        };
        assert!(
            properties(&missing)
                .unwrap_err()
                .to_string()
                .contains("/no/such/ca.pem")
        );
    }

    #[test]
    fn scram_reads_secrets_at_run_time_and_names_only_the_variable() {
        let username = SecretSource::Env("SURGE_TEST_UNIT_USER".into());
        let password_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(password_file.path(), "s3cr3t-from-file\n").unwrap();
        // SAFETY: this test is the only user of this variable name.
        unsafe { std::env::set_var("SURGE_TEST_UNIT_USER", "loadtest") };
        let auth = Auth::Scram {
            ca_file: None,
            username,
            password: SecretSource::File(password_file.path().into()),
        };
        let props = properties(&auth).unwrap();
        assert!(props.contains(&("sasl.mechanism".into(), "SCRAM-SHA-512".into())));
        assert!(props.contains(&("sasl.username".into(), "loadtest".into())));
        assert!(props.contains(&("sasl.password".into(), "s3cr3t-from-file".into())));
        let unset = Auth::Scram {
            ca_file: None,
            username: SecretSource::Env("SURGE_TEST_UNSET_USER".into()),
            password: SecretSource::Env("SURGE_TEST_UNSET_PASSWORD".into()),
        };
        let error = properties(&unset).unwrap_err().to_string();
        assert!(
            error.contains("SURGE_TEST_UNSET_USER") && error.contains("is not set"),
            "{error}"
        );
        // A variable set to nothing is told apart from one not set.
        unsafe { std::env::set_var("SURGE_TEST_EMPTY_SECRET", "") };
        let empty = read_secret(&SecretSource::Env("SURGE_TEST_EMPTY_SECRET".into()));
        let message = empty.unwrap_err().to_string();
        assert!(message.contains("is set but empty"), "{message}");
    }
}
