//! The capability traits on the real AWS SDK clients. Only reads and writes: no decisions.
//! Answers are converted faithfully; a value our types cannot hold fails the call by name.

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_applicationautoscaling::config::interceptors::InterceptorContext;
use aws_sdk_applicationautoscaling::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsError;
use aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetError;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};
use aws_sdk_ecs::operation::list_tasks::builders::ListTasksFluentBuilder;
use aws_sdk_ecs::types::{DesiredStatus, ServiceField};
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum, TargetTypeEnum};

use super::paced::Pace;
use super::{
    AutoScalingGroups, DescribedServices, Paced, Places, ScalableTargets, Schedules, Services, TargetGroups,
    TaskDefinitions, Tasks,
};
use crate::error::{AwsError, ErrorKind};
use crate::pace::{Buckets, Limits};
use crate::pricing::StrategyItem;
use crate::schedule::{Account, Place};
use crate::state::{
    AutoScalingGroup, Capacity, CapacityProvider, Container, ContainerInstance, GroupSize, OneTimeSchedule, Placement,
    RegisteredTarget, ScheduledAction, ServiceState, Suspended, Target, TargetBinding, TargetHealth, TargetType, Task,
    TaskDefinition,
};

/// The retry policy every client uses: standard (exponential back-off with jitter), 5 attempts.
/// Not adaptive: the calls are paced to AWS's buckets already ([`Pace`]), and adaptive mode's
/// own rate limiter, once throttled, cut a client to a quarter of its bucket's refill for tens
/// of seconds.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(5)
}

/// How long one attempt may take: an endpoint that never answers must not hold the invocation
/// (and its report) until Lambda kills it. There is no SDK operation timeout: it would count a
/// throttled call's back-off against the call; [`Pace`] bounds every call by the run's deadline
/// instead (30 s outside a run).
pub fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(std::time::Duration::from_secs(10))
        .build()
}

/// The SDK clients the handler talks to, one per AWS service.
#[derive(Clone, Debug)]
pub struct Sdk {
    pub ecs: aws_sdk_ecs::Client,
    pub scaling: aws_sdk_applicationautoscaling::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The token buckets every call is paced by, and the count of throttled answers.
    pub pace: Pace,
    /// The clients of the other accounts and regions, made as runs need them (`spokes.rs`);
    /// None: these clients reach only their own.
    pub spokes: Option<std::sync::Arc<super::spokes::Spokes>>,
}

impl Sdk {
    /// Clients from the environment, as the AWS CLI finds it (region, credentials, profile,
    /// `AWS_ENDPOINT_URL`), with our retry policy and timeouts. The Lambda and the CLI's `invoke`
    /// both start here.
    pub async fn from_env(limits: &Limits) -> Result<Sdk, String> {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(retry_config())
            .timeout_config(timeout_config())
            .load()
            .await;
        if config.region().is_none() {
            return Err("no AWS region: set AWS_REGION or use a profile that has one".into());
        }
        Ok(Sdk::with_spokes(&config, limits))
    }

    /// The region the clients call, as the configuration found it (environment, profile).
    pub fn region(&self) -> Option<String> {
        self.ecs.config().region().map(ToString::to_string)
    }

    /// Clients from one loaded configuration (region, credentials, `AWS_ENDPOINT_URL`, retries),
    /// paced by AWS's published buckets.
    pub fn new(config: &SdkConfig) -> Sdk {
        Sdk::paced(config, &Limits::default())
    }

