//! Batched reads: the current state of an environment's services, their tasks and target groups,
//! the container instances of a Spot warning, in as few sequential round trips as the APIs
//! allow. Every read's own result is handed on (errors included) for the planner to judge.

pub mod capacity;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::stream::{self, StreamExt};

use crate::aws::{
    DESCRIBE_SCALABLE_TARGETS_BATCH, DESCRIBE_SERVICES_BATCH, DESCRIBE_TARGET_GROUPS_BATCH, DESCRIBE_TASKS_BATCH,
    ScalableTargets, Schedules, Services, SnapshotTable, TargetGroups, TaskDefinitions, Tasks, resource_id,
};
use crate::error::{AwsError, ErrorKind};
use crate::schedule::ServiceRef;
use crate::state::{
    Capacity, Entry, ObservedService, ObservedTasks, RegisteredTarget, ScheduledAction, ServiceState, TargetFacts,
    TargetType, Task, Unread, entry_key,
};

/// Services grouped by cluster, clusters in a stable order.
fn by_cluster<'a>(ids: impl IntoIterator<Item = &'a ServiceRef>) -> BTreeMap<&'a str, Vec<&'a ServiceRef>> {
    let mut clusters: BTreeMap<&str, Vec<&ServiceRef>> = BTreeMap::new();
    for id in ids {
        clusters.entry(id.cluster.as_str()).or_default().push(id);
    }
    clusters
}

/// The expression of the schedule `name` in `group`, if it still exists (GetSchedule).
pub async fn pending_schedule<A: Schedules>(aws: &A, group: &str, name: &str) -> Result<Option<String>, AwsError> {
    aws.schedule_expression(group, name).await
}

