//! Knobs of a run, read once from the function's environment; defaults are what users get.

use std::time::Duration;

use crate::pace::Limits;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Services handled at once (and AWS batches in flight).
    pub concurrency: usize,
    /// How often to look at a starting service's tasks.
    pub poll_interval: Duration,
    /// Time kept back from the invocation deadline to log the report and return.
    pub safety_margin: Duration,
    /// This function's ARN: the target of `until` override schedules.
    pub function_arn: Option<String>,
    /// The role EventBridge Scheduler assumes to invoke the function.
    pub scheduler_role_arn: Option<String>,
    /// The Scheduler group of override schedules.
    pub schedule_group: String,
    /// Runs never overlap (the deployed function's reserved concurrency of 1 queues them): the
    /// re-reads that keep a tag snapshot safe from a concurrent invocation are skipped. Off by
    /// default: the CLI's `invoke` is not queued behind the function.
    pub serial_runs: bool,
    /// The DynamoDB state table that holds the snapshots. Without one, snapshots are kept in the
    /// service's `ecs-cost-saver:snapshot` tag, which the service's own Terraform may remove.
    pub state_table: Option<String>,
    /// The token buckets of AWS's API groups the calls are paced by: AWS's published figures,
    /// overridden by `ECS_COST_SAVER_RATE_LIMITS` (`GROUP=BURST/REFILL,…,share=FRACTION`).
    pub limits: Limits,
    /// How long a started service's tasks are expected to take to be RUNNING and registered:
    /// what a start keeps back from the deadline for each service it restores.
    pub task_start: Duration,
    /// The region the function runs in (`AWS_REGION`): the cost figures' price table row, and
    /// the region of the services that name none.
    pub region: Option<String>,
    /// The function's own account (`ECS_COST_SAVER_ACCOUNT_ID`, else the account of
    /// `ECS_COST_SAVER_FUNCTION_ARN`): a Spot event from any other account not in `accounts` is
    /// skipped. Unknown (the CLI): such an event is taken as the function's own.
    pub account: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            concurrency: 16,
            // Tasks start within a few seconds of each other: a look every 2 s registers the
            // last ones soon after they run (one ListTasks and DescribeTasks per cluster a look).
            poll_interval: Duration::from_secs(2),
            safety_margin: Duration::from_secs(10),
            function_arn: None,
            scheduler_role_arn: None,
            schedule_group: "default".into(),
            serial_runs: false,
            state_table: None,
            limits: Limits::default(),
            task_start: Duration::from_secs(60),
            region: None,
            account: None,
        }
    }
}

impl Settings {
    /// What a run without a state table does instead, said once by the CLI and the Lambda.
    pub const NO_STATE_TABLE: &str = "no state table (ECS_COST_SAVER_STATE_TABLE is not set): snapshots are kept in \
        the ecs-cost-saver:snapshot tag of each service, which the services' own Terraform may remove, and two runs at \
        once are guarded by reading the services again; create one with `ecs-cost-saver init-state --table NAME`";

    /// Where snapshots are kept.
    pub fn store(&self) -> crate::state::Store {
        if self.state_table.is_some() { crate::state::Store::Table } else { crate::state::Store::Tag }
    }