    /// The same, paced by `limits`, on the configuration's clock and sleep.
    pub fn paced(config: &SdkConfig, limits: &Limits) -> Sdk {
        let pace = match (config.sleep_impl(), config.time_source()) {
            (Some(sleep), Some(time)) => Pace::new(limits.clone(), sleep, time),
            _ => Pace::default(),
        };
        let counter = pace.counter();
        Sdk {
            ecs: aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::config::Builder::from(config).interceptor(counter.clone()).build(),
            ),
            scaling: aws_sdk_applicationautoscaling::Client::from_conf(
                retry_concurrent_updates(config.into()).interceptor(counter.clone()).build(),
            ),
            autoscaling: aws_sdk_autoscaling::Client::from_conf(
                aws_sdk_autoscaling::config::Builder::from(config).interceptor(counter.clone()).build(),
            ),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(config).interceptor(counter.clone()).build(),
            ),
            scheduler: aws_sdk_scheduler::Client::from_conf(
                aws_sdk_scheduler::config::Builder::from(config).interceptor(counter.clone()).build(),
            ),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(config).interceptor(counter).build(),
            ),
            pace,
            spokes: None,
        }
    }

    /// The same, able to reach the other accounts and regions of a schedule file (the Lambda's
    /// and the CLI's clients).
    pub fn with_spokes(config: &SdkConfig, limits: &Limits) -> Sdk {
        let mut sdk = Sdk::paced(config, limits);
        sdk.spokes = Some(std::sync::Arc::new(super::spokes::Spokes::new(config, limits, &sdk)));
        sdk
    }
}

impl Places for Sdk {
    async fn at(&self, place: &Place, role: Option<&Account>, session: &str) -> Result<Sdk, AwsError> {
        match &self.spokes {
            Some(spokes) => spokes.at(place, role, session).await,
            None => Err(super::no_other_place(place)),
        }
    }
}

/// Application Auto Scaling answers `ConcurrentUpdateException` while another update of the
/// same scalable target is in progress (a scaling activity, a second invocation). The SDK's
/// standard classifier does not know that code, so without this one conflict fails the service.
pub fn retry_concurrent_updates(
    builder: aws_sdk_applicationautoscaling::config::Builder,
) -> aws_sdk_applicationautoscaling::config::Builder {
    builder.retry_classifier(ConcurrentUpdateIsRetried)
}

#[derive(Debug)]
struct ConcurrentUpdateIsRetried;

impl ClassifyRetry for ConcurrentUpdateIsRetried {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        let Some(error) = error.as_operation_error() else { return RetryAction::NoActionIndicated };
        // The two operations this crate calls; the error type is per operation.
        let conflict = error
            .downcast_ref::<RegisterScalableTargetError>()
            .is_some_and(|e| e.is_concurrent_update_exception())
            || error.downcast_ref::<DescribeScalableTargetsError>().is_some_and(|e| e.is_concurrent_update_exception());
        if conflict { RetryAction::transient_error() } else { RetryAction::NoActionIndicated }
    }

    fn name(&self) -> &'static str {
        "ConcurrentUpdateException is retried"
    }
}

fn count(n: i32) -> u32 {
    n.max(0) as u32
}

/// A port as the API gives it (an i32, 0..=65535 by definition). One outside that range is an
/// answer our types cannot hold: the call fails naming it rather than dropping the value.
fn port(operation: &'static str, n: Option<i32>) -> Result<Option<u16>, AwsError> {
    n.map(|p| {
        u16::try_from(p)
            .map_err(|_| AwsError::in_response(operation, ErrorKind::Transient, format!("the answer holds port {p}")))
    })
    .transpose()
}

/// A load balancer of the service by target group; None for a Classic Load Balancer (no target
/// group: nothing of ours to register).
fn binding(lb: &aws_sdk_ecs::types::LoadBalancer) -> Result<Option<TargetBinding>, AwsError> {
    let port = port("DescribeServices", lb.container_port())?;
    Ok(match (lb.target_group_arn(), lb.container_name(), port) {
        (Some(tg), Some(container), Some(container_port)) => {
            Some(TargetBinding { target_group_arn: tg.to_string(), container: container.to_string(), container_port })
        }
        _ => None,
    })
}

fn bindings<'a>(
    lbs: impl IntoIterator<Item = &'a aws_sdk_ecs::types::LoadBalancer>,
) -> Result<Vec<TargetBinding>, AwsError> {
    lbs.into_iter().filter_map(|lb| binding(lb).transpose()).collect()
}

