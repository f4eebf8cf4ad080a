//! A group's `protocol` and `assignor`, and `--set group.NAME.protocol=...` over them: the
//! classic protocol with a client-side assignor, or KIP-848's consumer protocol with a
//! broker-side one.

use super::Ctx;
use crate::input::quote;
use crate::scenario::{CLASSIC_ONLY_PROPERTIES, GroupProtocol, ProtocolKeys, ScenarioError};

/// The classic protocol's assignors, as librdkafka names them.
const CLASSIC_ASSIGNORS: &[&str] = &["range", "roundrobin", "cooperative-sticky"];

/// Consumer properties that choose the protocol or assignor for every group at once: the
/// groups' own keys say it per group.
const PROTOCOL_PROPERTIES: &[&str] = &[
    "group.protocol",
    "group.remote.assignor",
    "partition.assignment.strategy",
];

/// Which group key a `--set` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupField {
    Protocol,
    Assignor,
}

/// `--set group.NAME.protocol=consumer` or `--set group.NAME.assignor=...`: one group's
/// protocol or assignor, replacing the file's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSetting {
    pub group: String,
    pub field: GroupField,
    pub value: String,
}

impl GroupSetting {
    /// Reads `group.NAME.FIELD=VALUE`; the error says what the flag takes.
    pub fn parse(text: &str) -> Result<GroupSetting, String> {
        let usage = "write --set group.NAME.protocol=consumer|classic or --set group.NAME.assignor=NAME (NAME: a [[consumer_groups]] name)";
        let (path, value) = text
            .split_once('=')
            .ok_or_else(|| format!("`{}` has no `=`: {usage}", quote(text, 60)))?;
        let rest = path
            .strip_prefix("group.")
            .ok_or_else(|| format!("`{}` sets no group key: {usage}", quote(path, 60)))?;
        let (group, field) = rest
            .rsplit_once('.')
            .ok_or_else(|| format!("`{}` names no key of the group: {usage}", quote(path, 60)))?;
        let field = match field {
            "protocol" => GroupField::Protocol,
            "assignor" => GroupField::Assignor,
            other => {
                return Err(format!(
                    "`{}` is not a group key --set can change: {usage}",
                    quote(other, 40)
                ));
            }
        };
        if group.is_empty() || value.trim().is_empty() {
            return Err(format!("`{}` is incomplete: {usage}", quote(text, 60)));
        }
        Ok(GroupSetting {
            group: group.to_string(),
            field,
            value: value.trim().to_string(),
        })
    }

    /// As `--set` takes it.
    fn text(&self) -> String {
        let field = match self.field {
            GroupField::Protocol => "protocol",
            GroupField::Assignor => "assignor",
        };
        format!("group.{}.{field}={}", self.group, self.value)
    }

    fn flag(&self) -> String {
        let field = match self.field {
            GroupField::Protocol => "protocol",
            GroupField::Assignor => "assignor",
        };
        format!("--set group.{}.{field}", quote(&self.group, 60))
    }
}

impl std::fmt::Display for GroupSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// One value of a group key, with how an error names where it was written.
struct Written {
    value: String,
    key: String,
    /// Given by `--set`, not the file.
    flag: bool,
}

/// A group's `protocol` and `assignor` as the file wrote them.
pub(super) struct RawProtocol<'a> {
    pub(super) protocol: Option<&'a String>,
    pub(super) assignor: Option<&'a String>,
}

/// Refuses client properties that would choose the protocol or assignor for every group.
pub(super) fn check_no_protocol_properties(
    ctx: &Ctx,
    set: &[(String, String)],
) -> Result<(), ScenarioError> {
    match set.iter().find(|(k, _)| PROTOCOL_PROPERTIES.contains(&k.as_str())) {
        Some((key, named)) => Err(ctx.err(
            named.clone(),
            format!("`{key}` would choose the protocol or assignor of every group at once"),
            "drop it and set protocol = \"classic\"|\"consumer\" and assignor = \"...\" on each [[consumer_groups]] entry (or --set group.NAME.protocol=...)",
        )),
        None => Ok(()),
    }
}

