//! Reading the live view (`--metrics-addr`) from a test.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use surge::engine::StopSignal;
use surge::{RunOptions, RunOutcome, SurgeError};

/// One scrape's body, in the OpenMetrics text format. `None` when nothing answers.
pub fn scrape_text(address: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: surge\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    assert!(head.contains("openmetrics-text"), "{head}");
    Some(body.to_string())
}

/// Sample name with labels, to value.
pub fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// One scrape, parsed. `None` when nothing answers.
pub fn scrape(address: SocketAddr) -> Option<BTreeMap<String, f64>> {
    scrape_text(address).map(|body| samples(&body))
}

/// Runs surge in-process with the live view on (`options.metrics_addr`), scraping it every
/// `every` until the run ends: the outcome and each scrape's body, in order.
pub fn run_scraping(
    options: RunOptions,
    every: Duration,
) -> (Result<RunOutcome, SurgeError>, Vec<String>) {
    let address = options.metrics_addr.expect("a run with its live view on");
    let run = std::thread::spawn(move || surge::run(&options, Arc::new(StopSignal::default())));
    let mut bodies = Vec::new();
    while !run.is_finished() {
        bodies.extend(scrape_text(address));
        std::thread::sleep(every);
    }
    (run.join().expect("the run does not panic"), bodies)
}

/// A loopback address nothing listens on (yet).
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}
