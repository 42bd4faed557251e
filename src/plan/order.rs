//! `start_order`: the groups an environment's services start in, one group after another,
//! and stop in, in reverse (README, "Start order"). Pure: the names of the file against the
//! services of the run.

use crate::action::Action;
use crate::schedule::{ServiceRef, order_names};

use super::Plan;

/// The plan's services in the order their groups run (a stop's reversed; within a group the
/// plan's order), so that what is handed on for lack of time is the last groups; a note says
/// the order, and one each name of the file that names no service of this run.
pub fn arrange(plan: &mut Plan, order: &[Vec<String>]) {
    if order.is_empty() {
        return;
    }
    let (groups, unmatched) = run_order(plan, order);
    let stop = matches!(plan.effect, Action::Stop);
    let rank = |id: &ServiceRef| groups.iter().position(|g| g.services.contains(id)).unwrap_or(usize::MAX);
    plan.services.sort_by_key(|s| rank(s.id()));
    let labels: Vec<String> = groups.iter().map(Group::label).collect();
    plan.notes.push(format!(
        "{}: {}",
        if stop { "stop order (start_order reversed)" } else { "start_order" },
        labels.join(", then ")
    ));
    for name in unmatched {
        plan.notes.push(format!("start_order names `{name}`, which is no service of this run"));
    }
}

/// The plan's services in their groups, in the order the groups run (a stop's reversed), and
/// the names that name none of them; no groups without `start_order`.
pub fn run_order(plan: &Plan, order: &[Vec<String>]) -> (Vec<Group>, Vec<String>) {
    let ids: Vec<ServiceRef> = plan.services.iter().map(|s| s.id().clone()).collect();
    let (mut groups, unmatched) = groups(order, &ids);
    if plan.effect == Action::Stop {
        groups.reverse();
    }
    (groups, unmatched)
}

/// The services of a run in their groups, in start order: group `i` holds, in `ids`' order,
/// the services a name of `order[i]` names; a service no group names joins the first group.
/// Groups that name no service of this run are left out; each name that names none is
/// returned too (a selected service that is not there tonight).
pub fn groups(order: &[Vec<String>], ids: &[ServiceRef]) -> (Vec<Group>, Vec<String>) {
    let mut groups: Vec<Group> =
        order.iter().map(|names| Group { names: names.clone(), services: Vec::new() }).collect();
    let mut unmatched = Vec::new();
    for id in ids {
        let at = order.iter().position(|names| names.iter().any(|n| order_names(n, id))).unwrap_or(0);
        if let Some(g) = groups.get_mut(at) {
            g.services.push(id.clone());
        }
    }
    for name in order.iter().flatten() {
        if !ids.iter().any(|id| order_names(name, id)) {
            unmatched.push(name.clone());
        }
    }
    groups.retain(|g| !g.services.is_empty());
    (groups, unmatched)
}

/// One group of `start_order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// As the file names it.
    pub names: Vec<String>,
    pub services: Vec<ServiceRef>,
}

impl Group {
    /// `[api, worker]`, for the report.
    pub fn label(&self) -> String {
        format!("[{}]", self.names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ServiceRef {
        let (cluster, service) = s.split_once('/').unwrap();
        ServiceRef::new(cluster, service)
    }

    fn order(groups: &[&[&str]]) -> Vec<Vec<String>> {
        groups.iter().map(|g| g.iter().map(|s| s.to_string()).collect()).collect()
    }

    fn shape(groups: &[Group]) -> Vec<Vec<String>> {
        groups.iter().map(|g| g.services.iter().map(ToString::to_string).collect()).collect()
    }

    #[test]
    fn groups_in_order_the_rest_with_the_first() {
        let ids: Vec<ServiceRef> =
            ["c/web", "c/api", "c/worker", "c/migrate", "c/cron", "d/api"].into_iter().map(id).collect();
        let (groups, unmatched) = groups(&order(&[&["migrate"], &["c/api", "worker"], &["web"]]), &ids);
        assert_eq!(
            shape(&groups),
            vec![vec!["c/migrate", "c/cron", "d/api"], vec!["c/api", "c/worker"], vec!["c/web"]],
            "a bare name matches in every cluster; cluster/service only there; the unnamed start first"
        );
        assert_eq!(groups[1].label(), "[c/api, worker]");
        assert!(unmatched.is_empty());
    }

    #[test]
    fn a_name_that_names_nothing_is_returned_and_its_empty_group_dropped() {
        let ids = vec![id("c/web"), id("c/api")];
        let (groups, unmatched) = groups(&order(&[&["migrate"], &["api"], &["web"]]), &ids);
        assert_eq!(shape(&groups), vec![vec!["c/api"], vec!["c/web"]]);
        assert_eq!(unmatched, vec!["migrate"]);
        // A service no group names joins the first group of the file, even one whose own
        // names are not there tonight: it starts first, and no service is ever left out.
        let (again, _) = super::groups(&order(&[&["migrate"], &["web"]]), &ids);
        assert_eq!(shape(&again), vec![vec!["c/api"], vec!["c/web"]]);
    }

    #[test]
    fn no_order_no_groups() {
        let (groups, unmatched) = groups(&[], &[id("c/web")]);
        assert!(groups.is_empty() && unmatched.is_empty());
    }
}
