//! Typed inputs: everything the function can receive (README, "Payloads" and "Spot interruptions"), parsed in two steps (what
//! kind of input, then its fields) so every error names what was received and where.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::Action;
use crate::error::Error;
use crate::state::{Container, Task};
use crate::text::{escaped, one_line};

/// The invocation payload (README, "Payloads"): a Scheduler input or a manual test event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub action: Action,
    pub environment: String,
    #[serde(default)]
    pub dry_run: bool,
    /// `start`/`stop` only: schedule the opposite action at this time (at most 7 days ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<FixedOffset>>,
    /// Set by the Scheduler schedules Terraform creates: this is a *scheduled* run, so a start
    /// on a holiday is skipped. Manual runs leave it out and always run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scheduled: bool,
    /// Set by the function itself on the run it hands the rest of an environment to, when the
    /// buckets left no time for it (1 for the first such run, and so on).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub continuation: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Everything the function accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Payload(Payload),
    /// `aws.ecs` / `ECS Task State Change`.
    TaskStateChange(Box<TaskStateChange>),
    /// `aws.ec2` / `EC2 Spot Instance Interruption Warning`.
    SpotWarning(SpotWarning),
}

impl Input {
    /// Decide what kind of input this is, then parse it. EventBridge events are recognised by
    /// `source`/`detail-type`; payloads by `action`.
    pub fn parse(value: Value) -> Result<Input, Error> {
        let Value::Object(object) = &value else {
            return Err(Error::UnsupportedEvent(format!("expected a JSON object, received {}", json_kind(&value))));
        };
        if object.contains_key("source") || object.contains_key("detail-type") {
            let field = |k: &str| object.get(k).and_then(Value::as_str).unwrap_or("<missing>").to_string();
            let shown = |k: &str| object.get(k).and_then(Value::as_str).map_or("<missing>".to_string(), escaped);
            let detail = || -> Result<Value, Error> {
                match object.get("detail") {
                    Some(d @ Value::Object(_)) => Ok(d.clone()),
                    Some(other) => Err(Error::InvalidInput(format!(
                        "invalid event at `detail`: expected an object, received {}",
                        json_kind(other)
                    ))),
                    None => Err(Error::InvalidInput("invalid event at `detail`: missing".into())),
                }
            };
            let typed = |e: serde_path_to_error::Error<serde_json::Error>| {
                let at = json_path("detail", e.path());
                Error::InvalidInput(format!("invalid event at `{at}`: {}", one_line(&e.inner().to_string())))
            };
            let origin = Origin {
                account: object.get("account").and_then(Value::as_str).map(str::to_string),
                region: object.get("region").and_then(Value::as_str).map(str::to_string),
            };
            match (field("source").as_str(), field("detail-type").as_str()) {
                ("aws.ecs", "ECS Task State Change") => {
                    let d: TaskStateChange = serde_path_to_error::deserialize(detail()?).map_err(typed)?;
                    return Ok(Input::TaskStateChange(Box::new(TaskStateChange { origin, ..d })));
                }
                ("aws.ec2", "EC2 Spot Instance Interruption Warning") => {
                    let d: SpotWarning = serde_path_to_error::deserialize(detail()?).map_err(typed)?;
                    return Ok(Input::SpotWarning(SpotWarning { origin, ..d }));
                }
                _ => {}
            }
            return Err(Error::UnsupportedEvent(format!(
                "source `{}`, detail-type `{}` is not an event this function handles",
                shown("source"),
                shown("detail-type")
            )));
        }
        if !object.contains_key("action") {
            let keys: Vec<String> = object.keys().map(|k| escaped(k)).collect();
            return Err(Error::UnsupportedEvent(format!(
                "expected a payload with `action` and `environment`, received an object with keys [{}]",
                keys.join(", ")
            )));
        }
        let valid = Action::NAMES.join(", ");
        match &object["action"] {
            Value::String(action) if Action::NAMES.contains(&action.as_str()) => {}
            Value::String(action) => {
                return Err(Error::InvalidInput(format!(
                    "invalid payload at `action`: unknown action `{}`; valid actions: {valid}",
                    escaped(action)
                )));
            }
            other => {
                return Err(Error::InvalidInput(format!(
                    "invalid payload at `action`: expected one of {valid} as a string, received {}",
                    json_kind(other)
                )));
            }
        }
        let payload: Payload = serde_path_to_error::deserialize(value).map_err(|e| {
            let at = json_path("", e.path());
            Error::InvalidInput(format!("invalid payload at `{at}`: {}", one_line(&e.inner().to_string())))
        })?;
        Ok(Input::Payload(payload))
    }
}

/// Where an EventBridge event comes from: its `account` and `region`, when it says (an event
/// forwarded from a target account keeps them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub account: Option<String>,
    pub region: Option<String>,
}

