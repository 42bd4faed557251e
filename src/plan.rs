//! Every decision, made without I/O, from what the input asks (`intent`) and what `observe` read:
//! the [`Plan`] of an environment run (`service`: each service's calls; `targets`: which targets
//! its tasks need) and of a Spot interruption (`spot`). `apply` only carries them out; a dry run
//! returns the plan instead.

pub mod capacity;
pub mod cost;
pub mod exclusion;
pub mod order;
pub mod place;
pub mod select;
pub mod service;
pub mod spot;
pub mod targets;

use std::collections::HashMap;
use std::fmt;

use chrono_tz::Tz;
use serde::Serialize;

use crate::action::Action;
use crate::error::{ErrorKind, Failure};
use crate::intent::{EnvironmentIntent, override_name};
use crate::schedule::{ServiceConfig, ServiceRef};
use crate::state::{ObservedService, OneTimeSchedule, ScheduledAction, ServiceState, Store, Unread};

pub use service::{Counts, Decision, Op, Recheck, ServicePlan, Source, Step, plan_service};

/// What an environment run will do: each service's calls, the override schedule of `until`, and
/// whether running tasks are registered afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// As asked (and reported).
    pub action: Action,
    /// What is carried out (`reconcile` as `stop` or `start`).
    pub effect: Action,
    pub environment: String,
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_schedule: Option<OneTimeSchedule>,
    pub services: Vec<Planned>,
    /// Start and register: afterwards every RUNNING task goes into its target groups.
    pub registers: bool,
}

/// One service of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per service of a run; an unread service's id and failure are read as often as a plan"
)]
pub enum Planned {
    Service(Box<ServicePlan>),
    /// It could not be read, so it is not touched.
    Unread {
        #[serde(flatten)]
        id: ServiceRef,
        failure: Failure,
    },
}

impl Planned {
    pub fn id(&self) -> &ServiceRef {
        match self {
            Planned::Service(p) => &p.id,
            Planned::Unread { id, .. } => id,
        }
    }
}

/// Why an environment run does nothing because of a pending override, if it does: the override's
/// schedule still exists (`pending` is its expression) and the intent defers to it.
pub fn pending_override(intent: &EnvironmentIntent<'_>, pending: Option<&str>, tz: Tz) -> Option<String> {
    let expression = pending.filter(|_| intent.defers_to_override)?;
    Some(format!(
        "an override is pending: schedule {} runs {expression} {}",
        override_name(&intent.environment.name),
        tz.name()
    ))
}

/// The plan of `effect` for every service of the intent's environment, from what was observed,
/// with snapshots kept in `store`. With the tag store and without `serial_runs`, each service is
/// read again where a concurrent invocation could lose its snapshot ([`service::guard`]).
pub fn environment(
    intent: &EnvironmentIntent<'_>,
    effect: Action,
    mut observed: HashMap<ServiceRef, ObservedService>,
    store: Store,
    serial_runs: bool,
) -> Plan {
    let services = intent
        .environment
        .services
        .iter()
        .map(|config| one(intent, effect, config, observed.remove(&config.id), store, serial_runs))
        .collect();
    Plan {
        action: intent.action,
        effect,
        environment: intent.environment.name.clone(),
        dry_run: intent.dry_run,
        notes: intent.notes.clone(),
        override_schedule: intent.override_schedule.clone(),
        services,
        registers: matches!(effect, Action::Start | Action::Register),
    }
}

/// How many times a service whose conditional write lost to another run is read and planned
/// again before its conflict is reported.
pub const REPLANS: u32 = 3;

/// The services `ids` of `plan` planned again from a new observation (their conditional writes
/// lost to another run: [`service::replans`]); the plan's other services are kept.
pub fn replan(
    plan: &mut Plan,
    intent: &EnvironmentIntent<'_>,
    ids: &[ServiceRef],
    mut observed: HashMap<ServiceRef, ObservedService>,
    store: Store,
    serial_runs: bool,
) {
    for config in intent.environment.services.iter().filter(|c| ids.contains(&c.id)) {
        let planned = one(intent, plan.effect, config, observed.remove(&config.id), store, serial_runs);
        if let Some(slot) = plan.services.iter_mut().find(|s| s.id() == &config.id) {
            *slot = planned;
        }
    }
}

/// Status: each service's scheduled actions, as a note (they can raise min/max at their hour;
/// a stop suspends them until the start).
pub fn note_scheduled_actions(plan: &mut Plan, actions: &[ScheduledAction]) {
    for planned in &mut plan.services {
        let Planned::Service(p) = planned else { continue };
        let rid = crate::aws::resource_id(&p.id.cluster, &p.id.service);
        let mine: Vec<String> = actions
            .iter()
            .filter(|a| a.resource_id == rid)
            .map(|a| {
                let mut text = format!("{} {}", a.name, a.schedule);
                if let Some(tz) = &a.timezone {
                    text.push_str(&format!(" {tz}"));
                }
                match (a.min, a.max) {
                    (Some(min), Some(max)) => text.push_str(&format!(" (min {min} max {max})")),
                    (Some(min), None) => text.push_str(&format!(" (min {min})")),
                    (None, Some(max)) => text.push_str(&format!(" (max {max})")),
                    (None, None) => {}
                }
                text
            })
            .collect();
        if !mine.is_empty() {
            let suspended = p.suspended.is_some_and(|s| s.scheduled);
            p.notes.push(format!(
                "scheduled actions: {}{}",
                mine.join("; "),
                if suspended { " (suspended while stopped)" } else { "" }
            ));
        }
    }
}

