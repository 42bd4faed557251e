//! Which services an environment's selectors choose, from what the function read of their
//! clusters this run (never cached across invocations: a service added tonight is chosen
//! tonight), and which services two environments both claim. Pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{AwsError, ErrorKind, Failure};
use crate::schedule::{Environment, Place, Schedule, Selector, ServiceConfig, ServiceRef};
use crate::state::ServiceState;

/// One cluster's services as read for the selectors: every name (ListServices), and, when a
/// selector on the cluster chooses by tag, every service described with its tags.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub names: Vec<String>,
    /// By name; empty when no selector on the cluster needs tags.
    pub described: HashMap<String, ServiceState>,
}

/// Per cluster, its listing or why it could not be read.
pub type Listings = BTreeMap<String, Result<Listing, AwsError>>;

/// The services the listings described (for tag selectors), by their id: the observation
/// takes them instead of describing them again.
pub fn described(listings: Listings, place: &Place) -> HashMap<ServiceRef, ServiceState> {
    listings
        .into_iter()
        .filter_map(|(cluster, listing)| Some((cluster, listing.ok()?)))
        .flat_map(|(cluster, listing)| {
            listing
                .described
                .into_iter()
                .map(move |(service, state)| (ServiceRef::at(place, cluster.clone(), service), state))
        })
        .collect()
}

/// The clusters to read for `env`, each with whether its services' tags are needed: the
/// clusters of its selectors, and the clusters of its named services where another
/// environment has a selector (so a service claimed by both is found). Empty: nothing to read.
/// `env` is one place's part of an environment (its `place`): clusters of other places are other
/// clusters.
pub fn clusters_to_read(schedule: &Schedule, env: &Environment) -> BTreeMap<String, bool> {
    let needs_tags = |cluster: &str| {
        schedule
            .environments
            .values()
            .flat_map(|e| &e.selectors)
            .any(|s| s.is_on(&env.place, cluster) && s.needs_tags())
    };
    let mut clusters: BTreeMap<String, bool> = BTreeMap::new();
    let own = env.selectors.iter().map(|s| s.cluster.as_str());
    let shared = env.services.iter().map(|s| s.id.cluster.as_str()).filter(|c| {
        schedule.environments.values().any(|e| e.name != env.name && e.selectors.iter().any(|s| s.is_on(&env.place, c)))
    });
    for cluster in own.chain(shared) {
        clusters.insert(cluster.to_string(), needs_tags(cluster));
    }
    clusters
}

/// What the selectors come to this run.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// The services to plan: the named ones in file order, then each selector's choice by
    /// name (a service named, or chosen by an earlier selector, is not repeated: the named
    /// entry's settings win).
    pub services: Vec<ServiceConfig>,
    /// Services not to touch: claimed by another environment too, or a selector whose cluster
    /// could not be read (named `CLUSTER/[ENTRY]`).
    pub failed: Vec<(ServiceRef, Failure)>,
    /// A selector that chose nothing, and names of `start_order` that name no service.
    pub notes: Vec<String>,
}

/// Resolve `env`'s selectors against `listings`, and find every service of it that another
/// environment of `schedule` claims as well.
pub fn resolve(schedule: &Schedule, env: &Environment, listings: &Listings) -> Resolved {
    let mut resolved = Resolved { services: env.services.clone(), ..Resolved::default() };
    let mut chosen: BTreeSet<ServiceRef> = env.services.iter().map(|s| s.id.clone()).collect();
    for selector in &env.selectors {
        let listing = match listings.get(&selector.cluster) {
            Some(Ok(listing)) => listing,
            Some(Err(e)) => {
                let why = if e.kind == ErrorKind::NotFound {
                    format!("cluster {} not found in this account and region ({e})", selector.cluster)
                } else {
                    format!("cannot read the services of cluster {} for {selector}: {e}", selector.cluster)
                };
                resolved.failed.push((unread_selector(selector), Failure::aws(e, why)));
                continue;
            }
            None => {
                let why = format!("the services of cluster {} were not read", selector.cluster);
                resolved.failed.push((unread_selector(selector), Failure::new(ErrorKind::Transient, why)));
                continue;
            }
        };
        let mut names: Vec<&String> = listing.names.iter().filter(|n| selects(selector, n, listing)).collect();
        names.sort();
        if names.is_empty() {
            resolved.notes.push(format!("{selector} chooses no service"));
        }
        for name in names {
            let id = ServiceRef::at(&selector.place, selector.cluster.clone(), name.clone());
            if chosen.insert(id.clone()) {
                resolved.services.push(ServiceConfig::selected(id, selector));
            }
        }
    }
    let mut kept = Vec::new();
    for config in std::mem::take(&mut resolved.services) {
        let others = claims(schedule, env, &config.id, listings);
        if others.is_empty() {
            kept.push(config);
            continue;
        }
        let mine = config.selected_by.as_deref().unwrap_or("listed by name");
        let why = format!(
            "service {} belongs to environment `{}` ({mine}) and to {}: a service belongs to one environment only; \
             narrow a selector (`except`, tags) or remove one entry",
            config.id,
            env.name,
            others.join(" and ")
        );
        resolved.failed.push((config.id, Failure::new(ErrorKind::Invalid, why)));
    }
    resolved.services = kept;
    resolved
}