/// The `detail` of an `ECS Task State Change` event (the fields this function reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStateChange {
    /// The event's `account` and `region` (outside `detail`).
    #[serde(skip)]
    pub origin: Origin,
    pub cluster_arn: String,
    pub task_arn: String,
    #[serde(default)]
    pub group: Option<String>,
    pub desired_status: String,
    pub last_status: String,
    #[serde(default)]
    pub stop_code: Option<String>,
    #[serde(default)]
    pub stopped_reason: Option<String>,
    pub version: u64,
    #[serde(default)]
    pub containers: Vec<EventContainer>,
    #[serde(default)]
    pub attachments: Vec<EventAttachment>,
    #[serde(default)]
    pub container_instance_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventContainer {
    pub name: String,
    #[serde(default)]
    pub network_interfaces: Vec<EventNetworkInterface>,
    #[serde(default)]
    pub network_bindings: Vec<EventNetworkBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventNetworkInterface {
    #[serde(default)]
    pub private_ipv4_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventNetworkBinding {
    #[serde(default)]
    pub container_port: Option<u16>,
    #[serde(default)]
    pub host_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventAttachment {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub details: Vec<EventDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventDetail {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// The `detail` of an `EC2 Spot Instance Interruption Warning` event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SpotWarning {
    #[serde(skip)]
    pub origin: Origin,
    #[serde(rename = "instance-id")]
    pub instance_id: String,
    #[serde(default, rename = "instance-action")]
    pub instance_action: Option<String>,
}

impl TaskStateChange {
    /// The cluster's name (the event carries its ARN).
    pub fn cluster(&self) -> &str {
        self.cluster_arn.rsplit('/').next().unwrap_or(&self.cluster_arn)
    }

    /// The service the task belongs to (`group` is `service:NAME`).
    pub fn service(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }

    /// The task as the rest of the crate sees it.
    pub fn task(&self) -> Task {
        let eni = self
            .attachments
            .iter()
            .filter(|a| a.kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case("eni")))
            .flat_map(|a| &a.details)
            .find(|d| d.name == "privateIPv4Address")
            .and_then(|d| d.value.clone());
        let container_ip =
            self.containers.iter().flat_map(|c| &c.network_interfaces).find_map(|n| n.private_ipv4_address.clone());
        Task {
            arn: self.task_arn.clone(),
            group: self.group.clone(),
            last_status: self.last_status.clone(),
            private_ip: eni.or(container_ip),
            container_instance_arn: self.container_instance_arn.clone(),
            containers: self
                .containers
                .iter()
                .map(|c| Container {
                    name: c.name.clone(),
                    bindings: c
                        .network_bindings
                        .iter()
                        .filter_map(|b| Some((b.container_port?, b.host_port?)))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Where in the JSON a problem is, after `prefix`: `detail.containers[0].hostPort`, or `.` for
/// the whole object. A key that is not a plain name (empty, or with dots, spaces, quotes,
/// control characters) is shown quoted, `detail[""]`, so the path stays readable and one line.
fn json_path(prefix: &str, path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let plain = |key: &str| !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let mut out = prefix.to_string();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } if plain(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Map { key } | Segment::Enum { variant: key } => out.push_str(&format!("[{key:?}]")),
            Segment::Unknown => out.push_str(if out.is_empty() { "?" } else { ".?" }),
        }
    }
    if out.is_empty() { ".".to_string() } else { out }
}

/// Raw text to JSON, with an error that says where the text is broken.
pub fn json(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| {
        Error::InvalidInput(format!(
            "the input is not valid JSON: {} at line {} column {}",
            json_error_message(&e),
            e.line(),
            e.column()
        ))
    })
}

fn json_error_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        Input::parse(v).unwrap_err().to_string()
    }

    #[test]
    fn payloads_parse() {
        assert_eq!(
            Input::parse(json!({"action": "stop", "environment": "staging"})).unwrap(),
            Input::Payload(Payload {
                action: Action::Stop,
                environment: "staging".into(),
                dry_run: false,
                until: None,
                scheduled: false,
                continuation: 0
            })
        );
        assert_eq!(
            Input::parse(json!({"action": "start", "environment": "dev", "dry_run": true})).unwrap(),
            Input::Payload(Payload {
                action: Action::Start,
                environment: "dev".into(),
                dry_run: true,
                until: None,
                scheduled: false,
                continuation: 0
            })
        );
        assert_eq!(
            Input::parse(json!({"action": "start", "environment": "dev", "scheduled": true, "continuation": 2}))
                .unwrap(),
            Input::Payload(Payload {
                action: Action::Start,
                environment: "dev".into(),
                dry_run: false,
                until: None,
                scheduled: true,
                continuation: 2
            })
        );
    }

    #[test]
    fn errors_name_the_path() {
        assert_eq!(
            err(json!({"action": "restart", "environment": "staging"})),
            "invalid payload at `action`: unknown action `restart`; valid actions: stop, start, register, status, reconcile"
        );
        assert_eq!(
            err(json!({"action": ["stop"], "environment": "staging"})),
            "invalid payload at `action`: expected one of stop, start, register, status, reconcile as a string, received an array"
        );
        assert_eq!(err(json!({"action": "stop"})), "invalid payload at `.`: missing field `environment`");
        assert_eq!(
            err(json!({"action": "stop", "environment": 3})),
            "invalid payload at `environment`: invalid type: integer `3`, expected a string"
        );
        assert_eq!(
            err(json!({"action": "stop", "environment": "s", "dry_run": "yes"})),
            "invalid payload at `dry_run`: invalid type: string \"yes\", expected a boolean"
        );
        assert_eq!(
            err(json!({"action": "stop", "environment": "s", "dryrun": true})),
            "invalid payload at `dryrun`: unknown field `dryrun`, expected one of `action`, `environment`, `dry_run`, `until`, `scheduled`, `continuation`"
        );
    }

    #[test]
    fn keys_that_are_not_plain_names_are_quoted_in_the_path() {
        assert_eq!(
            err(json!({"action": "stop", "environment": "s", "": true})),
            "invalid payload at `[\"\"]`: unknown field ``, expected one of `action`, `environment`, `dry_run`, `until`, `scheduled`, `continuation`"
        );
        assert_eq!(
            err(json!({"action": "stop", "environment": "s", "dry\nrun": true})),
            "invalid payload at `[\"dry\\nrun\"]`: unknown field `dry\\nrun`, expected one of `action`, `environment`, `dry_run`, `until`, `scheduled`, `continuation`"
        );
    }

    #[test]
    fn user_values_in_errors_are_escaped() {
        assert_eq!(
            err(json!({"action": "st\nop", "environment": "s"})),
            "invalid payload at `action`: unknown action `st\\nop`; valid actions: stop, start, register, status, reconcile"
        );
        assert_eq!(
            err(json!({"source": "aws.ecs\n", "detail-type": "x"})),
            "unsupported event: source `aws.ecs\\n`, detail-type `x` is not an event this function handles"
        );
        assert_eq!(
            err(json!({"a\nb": 1})),
            "unsupported event: expected a payload with `action` and `environment`, received an object with keys [a\\nb]"
        );
    }

    #[test]
    fn other_inputs_are_unsupported() {
        assert_eq!(
            err(json!({"source": "aws.ecs", "detail-type": "ECS Service Action", "detail": {}})),
            "unsupported event: source `aws.ecs`, detail-type `ECS Service Action` is not an event this function handles"
        );
        assert_eq!(
            err(json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"})),
            "unsupported event: source `aws.ec2`, detail-type `EC2 Instance State-change Notification` is not an event this function handles"
        );
        assert_eq!(
            err(json!({"Records": []})),
            "unsupported event: expected a payload with `action` and `environment`, received an object with keys [Records]"
        );
        assert_eq!(err(json!([1])), "unsupported event: expected a JSON object, received an array");
        assert!(!Input::parse(json!("x")).unwrap_err().is_retryable());
    }

    #[test]
    fn malformed_events_name_the_json_path() {
        let task =
            |detail: Value| json!({"source": "aws.ecs", "detail-type": "ECS Task State Change", "detail": detail});
        assert_eq!(
            err(task(json!({"clusterArn": "c", "desiredStatus": "STOPPED", "lastStatus": "RUNNING", "version": 1}))),
            "invalid event at `detail`: missing field `taskArn`"
        );
        assert_eq!(
            err(task(json!({"clusterArn": "c", "taskArn": "t", "desiredStatus": "STOPPED", "lastStatus": "RUNNING",
                            "version": "one"}))),
            "invalid event at `detail.version`: invalid type: string \"one\", expected u64"
        );
        assert_eq!(
            err(task(json!({"clusterArn": "c", "taskArn": "t", "desiredStatus": "STOPPED", "lastStatus": "RUNNING",
                            "version": 1, "containers": [{"name": "app", "networkBindings": [{"hostPort": 70000}]}]}))),
            "invalid event at `detail.containers[0].networkBindings[0].hostPort`: invalid value: integer `70000`, expected u16"
        );
        assert_eq!(
            err(json!({"source": "aws.ecs", "detail-type": "ECS Task State Change"})),
            "invalid event at `detail`: missing"
        );
        assert_eq!(
            err(json!({"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning", "detail": []})),
            "invalid event at `detail`: expected an object, received an array"
        );
        assert_eq!(
            err(json!({"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning", "detail": {}})),
            "invalid event at `detail`: missing field `instance-id`"
        );
        assert!(!Input::parse(task(json!({}))).unwrap_err().is_retryable());
    }

    #[test]
    fn malformed_json() {
        assert_eq!(
            json("{\"action\": \"stop\",").and_then(Input::parse).unwrap_err().to_string(),
            "the input is not valid JSON: EOF while parsing a value at line 1 column 18"
        );
    }
}