/// Group `i`'s protocol and assignor: the file's keys, each replaced by its `--set`; refused
/// when the cluster's consumer properties (`set`: each key the scenario or flags set, with how
/// to name it) contradict it. An assignor from the file that the protocol `--set` chose does
/// not have is dropped, with a note: one flag runs a scenario both ways.
pub(super) fn resolve_protocol(
    ctx: &Ctx,
    (i, name): (usize, &str),
    raw: RawProtocol,
    settings: &[GroupSetting],
    set: &[(String, String)],
    notes: &mut Vec<String>,
) -> Result<(GroupProtocol, ProtocolKeys), ScenarioError> {
    let pick = |field: GroupField, file: Option<&String>, key: &str| {
        let flag = (settings.iter().rev()).find(|s| s.group == name && s.field == field);
        match (flag, file) {
            (Some(flag), _) => Some(Written {
                value: flag.value.clone(),
                key: flag.flag(),
                flag: true,
            }),
            (None, Some(value)) => Some(Written {
                value: value.trim().to_string(),
                key: format!("consumer_groups[{i}].{key}"),
                flag: false,
            }),
            (None, None) => None,
        }
    };
    let protocol = pick(GroupField::Protocol, raw.protocol, "protocol");
    let mut assignor = pick(GroupField::Assignor, raw.assignor, "assignor");
    let keys = ProtocolKeys {
        protocol: protocol
            .as_ref()
            .map_or(format!("consumer_groups[{i}].protocol"), |w| w.key.clone()),
        assignor: assignor
            .as_ref()
            .map_or(format!("consumer_groups[{i}].assignor"), |w| w.key.clone()),
    };
    let consumer = match protocol.as_ref().map(|w| w.value.as_str()) {
        None | Some("classic") => false,
        Some("consumer") => true,
        Some(other) => {
            return Err(ctx.err(
                protocol.as_ref().map_or(String::new(), |w| w.key.clone()),
                format!("`{}` is not a group protocol", quote(other, 40)),
                "use \"classic\" (JoinGroup/SyncGroup, the default) or \"consumer\" (KIP-848, Kafka 4.0 and later)",
            ));
        }
    };
    if let (Some(p), Some(a)) = (&protocol, &assignor)
        && p.flag
        && !a.flag
        && !fits(consumer, &a.value)
    {
        notes.push(format!(
            "group {name}: assignor {} (consumer_groups[{i}].assignor) does not apply to the {} protocol {} chose; the protocol's default assignor ran",
            quote(&a.value, 40),
            if consumer { "consumer" } else { "classic" },
            p.key
        ));
        assignor = None;
    }
    if !consumer {
        let assignor = assignor.map(|a| classic_assignor(ctx, &a)).transpose()?;
        return Ok((GroupProtocol::Classic { assignor }, keys));
    }
    if let Some((key, named)) = set
        .iter()
        .find(|(k, _)| CLASSIC_ONLY_PROPERTIES.contains(&k.as_str()))
    {
        return Err(ctx.err(
            named.clone(),
            format!("`{key}` is a classic-protocol setting, and group `{name}` speaks the consumer protocol (KIP-848), where the broker sets it (group.consumer.* broker configs) or group.remote.assignor replaces it"),
            format!("drop it, or keep group `{name}` on protocol = \"classic\""),
        ));
    }
    let assignor = assignor.map(|a| remote_assignor(ctx, &a)).transpose()?;
    Ok((GroupProtocol::Consumer { assignor }, keys))
}