/// The task definitions of these ARNs (DescribeTaskDefinition, one call per distinct revision,
/// up to `concurrency` at once): each one's own answer.
pub async fn task_definitions<A: TaskDefinitions>(
    aws: &A,
    arns: &BTreeSet<String>,
    concurrency: usize,
) -> BTreeMap<String, Result<crate::state::TaskDefinition, AwsError>> {
    stream::iter(arns.iter().map(|arn| async move { (arn.clone(), aws.describe_task_definition(arn).await) }))
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// What the state table holds for one DescribeServices batch: per key its entry, or the read's
/// error for all of them.
type Entries = Option<Result<HashMap<String, Entry>, AwsError>>;

/// Every cluster's services for the selectors (`clusters`: whether their tags are needed):
/// ListServices (100 a page), then, where tags are needed, DescribeServices of them all (10 per
/// call, tags included; what it reads is not read again by [`services`]). Clusters
/// concurrently, up to `concurrency` calls at once.
pub async fn listings<A: Services>(
    aws: &A,
    clusters: &BTreeMap<String, bool>,
    concurrency: usize,
) -> crate::plan::select::Listings {
    use crate::plan::select::Listing;
    let listed = stream::iter(clusters.iter().map(|(cluster, tags)| async move {
        let names = aws.list_services(cluster).await;
        (cluster, *tags, names)
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    let mut listings = crate::plan::select::Listings::new();
    let mut to_describe = Vec::new();
    for (cluster, tags, names) in listed {
        match names {
            Ok(names) => {
                if tags {
                    to_describe.extend(names.chunks(DESCRIBE_SERVICES_BATCH).map(|c| (cluster.clone(), c.to_vec())));
                }
                listings.insert(cluster.clone(), Ok(Listing { names, described: HashMap::new() }));
            }
            Err(e) => {
                listings.insert(cluster.clone(), Err(e));
            }
        }
    }
    let described = stream::iter(to_describe.into_iter().map(|(cluster, names)| async move {
        let described = aws.describe_services(&cluster, &names).await;
        (cluster, described)
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    for (cluster, described) in described {
        match described {
            Ok(d) => {
                if let Some(Ok(listing)) = listings.get_mut(&cluster) {
                    listing.described.extend(d.found);
                }
            }
            Err(e) => {
                listings.insert(cluster, Err(e));
            }
        }
    }
    listings
}

/// DescribeServices (10 per call, tags included) and DescribeScalableTargets (50 per call), all
/// batches concurrently: one round trip for up to `concurrency` batches. With a state `table`,
/// each DescribeServices batch is followed by its BatchGetItem (the key needs the service's ARN).
/// A service in `known` (described moments ago, for a selector) is not described again.
pub async fn services<A: Services + ScalableTargets + SnapshotTable>(
    aws: &A,
    ids: &[ServiceRef],
    known: &HashMap<ServiceRef, ServiceState>,
    table: Option<&str>,
    concurrency: usize,
) -> HashMap<ServiceRef, ObservedService> {
    let clusters = by_cluster(ids);
    // Per cluster, the services known first, then those to describe: every batch is one or
    // the other.
    let batches: Vec<(&str, Vec<&ServiceRef>, bool)> = clusters
        .iter()
        .flat_map(|(cluster, ids)| {
            let (seen, unseen): (Vec<&ServiceRef>, Vec<&ServiceRef>) =
                ids.iter().partition(|id| known.contains_key(id));
            let seen =
                seen.chunks(DESCRIBE_SERVICES_BATCH).map(move |c| (*cluster, c.to_vec(), true)).collect::<Vec<_>>();
            let unseen =
                unseen.chunks(DESCRIBE_SERVICES_BATCH).map(move |c| (*cluster, c.to_vec(), false)).collect::<Vec<_>>();
            seen.into_iter().chain(unseen)
        })
        .collect();
    let describe = stream::iter(batches.into_iter().map(|(cluster, chunk, seen)| async move {
        let described = if seen {
            let found = chunk.iter().filter_map(|id| Some((id.service.clone(), known.get(*id)?.clone()))).collect();
            Ok(crate::aws::DescribedServices { found, missing: Vec::new() })
        } else {
            let names: Vec<String> = chunk.iter().map(|id| id.service.clone()).collect();
            aws.describe_services(cluster, &names).await
        };
        let entries: Entries = match (table, &described) {
            (Some(table), Ok(d)) => {
                let keys: Vec<String> = chunk
                    .iter()
                    .filter_map(|id| {
                        let (_, state) = d.found.iter().find(|(name, _)| *name == id.service)?;
                        entry_key(&state.arn, id)
                    })
                    .collect();
                let read = if keys.is_empty() { Ok(Vec::new()) } else { aws.entries(table, &keys).await };
                Some(read.map(|found| found.into_iter().collect()))
            }
            _ => None,
        };
        (chunk, described, entries)
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>();

    let resource_ids: Vec<String> = ids.iter().map(|id| resource_id(&id.cluster, &id.service)).collect();
    let capacities = stream::iter(
        resource_ids
            .chunks(DESCRIBE_SCALABLE_TARGETS_BATCH)
            .map(|chunk| async move { (chunk, aws.describe_capacities(chunk).await) }),
    )
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>();

    let (described, capacities) = futures_util::join!(describe, capacities);

    let mut capacity: HashMap<String, Result<Option<Capacity>, AwsError>> = HashMap::new();
    for (chunk, result) in capacities {
        match result {
            Ok(found) => {
                let found: HashMap<String, Capacity> = found.into_iter().collect();
                capacity.extend(chunk.iter().map(|rid| (rid.clone(), Ok(found.get(rid).copied()))));
            }
            Err(e) => capacity.extend(chunk.iter().map(|rid| (rid.clone(), Err(e.clone())))),
        }
    }

    let mut observed = HashMap::new();
    for (chunk, result, entries) in described {
        let (mut found, missing): (HashMap<String, ServiceState>, HashMap<String, String>) = match result {
            Ok(d) => (d.found.into_iter().collect(), d.missing.into_iter().collect()),
            Err(e) => {
                for id in chunk {
                    let capacity = capacity.remove(&resource_id(&id.cluster, &id.service)).unwrap_or(Ok(None));
                    let service = Err(Unread::Failed(e.clone()));
                    observed.insert((*id).clone(), ObservedService { service, capacity, entry: None });
                }
                continue;
            }
        };
        for id in chunk {
            let service = found
                .remove(&id.service)
                .ok_or_else(|| Unread::Missing(missing.get(&id.service).cloned().unwrap_or_else(|| "MISSING".into())));
            let capacity = capacity.remove(&resource_id(&id.cluster, &id.service)).unwrap_or(Ok(None));
            let key = service.as_ref().ok().and_then(|s| entry_key(&s.arn, id));
            let entry = entries.as_ref().map(|read| match read {
                Ok(found) => Ok(key.and_then(|k| found.get(&k).cloned())),
                Err(e) => Err(e.clone()),
            });
            observed.insert((*id).clone(), ObservedService { service, capacity, entry });
        }
    }
    observed
}

/// Every scheduled action of the given scalable targets (`service/CLUSTER/NAME`).
pub async fn scheduled_actions<A: ScalableTargets>(
    aws: &A,
    resource_ids: &[String],
) -> Result<Vec<ScheduledAction>, AwsError> {
    let all = aws.scheduled_actions().await?;
    Ok(all.into_iter().filter(|a| resource_ids.contains(&a.resource_id)).collect())
}

/// One service read again, with its scalable target's min/max when `capacity` (DescribeServices,
/// then DescribeScalableTargets).
pub async fn service_again<A: Services + ScalableTargets>(
    aws: &A,
    id: &ServiceRef,
    capacity: bool,
) -> Result<ServiceState, AwsError> {
    let rid = resource_id(&id.cluster, &id.service);
    let capacity = if capacity {
        aws.describe_capacities(std::slice::from_ref(&rid)).await?.into_iter().find(|(r, _)| *r == rid)
    } else {
        None
    };
    let described = aws.describe_services(&id.cluster, std::slice::from_ref(&id.service)).await?;
    let Some((_, mut state)) = described.found.into_iter().find(|(name, _)| *name == id.service) else {
        let why = described.missing.first().map_or("not found", |(_, reason)| reason.as_str()).to_string();
        return Err(AwsError::in_response("DescribeServices", ErrorKind::NotFound, why));
    };
    state.capacity = capacity.map(|(_, c)| c);
    Ok(state)
}

/// Whether every task of each of the services `ids` is gone (a stop's group waits for that):
/// every task listed for the service, with desired status RUNNING or STOPPED (ECS is stopping
/// it, draining it from its load balancers first, or stopped it lately), has reached STOPPED.
/// ListTasks twice and DescribeTasks (100 a call) per service; the tasks are told apart by
/// their group, `service:NAME`, as everywhere (moto ignores ListTasks' `serviceName`).
pub async fn tasks_gone<A: Tasks>(
    aws: &A,
    ids: &[ServiceRef],
    concurrency: usize,
) -> HashMap<ServiceRef, Result<bool, AwsError>> {
    stream::iter(ids.iter().map(|id| async move {
        let gone = async {
            let mut arns = aws.list_running_tasks(&id.cluster, &id.service).await?;
            arns.extend(aws.list_stopping_tasks(&id.cluster, &id.service).await?);
            for chunk in arns.chunks(DESCRIBE_TASKS_BATCH) {
                let tasks = aws.describe_tasks(&id.cluster, chunk).await?;
                if tasks.iter().any(|t| t.service_name() == Some(id.service.as_str()) && t.last_status != "STOPPED") {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        (id.clone(), gone.await)
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await
}

/// The RUNNING tasks of the services `ids`: ListTasks once per cluster where the cluster has
/// several of them (its tasks of every service, 100 a page; if that takes more pages than it
/// has services, per service instead), else per service; then DescribeTasks (100 per call) for
/// each cluster's listed tasks together. `tasks_of` picks each service's tasks by their group.
pub async fn tasks<A: Tasks>(aws: &A, ids: &[ServiceRef], concurrency: usize) -> ObservedTasks {
    let clusters = by_cluster(ids);
    let whole = stream::iter(
        clusters
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(cluster, ids)| async move { (*cluster, ids, aws.list_cluster_tasks(cluster, ids.len()).await) }),
    )
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    let mut per_service: Vec<&ServiceRef> =
        clusters.values().filter(|ids| ids.len() == 1).flat_map(|ids| ids.iter().copied()).collect();
    let mut listed: Vec<(&ServiceRef, Result<Vec<String>, AwsError>)> = Vec::new();
    let mut cluster_lists: Vec<(&str, Vec<String>)> = Vec::new();
    for (cluster, ids, result) in whole {
        match result {
            Ok(Some(arns)) => cluster_lists.push((cluster, arns)),
            Ok(None) => per_service.extend(ids.iter().copied()),
            Err(e) => listed.extend(ids.iter().map(|id| (*id, Err(e.clone())))),
        }
    }
    let one_by_one = stream::iter(
        per_service.into_iter().map(|id| async move { (id, aws.list_running_tasks(&id.cluster, &id.service).await) }),
    )
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    listed.extend(one_by_one);

    let mut observed = ObservedTasks::default();
    let mut arns_by_cluster: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for id in ids {
        arns_by_cluster.entry(id.cluster.as_str()).or_default();
    }
    for (cluster, arns) in cluster_lists {
        arns_by_cluster.entry(cluster).or_default().extend(arns);
    }
    for (id, listed) in listed {
        match listed {
            Ok(arns) => arns_by_cluster.entry(id.cluster.as_str()).or_default().extend(arns),
            Err(e) => {
                observed.list_failures.insert(id.clone(), e);
            }
        }
    }

    let described = stream::iter(arns_by_cluster.iter().flat_map(|(cluster, arns)| {
        let arns: Vec<String> = arns.iter().cloned().collect();
        arns.chunks(DESCRIBE_TASKS_BATCH)
            .map(<[String]>::to_vec)
            .collect::<Vec<_>>()
            .into_iter()
            .map(move |chunk| async move { (*cluster, aws.describe_tasks(cluster, &chunk).await) })
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;

    for cluster in arns_by_cluster.keys() {
        observed.clusters.insert(cluster.to_string(), Ok(Vec::new()));
    }
    for (cluster, described) in described {
        let entry = observed.clusters.entry(cluster.to_string()).or_insert_with(|| Ok(Vec::new()));
        match (described, entry) {
            (Ok(tasks), Ok(all)) => all.extend(tasks),
            (Err(e), entry) => *entry = Err(e),
            (Ok(_), Err(_)) => {}
        }
    }
    observed
}

/// Target types and registered targets of the given target groups, and the EC2 instance ids of
/// the given container instances (per cluster).
pub async fn targets<A: TargetGroups + Tasks>(
    aws: &A,
    target_groups: &BTreeSet<String>,
    container_instances: &BTreeMap<String, BTreeSet<String>>,
    concurrency: usize,
) -> TargetFacts {
    let mut facts = TargetFacts::default();
    let arns: Vec<String> = target_groups.iter().cloned().collect();
    let typed = stream::iter(
        arns.chunks(DESCRIBE_TARGET_GROUPS_BATCH).map(|chunk| async move { describe_types(aws, chunk).await }),
    )
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>();
    let instances = stream::iter(container_instances.iter().flat_map(|(cluster, arns)| {
        let arns: Vec<String> = arns.iter().cloned().collect();
        arns.chunks(DESCRIBE_TASKS_BATCH).map(<[String]>::to_vec).collect::<Vec<_>>().into_iter().map(
            move |chunk| async move {
                let result = aws.describe_container_instances(cluster, &chunk).await;
                (chunk, result)
            },
        )
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>();
    let (typed, instances) = futures_util::join!(typed, instances);

    for types in typed {
        facts.types.extend(types);
    }
    for (chunk, result) in instances {
        match result {
            Ok(pairs) => facts.instances.extend(pairs),
            Err(e) => facts.instance_failures.extend(chunk.into_iter().map(|arn| (arn, e.clone()))),
        }
    }
    let typed: Vec<String> =
        facts.types.iter().filter(|(_, t)| t.is_ok()).map(|(arn, _)| arn.clone()).collect::<Vec<_>>();
    facts.registered = registered(aws, &typed, concurrency).await;
    facts
}

/// DescribeTargetHealth of each target group.
pub async fn registered<A: TargetGroups>(
    aws: &A,
    target_groups: &[String],
    concurrency: usize,
) -> HashMap<String, Result<Vec<RegisteredTarget>, AwsError>> {
    stream::iter(target_groups.iter().map(|arn| async move { (arn.clone(), aws.registered_targets(arn).await) }))
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// DescribeTargetGroups for a batch; when one ARN of the batch is gone the whole call fails,
/// so then ask one by one to tell which. A target group missing from an answer is left out.
async fn describe_types<A: TargetGroups>(aws: &A, chunk: &[String]) -> Vec<(String, Result<TargetType, AwsError>)> {
    match aws.describe_target_types(chunk).await {
        Ok(types) => types.into_iter().map(|(arn, t)| (arn, Ok(t))).collect(),
        Err(e) if e.kind == ErrorKind::NotFound && chunk.len() > 1 => {
            let mut types = Vec::new();
            for arn in chunk {
                match aws.describe_target_types(std::slice::from_ref(arn)).await {
                    Ok(t) => types.extend(t.into_iter().map(|(arn, t)| (arn, Ok(t)))),
                    Err(e) => types.push((arn.clone(), Err(e))),
                }
            }
            types
        }
        Err(e) => chunk.iter().map(|arn| (arn.clone(), Err(e.clone()))).collect(),
    }
}

// ---- Spot ----

/// DescribeServices of one service and, when asked, DescribeContainerInstances of one container
/// instance, side by side.
pub async fn interrupted_task<A: Services + Tasks>(
    aws: &A,
    id: &ServiceRef,
    describe_service: bool,
    container_instance: Option<&str>,
) -> (Option<Result<Option<ServiceState>, AwsError>>, Option<Result<Vec<(String, String)>, AwsError>>) {
    let service = async {
        if !describe_service {
            return None;
        }
        let described = aws.describe_services(&id.cluster, std::slice::from_ref(&id.service)).await;
        Some(described.map(|d| d.found.into_iter().next().map(|(_, s)| s)))
    };
    let instance = async {
        let ci = container_instance?;
        Some(aws.describe_container_instances(&id.cluster, &[ci.to_string()]).await)
    };
    futures_util::join!(service, instance)
}

/// ListContainerInstances (`ec2InstanceId == …`) in each cluster, side by side.
pub async fn container_instance_of<'a, A: Tasks>(
    aws: &A,
    clusters: &[&'a str],
    instance_id: &str,
) -> Vec<(&'a str, Result<Option<String>, AwsError>)> {
    futures_util::future::join_all(
        clusters.iter().map(|c| async move { (*c, aws.find_container_instance(c, instance_id).await) }),
    )
    .await
}

/// What runs on one container instance: its tasks, the services they belong to (by `group`),
/// and the types of those services' target groups.
#[derive(Debug, Default)]
pub struct OnInstance {
    pub problems: Vec<crate::error::Failure>,
    pub services: Vec<(String, ServiceState)>,
    pub types: HashMap<String, TargetType>,
}

/// ListTasks on the instance, DescribeTasks, DescribeServices of their services, and
/// DescribeTargetGroups of those services' target groups, each batch in turn.
pub async fn on_instance<A: Tasks + Services + TargetGroups>(aws: &A, cluster: &str, ci: &str) -> OnInstance {
    use crate::error::Failure;
    let mut found = OnInstance::default();
    let arns = match aws.list_tasks_on_instance(cluster, ci).await {
        Ok(arns) => arns,
        Err(e) => {
            found.problems.push(Failure::aws(&e, format!("cannot list the tasks on {ci}: {e}")));
            return found;
        }
    };
    let mut names = BTreeSet::new();
    for chunk in arns.chunks(DESCRIBE_TASKS_BATCH) {
        match aws.describe_tasks(cluster, chunk).await {
            Ok(tasks) => names.extend(tasks.iter().filter_map(Task::service_name).map(str::to_string)),
            Err(e) => found.problems.push(Failure::aws(&e, format!("cannot describe the tasks on {ci}: {e}"))),
        }
    }
    let names: Vec<String> = names.into_iter().collect();
    for chunk in names.chunks(DESCRIBE_SERVICES_BATCH) {
        match aws.describe_services(cluster, chunk).await {
            Ok(d) => found.services.extend(d.found),
            Err(e) => {
                found.problems.push(Failure::aws(&e, format!("cannot describe services {}: {e}", chunk.join(", "))))
            }
        }
    }
    let tgs: BTreeSet<String> = found
        .services
        .iter()
        .flat_map(|(_, s)| s.load_balancers.iter().chain(&s.task_set_load_balancers))
        .map(|b| b.target_group_arn.clone())
        .collect();
    let tgs: Vec<String> = tgs.into_iter().collect();
    for chunk in tgs.chunks(DESCRIBE_TARGET_GROUPS_BATCH) {
        match aws.describe_target_types(chunk).await {
            Ok(t) => found.types.extend(t),
            Err(e) => found.problems.push(Failure::aws(&e, format!("cannot describe target groups: {e}"))),
        }
    }
    found
}
