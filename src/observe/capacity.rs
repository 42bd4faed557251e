//! The reads behind an EC2-backed environment's capacity: its Auto Scaling groups, the capacity
//! providers they back, who runs on their instances, and which groups a cluster's instances
//! belong to. Reads only; `plan::capacity` decides.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, stream};

use crate::aws::{
    AutoScalingGroups, DESCRIBE_AUTOSCALING_INSTANCES_BATCH, DESCRIBE_SERVICES_BATCH, DESCRIBE_TASKS_BATCH, Services,
    Tasks,
};
use crate::error::{AwsError, Failure};
use crate::plan::capacity::{Occupants, occupants};
use crate::schedule::ServiceRef;
use crate::state::{AutoScalingGroup, ContainerInstance};

/// The groups of these names, as DescribeAutoScalingGroups shows them (one call for up to 100
/// names; a name it does not show does not exist). A failed read is every group's failure.
pub async fn groups<A: AutoScalingGroups>(
    aws: &A,
    names: &[String],
) -> BTreeMap<String, Result<AutoScalingGroup, Failure>> {
    let mut found = BTreeMap::new();
    for chunk in names.chunks(100) {
        match aws.describe_groups(chunk).await {
            Ok(groups) => found.extend(groups.into_iter().map(|g| (g.name.clone(), Ok(g)))),
            Err(e) => found.extend(
                chunk.iter().map(|n| (n.clone(), Err(Failure::aws(&e, format!("could not read the group: {e}"))))),
            ),
        }
    }
    found
}

/// Every container instance of the clusters (ListContainerInstances, DescribeContainerInstances
/// by the hundred), by cluster.
pub async fn container_instances<A: Tasks>(
    aws: &A,
    clusters: &BTreeSet<String>,
    concurrency: usize,
) -> Result<BTreeMap<String, Vec<ContainerInstance>>, AwsError> {
    let listed = stream::iter(clusters.iter().map(|cluster| async move {
        let arns = aws.list_container_instances(cluster).await?;
        let mut all = Vec::new();
        for chunk in arns.chunks(DESCRIBE_TASKS_BATCH) {
            all.extend(aws.describe_container_instance_states(cluster, chunk).await?);
        }
        Ok::<_, AwsError>((cluster.clone(), all))
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    listed.into_iter().collect()
}

/// Who runs on each group's instances in the clusters: the tasks on the container instances
/// whose EC2 instance is one of the group's (ListTasks per container instance, DescribeTasks by
/// the hundred), judged by [`occupants`]; the services among the others are described (by
/// ten) to leave their daemons out.
pub async fn on_groups<A: Tasks + Services>(
    aws: &A,
    groups: &[&AutoScalingGroup],
    clusters: &BTreeSet<String>,
    stopped: &BTreeSet<ServiceRef>,
    concurrency: usize,
) -> Result<BTreeMap<String, Occupants>, AwsError> {
    let instances = container_instances(aws, clusters, concurrency).await?;
    let mut found = BTreeMap::new();
    for group in groups {
        let ids: BTreeSet<&str> = group.instances.iter().map(String::as_str).collect();
        let on: Vec<(&str, &str)> = instances
            .iter()
            .flat_map(|(cluster, cis)| {
                cis.iter()
                    .filter(|ci| ids.contains(ci.ec2_instance_id.as_str()))
                    .map(|ci| (cluster.as_str(), ci.arn.as_str()))
            })
            .collect();
        let tasks = stream::iter(on.into_iter().map(|(cluster, ci)| async move {
            let arns = aws.list_tasks_on_instance(cluster, ci).await?;
            let mut groups = Vec::new();
            for chunk in arns.chunks(DESCRIBE_TASKS_BATCH) {
                let described = aws.describe_tasks(cluster, chunk).await?;
                groups.extend(described.into_iter().filter(|t| t.last_status != "STOPPED").map(|t| (cluster, t.group)));
            }
            Ok::<_, AwsError>(groups)
        }))
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<(&str, Option<String>)>>();
        let daemons = daemons_among(aws, &tasks, stopped).await?;
        let judged = occupants(tasks.iter().map(|(c, g)| (*c, g.as_deref())), stopped, &daemons);
        found.insert(group.name.clone(), judged);
    }
    Ok(found)
}

/// The daemon services among the services of `tasks` that this run did not stop.
async fn daemons_among<A: Services>(
    aws: &A,
    tasks: &[(&str, Option<String>)],
    stopped: &BTreeSet<ServiceRef>,
) -> Result<BTreeSet<ServiceRef>, AwsError> {
    let mut by_cluster: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (cluster, group) in tasks {
        if let Some(service) = group.as_deref().and_then(|g| g.strip_prefix("service:")) {
            let id = ServiceRef::new(*cluster, service);
            if !stopped.contains(&id) {
                by_cluster.entry(cluster).or_default().insert(id.service);
            }
        }
    }
    let mut daemons = BTreeSet::new();
    for (cluster, names) in by_cluster {
        let names: Vec<String> = names.into_iter().collect();
        for chunk in names.chunks(DESCRIBE_SERVICES_BATCH) {
            let described = aws.describe_services(cluster, chunk).await?;
            daemons.extend(
                described.found.into_iter().filter(|(_, s)| s.daemon).map(|(name, _)| ServiceRef::new(cluster, name)),
            );
        }
    }
    Ok(daemons)
}

/// The Auto Scaling group of each EC2 instance behind the clusters' container instances
/// (DescribeAutoScalingInstances by fifty): (cluster, group) -> instance count.
pub async fn groups_of_clusters<A: Tasks + AutoScalingGroups>(
    aws: &A,
    clusters: &BTreeSet<String>,
    concurrency: usize,
) -> Result<BTreeMap<(String, String), usize>, AwsError> {
    let instances = container_instances(aws, clusters, concurrency).await?;
    let ids: Vec<String> = instances
        .values()
        .flatten()
        .map(|ci| ci.ec2_instance_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut group_of = BTreeMap::new();
    for chunk in ids.chunks(DESCRIBE_AUTOSCALING_INSTANCES_BATCH) {
        group_of.extend(aws.groups_of_instances(chunk).await?);
    }
    let mut counts = BTreeMap::new();
    for (cluster, cis) in &instances {
        for ci in cis {
            if let Some(group) = group_of.get(&ci.ec2_instance_id) {
                *counts.entry((cluster.clone(), group.clone())).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

/// How many of the group's instances (as the group shows them now) are ACTIVE container
/// instances of the clusters.
pub async fn registered<A: Tasks + AutoScalingGroups>(
    aws: &A,
    name: &str,
    clusters: &BTreeSet<String>,
    concurrency: usize,
) -> Result<usize, AwsError> {
    let Some(group) = aws.describe_groups(&[name.to_string()]).await?.into_iter().next() else { return Ok(0) };
    let ids: BTreeSet<&str> = group.instances.iter().map(String::as_str).collect();
    let instances = container_instances(aws, clusters, concurrency).await?;
    Ok(instances
        .values()
        .flatten()
        .filter(|ci| ci.status == "ACTIVE" && ids.contains(ci.ec2_instance_id.as_str()))
        .count())
}