/// Whether an assignor name belongs to the protocol: the classic protocol's are librdkafka's;
/// the consumer protocol's are the broker's, so any single name but the classic-only ones.
fn fits(consumer: bool, assignor: &str) -> bool {
    let names: Vec<&str> = assignor.split(',').map(str::trim).collect();
    if consumer {
        names.len() == 1 && !CLASSIC_ASSIGNORS[1..].contains(&names[0])
    } else {
        names.iter().all(|n| CLASSIC_ASSIGNORS.contains(n))
    }
}

/// A classic assignor list: librdkafka's names, eager and cooperative not mixed.
fn classic_assignor(ctx: &Ctx, written: &Written) -> Result<String, ScenarioError> {
    let names: Vec<&str> = written.value.split(',').map(str::trim).collect();
    if let Some(bad) = names.iter().find(|n| !CLASSIC_ASSIGNORS.contains(n)) {
        return Err(ctx.err(
            written.key.clone(),
            format!(
                "`{}` is not an assignor of the classic protocol",
                quote(bad, 40)
            ),
            format!(
                "use one of {} (a comma list of the first two is allowed)",
                CLASSIC_ASSIGNORS.join(", ")
            ),
        ));
    }
    if let Some(twice) = (1..names.len()).find(|&k| names[..k].contains(&names[k])) {
        return Err(ctx.err(
            written.key.clone(),
            format!("`{}` is listed twice", names[twice]),
            "name each assignor once",
        ));
    }
    let cooperative = names.iter().filter(|n| **n == "cooperative-sticky").count();
    if cooperative > 0 && names.len() > 1 {
        return Err(ctx.err(
            written.key.clone(),
            "cooperative-sticky cannot be listed with eager assignors",
            "use \"cooperative-sticky\" alone, or eager ones (\"range\", \"roundrobin\")",
        ));
    }
    Ok(names.join(","))
}

/// A broker-side assignor's name (Kafka ships `uniform` and `range`; a broker may add its
/// own, so any plain name is passed on and the broker's refusal is reported at join).
fn remote_assignor(ctx: &Ctx, written: &Written) -> Result<String, ScenarioError> {
    let name = written.value.as_str();
    let plain = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !plain || CLASSIC_ASSIGNORS[1..].contains(&name) {
        return Err(ctx.err(
            written.key.clone(),
            format!("`{}` is not a broker-side assignor", quote(name, 40)),
            "use \"uniform\" or \"range\" (Kafka's own), or the name of one the brokers are configured with (group.consumer.assignors)",
        ));
    }
    Ok(name.to_string())
}