impl Services for Sdk {
    async fn describe_services(&self, cluster: &str, names: &[String]) -> Result<DescribedServices, AwsError> {
        let out = self
            .pace
            .call("DescribeServices", || async {
                self.ecs
                    .describe_services()
                    .cluster(cluster)
                    .set_services(Some(names.to_vec()))
                    .include(ServiceField::Tags)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeServices", e))
            })
            .await?;
        let mut described = DescribedServices::default();
        for s in out.services() {
            let state = ServiceState {
                arn: s.service_arn().unwrap_or_default().to_string(),
                status: s.status().unwrap_or_default().to_string(),
                desired: count(s.desired_count()),
                daemon: s.scheduling_strategy() == Some(&aws_sdk_ecs::types::SchedulingStrategy::Daemon),
                tags: s
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                    .collect(),
                load_balancers: bindings(s.load_balancers())?,
                task_set_load_balancers: bindings(s.task_sets().iter().flat_map(|t| t.load_balancers()))?,
                capacity: None,
                entry: None,
                placement: Placement {
                    task_definition: s.task_definition().map(str::to_string),
                    launch_type: s.launch_type().map(|l| l.as_str().to_string()),
                    strategy: s
                        .capacity_provider_strategy()
                        .iter()
                        .map(|c| StrategyItem {
                            provider: c.capacity_provider().to_string(),
                            base: count(c.base()),
                            weight: count(c.weight()),
                        })
                        .collect(),
                },
            };
            described.found.push((s.service_name().unwrap_or_default().to_string(), state));
        }
        for f in out.failures() {
            let arn = f.arn().unwrap_or_default();
            let name = arn.rsplit('/').next().unwrap_or(arn).to_string();
            described.missing.push((name, f.reason().unwrap_or("unknown reason").to_string()));
        }
        Ok(described)
    }

    async fn set_desired_count(&self, cluster: &str, service: &str, desired: u32) -> Result<(), AwsError> {
        self.pace
            .call("UpdateService", || async {
                self.ecs
                    .update_service()
                    .cluster(cluster)
                    .service(service)
                    .desired_count(desired as i32)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("UpdateService", e))
            })
            .await?;
        Ok(())
    }

    async fn tag_service(&self, arn: &str, key: &str, value: &str) -> Result<(), AwsError> {
        let tag = aws_sdk_ecs::types::Tag::builder().key(key).value(value).build();
        self.pace
            .call("TagResource", || async {
                self.ecs
                    .tag_resource()
                    .resource_arn(arn)
                    .tags(tag.clone())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("TagResource", e))
            })
            .await?;
        Ok(())
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        let pages = self
            .pages(
                "ListServices",
                |token| async move {
                    self.ecs
                        .list_services()
                        .cluster(cluster)
                        .max_results(100)
                        .set_next_token(token)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("ListServices", e))
                },
                |out| out.next_token(),
            )
            .await?;
        // arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME (or service/NAME, the old form).
        let arns = pages.iter().flat_map(|out| out.service_arns());
        Ok(arns.map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_string()).collect())
    }

    async fn untag_service(&self, arn: &str, key: &str) -> Result<(), AwsError> {
        self.pace
            .call("UntagResource", || async {
                self.ecs
                    .untag_resource()
                    .resource_arn(arn)
                    .tag_keys(key)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("UntagResource", e))
            })
            .await?;
        Ok(())
    }
}

impl TaskDefinitions for Sdk {
    async fn describe_task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        let out = self
            .pace
            .call("DescribeTaskDefinition", || async {
                self.ecs
                    .describe_task_definition()
                    .task_definition(arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeTaskDefinition", e))
            })
            .await?;
        let Some(def) = out.task_definition() else {
            return Err(AwsError::in_response(
                "DescribeTaskDefinition",
                ErrorKind::NotFound,
                format!("no task definition in the answer for {arn}"),
            ));
        };
        let containers = def.container_definitions();
        Ok(TaskDefinition {
            cpu: def.cpu().map(str::to_string),
            memory: def.memory().map(str::to_string),
            containers_cpu: containers.iter().map(|c| count(c.cpu())).sum(),
            containers_memory: containers
                .iter()
                .map(|c| count(c.memory().or(c.memory_reservation()).unwrap_or(0)))
                .sum(),
            architecture: def.runtime_platform().and_then(|p| p.cpu_architecture()).map(|a| a.as_str().to_string()),
        })
    }
}

