//! The idempotent producer: on by default, so that a retried batch can never land behind a
//! later one and surge's own producer never reorders a key. It is left off, and every report
//! says so, when the scenario or `-X` turns it off or sets what it cannot run with (acks below
//! all, more than 5 requests in flight, no retries), as Kafka's Java client does since 3.0.

use super::librdkafka::{Reading, canonical};

const IDEMPOTENCE: &str = "enable.idempotence";

/// The warning every report of a run without the idempotent producer carries.
pub fn reorder_warning(why: &str) -> String {
    format!(
        "the producer ran without enable.idempotence ({why}): a retried batch can land behind a later one, so ordering violations may be the producer's own (counted as written_out_of_order)"
    )
}

/// The default for `enable.idempotence`, given what the scenario and `-X` set (`set`, in order
/// of precedence): `Ok(())` to turn it on, or `Err(why)` when it stays off.
pub(super) fn idempotence_default(set: &[&(String, String)]) -> Result<(), String> {
    let last = |key: &str| {
        set.iter()
            .rev()
            .find(|(k, _)| canonical(k) == canonical(key))
            .map(|(k, v)| (k.as_str(), v.trim()))
    };
    if let Some((key, value)) = last(IDEMPOTENCE) {
        return Err(format!("{key}={value} was set"));
    }
    if let Some((key, value)) = last("acks")
        && !matches!(value.to_ascii_lowercase().as_str(), "all" | "-1")
    {
        return Err(format!(
            "{key}={value} was set, and idempotence needs acks=all"
        ));
    }
    if let Some((key, value)) = last("max.in.flight")
        && value.parse::<u64>().is_ok_and(|n| n > 5)
    {
        return Err(format!(
            "{key}={value} was set, and idempotence allows at most 5 requests in flight"
        ));
    }
    if let Some((key, value)) = last("queuing.strategy")
        && value.eq_ignore_ascii_case("lifo")
    {
        return Err(format!(
            "{key}={value} was set, and idempotence needs fifo queuing"
        ));
    }
    if let Some((key, value)) = last("retries")
        && value.parse::<u64>() == Ok(0)
    {
        return Err(format!(
            "{key}={value} was set, and idempotence needs retries"
        ));
    }
    Ok(())
}

/// Why the merged producer properties run without idempotence, or `None` when they run with it.
pub(super) fn without_idempotence(
    merged: &[(String, String)],
    why: Option<&str>,
) -> Option<String> {
    let on = Reading::of(merged).get(IDEMPOTENCE).as_deref() == Some("true");
    (!on).then(|| reorder_warning(why.unwrap_or("it was turned off")))
}

#[cfg(test)]
mod tests {
    use super::super::librdkafka::pairs;
    use super::*;

    fn default_for(list: &[(&str, &str)]) -> Result<(), String> {
        let owned = pairs(list);
        let set: Vec<_> = owned.iter().collect();
        idempotence_default(&set)
    }

    #[test]
    fn on_unless_something_it_cannot_run_with_is_set() {
        assert_eq!(default_for(&[]), Ok(()));
        assert_eq!(default_for(&[("acks", "all"), ("retries", "3")]), Ok(()));
        assert_eq!(default_for(&[("request.required.acks", "-1")]), Ok(()));
        assert_eq!(default_for(&[("max.in.flight", "5")]), Ok(()));
        for (key, value) in [
            ("acks", "1"),
            ("request.required.acks", "0"),
            ("max.in.flight.requests.per.connection", "10"),
            ("message.send.max.retries", "0"),
            ("queuing.strategy", "lifo"),
            ("enable.idempotence", "false"),
            ("enable.idempotence", "true"),
        ] {
            let why = default_for(&[(key, value)]).unwrap_err();
            assert!(why.contains(&format!("{key}={value}")), "{why}");
        }
        // The later layer wins: -X acks=all after the scenario's acks=1.
        assert_eq!(default_for(&[("acks", "1"), ("acks", "all")]), Ok(()));
    }

    #[test]
    fn the_merged_set_is_read_as_librdkafka_reads_it() {
        let on = pairs(&[("enable.idempotence", "true"), ("acks", "all")]);
        assert_eq!(without_idempotence(&on, None), None);
        let off = pairs(&[("enable.idempotence", "False"), ("acks", "all")]);
        let warning = without_idempotence(&off, None).unwrap();
        assert!(warning.contains("written_out_of_order"), "{warning}");
        let unset = pairs(&[("acks", "1")]);
        let warning = without_idempotence(&unset, Some("acks=1 was set")).unwrap();
        assert!(warning.contains("acks=1 was set"), "{warning}");
    }
}
