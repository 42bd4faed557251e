//! The report every invocation returns and logs (DESIGN §5): JSON for machines, text for people.

use std::fmt;

use serde::Serialize;

use crate::event::Action;
use crate::plan::{Counts, Snapshot};
use crate::state::Target;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub action: Action,
    pub environment: String,
    pub dry_run: bool,
    pub services: Vec<ServiceReport>,
    pub targets: Vec<TargetReport>,
    pub skipped_reason: Option<String>,
    /// Why the run did what it did (e.g. what the crons say the state should be now).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The one-time schedule an `until` created or replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_schedule: Option<OverrideReport>,
}

/// The one-time EventBridge Scheduler schedule of an `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideReport {
    pub name: String,
    pub expression: String,
    pub timezone: String,
    /// The action it will run.
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Changed,
    Unchanged,
    Skipped,
    Failed,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceReport {
    pub cluster: String,
    pub service: String,
    pub outcome: Outcome,
    pub before: Option<Counts>,
    pub after: Option<Counts>,
    /// The calls made (or, in a dry run, that would be made), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// The saved snapshot as found before this invocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    /// Why a service was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why a service failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Tasks that were not RUNNING when the wait for them ended (`id (STATUS)`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks_not_running: Vec<String>,
}

impl ServiceReport {
    pub fn new(cluster: &str, service: &str, outcome: Outcome) -> ServiceReport {
        ServiceReport {
            cluster: cluster.to_string(),
            service: service.to_string(),
            outcome,
            before: None,
            after: None,
            actions: Vec::new(),
            snapshot: None,
            reason: None,
            error: None,
            notes: Vec::new(),
            tasks_not_running: Vec::new(),
        }
    }