impl Tasks for Sdk {
    async fn list_running_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>, AwsError> {
        let request =
            self.ecs.list_tasks().cluster(cluster).service_name(service).desired_status(DesiredStatus::Running);
        Ok(self.list_tasks(request, None).await?.unwrap_or_default())
    }

    async fn list_stopping_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>, AwsError> {
        let request =
            self.ecs.list_tasks().cluster(cluster).service_name(service).desired_status(DesiredStatus::Stopped);
        Ok(self.list_tasks(request, None).await?.unwrap_or_default())
    }

    async fn describe_tasks(&self, cluster: &str, arns: &[String]) -> Result<Vec<Task>, AwsError> {
        let out = self
            .pace
            .call("DescribeTasks", || async {
                self.ecs
                    .describe_tasks()
                    .cluster(cluster)
                    .set_tasks(Some(arns.to_vec()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeTasks", e))
            })
            .await?;
        out.tasks()
            .iter()
            .map(|t| {
                let containers = t
                    .containers()
                    .iter()
                    .map(|c| {
                        let mut bindings = Vec::new();
                        for b in c.network_bindings() {
                            let ports =
                                (port("DescribeTasks", b.container_port())?, port("DescribeTasks", b.host_port())?);
                            // A binding without a host port yet (the task is still starting) binds nothing.
                            if let (Some(container), Some(host)) = ports {
                                bindings.push((container, host));
                            }
                        }
                        Ok(Container { name: c.name().unwrap_or_default().to_string(), bindings })
                    })
                    .collect::<Result<Vec<_>, AwsError>>()?;
                Ok(Task {
                    arn: t.task_arn().unwrap_or_default().to_string(),
                    group: t.group().map(str::to_string),
                    last_status: t.last_status().unwrap_or_default().to_string(),
                    private_ip: t
                        .attachments()
                        .iter()
                        .filter(|a| a.r#type() == Some("ElasticNetworkInterface"))
                        .flat_map(|a| a.details())
                        .find(|d| d.name() == Some("privateIPv4Address"))
                        .and_then(|d| d.value())
                        .map(str::to_string),
                    container_instance_arn: t.container_instance_arn().map(str::to_string),
                    containers,
                })
            })
            .collect()
    }

    async fn describe_container_instances(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<(String, String)>, AwsError> {
        let described = self.describe_container_instance_states(cluster, arns).await?;
        Ok(described.into_iter().map(|ci| (ci.arn, ci.ec2_instance_id)).collect())
    }

    async fn describe_container_instance_states(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<ContainerInstance>, AwsError> {
        let out = self
            .pace
            .call("DescribeContainerInstances", || async {
                self.ecs
                    .describe_container_instances()
                    .cluster(cluster)
                    .set_container_instances(Some(arns.to_vec()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeContainerInstances", e))
            })
            .await?;
        Ok(out
            .container_instances()
            .iter()
            .filter_map(|ci| {
                Some(ContainerInstance {
                    arn: ci.container_instance_arn()?.to_string(),
                    ec2_instance_id: ci.ec2_instance_id()?.to_string(),
                    status: ci.status().unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    async fn list_container_instances(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        let pages = self
            .pages(
                "ListContainerInstances",
                |token| async move {
                    self.ecs
                        .list_container_instances()
                        .cluster(cluster)
                        .set_next_token(token)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("ListContainerInstances", e))
                },
                |out| out.next_token(),
            )
            .await?;
        Ok(pages.iter().flat_map(|out| out.container_instance_arns().iter().cloned()).collect())
    }

    async fn capacity_providers(&self, clusters: &[String]) -> Result<Vec<CapacityProvider>, AwsError> {
        let described = self
            .pace
            .call("DescribeClusters", || async {
                self.ecs
                    .describe_clusters()
                    .set_clusters(Some(clusters.to_vec()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeClusters", e))
            })
            .await?;
        let names: Vec<String> = described
            .clusters()
            .iter()
            .flat_map(|c| c.capacity_providers().iter().cloned())
            .filter(|n| n != "FARGATE" && n != "FARGATE_SPOT")
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut providers = Vec::new();
        // DescribeCapacityProviders takes at most 100 names.
        for chunk in names.chunks(100) {
            let out = self
                .pace
                .call("DescribeCapacityProviders", || async {
                    self.ecs
                        .describe_capacity_providers()
                        .set_capacity_providers(Some(chunk.to_vec()))
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DescribeCapacityProviders", e))
                })
                .await?;
            for cp in out.capacity_providers() {
                let Some(asg) = cp.auto_scaling_group_provider() else { continue };
                providers.push(CapacityProvider {
                    name: cp.name().unwrap_or_default().to_string(),
                    group_arn: asg.auto_scaling_group_arn().to_string(),
                    managed_scaling: asg
                        .managed_scaling()
                        .and_then(|m| m.status())
                        .is_some_and(|s| *s == aws_sdk_ecs::types::ManagedScalingStatus::Enabled),
                    managed_termination_protection: asg
                        .managed_termination_protection()
                        .is_some_and(|p| *p == aws_sdk_ecs::types::ManagedTerminationProtection::Enabled),
                });
            }
        }
        Ok(providers)
    }

    async fn find_container_instance(&self, cluster: &str, instance_id: &str) -> Result<Option<String>, AwsError> {
        let out = self
            .pace
            .call("ListContainerInstances", || async {
                self.ecs
                    .list_container_instances()
                    .cluster(cluster)
                    .filter(format!("ec2InstanceId == {instance_id}"))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ListContainerInstances", e))
            })
            .await?;
        let arns = out.container_instance_arns().to_vec();
        if arns.is_empty() {
            return Ok(None);
        }
        // Confirm the match: the filter is the server's to apply.
        let described = self.describe_container_instances(cluster, &arns).await?;
        Ok(described.into_iter().find(|(_, id)| id == instance_id).map(|(arn, _)| arn))
    }

    async fn drain_container_instance(&self, cluster: &str, arn: &str) -> Result<(), AwsError> {
        self.pace
            .call("UpdateContainerInstancesState", || async {
                self.ecs
                    .update_container_instances_state()
                    .cluster(cluster)
                    .container_instances(arn)
                    .status(aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("UpdateContainerInstancesState", e))
            })
            .await?;
        Ok(())
    }

    async fn list_tasks_on_instance(&self, cluster: &str, container_instance: &str) -> Result<Vec<String>, AwsError> {
        let request = self.ecs.list_tasks().cluster(cluster).container_instance(container_instance);
        Ok(self.list_tasks(request, None).await?.unwrap_or_default())
    }

    async fn list_cluster_tasks(&self, cluster: &str, max_pages: usize) -> Result<Option<Vec<String>>, AwsError> {
        let request = self.ecs.list_tasks().cluster(cluster).desired_status(DesiredStatus::Running);
        self.list_tasks(request, Some(max_pages)).await
    }
}

impl AutoScalingGroups for Sdk {
    async fn describe_groups(&self, names: &[String]) -> Result<Vec<AutoScalingGroup>, AwsError> {
        let pages = self
            .pages(
                "DescribeAutoScalingGroups",
                |token| async move {
                    self.autoscaling
                        .describe_auto_scaling_groups()
                        .set_auto_scaling_group_names(Some(names.to_vec()))
                        .set_next_token(token)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DescribeAutoScalingGroups", e))
                },
                |out| out.next_token(),
            )
            .await?;
        let size = |n: Option<i32>| u32::try_from(n.unwrap_or_default()).unwrap_or_default();
        Ok(pages
            .iter()
            .flat_map(|out| out.auto_scaling_groups())
            .map(|g| AutoScalingGroup {
                name: g.auto_scaling_group_name().unwrap_or_default().to_string(),
                arn: g.auto_scaling_group_arn().unwrap_or_default().to_string(),
                size: GroupSize {
                    min: size(g.min_size()),
                    desired: size(g.desired_capacity()),
                    max: size(g.max_size()),
                },
                instances: g.instances().iter().filter_map(|i| i.instance_id().map(str::to_string)).collect(),
                tags: g
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                    .collect(),
            })
            .collect())
    }

    async fn set_group_size(&self, name: &str, size: GroupSize) -> Result<(), AwsError> {
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        self.pace
            .call("UpdateAutoScalingGroup", || async {
                self.autoscaling
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .min_size(count(size.min))
                    .desired_capacity(count(size.desired))
                    .max_size(count(size.max))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("UpdateAutoScalingGroup", e))
            })
            .await?;
        Ok(())
    }

    async fn tag_group(&self, name: &str, key: &str, value: &str) -> Result<(), AwsError> {
        let tag = aws_sdk_autoscaling::types::Tag::builder()
            .resource_id(name)
            .resource_type("auto-scaling-group")
            .key(key)
            .value(value)
            .propagate_at_launch(false)
            .build();
        self.pace
            .call("CreateOrUpdateTags", || async {
                self.autoscaling
                    .create_or_update_tags()
                    .tags(tag.clone())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("CreateOrUpdateTags", e))
            })
            .await?;
        Ok(())
    }

    async fn untag_group(&self, name: &str, key: &str) -> Result<(), AwsError> {
        let tag = aws_sdk_autoscaling::types::Tag::builder()
            .resource_id(name)
            .resource_type("auto-scaling-group")
            .key(key)
            .build();
        self.pace
            .call("DeleteTags", || async {
                self.autoscaling
                    .delete_tags()
                    .tags(tag.clone())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DeleteTags", e))
            })
            .await?;
        Ok(())
    }

    async fn groups_of_instances(&self, instance_ids: &[String]) -> Result<Vec<(String, String)>, AwsError> {
        let out = self
            .pace
            .call("DescribeAutoScalingInstances", || async {
                self.autoscaling
                    .describe_auto_scaling_instances()
                    .set_instance_ids(Some(instance_ids.to_vec()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeAutoScalingInstances", e))
            })
            .await?;
        Ok(out
            .auto_scaling_instances()
            .iter()
            .filter_map(|i| Some((i.instance_id()?.to_string(), i.auto_scaling_group_name()?.to_string())))
            .collect())
    }
}

impl Sdk {
    /// Every page of a paged operation, each one paced call of `operation`: `send(token)` for
    /// the first page (None), then for each token `next` finds in the page before.
    async fn pages<O, F, Fut>(
        &self,
        operation: &'static str,
        send: F,
        next: fn(&O) -> Option<&str>,
    ) -> Result<Vec<O>, AwsError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<O, AwsError>>,
    {
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self.pace.call(operation, || send(token.clone())).await?;
            token = next(&out).map(str::to_string);
            pages.push(out);
            if token.is_none() {
                return Ok(pages);
            }
        }
    }

    /// Every task ARN a ListTasks request lists, over all its pages (each page a paced call);
    /// None if there are more than `max_pages`.
    async fn list_tasks(
        &self,
        request: ListTasksFluentBuilder,
        max_pages: Option<usize>,
    ) -> Result<Option<Vec<String>>, AwsError> {
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        for page in 0.. {
            if max_pages.is_some_and(|m| page >= m) {
                return Ok(None);
            }
            let out = self
                .pace
                .call("ListTasks", || async {
                    request
                        .clone()
                        .set_next_token(token.clone())
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("ListTasks", e))
                })
                .await?;
            arns.extend(out.task_arns().iter().cloned());
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(Some(arns))
    }
}

impl ScalableTargets for Sdk {
    async fn describe_capacities(&self, resource_ids: &[String]) -> Result<Vec<(String, Capacity)>, AwsError> {
        let pages = self
            .pages(
                "DescribeScalableTargets",
                |token| async move {
                    self.scaling
                        .describe_scalable_targets()
                        .service_namespace(ServiceNamespace::Ecs)
                        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                        .set_resource_ids(Some(resource_ids.to_vec()))
                        .set_next_token(token)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DescribeScalableTargets", e))
                },
                |out| out.next_token(),
            )
            .await?;
        Ok(pages
            .iter()
            .flat_map(|out| out.scalable_targets())
            .map(|t| {
                let s = t.suspended_state();
                let suspended = Suspended {
                    dynamic_in: s.and_then(|s| s.dynamic_scaling_in_suspended()).unwrap_or(false),
                    dynamic_out: s.and_then(|s| s.dynamic_scaling_out_suspended()).unwrap_or(false),
                    scheduled: s.and_then(|s| s.scheduled_scaling_suspended()).unwrap_or(false),
                };
                let capacity = Capacity { min: count(t.min_capacity()), max: count(t.max_capacity()), suspended };
                (t.resource_id().to_string(), capacity)
            })
            .collect())
    }

    async fn set_capacity(&self, resource_id: &str, capacity: Capacity) -> Result<(), AwsError> {
        self.pace
            .call("RegisterScalableTarget", || async {
                self.scaling
                    .register_scalable_target()
                    .service_namespace(ServiceNamespace::Ecs)
                    .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                    .resource_id(resource_id)
                    .min_capacity(capacity.min as i32)
                    .max_capacity(capacity.max as i32)
                    // All three flags, always: a flag left out keeps whatever it was.
                    .suspended_state(
                        SuspendedState::builder()
                            .dynamic_scaling_in_suspended(capacity.suspended.dynamic_in)
                            .dynamic_scaling_out_suspended(capacity.suspended.dynamic_out)
                            .scheduled_scaling_suspended(capacity.suspended.scheduled)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("RegisterScalableTarget", e))
            })
            .await?;
        Ok(())
    }

    async fn scheduled_actions(&self) -> Result<Vec<ScheduledAction>, AwsError> {
        let pages = self
            .pages(
                "DescribeScheduledActions",
                |token| async move {
                    self.scaling
                        .describe_scheduled_actions()
                        .service_namespace(ServiceNamespace::Ecs)
                        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                        .set_next_token(token)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DescribeScheduledActions", e))
                },
                |out| out.next_token(),
            )
            .await?;
        Ok(pages
            .iter()
            .flat_map(|out| out.scheduled_actions())
            .map(|a| ScheduledAction {
                resource_id: a.resource_id().to_string(),
                name: a.scheduled_action_name().to_string(),
                schedule: a.schedule().to_string(),
                timezone: a.timezone().map(str::to_string),
                min: a.scalable_target_action().and_then(|t| t.min_capacity()).map(count),
                max: a.scalable_target_action().and_then(|t| t.max_capacity()).map(count),
            })
            .collect())
    }
}

impl TargetGroups for Sdk {
    async fn describe_target_types(&self, arns: &[String]) -> Result<Vec<(String, TargetType)>, AwsError> {
        let out = self
            .pace
            .call("DescribeTargetGroups", || async {
                self.elb
                    .describe_target_groups()
                    .set_target_group_arns(Some(arns.to_vec()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeTargetGroups", e))
            })
            .await?;
        Ok(out
            .target_groups()
            .iter()
            .filter_map(|tg| {
                let kind = match tg.target_type() {
                    Some(TargetTypeEnum::Ip) => TargetType::Ip,
                    Some(TargetTypeEnum::Instance) => TargetType::Instance,
                    _ => TargetType::Other,
                };
                Some((tg.target_group_arn()?.to_string(), kind))
            })
            .collect())
    }

    async fn registered_targets(&self, arn: &str) -> Result<Vec<RegisteredTarget>, AwsError> {
        let out = self
            .pace
            .call("DescribeTargetHealth", || async {
                self.elb
                    .describe_target_health()
                    .target_group_arn(arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeTargetHealth", e))
            })
            .await?;
        let mut targets = Vec::new();
        for d in out.target_health_descriptions() {
            let Some(t) = d.target() else { continue };
            let (Some(id), Some(port)) = (t.id(), port("DescribeTargetHealth", t.port())?) else { continue };
            let health = match d.target_health().and_then(|h| h.state()) {
                Some(TargetHealthStateEnum::Initial) => TargetHealth::Initial,
                Some(TargetHealthStateEnum::Healthy) => TargetHealth::Healthy,
                Some(TargetHealthStateEnum::Unhealthy) => TargetHealth::Unhealthy,
                Some(TargetHealthStateEnum::UnhealthyDraining) => TargetHealth::UnhealthyDraining,
                Some(TargetHealthStateEnum::Unavailable) => TargetHealth::Unavailable,
                Some(TargetHealthStateEnum::Draining) => TargetHealth::Draining,
                Some(TargetHealthStateEnum::Unused) => TargetHealth::Unused,
                _ => TargetHealth::Other,
            };
            targets.push(RegisteredTarget { target: Target { id: id.to_string(), port }, health });
        }
        Ok(targets)
    }

    async fn register_targets(&self, arn: &str, targets: &[Target]) -> Result<(), AwsError> {
        let descriptions: Vec<TargetDescription> =
            targets.iter().map(|t| TargetDescription::builder().id(&t.id).port(i32::from(t.port)).build()).collect();
        self.pace
            .call("RegisterTargets", || async {
                self.elb
                    .register_targets()
                    .target_group_arn(arn)
                    .set_targets(Some(descriptions.clone()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("RegisterTargets", e))
            })
            .await?;
        Ok(())
    }

    async fn deregister_target(&self, arn: &str, target: &Target) -> Result<(), AwsError> {
        let description = TargetDescription::builder().id(&target.id).port(i32::from(target.port)).build();
        self.pace
            .call("DeregisterTargets", || async {
                self.elb
                    .deregister_targets()
                    .target_group_arn(arn)
                    .targets(description.clone())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DeregisterTargets", e))
            })
            .await?;
        Ok(())
    }
}

impl Schedules for Sdk {
    async fn put_one_time_schedule(&self, s: &OneTimeSchedule) -> Result<(), AwsError> {
        use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
        let window = FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().expect("mode is set");
        let target = Target::builder()
            .arn(&s.target_arn)
            .role_arn(&s.role_arn)
            .input(&s.input)
            .build()
            .expect("arn and role are set");
        let create = || async {
            let created = self
                .scheduler
                .create_schedule()
                .name(&s.name)
                .group_name(&s.group)
                .schedule_expression(&s.expression)
                .schedule_expression_timezone(&s.timezone)
                .flexible_time_window(window.clone())
                .target(target.clone())
                .action_after_completion(ActionAfterCompletion::Delete)
                .send()
                .await;
            match created {
                Ok(_) => Ok(true),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conflict_exception()) => Ok(false),
                Err(e) => Err(AwsError::from_sdk("CreateSchedule", e)),
            }
        };
        if self.pace.call("CreateSchedule", create).await? {
            return Ok(());
        }
        self.pace
            .call("UpdateSchedule", || async {
                self.scheduler
                    .update_schedule()
                    .name(&s.name)
                    .group_name(&s.group)
                    .schedule_expression(&s.expression)
                    .schedule_expression_timezone(&s.timezone)
                    .flexible_time_window(window.clone())
                    .target(target.clone())
                    .action_after_completion(ActionAfterCompletion::Delete)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| AwsError::from_sdk("UpdateSchedule", e))
            })
            .await
    }

    async fn schedule_expression(&self, group: &str, name: &str) -> Result<Option<String>, AwsError> {
        self.pace
            .call("GetSchedule", || async {
                match self.scheduler.get_schedule().group_name(group).name(name).send().await {
                    Ok(out) => Ok(out.schedule_expression().map(str::to_string)),
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
                    Err(e) => Err(AwsError::from_sdk("GetSchedule", e)),
                }
            })
            .await
    }
}

impl Paced for Sdk {
    fn begin_run(&self, left: std::time::Duration) {
        self.pace.begin(left);
    }

    fn end_run(&self) {
        self.pace.end();
    }

    fn throttled(&self) -> u64 {
        self.pace.throttled()
    }

    fn buckets(&self) -> Option<(Buckets, f64)> {
        self.pace.buckets()
    }
}