    /// Defaults, overridden by `ECS_COST_SAVER_CONCURRENCY`, `ECS_COST_SAVER_POLL_INTERVAL_MS`,
    /// `ECS_COST_SAVER_SAFETY_MARGIN_MS`, `ECS_COST_SAVER_FUNCTION_ARN`,
    /// `ECS_COST_SAVER_SCHEDULER_ROLE_ARN`, `ECS_COST_SAVER_SCHEDULE_GROUP`,
    /// `ECS_COST_SAVER_SERIAL_RUNS` (`true`/`false`), `ECS_COST_SAVER_STATE_TABLE`,
    /// `ECS_COST_SAVER_RATE_LIMITS` and `ECS_COST_SAVER_TASK_START_SECONDS`.
    pub fn from_env() -> Result<Settings, String> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// The same, from any source of variables (a test's map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let mut s = Settings::default();
        let number = |name: &str| -> Result<Option<u64>, String> {
            match var(name) {
                None => Ok(None),
                Some(v) => v.parse::<u64>().map(Some).map_err(|_| format!("{name}={v:?} is not a whole number")),
            }
        };
        if let Some(c) = number("ECS_COST_SAVER_CONCURRENCY")? {
            if c == 0 || c > 64 {
                return Err(format!("ECS_COST_SAVER_CONCURRENCY={c} must be between 1 and 64"));
            }
            s.concurrency = c as usize;
        }
        if let Some(ms) = number("ECS_COST_SAVER_POLL_INTERVAL_MS")? {
            s.poll_interval = Duration::from_millis(ms.max(10));
        }
        if let Some(ms) = number("ECS_COST_SAVER_SAFETY_MARGIN_MS")? {
            s.safety_margin = Duration::from_millis(ms);
        }
        if let Some(seconds) = number("ECS_COST_SAVER_TASK_START_SECONDS")? {
            s.task_start = Duration::from_secs(seconds);
        }
        let text = |name: &str| var(name).filter(|v| !v.is_empty());
        if let Some(limits) = text("ECS_COST_SAVER_RATE_LIMITS") {
            s.limits = Limits::parse(&limits).map_err(|e| format!("ECS_COST_SAVER_RATE_LIMITS: {e}"))?;
        }
        s.function_arn = text("ECS_COST_SAVER_FUNCTION_ARN");
        s.scheduler_role_arn = text("ECS_COST_SAVER_SCHEDULER_ROLE_ARN");
        if let Some(group) = text("ECS_COST_SAVER_SCHEDULE_GROUP") {
            s.schedule_group = group;
        }
        s.state_table = text("ECS_COST_SAVER_STATE_TABLE");
        s.region = text("AWS_REGION").or_else(|| text("AWS_DEFAULT_REGION"));
        s.account = text("ECS_COST_SAVER_ACCOUNT_ID").or_else(|| {
            // arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME
            s.function_arn
                .as_deref()
                .and_then(|arn| arn.split(':').nth(4))
                .filter(|a| !a.is_empty())
                .map(str::to_string)
        });
        if let Some(v) = text("ECS_COST_SAVER_SERIAL_RUNS") {
            s.serial_runs = match v.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(format!("ECS_COST_SAVER_SERIAL_RUNS={v:?} must be true or false")),
            };
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn variables_override_the_defaults() {
        let s = from(&[
            ("ECS_COST_SAVER_CONCURRENCY", "8"),
            ("ECS_COST_SAVER_POLL_INTERVAL_MS", "1"),
            ("ECS_COST_SAVER_SERIAL_RUNS", "true"),
            ("ECS_COST_SAVER_SCHEDULE_GROUP", ""),
            ("ECS_COST_SAVER_STATE_TABLE", "ecs-cost-saver-state"),
            ("ECS_COST_SAVER_RATE_LIMITS", "share=0.5"),
            ("ECS_COST_SAVER_TASK_START_SECONDS", "90"),
        ])
        .unwrap();
        assert_eq!(s.limits.get(crate::pace::Group::EcsServiceModify), crate::pace::Limit { burst: 25.0, refill: 2.5 });
        assert_eq!(s.task_start, Duration::from_secs(90));
        assert_eq!(s.state_table.as_deref(), Some("ecs-cost-saver-state"));
        assert_eq!((s.concurrency, s.poll_interval, s.serial_runs), (8, Duration::from_millis(10), true));
        assert_eq!(s.schedule_group, "default", "an empty value is no value");
        assert!(!from(&[]).unwrap().serial_runs);
        assert_eq!(from(&[]).unwrap().state_table, None, "without a table, the tag store");
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            from(&[("ECS_COST_SAVER_CONCURRENCY", "0")]).unwrap_err(),
            "ECS_COST_SAVER_CONCURRENCY=0 must be between 1 and 64"
        );
        assert_eq!(
            from(&[("ECS_COST_SAVER_POLL_INTERVAL_MS", "5s")]).unwrap_err(),
            "ECS_COST_SAVER_POLL_INTERVAL_MS=\"5s\" is not a whole number"
        );
        assert_eq!(
            from(&[("ECS_COST_SAVER_RATE_LIMITS", "ecs-service-modify=50")]).unwrap_err(),
            "ECS_COST_SAVER_RATE_LIMITS: ecs-service-modify=50 must be BURST/REFILL, e.g. 50/5 (burst ≥ 1, refill > 0)"
        );
        assert_eq!(
            from(&[("ECS_COST_SAVER_SERIAL_RUNS", "yes")]).unwrap_err(),
            "ECS_COST_SAVER_SERIAL_RUNS=\"yes\" must be true or false"
        );
    }
}
