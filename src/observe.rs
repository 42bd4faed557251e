//! Batched reads: the current state of an environment's services, their tasks and target
//! groups, in as few sequential round trips as the APIs allow. No decisions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::stream::{self, StreamExt};

use crate::aws::{
    DESCRIBE_SCALABLE_TARGETS_BATCH, DESCRIBE_SERVICES_BATCH, DESCRIBE_TARGET_GROUPS_BATCH, DESCRIBE_TASKS_BATCH,
    ScalableTargets, Services, TargetGroups, Tasks, resource_id,
};
use crate::error::{AwsError, AwsErrorKind};
use crate::plan::TargetFacts;
use crate::schedule::ServiceRef;
use crate::state::{ServiceState, TargetType, Task};

/// Per service: its state, or why it could not be read.
pub type ServiceStates = HashMap<ServiceRef, Result<ServiceState, String>>;

/// Services grouped by cluster, clusters in a stable order.
fn by_cluster<'a>(ids: impl IntoIterator<Item = &'a ServiceRef>) -> BTreeMap<&'a str, Vec<&'a ServiceRef>> {
    let mut clusters: BTreeMap<&str, Vec<&ServiceRef>> = BTreeMap::new();
    for id in ids {
        clusters.entry(id.cluster.as_str()).or_default().push(id);
    }
    clusters
}