/// The name a selector whose cluster could not be read is reported under.
pub fn unread_selector(selector: &Selector) -> ServiceRef {
    ServiceRef::at(&selector.place, selector.cluster.clone(), format!("[{}]", selector.entry))
}

/// Whether `selector` chooses the listed service `name`; one chosen by tags must have been
/// described (a service deleted between ListServices and DescribeServices is not chosen).
fn selects(selector: &Selector, name: &str, listing: &Listing) -> bool {
    if selector.needs_tags() {
        listing.described.get(name).is_some_and(|s| selector.selects(name, &s.tags))
    } else {
        selector.selects(name, &BTreeMap::new())
    }
}

/// The other environments that claim `id` (by name or by a selector on its cluster), as
/// `` `dev` (services[1], line 30) ``.
fn claims(schedule: &Schedule, env: &Environment, id: &ServiceRef, listings: &Listings) -> Vec<String> {
    let mut found = Vec::new();
    for other in schedule.environments.values().filter(|e| e.name != env.name) {
        if other.services.iter().any(|s| &s.id == id) {
            found.push(format!("`{}` (listed by name)", other.name));
            continue;
        }
        let Some(Ok(listing)) = listings.get(&id.cluster) else { continue };
        if !listing.names.contains(&id.service) {
            continue;
        }
        if let Some(s) =
            other.selectors.iter().find(|s| s.is_on(&id.place, &id.cluster) && selects(s, &id.service, listing))
        {
            found.push(format!("`{}` ({})", other.name, s.entry));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(yaml: &str) -> Schedule {
        Schedule::parse(yaml, "s.yaml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn state(tags: &[(&str, &str)]) -> ServiceState {
        ServiceState {
            arn: String::new(),
            status: "ACTIVE".into(),
            desired: 1,
            daemon: false,
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            load_balancers: Vec::new(),
            task_set_load_balancers: Vec::new(),
            capacity: None,
            entry: None,
            placement: Default::default(),
        }
    }

    fn listing(services: &[(&str, &[(&str, &str)])], described: bool) -> Result<Listing, AwsError> {
        Ok(Listing {
            names: services.iter().map(|(n, _)| n.to_string()).collect(),
            described: if described {
                services.iter().map(|(n, t)| (n.to_string(), state(t))).collect()
            } else {
                HashMap::new()
            },
        })
    }

    fn ids(r: &Resolved) -> Vec<(String, Option<String>)> {
        r.services.iter().map(|s| (s.id.to_string(), s.selected_by.clone())).collect()
    }

    const FILE: &str = "
environments:
  staging:
    services:
      - { cluster: shop, service: api, desired_count: 2 }
      - cluster: shop
        select: all
        except: [batch]
      - cluster: shared
        select: { tags: { env: staging, team: web } }
  dev:
    services:
      - { cluster: other, service: x }
";

    #[test]
    fn select_all_except_and_tags_choose_by_name_and_tag_named_entries_win() {
        let s = schedule(FILE);
        let env = &s.environments["staging"];
        assert_eq!(
            clusters_to_read(&s, env),
            BTreeMap::from([("shared".to_string(), true), ("shop".to_string(), false)])
        );
        let listings = Listings::from([
            ("shop".into(), listing(&[("web", &[]), ("api", &[]), ("batch", &[]), ("new", &[])], false)),
            (
                "shared".into(),
                listing(
                    &[
                        ("a", &[("env", "staging"), ("team", "web")]),
                        ("b", &[("env", "staging")]),
                        ("c", &[("env", "staging"), ("team", "web"), ("extra", "1")]),
                    ],
                    true,
                ),
            ),
        ]);
        let r = resolve(&s, env, &listings);
        let all = Some("services[1], line 6".to_string());
        let tags = Some("services[2], line 9".to_string());
        assert_eq!(
            ids(&r),
            vec![
                ("shop/api".into(), None),
                ("shop/new".into(), all.clone()),
                ("shop/web".into(), all),
                ("shared/a".into(), tags.clone()),
                ("shared/c".into(), tags),
            ]
        );
        // The named entry keeps its own settings.
        assert_eq!(r.services[0].desired_count, Some(2));
        assert!(r.failed.is_empty() && r.notes.is_empty(), "{r:?}");
    }

    #[test]
    fn a_selector_that_chooses_nothing_is_a_note_and_an_unreadable_cluster_fails_the_selector() {
        let s = schedule(FILE);
        let env = &s.environments["staging"];
        let denied = AwsError::in_response("ListServices", ErrorKind::AccessDenied, "no".into());
        let listings = Listings::from([
            ("shop".into(), Err(denied)),
            ("shared".into(), listing(&[("b", &[("env", "staging")])], true)),
        ]);
        let r = resolve(&s, env, &listings);
        assert_eq!(ids(&r), vec![("shop/api".into(), None)]);
        assert_eq!(r.notes, vec!["services[2], line 9 (shared: select tags env=staging,team=web) chooses no service"]);
        assert_eq!(r.failed.len(), 1);
        assert_eq!(r.failed[0].0.to_string(), "shop/[services[1], line 6]");
        assert_eq!(r.failed[0].1.kind, ErrorKind::AccessDenied);
        assert!(r.failed[0].1.message.starts_with("cannot read the services of cluster shop for services[1], line 6"));
    }

    #[test]
    fn a_service_two_environments_claim_fails_in_both_naming_both() {
        let s = schedule(
            "
environments:
  staging:
    services:
      - { cluster: shop, select: all, except: [api-dev] }
  dev:
    services:
      - { cluster: shop, service: api-dev }
      - { cluster: shop, select: { tags: { env: dev } } }
",
        );
        let listings = Listings::from([(
            "shop".into(),
            listing(&[("api", &[]), ("api-dev", &[("env", "dev")]), ("web", &[("env", "dev")])], true),
        )]);
        let staging = resolve(&s, &s.environments["staging"], &listings);
        assert_eq!(ids(&staging), vec![("shop/api".to_string(), Some("services[0], line 5".to_string()))]);
        assert_eq!(staging.failed.len(), 1);
        assert_eq!(
            staging.failed[0].1.message,
            "service shop/web belongs to environment `staging` (services[0], line 5) and to `dev` (services[1], line 9): \
             a service belongs to one environment only; narrow a selector (`except`, tags) or remove one entry"
        );
        // dev reads shop for its own selector, and finds the same service claimed.
        assert_eq!(clusters_to_read(&s, &s.environments["dev"]), BTreeMap::from([("shop".to_string(), true)]));
        let dev = resolve(&s, &s.environments["dev"], &listings);
        assert_eq!(ids(&dev), vec![("shop/api-dev".to_string(), None)]);
        assert_eq!(dev.failed[0].0.to_string(), "shop/web");
        assert!(dev.failed[0].1.message.contains("and to `staging` (services[0], line 5)"), "{:?}", dev.failed);
    }

    #[test]
    fn without_selectors_nothing_is_read() {
        let s = schedule("environments:\n  dev:\n    services: [{cluster: c, service: s}]\n");
        assert!(clusters_to_read(&s, &s.environments["dev"]).is_empty());
        let r = resolve(&s, &s.environments["dev"], &Listings::new());
        assert_eq!(ids(&r), vec![("c/s".to_string(), None)]);
    }
}