/// Every `--set` names a group of the file.
pub(super) fn check_settings_name_groups(
    ctx: &Ctx,
    settings: &[GroupSetting],
    names: &[&str],
) -> Result<(), ScenarioError> {
    match settings.iter().find(|s| !names.contains(&s.group.as_str())) {
        Some(setting) => Err(ctx.err(
            setting.flag(),
            format!("the scenario has no group `{}`", quote(&setting.group, 60)),
            format!("name one of its [[consumer_groups]]: {}", names.join(", ")),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx<'static> {
        Ctx { file: "s.toml" }
    }

    fn resolve(
        protocol: Option<&str>,
        assignor: Option<&str>,
        set: &[(&str, &str)],
    ) -> Result<GroupProtocol, ScenarioError> {
        let set: Vec<(String, String)> = set
            .iter()
            .map(|(k, n)| (k.to_string(), n.to_string()))
            .collect();
        let (protocol, assignor) = (protocol.map(String::from), assignor.map(String::from));
        let raw = RawProtocol {
            protocol: protocol.as_ref(),
            assignor: assignor.as_ref(),
        };
        check_no_protocol_properties(&ctx(), &set)?;
        resolve_protocol(&ctx(), (0, "orders"), raw, &[], &set, &mut Vec::new()).map(|r| r.0)
    }

    #[test]
    fn protocols_and_assignors_resolve_and_describe_themselves() {
        let eager = resolve(None, None, &[]).unwrap();
        assert_eq!(eager, GroupProtocol::Classic { assignor: None });
        assert!(!eager.is_incremental());
        assert!(eager.describe().contains("range,roundrobin (eager)"));
        let sticky = resolve(Some("classic"), Some("cooperative-sticky"), &[]).unwrap();
        assert!(sticky.is_incremental());
        let consumer = resolve(Some("consumer"), Some("uniform"), &[]).unwrap();
        assert!(consumer.is_incremental());
        assert!(
            consumer.describe().contains("KIP-848"),
            "{}",
            consumer.describe()
        );
    }

    #[test]
    fn contradictions_name_the_key_and_the_fix() {
        let error = resolve(Some("kip848"), None, &[]).unwrap_err();
        assert_eq!(error.key, "consumer_groups[0].protocol");
        let error = resolve(None, Some("sticky"), &[]).unwrap_err();
        assert_eq!(error.key, "consumer_groups[0].assignor");
        let error = resolve(None, Some("range,cooperative-sticky"), &[]).unwrap_err();
        assert!(error.problem.contains("eager"), "{error:?}");
        let error = resolve(Some("consumer"), Some("roundrobin"), &[]).unwrap_err();
        assert!(error.fix.contains("uniform"), "{error:?}");
        let timeout = [(
            "session.timeout.ms",
            "cluster.consumer.\"session.timeout.ms\"",
        )];
        let error = resolve(Some("consumer"), None, &timeout).unwrap_err();
        assert_eq!(error.key, "cluster.consumer.\"session.timeout.ms\"");
        assert!(resolve(Some("classic"), None, &timeout).is_ok());
        let strategy = [(
            "partition.assignment.strategy",
            "-X \"partition.assignment.strategy\"",
        )];
        let error = resolve(None, None, &strategy).unwrap_err();
        assert!(error.fix.contains("assignor"), "{error:?}");
    }

    #[test]
    fn a_flag_replaces_the_file_and_names_itself() {
        let setting = GroupSetting::parse("group.orders.protocol=consumer").unwrap();
        assert_eq!(setting.field, GroupField::Protocol);
        let (classic, sticky) = (
            Some("classic".to_string()),
            Some("cooperative-sticky".to_string()),
        );
        let raw = RawProtocol {
            protocol: classic.as_ref(),
            assignor: sticky.as_ref(),
        };
        let mut notes = Vec::new();
        let settings = [setting];
        let resolved = resolve_protocol(&ctx(), (0, "orders"), raw, &settings, &[], &mut notes);
        // The file's classic assignor gives way to the flag's protocol, and a note says so.
        let (resolved, keys) = resolved.unwrap();
        assert_eq!(resolved, GroupProtocol::Consumer { assignor: None });
        assert_eq!(keys.protocol, "--set group.orders.protocol");
        assert!(notes[0].contains("cooperative-sticky"), "{notes:?}");
        let bad = [GroupSetting::parse("group.orders.protocol=eager").unwrap()];
        let none = RawProtocol {
            protocol: None,
            assignor: None,
        };
        let error = resolve_protocol(&ctx(), (0, "orders"), none, &bad, &[], &mut notes);
        assert_eq!(error.unwrap_err().key, "--set group.orders.protocol");
        let error = resolve(None, Some("range, range"), &[]).unwrap_err();
        assert!(error.problem.contains("twice"), "{error:?}");
        for text in [
            "group.orders.protocol",
            "orders.protocol=x",
            "group.orders.members=3",
            "group..protocol=",
            "group.protocol=x",
        ] {
            assert!(GroupSetting::parse(text).is_err(), "{text}");
        }
        let setting = GroupSetting::parse("group.a.b.assignor=range").unwrap();
        assert_eq!(setting.group, "a.b");
        let error = check_settings_name_groups(&ctx(), &[setting], &["orders"]).unwrap_err();
        assert!(error.fix.contains("orders"), "{error:?}");
    }
}