    /// Record a failure; earlier failures stay first.
    pub fn fail(&mut self, error: String) {
        self.outcome = Outcome::Failed;
        self.error = Some(match self.error.take() {
            Some(first) => format!("{first}; {error}"),
            None => error,
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetChange {
    Registered,
    WouldRegister,
    Failed,
    Deregistered,
    /// Deregistration found the target already gone: done.
    NotRegistered,
    DeregisterFailed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    pub cluster: String,
    pub service: String,
    pub target_group: String,
    #[serde(flatten)]
    pub target: Target,
    pub change: TargetChange,
}

impl Report {
    /// Nothing was done for `reason` (a holiday, a pending override, a manual-only schedule).
    pub fn skipped(intent: &crate::dispatch::Intent<'_>, reason: String) -> Report {
        let services = intent
            .environment
            .services
            .iter()
            .map(|c| {
                let mut s = ServiceReport::new(&c.id.cluster, &c.id.service, Outcome::Skipped);
                s.reason = Some(reason.clone());
                s
            })
            .collect();
        Report {
            action: intent.action,
            environment: intent.environment.name.clone(),
            dry_run: intent.dry_run,
            services,
            targets: Vec::new(),
            skipped_reason: Some(reason),
            notes: intent.notes.clone(),
            override_schedule: None,
        }
    }

    pub fn failed(&self) -> usize {
        self.services.iter().filter(|s| s.outcome == Outcome::Failed).count()
    }

    /// One line of JSON, as logged.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a report always serializes")
    }

    /// The error the invocation returns after the report is logged, if any service failed.
    pub fn error(&self) -> Option<crate::error::Error> {
        let failed: Vec<String> = self
            .services
            .iter()
            .filter(|s| s.outcome == Outcome::Failed)
            .map(|s| format!("{}/{}: {}", s.cluster, s.service, s.error.as_deref().unwrap_or("failed")))
            .collect();
        (!failed.is_empty()).then(|| crate::error::Error::ServicesFailed {
            failed: failed.len(),
            total: self.services.len(),
            summary: failed.join("; "),
        })
    }
}

fn short_tg(arn: &str) -> &str {
    arn.split_once(":targetgroup/").map(|(_, name)| name).unwrap_or(arn)
}

fn counts(c: Option<Counts>) -> String {
    match c {
        None => "?".into(),
        Some(c) => match (c.min, c.max) {
            (Some(min), Some(max)) => format!("desired {} min {min} max {max}", c.desired),
            _ => format!("desired {}", c.desired),
        },
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {}{}",
            self.action.as_str(),
            self.environment,
            if self.dry_run { " (dry run: nothing changed)" } else { "" }
        )?;
        if let Some(reason) = &self.skipped_reason {
            writeln!(f, "  skipped: {reason}")?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        if let Some(o) = &self.override_schedule {
            writeln!(
                f,
                "  {} {} at {} {} (schedule {}, deleted after it runs)",
                if self.dry_run { "would schedule" } else { "scheduled" },
                o.action.as_str(),
                o.expression,
                o.timezone,
                o.name
            )?;
        }
        for s in &self.services {
            let name = format!("{}/{}", s.cluster, s.service);
            write!(f, "  {name:<32} {:<9}", s.outcome.to_string())?;
            if s.before.is_some() && s.before != s.after && s.after.is_some() {
                write!(f, " {} -> {}", counts(s.before), counts(s.after))?;
            } else if s.before.is_some() {
                write!(f, " {}", counts(s.before))?;
            }
            writeln!(f)?;
            for a in &s.actions {
                writeln!(f, "      {}{a}", if self.dry_run { "would " } else { "" })?;
            }
            if let Some(snapshot) = &s.snapshot {
                let restored = self.action == Action::Start && s.outcome == Outcome::Changed && !self.dry_run;
                let label = if restored { "restored from snapshot" } else { "saved snapshot" };
                writeln!(f, "      {label}: {}", snapshot.encode())?;
            }
            for (label, text) in [("reason", &s.reason), ("error", &s.error)] {
                if let Some(text) = text {
                    writeln!(f, "      {label}: {text}")?;
                }
            }
            for n in &s.notes {
                writeln!(f, "      note: {n}")?;
            }
            if !s.tasks_not_running.is_empty() {
                writeln!(f, "      not running yet: {}", s.tasks_not_running.join(", "))?;
            }
        }
        for t in &self.targets {
            let verb = match t.change {
                TargetChange::Registered => "registered",
                TargetChange::WouldRegister => "would register",
                TargetChange::Failed => "FAILED to register",
                TargetChange::Deregistered => "deregistered",
                TargetChange::NotRegistered => "already not registered",
                TargetChange::DeregisterFailed => "FAILED to deregister",
            };
            writeln!(
                f,
                "  {verb} {}:{} in {} ({}/{})",
                t.target.id,
                t.target.port,
                short_tg(&t.target_group),
                t.cluster,
                t.service
            )?;
        }
        let count = |o: Outcome| self.services.iter().filter(|s| s.outcome == o).count();
        write!(
            f,
            "{} services: {} changed, {} unchanged, {} skipped, {} failed",
            self.services.len(),
            count(Outcome::Changed),
            count(Outcome::Unchanged),
            count(Outcome::Skipped),
            count(Outcome::Failed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Target;

    fn counts(desired: u32, capacity: Option<(u32, u32)>) -> Option<Counts> {
        Some(Counts { desired, min: capacity.map(|c| c.0), max: capacity.map(|c| c.1) })
    }

    #[test]
    fn text_report_reads_at_a_glance() {
        let mut web = ServiceReport::new("shop", "web", Outcome::Changed);
        web.before = counts(0, Some((0, 0)));
        web.after = counts(2, Some((2, 6)));
        web.actions =
            vec!["set scalable target min 2 max 6".into(), "set desiredCount 2".into(), "clear snapshot".into()];
        web.snapshot = Snapshot::decode("desired=2 min=2 max=6").ok();
        web.tasks_not_running = vec!["0a1b (PROVISIONING)".into()];
        let mut old = ServiceReport::new("shop", "old", Outcome::Failed);
        old.before = counts(1, None);
        old.error = Some("UpdateService: AccessDeniedException: no".into());
        let report = Report {
            action: Action::Start,
            environment: "staging".into(),
            dry_run: false,
            services: vec![web, old],
            targets: vec![TargetReport {
                cluster: "shop".into(),
                service: "web".into(),
                target_group: "arn:aws:elasticloadbalancing:ap-northeast-1:1:targetgroup/web-tg/0123".into(),
                target: Target { id: "10.0.1.7".into(), port: 8080 },
                change: TargetChange::Registered,
            }],
            skipped_reason: None,
            notes: vec![],
            override_schedule: None,
        };
        assert_eq!(
            report.to_string(),
            "\
start staging
  shop/web                         changed   desired 0 min 0 max 0 -> desired 2 min 2 max 6
      set scalable target min 2 max 6
      set desiredCount 2
      clear snapshot
      restored from snapshot: desired=2 min=2 max=6
      not running yet: 0a1b (PROVISIONING)
  shop/old                         failed    desired 1
      error: UpdateService: AccessDeniedException: no
  registered 10.0.1.7:8080 in web-tg/0123 (shop/web)
2 services: 1 changed, 0 unchanged, 0 skipped, 1 failed"
        );
    }
}