/// DescribeServices (10 per call, tags included) and DescribeScalableTargets (50 per call),
/// all batches concurrently: one round trip for up to `concurrency` batches.
pub async fn services<A: Services + ScalableTargets>(aws: &A, ids: &[ServiceRef], concurrency: usize) -> ServiceStates {
    let clusters = by_cluster(ids);
    let describe = stream::iter(clusters.iter().flat_map(|(cluster, ids)| {
        ids.chunks(DESCRIBE_SERVICES_BATCH).map(move |chunk| async move {
            let names: Vec<String> = chunk.iter().map(|id| id.service.clone()).collect();
            (*cluster, chunk, aws.describe_services(cluster, &names).await)
        })
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

    let mut capacity = HashMap::new();
    let mut capacity_errors = HashMap::new();
    for (chunk, result) in capacities {
        match result {
            Ok(found) => capacity.extend(found),
            Err(e) => capacity_errors.extend(chunk.iter().map(|rid| (rid.clone(), e.to_string()))),
        }
    }

    let mut states = ServiceStates::new();
    for (cluster, chunk, result) in described {
        match result {
            Err(e) => {
                let why = describe_error(cluster, &e);
                states.extend(chunk.iter().map(|id| ((*id).clone(), Err(why.clone()))));
            }
            Ok(d) => {
                let mut found: HashMap<String, ServiceState> = d.found.into_iter().collect();
                let missing: HashMap<String, String> = d.missing.into_iter().collect();
                for id in chunk {
                    let state = match found.remove(&id.service) {
                        Some(mut state) => {
                            let rid = resource_id(&id.cluster, &id.service);
                            match capacity_errors.get(&rid) {
                                Some(e) => Err(e.clone()),
                                None => {
                                    state.capacity = capacity.get(&rid).copied();
                                    Ok(state)
                                }
                            }
                        }
                        None => Err(format!(
                            "service {} not found in cluster {} (DescribeServices: {})",
                            id.service,
                            id.cluster,
                            missing.get(&id.service).map(String::as_str).unwrap_or("MISSING")
                        )),
                    };
                    states.insert((*id).clone(), state);
                }
            }
        }
    }
    states
}

fn describe_error(cluster: &str, e: &AwsError) -> String {
    if e.kind == AwsErrorKind::NotFound {
        format!("cluster {cluster} not found in this account and region ({e})")
    } else {
        e.to_string()
    }
}

/// Per service: its tasks whose desired status is RUNNING, or why they could not be read.
pub type ServiceTasks = HashMap<ServiceRef, Result<Vec<Task>, String>>;

/// ListTasks per service, then DescribeTasks (100 per call) for each cluster's tasks together.
/// Tasks are matched to services by their `group` (`service:NAME`), not by the list they came
/// from.
pub async fn tasks<A: Tasks>(aws: &A, ids: &[ServiceRef], concurrency: usize) -> ServiceTasks {
    let clusters = by_cluster(ids);
    let listed =
        stream::iter(ids.iter().map(|id| async move { (id, aws.list_running_tasks(&id.cluster, &id.service).await) }))
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await;

    let mut result = ServiceTasks::new();
    let mut arns_by_cluster: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (id, listed) in listed {
        match listed {
            Ok(arns) => arns_by_cluster.entry(id.cluster.as_str()).or_default().extend(arns),
            Err(e) => {
                result.insert(id.clone(), Err(e.to_string()));
            }
        }
    }

    let described = stream::iter(arns_by_cluster.iter().flat_map(|(cluster, arns)| {
        let arns: Vec<String> = arns.iter().cloned().collect();
        arns.chunks(DESCRIBE_TASKS_BATCH)
            .map(|c| c.to_vec())
            .collect::<Vec<_>>()
            .into_iter()
            .map(move |chunk| async move { (*cluster, aws.describe_tasks(cluster, &chunk).await) })
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;

    let mut by_group: HashMap<(&str, String), Vec<Task>> = HashMap::new();
    let mut cluster_errors: HashMap<&str, String> = HashMap::new();
    for (cluster, described) in described {
        match described {
            Ok(tasks) => {
                for task in tasks {
                    if let Some(group) = task.group.clone() {
                        by_group.entry((cluster, group)).or_default().push(task);
                    }
                }
            }
            Err(e) => {
                cluster_errors.insert(cluster, e.to_string());
            }
        }
    }
    for (cluster, ids) in clusters {
        for id in ids {
            if result.contains_key(id) {
                continue;
            }
            let tasks = match cluster_errors.get(cluster) {
                Some(e) => Err(e.clone()),
                None => Ok(by_group.remove(&(cluster, format!("service:{}", id.service))).unwrap_or_default()),
            };
            result.insert(id.clone(), tasks);
        }
    }
    result
}

/// Target types, registered targets and EC2 instance ids for the given target groups and
/// container instances. Errors are per target group (or per cluster for instances).
pub async fn targets<A: TargetGroups + Tasks>(
    aws: &A,
    target_groups: &BTreeSet<String>,
    container_instances: &BTreeMap<String, BTreeSet<String>>,
    concurrency: usize,
) -> (TargetFacts, HashMap<String, String>) {
    let mut facts = TargetFacts::default();
    let mut errors = HashMap::new();

    let arns: Vec<String> = target_groups.iter().cloned().collect();
    let typed = stream::iter(
        arns.chunks(DESCRIBE_TARGET_GROUPS_BATCH).map(|chunk| async move { describe_types(aws, chunk).await }),
    )
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>();
    let instances = stream::iter(container_instances.iter().flat_map(|(cluster, arns)| {
        let arns: Vec<String> = arns.iter().cloned().collect();
        arns.chunks(DESCRIBE_TASKS_BATCH)
            .map(|c| c.to_vec())
            .collect::<Vec<_>>()
            .into_iter()
            .map(move |chunk| async move { (cluster, aws.describe_container_instances(cluster, &chunk).await) })
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>();
    let (typed, instances) = futures_util::join!(typed, instances);

    for (types, errs) in typed {
        facts.types.extend(types);
        errors.extend(errs);
    }
    for (cluster, result) in instances {
        match result {
            Ok(pairs) => facts.instances.extend(pairs),
            Err(e) => {
                errors.insert(format!("container instances of {cluster}"), e.to_string());
            }
        }
    }

    let wanted: Vec<&String> =
        facts.types.iter().filter(|(_, t)| **t != TargetType::Other).map(|(arn, _)| arn).collect();
    let registered =
        stream::iter(wanted.into_iter().map(|arn| async move { (arn.clone(), aws.registered_targets(arn).await) }))
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await;
    for (arn, result) in registered {
        match result {
            Ok(targets) => {
                facts.registered.insert(arn, targets.into_iter().collect());
            }
            Err(e) => {
                facts.types.remove(&arn);
                errors.insert(arn, e.to_string());
            }
        }
    }
    (facts, errors)
}

/// DescribeTargetGroups for a batch; when one ARN of the batch is gone the whole call fails,
/// so then ask one by one to tell which.
async fn describe_types<A: TargetGroups>(
    aws: &A,
    chunk: &[String],
) -> (Vec<(String, TargetType)>, Vec<(String, String)>) {
    match aws.describe_target_types(chunk).await {
        Ok(types) => (types, Vec::new()),
        Err(e) if e.kind == AwsErrorKind::NotFound && chunk.len() > 1 => {
            let mut types = Vec::new();
            let mut errors = Vec::new();
            for arn in chunk {
                match aws.describe_target_types(std::slice::from_ref(arn)).await {
                    Ok(t) => types.extend(t),
                    Err(e) => errors.push((arn.clone(), e.to_string())),
                }
            }
            (types, errors)
        }
        Err(e) => (Vec::new(), chunk.iter().map(|arn| (arn.clone(), e.to_string())).collect()),
    }
}