fn one(
    intent: &EnvironmentIntent<'_>,
    effect: Action,
    config: &ServiceConfig,
    observed: Option<ObservedService>,
    store: Store,
    serial_runs: bool,
) -> Planned {
    match observed.map(|o| observed_state(&config.id, o)) {
        Some(Ok(state)) => {
            let mut plan = plan_service(effect, config, &state, store);
            service::guard(&mut plan, serial_runs);
            leave_alone(&mut plan, intent, config, &state);
            Planned::Service(Box::new(plan))
        }
        Some(Err(failure)) => Planned::Unread { id: config.id.clone(), failure },
        None => Planned::Unread { id: config.id.clone(), failure: Failure::new(ErrorKind::Transient, "not observed") },
    }
}

/// What the owner's exclusion tags ([`exclusion`]) and a selection change in a service's plan:
/// stop and reconcile leave an excluded service alone, start too unless it has a snapshot to
/// restore (we stopped it before it was excluded); status lists the exclusion; an expired one
/// is a note. A service a selector chose that is being deleted is left alone (not a failure:
/// it is leaving the cluster, and the selector with it), and so is a DAEMON service (its tasks
/// follow the container instances; ECS refuses a desired count for it).
fn leave_alone(plan: &mut ServicePlan, intent: &EnvironmentIntent<'_>, config: &ServiceConfig, state: &ServiceState) {
    use exclusion::Exclusion;
    if config.selected_by.is_some() && state.status != "ACTIVE" {
        skip(
            plan,
            format!("the service is {}, not ACTIVE: a selected service being deleted is left alone", state.status),
        );
        return;
    }
    if config.selected_by.is_some()
        && state.daemon
        && matches!(intent.action, Action::Stop | Action::Start | Action::Reconcile)
    {
        skip(
            plan,
            "a DAEMON service (one task per container instance, no desired count to set): a selector leaves it alone"
                .into(),
        );
        return;
    }
    let reason = match exclusion::exclusion(&state.tags, intent.now, intent.timezone) {
        Exclusion::None => return,
        Exclusion::Expired(at) => {
            plan.notes.push(format!("exclusion expired at {}: the tag is ignored", exclusion::show(&at)));
            return;
        }
        Exclusion::Active { tag, until } => {
            plan.excluded = Some(exclusion::ExclusionReport {
                cluster: config.id.cluster.clone(),
                service: config.id.service.clone(),
                tag,
                until: until.as_ref().map(exclusion::show),
            });
            match until {
                Some(until) => format!("excluded by tag {tag} until {}", exclusion::show(&until)),
                None => format!("excluded by tag {tag} (until the tag is removed)"),
            }
        }
        Exclusion::Malformed(why) => why,
    };
    let leaves = match intent.action {
        Action::Stop | Action::Reconcile => true,
        Action::Start => plan.snapshot.is_none(),
        Action::Status | Action::Register => false,
    };
    if leaves {
        skip(plan, reason);
    } else if matches!(intent.action, Action::Status | Action::Register) {
        plan.notes.push(reason);
    } else {
        plan.notes.push(format!("{reason}; started all the same: it has a snapshot to restore"));
    }
}

fn skip(plan: &mut ServicePlan, reason: String) {
    plan.decision = Decision::Skip(reason);
    plan.program.clear();
    plan.on_failure.clear();
    plan.after = plan.before;
}

/// A service's state from its reads, or why it cannot be planned: it is not there, or one of
/// its reads failed (a service whose scalable target or snapshot cannot be read is not touched
/// either).
pub fn observed_state(id: &ServiceRef, observed: ObservedService) -> Result<ServiceState, Failure> {
    let mut state = match observed.service {
        Ok(state) => state,
        Err(Unread::Missing(reason)) => {
            let why =
                format!("service {} not found in cluster {} (DescribeServices: {reason})", id.service, id.cluster);
            return Err(Failure::new(ErrorKind::NotFound, why));
        }
        Err(Unread::Failed(e)) if e.kind == ErrorKind::NotFound => {
            return Err(Failure::aws(&e, format!("cluster {} not found in this account and region ({e})", id.cluster)));
        }
        Err(Unread::Failed(e)) => return Err(Failure::aws(&e, e.to_string())),
    };
    state.capacity = observed.capacity.map_err(|e| Failure::aws(&e, e.to_string()))?;
    state.entry = match observed.entry {
        None => None,
        Some(entry) => {
            entry.map_err(|e| Failure::aws(&e, format!("cannot read the snapshot from the state table: {e}")))?
        }
    };
    Ok(state)
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plan: {} {}", self.effect.as_str(), self.environment)?;
        if let Some(o) = &self.override_schedule {
            write!(f, "; schedule {} at {} {}", o.name, o.expression, o.timezone)?;
        }
        for s in &self.services {
            match s {
                Planned::Unread { id, failure } => write!(f, "; {id}: cannot plan ({failure})")?,
                Planned::Service(p) => match &p.decision {
                    Decision::Unchanged => write!(f, "; {}: unchanged", p.id)?,
                    Decision::Fail(failure) => write!(f, "; {}: not touched ({failure})", p.id)?,
                    Decision::Skip(why) => write!(f, "; {}: skipped ({why})", p.id)?,
                    Decision::Change(steps) => {
                        let steps: Vec<String> = steps.iter().map(Step::to_string).collect();
                        write!(f, "; {}: {}", p.id, steps.join(", "))?;
                    }
                },
            }
        }
        if self.registers {
            write!(f, "; then register running tasks")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
