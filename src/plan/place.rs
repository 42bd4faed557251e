//! An environment's services by the account and region they live in (README, "Many accounts and
//! regions"): each part is run with its place's clients and buckets (`dispatch::places`). Pure.

use crate::schedule::{Environment, Place, Schedule, order_names};

/// The parts of `env`, one per place, the environment's own first: each with the services and
/// selectors of its place, the `capacity` groups in the environment's own part, and the
/// `start_order` names of its services (the order holds within a place; a name no part's named
/// services match stays with the parts that have selectors, which may choose it). A part with
/// nothing in it is left out ([`Environment::places`]).
pub fn split(env: &Environment) -> Vec<Environment> {
    env.places()
        .into_iter()
        .map(|place| {
            let services: Vec<_> = env.services.iter().filter(|s| &s.id.place == place).cloned().collect();
            let selectors: Vec<_> = env.selectors.iter().filter(|s| &s.place == place).cloned().collect();
            let elsewhere =
                |name: &String| env.services.iter().any(|s| &s.id.place != place && order_names(name, &s.id));
            let here = |name: &String| services.iter().any(|s| order_names(name, &s.id));
            let start_order = env
                .start_order
                .iter()
                .map(|group| {
                    group.iter().filter(|n| here(n) || (!selectors.is_empty() && !elsewhere(n))).cloned().collect()
                })
                .filter(|group: &Vec<String>| !group.is_empty())
                .collect();
            let capacity = if place == &env.place { env.capacity.clone() } else { Vec::new() };
            Environment { place: place.clone(), services, selectors, start_order, capacity, ..env.clone() }
        })
        .collect()
}

/// The session name a place's role is assumed with: `PREFIX-ENV1+ENV2…`, the environments of
/// the file that act in its account, as CloudTrail shows them (cut to STS's 64 characters).
pub fn session_name(schedule: &Schedule, prefix: &str, place: &Place) -> String {
    let names: Vec<&str> = schedule
        .environments
        .values()
        .filter(|e| e.places().iter().any(|p| p.account == place.account))
        .map(|e| e.name.as_str())
        .collect();
    let mut name = prefix.to_string();
    for (i, env) in names.iter().enumerate() {
        name.push(if i == 0 { '-' } else { '+' });
        name.push_str(env);
    }
    name.truncate(64);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Schedule;

    const FILE: &str = "
accounts:
  stg: { role_arn: 'arn:aws:iam::222222222222:role/ecs-cost-saver-target', external_id: ext-1 }
environments:
  staging:
    account: stg
    start_order: [[db], [api, hub-api], [web]]
    services:
      - { cluster: shop, service: db }
      - { cluster: shop, service: api }
      - { cluster: shop, service: web, region: ap-northeast-3 }
      - { cluster: tools, service: hub-api, account: stg, region: ap-northeast-3 }
      - { cluster: batch, select: all, region: ap-northeast-3 }
    capacity:
      - autoscaling_group: shop-asg
  own:
    services:
      - { cluster: shop, service: db }
      - { cluster: shop, service: db, region: ap-northeast-3 }
";

    fn place(account: Option<&str>, region: Option<&str>) -> Place {
        Place { account: account.map(Into::into), region: region.map(Into::into) }
    }

    #[test]
    fn each_service_runs_where_it_lives_and_an_entrys_own_place_wins() {
        let schedule = Schedule::parse(FILE, "s.yaml").unwrap_or_else(|e| panic!("{e}"));
        let parts = split(&schedule.environments["staging"]);
        // (place, services, selectors, groups, start order) of each part.
        type Part = (Place, Vec<String>, usize, usize, Vec<Vec<String>>);
        let seen: Vec<Part> = parts
            .iter()
            .map(|p| {
                let names = p.services.iter().map(|s| s.id.to_string()).collect();
                (p.place.clone(), names, p.selectors.len(), p.capacity.len(), p.start_order.clone())
            })
            .collect();
        let order = |groups: &[&[&str]]| -> Vec<Vec<String>> {
            groups.iter().map(|g| g.iter().map(|n| n.to_string()).collect()).collect()
        };
        assert_eq!(
            seen,
            vec![
                (
                    place(Some("222222222222"), None),
                    vec!["222222222222/shop/db".into(), "222222222222/shop/api".into()],
                    0,
                    1,
                    order(&[&["db"], &["api"]])
                ),
                (
                    place(Some("222222222222"), Some("ap-northeast-3")),
                    vec![
                        "222222222222/ap-northeast-3/shop/web".into(),
                        "222222222222/ap-northeast-3/tools/hub-api".into()
                    ],
                    1,
                    0,
                    order(&[&["hub-api"], &["web"]])
                ),
            ]
        );
        // One service, two regions: two services, not a duplicate.
        let own = split(&schedule.environments["own"]);
        assert_eq!(
            own.iter().map(|p| p.place.clone()).collect::<Vec<_>>(),
            [place(None, None), place(None, Some("ap-northeast-3"))]
        );
    }

    #[test]
    fn a_session_names_the_environments_that_act_in_its_account_within_stss_limit() {
        let schedule = Schedule::parse(FILE, "s.yaml").unwrap_or_else(|e| panic!("{e}"));
        let stg = place(Some("222222222222"), Some("ap-northeast-3"));
        assert_eq!(session_name(&schedule, "ecs-cost-saver", &stg), "ecs-cost-saver-staging");
        // The function's own account: only `own` acts there (`staging` is all in stg).
        assert_eq!(session_name(&schedule, "ecs-cost-saver-spot", &place(None, None)), "ecs-cost-saver-spot-own");
        let long = format!(
            "accounts:\n  stg: {{ role_arn: 'arn:aws:iam::222222222222:role/t' }}\nenvironments:\n{}",
            ["a", "b", "c"]
                .map(|n| format!(
                    "  {}:\n    account: stg\n    services: [{{ cluster: c, service: {n} }}]\n",
                    n.repeat(30)
                ))
                .concat()
        );
        let name = session_name(
            &Schedule::parse(&long, "s.yaml").unwrap(),
            "ecs-cost-saver",
            &place(Some("222222222222"), None),
        );
        assert_eq!(name.len(), 64, "{name}");
        assert!(name.starts_with(&format!("ecs-cost-saver-{}+b", "a".repeat(30))), "{name}");
    }
}
