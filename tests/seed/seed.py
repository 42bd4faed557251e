#!/usr/bin/env python3
"""Seed a moto server with the ECS world used by the tests and the demo.

Usage:
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT e2e
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT demo
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT spot
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT \
        fleet --services N --clusters C
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT \
        aws-fleet --services N --clusters C [--yaml-every K]
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT \
        run-tasks --cluster C --service S --count N
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT ec2
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT \
        register-instances --cluster C --group G
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT \
        run-service-tasks --cluster C --service S --count N
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT \
        stop-service-tasks --cluster C --service S
    python tests/seed/seed.py --endpoint http://127.0.0.1:PORT \
        deregister-instances --cluster C --group G

Prints exactly one JSON object on stdout and exits 0. On any failure a message
goes to stderr and the exit status is 1. Nothing is written to disk.

Moto quirks handled here:
- CreateService with awsvpc needs networkConfiguration securityGroups
  (otherwise moto answers HTTP 500).
- Fargate RunTask needs container-level `memory` and a VPC with DNS hostnames.
- moto starts no tasks for a service; tasks are created with RunTask and
  group "service:NAME". They are RUNNING at once only after the ecs::task
  state transition is pinned via the moto-api (done before every RunTask).
- ip target groups need no load balancer association in moto to accept
  register_targets, so `svc-c-extra` is left unattached.
- (spot) moto's AMI catalogue marks ami-12c6146b as Windows, which makes the
  container instance report ecs.os-type=windows; the Amazon Linux ami-760aaa0f
  is used instead.
- (spot) RegisterContainerInstance takes the EC2 instance from the identity
  document's instanceId and ignores the rest of it.
- (spot) moto reports no networkBindings for bridge tasks (and no hostPort at
  all), so the legacy task's instance target is registered on the first
  dynamic host port, 32768 (DYNAMIC_HOST_PORT), unless moto ever reports one.
- (spot) moto books hostPort 0 as a literal reserved port on the container
  instance: a second bridge task of the same definition is not placed, and
  RunTask answers with neither tasks nor failures. The scenario starts one.
- (ec2) no bridge task has networkBindings, whether its hostPort is static or 0
  (RunTask and DescribeTasks alike): a target's host port is the task
  definition's static hostPort, so api targets are (instance id, 8080) and web
  targets (instance id, 80), which is also what AWS reports for a static port.
- (ec2) RunTask fills the ACTIVE container instances greedily in registration
  order, booking each hostPort literally: with hostPort 0 the first service
  gets one task per instance and the next hostPort-0 service none; without a
  hostPort every task lands on the first instance. Distinct static host ports
  (api 8080, web 80, other 9000) give one task of each service per instance.
- (ec2) UpdateAutoScalingGroup acts at once: unprotected instances leave the
  group and are `terminated` when desired drops (their aws:autoscaling:groupName
  tag stays), and raising desired launches InService instances with new ids,
  ProtectedFromScaleIn=True after NewInstancesProtectedFromScaleIn.
- (ec2) like AWS, a desired count of 0 terminates no scale-in-protected
  instance: both stay InService while DesiredCapacity reads 0, and restoring
  1/2/4 launches nothing. Nothing lifts the protection (ECS's managed
  termination protection would): a test calls SetInstanceProtection(False).
- (ec2) DescribeAutoScalingInstances works; CreateOrUpdateTags/DeleteTags show
  in DescribeAutoScalingGroups' Tags and DescribeTags; DescribeCapacityProviders
  shows autoScalingGroupProvider (group ARN, managedScaling status ENABLED and
  targetCapacity, managedTerminationProtection ENABLED); PutClusterCapacityProviders
  takes capacityProviders with a defaultCapacityProviderStrategy.
- (ec2) ListContainerInstances, DescribeContainerInstances (ec2InstanceId,
  status, runningTasksCount) and ListTasks(containerInstance=...) work.
  DeregisterContainerInstance deletes the instance (no INACTIVE state: it is
  not listed, and DescribeContainerInstances answers failure MISSING) and leaves
  its tasks RUNNING, and StopTask of such a task is HTTP 500: so
  deregister-instances stops them first, as ECS would.
- (ec2) UpdateService(desiredCount=0) stops no RunTask task (runningCount reads
  0, the tasks stay RUNNING): stop-service-tasks does ECS's part. Neither it nor
  the group's terminations deregister targets: they stay `healthy`.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from dataclasses import dataclass, field
from typing import Any, NoReturn

import boto3
from botocore.config import Config

REGION = "ap-northeast-1"
ACCOUNT_ID = "123456789012"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
IMAGE = "public.ecr.aws/nginx/nginx:latest"
RUN_TASK_BATCH = 10  # RunTask accepts at most 10 tasks per call.
LINUX_AMI = "ami-760aaa0f"  # Amazon Linux in moto's AMI catalogue.
DYNAMIC_HOST_PORT = 32768  # first port of the ECS dynamic host port range.


# --------------------------------------------------------------------------
# World specification
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetGroupSpec:
    name: str
    protocol: str  # HTTP or TCP
    port: int
    load_balancer: str | None  # name of the LB whose listener forwards to it
    path_pattern: str | None = None  # listener rule on an ALB; None = default
    target_type: str = "ip"  # "ip" (awsvpc tasks) or "instance" (bridge tasks)


@dataclass(frozen=True)
class LoadBalancerSpec:
    name: str
    kind: str  # "application" or "network"
    listener_protocol: str
    listener_port: int


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    cluster: str
    desired: int
    container_ports: tuple[int, ...]
    target_group: str | None = None  # TG name; container `app`, first port
    scaling: tuple[int, int] | None = None  # (min, max) of the scalable target
    # Further TGs the service also registers with (same container and port).
    extra_target_groups: tuple[str, ...] = ()

    @property
    def all_target_groups(self) -> tuple[str, ...]:
        first = () if self.target_group is None else (self.target_group,)
        return first + self.extra_target_groups


@dataclass(frozen=True)
class WorldSpec:
    vpc_cidr: str
    subnets: tuple[tuple[str, str], ...]  # (cidr, availability zone)
    security_group: str
    clusters: tuple[str, ...]
    load_balancers: tuple[LoadBalancerSpec, ...]
    target_groups: tuple[TargetGroupSpec, ...]
    services: tuple[ServiceSpec, ...]


E2E_WORLD = WorldSpec(
    vpc_cidr="10.0.0.0/16",
    subnets=(("10.0.1.0/24", "ap-northeast-1a"), ("10.0.2.0/24", "ap-northeast-1c")),
    security_group="e2e-tasks",
    clusters=("alpha", "beta"),
    load_balancers=(
        LoadBalancerSpec("alpha-alb", "application", "HTTP", 80),
        LoadBalancerSpec("alpha-nlb", "network", "TCP", 9090),
    ),
    target_groups=(
        TargetGroupSpec("svc-a-tg", "HTTP", 8080, "alpha-alb"),
        TargetGroupSpec("svc-b-tg", "TCP", 9090, "alpha-nlb"),
        TargetGroupSpec("svc-c-tg", "HTTP", 8080, "alpha-alb", "/c/*"),
        # Deliberately attached to no service and no load balancer.
        TargetGroupSpec("svc-c-extra", "HTTP", 8081, None),
    ),
    services=(
        ServiceSpec("svc-a", "alpha", 3, (8080,), "svc-a-tg", (1, 4)),
        ServiceSpec("svc-b", "alpha", 2, (9090,), "svc-b-tg"),
        ServiceSpec("svc-c", "beta", 1, (8080, 8081), "svc-c-tg"),
    ),
)

DEMO_WORLD = WorldSpec(
    vpc_cidr="10.0.0.0/16",
    subnets=(("10.0.1.0/24", "ap-northeast-1a"), ("10.0.2.0/24", "ap-northeast-1c")),
    security_group="shop-tasks",
    clusters=("shop-stg", "shop-dev"),
    load_balancers=(
        LoadBalancerSpec("shop-stg-alb", "application", "HTTP", 80),
        LoadBalancerSpec("shop-dev-nlb", "network", "TCP", 80),
    ),
    target_groups=(
        TargetGroupSpec("web-tg", "HTTP", 8080, "shop-stg-alb"),
        TargetGroupSpec("api-tg", "HTTP", 8080, "shop-stg-alb", "/api/*"),
        TargetGroupSpec("web-dev-tg", "TCP", 8080, "shop-dev-nlb"),
    ),
    services=(
        ServiceSpec("web", "shop-stg", 2, (8080,), "web-tg", (2, 6)),
        ServiceSpec("api", "shop-stg", 3, (8080,), "api-tg", (1, 4)),
        ServiceSpec("worker", "shop-stg", 1, ()),
        ServiceSpec("web-dev", "shop-dev", 1, (8080,), "web-dev-tg", (1, 2)),
    ),
)

# Fargate part of the `spot` scenario; seed_spot adds the EC2 part (LEGACY_SPEC).
SPOT_WORLD = WorldSpec(
    vpc_cidr="10.0.0.0/16",
    subnets=(("10.0.1.0/24", "ap-northeast-1a"), ("10.0.2.0/24", "ap-northeast-1c")),
    security_group="spot-tasks",
    # The EC2 service has a cluster of its own: moto's ListTasks(containerInstance=...)
    # fails with HTTP 500 in a cluster that also holds Fargate tasks.
    clusters=("spot", "spot-ec2"),
    load_balancers=(
        LoadBalancerSpec("spot-alb", "application", "HTTP", 80),
        LoadBalancerSpec("spot-nlb", "network", "TCP", 8080),
    ),
    target_groups=(
        TargetGroupSpec("web-alb-tg", "HTTP", 8080, "spot-alb"),
        TargetGroupSpec("web-nlb-tg", "TCP", 8080, "spot-nlb"),
        TargetGroupSpec(
            "legacy-tg", "HTTP", 8080, "spot-alb", "/legacy/*", target_type="instance"
        ),
    ),
    services=(
        ServiceSpec(
            "web", "spot", 2, (8080,), "web-alb-tg", extra_target_groups=("web-nlb-tg",)
        ),
    ),
)


@dataclass(frozen=True)
class Ec2ServiceSpec:
    """A bridge-network service on an EC2 container instance of its own."""

    name: str
    cluster: str
    desired: int
    container_port: int
    target_group: str  # an `instance` TG of the world
    instance_type: str = "t3.medium"
    availability_zone: str = "ap-northeast-1a"


LEGACY_SPEC = Ec2ServiceSpec("legacy", "spot-ec2", 1, 8080, "legacy-tg")

# One cluster whose services a `select: all` entry chooses (tests/selectors.rs): three start
# groups (migrate; api; web), one service left out by name (batch), two the test tags to
# exclude (cache, docs).
SELECT_WORLD = WorldSpec(
    vpc_cidr="10.0.0.0/16",
    subnets=(("10.0.1.0/24", "ap-northeast-1a"), ("10.0.2.0/24", "ap-northeast-1c")),
    security_group="shop-tasks",
    clusters=("shop",),
    load_balancers=(LoadBalancerSpec("shop-alb", "application", "HTTP", 80),),
    target_groups=(
        TargetGroupSpec("web-tg", "HTTP", 8080, "shop-alb"),
        TargetGroupSpec("api-tg", "HTTP", 8080, "shop-alb", "/api/*"),
    ),
    services=(
        ServiceSpec("migrate", "shop", 1, ()),
        ServiceSpec("api", "shop", 2, (8080,), "api-tg", (1, 4)),
        ServiceSpec("web", "shop", 2, (8080,), "web-tg"),
        ServiceSpec("batch", "shop", 1, ()),
        ServiceSpec("cache", "shop", 1, ()),
        ServiceSpec("docs", "shop", 1, ()),
    ),
)


@dataclass(frozen=True)
class AutoScalingGroupSpec:
    """An Auto Scaling group of ECS container instances (launch template of the same name)."""

    name: str
    cluster: str
    min_size: int
    desired: int
    max_size: int
    instance_type: str = "t3.micro"
    # New instances protected from scale-in, as a capacity provider with managed termination
    # protection requires (moto, like AWS, then terminates none of them at desired 0).
    protected: bool = True


@dataclass(frozen=True)
class CapacityProviderSpec:
    name: str
    target_capacity: int  # managed scaling's target utilisation, percent


@dataclass(frozen=True)
class BridgeServiceSpec:
    """A bridge-network EC2 service whose tasks run on the group's container instances."""

    name: str
    cluster: str
    desired: int
    container_port: int
    # Static and distinct per service: moto books hostPort literally (0 included), so a
    # static port gives one task of each service per instance (see the quirks above).
    host_port: int
    target_group: str | None = None  # an `instance` TG of the world


@dataclass(frozen=True)
class Ec2WorldSpec:
    network: WorldSpec  # VPC, cluster, load balancer and the instance target groups
    group: AutoScalingGroupSpec
    capacity_provider: CapacityProviderSpec | None
    services: tuple[BridgeServiceSpec, ...]


# An EC2-backed environment: cluster shop-stg on an Auto Scaling group behind a capacity
# provider; `api` and `web` run one task per instance, `other` (another team's environment
# in the schedule file) one task on the first instance.
EC2_WORLD = Ec2WorldSpec(
    network=WorldSpec(
        vpc_cidr="10.0.0.0/16",
        subnets=(("10.0.1.0/24", "ap-northeast-1a"), ("10.0.2.0/24", "ap-northeast-1c")),
        security_group="shop-stg-ecs",
        clusters=("shop-stg",),
        load_balancers=(LoadBalancerSpec("shop-stg-alb", "application", "HTTP", 80),),
        target_groups=(
            TargetGroupSpec("web-tg", "HTTP", 80, "shop-stg-alb", target_type="instance"),
            TargetGroupSpec(
                "api-tg", "HTTP", 8080, "shop-stg-alb", "/api/*", target_type="instance"
            ),
        ),
        services=(),
    ),
    group=AutoScalingGroupSpec("shop-stg-ecs", "shop-stg", 1, 2, 4),
    capacity_provider=CapacityProviderSpec("shop-stg-cp", 100),
    services=(
        BridgeServiceSpec("api", "shop-stg", 2, 8080, 8080, "api-tg"),
        BridgeServiceSpec("web", "shop-stg", 2, 80, 80, "web-tg"),
        BridgeServiceSpec("other", "shop-stg", 1, 9000, 9000),
    ),
)

# The demo's EC2-backed environment (`ec2-demo`, beside `demo`): cluster batch-stg on a plain
# Auto Scaling group (no capacity provider, instances not protected), two services without
# load balancers.
EC2_DEMO_WORLD = Ec2WorldSpec(
    network=WorldSpec(
        vpc_cidr="10.1.0.0/16",
        subnets=(("10.1.1.0/24", "ap-northeast-1a"),),
        security_group="batch-stg-ecs",
        clusters=("batch-stg",),
        load_balancers=(),
        target_groups=(),
        services=(),
    ),
    group=AutoScalingGroupSpec("batch-stg-ecs", "batch-stg", 1, 2, 4, protected=False),
    capacity_provider=None,
    services=(
        BridgeServiceSpec("worker", "batch-stg", 2, 7000, 7000),
        BridgeServiceSpec("cron", "batch-stg", 1, 7001, 7001),
    ),
)

WORLDS: dict[str, WorldSpec] = {
    "e2e": E2E_WORLD,
    "select": SELECT_WORLD,
    "demo": DEMO_WORLD,
    "spot": SPOT_WORLD,
}


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------


@dataclass
class Clients:
    endpoint: str
    ec2: Any = field(repr=False)
    ecs: Any = field(repr=False)
    elbv2: Any = field(repr=False)
    autoscaling: Any = field(repr=False)  # application-autoscaling (services)
    asg: Any = field(repr=False)  # EC2 Auto Scaling (groups)


def make_clients(endpoint: str, role_arn: str | None = None) -> Clients:
    """Clients of the test account, or of `role_arn`'s account: moto gives an assumed role's
    credentials the role's account (a target account of the multi-account tests)."""
    config = Config(retries={"max_attempts": 1})
    credentials = dict(CREDENTIALS)
    if role_arn:
        sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION, config=config, **CREDENTIALS)
        assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName="seed")["Credentials"]
        credentials = {
            "aws_access_key_id": assumed["AccessKeyId"],
            "aws_secret_access_key": assumed["SecretAccessKey"],
            "aws_session_token": assumed["SessionToken"],
        }

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            config=config,
            **credentials,
        )

    return Clients(
        endpoint=endpoint,
        ec2=client("ec2"),
        ecs=client("ecs"),
        elbv2=client("elbv2"),
        autoscaling=client("application-autoscaling"),
        asg=client("autoscaling"),
    )


def log(message: str) -> None:
    print(f"seed: {message}", file=sys.stderr)


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    vpc: str
    subnets: list[str]
    security_group: str


def create_network(c: Clients, spec: WorldSpec) -> Network:
    vpc = c.ec2.create_vpc(CidrBlock=spec.vpc_cidr)["Vpc"]["VpcId"]
    # Fargate RunTask in moto requires DNS hostnames on the VPC.
    c.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    c.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        c.ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"][
            "SubnetId"
        ]
        for cidr, az in spec.subnets
    ]
    sg = c.ec2.create_security_group(
        GroupName=spec.security_group,
        Description=f"{spec.security_group} ECS tasks",
        VpcId=vpc,
    )["GroupId"]
    log(f"vpc {vpc}, subnets {subnets}, security group {sg}")
    return Network(vpc=vpc, subnets=subnets, security_group=sg)


def create_clusters(c: Clients, names: tuple[str, ...]) -> dict[str, str]:
    return {
        name: c.ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
        for name in names
    }


def create_load_balancers(
    c: Clients, specs: tuple[LoadBalancerSpec, ...], net: Network
) -> dict[str, str]:
    arns: dict[str, str] = {}
    for spec in specs:
        kwargs: dict[str, Any] = {
            "Name": spec.name,
            "Subnets": net.subnets,
            "Scheme": "internet-facing",
            "Type": spec.kind,
        }
        if spec.kind == "application":
            kwargs["SecurityGroups"] = [net.security_group]
        lb = c.elbv2.create_load_balancer(**kwargs)["LoadBalancers"][0]
        arns[spec.name] = lb["LoadBalancerArn"]
    return arns


def create_target_group(c: Clients, spec: TargetGroupSpec, vpc: str) -> str:
    kwargs: dict[str, Any] = {
        "Name": spec.name,
        "Protocol": spec.protocol,
        "Port": spec.port,
        "VpcId": vpc,
        "TargetType": spec.target_type,
        "HealthCheckProtocol": spec.protocol,
    }
    if spec.protocol == "HTTP":
        kwargs["HealthCheckPath"] = "/"
    return c.elbv2.create_target_group(**kwargs)["TargetGroups"][0]["TargetGroupArn"]


def attach_target_groups(
    c: Clients,
    lb_specs: tuple[LoadBalancerSpec, ...],
    lb_arns: dict[str, str],
    tg_specs: tuple[TargetGroupSpec, ...],
    tg_arns: dict[str, str],
) -> None:
    """One listener per LB forwarding to its default TG, plus path rules."""
    for lb in lb_specs:
        attached = [t for t in tg_specs if t.load_balancer == lb.name]
        defaults = [t for t in attached if t.path_pattern is None]
        if len(defaults) != 1:
            raise ValueError(f"load balancer {lb.name} needs exactly one default TG")
        listener = c.elbv2.create_listener(
            LoadBalancerArn=lb_arns[lb.name],
            Protocol=lb.listener_protocol,
            Port=lb.listener_port,
            DefaultActions=[
                {"Type": "forward", "TargetGroupArn": tg_arns[defaults[0].name]}
            ],
        )["Listeners"][0]["ListenerArn"]
        rules = [t for t in attached if t.path_pattern is not None]
        for priority, tg in enumerate(rules, start=10):
            c.elbv2.create_rule(
                ListenerArn=listener,
                Priority=priority,
                Conditions=[{"Field": "path-pattern", "Values": [tg.path_pattern]}],
                Actions=[{"Type": "forward", "TargetGroupArn": tg_arns[tg.name]}],
            )


def register_task_definition(c: Clients, spec: ServiceSpec) -> str:
    container: dict[str, Any] = {
        "name": "app",
        "image": IMAGE,
        "essential": True,
        "cpu": 256,
        # moto's Fargate RunTask requires container-level memory.
        "memory": 512,
        "portMappings": [
            {"containerPort": port, "hostPort": port, "protocol": "tcp"}
            for port in spec.container_ports
        ],
    }
    td = c.ecs.register_task_definition(
        family=spec.name,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[container],
    )["taskDefinition"]
    return td["taskDefinitionArn"]


def network_configuration(net: Network) -> dict[str, Any]:
    return {
        "awsvpcConfiguration": {
            "subnets": net.subnets,
            # Without securityGroups moto's CreateService fails with HTTP 500.
            "securityGroups": [net.security_group],
            "assignPublicIp": "DISABLED",
        }
    }


def create_service(
    c: Clients,
    spec: ServiceSpec,
    task_definition: str,
    net: Network,
    tg_arns: dict[str, str],
) -> str:
    kwargs: dict[str, Any] = {
        "cluster": spec.cluster,
        "serviceName": spec.name,
        "taskDefinition": task_definition,
        "desiredCount": spec.desired,
        "launchType": "FARGATE",
        "networkConfiguration": network_configuration(net),
    }
    if spec.all_target_groups:
        kwargs["loadBalancers"] = [
            {
                "targetGroupArn": tg_arns[name],
                "containerName": "app",
                "containerPort": spec.container_ports[0],
            }
            for name in spec.all_target_groups
        ]
    return c.ecs.create_service(**kwargs)["service"]["serviceArn"]


def register_scalable_target(c: Clients, spec: ServiceSpec) -> None:
    if spec.scaling is None:
        return
    min_capacity, max_capacity = spec.scaling
    c.autoscaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{spec.cluster}/{spec.name}",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=min_capacity,
        MaxCapacity=max_capacity,
    )


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------


def seed_world(c: Clients, spec: WorldSpec) -> dict[str, Any]:
    net = create_network(c, spec)
    clusters = create_clusters(c, spec.clusters)
    lb_arns = create_load_balancers(c, spec.load_balancers, net)
    tg_arns = {t.name: create_target_group(c, t, net.vpc) for t in spec.target_groups}
    attach_target_groups(c, spec.load_balancers, lb_arns, spec.target_groups, tg_arns)

    services: dict[str, Any] = {}
    for svc in spec.services:
        task_definition = register_task_definition(c, svc)
        arn = create_service(c, svc, task_definition, net, tg_arns)
        register_scalable_target(c, svc)
        services[svc.name] = {
            "cluster": svc.cluster,
            "arn": arn,
            "task_definition": task_definition,
            "desired": svc.desired,
        }
        log(f"service {svc.cluster}/{svc.name} desired={svc.desired}")

    return {
        "endpoint": c.endpoint,
        "vpc": net.vpc,
        "subnets": net.subnets,
        "security_group": net.security_group,
        "clusters": clusters,
        "services": services,
        "target_groups": tg_arns,
    }


def fleet_world(services: int, clusters: int) -> WorldSpec:
    """`services` Fargate services over `clusters` clusters: each its own ip target group on
    its cluster's ALB (a path rule), every other one with a scalable target (2..4)."""
    cluster_names = tuple(f"fleet-{i:02}" for i in range(clusters))
    lbs = tuple(LoadBalancerSpec(f"{c}-alb", "application", "HTTP", 80) for c in cluster_names)
    tgs: list[TargetGroupSpec] = []
    svcs: list[ServiceSpec] = []
    for i in range(services):
        cluster = cluster_names[i % clusters]
        first = i < clusters  # the first service of each cluster is its ALB's default
        path = None if first else f"/s{i:03}/*"
        tgs.append(TargetGroupSpec(f"fleet-s{i:03}", "HTTP", 8080, f"{cluster}-alb", path))
        scaling = (2, 4) if i % 2 == 0 else None
        svcs.append(ServiceSpec(f"s{i:03}", cluster, 2, (8080,), f"fleet-s{i:03}", scaling))
    return WorldSpec(
        vpc_cidr="10.0.0.0/16",
        # /20 subnets: room for thousands of task ENIs.
        subnets=(("10.0.0.0/20", "ap-northeast-1a"), ("10.0.16.0/20", "ap-northeast-1c")),
        security_group="fleet-tasks",
        clusters=cluster_names,
        load_balancers=lbs,
        target_groups=tuple(tgs),
        services=tuple(svcs),
    )


def seed_fleet(c: Clients, services: int, clusters: int) -> dict[str, Any]:
    """The benchmark's world: every service runs its desired tasks, registered (by IP and
    port) in its target group, as ECS would have done."""
    if services < 1 or clusters < 1:
        raise ValueError("--services and --clusters must be at least 1")
    spec = fleet_world(services, clusters)
    world = seed_world(c, spec)
    out = []
    for svc in spec.services:
        tasks = run_tasks(c, svc.cluster, svc.name, svc.desired)["tasks"]
        tg = world["target_groups"][svc.target_group]
        c.elbv2.register_targets(
            TargetGroupArn=tg, Targets=[{"Id": t["ip"], "Port": 8080} for t in tasks]
        )
        out.append(
            {
                "cluster": svc.cluster,
                "service": svc.name,
                "desired": svc.desired,
                "scaling": list(svc.scaling) if svc.scaling else None,
                "target_group": tg,
                "tasks": tasks,
            }
        )
    return {"endpoint": c.endpoint, "services": out}


def seed_aws_fleet(c: Clients, services: int, clusters: int, yaml_every: int) -> dict[str, Any]:
    """`fleet`, and every `yaml_every`-th service (0, k, 2k, ...) also has a second ip target
    group on its cluster's ALB that only the schedule file lists (`target_groups:`), which ECS
    does not know: its tasks are registered there as our tool would have done."""
    if services < 1 or clusters < 1 or yaml_every < 1:
        raise ValueError("--services, --clusters and --yaml-every must be at least 1")
    spec = fleet_world(services, clusters)
    extras = {
        svc.name: TargetGroupSpec(
            f"fleet-x{i:03}", "HTTP", 8080, f"{svc.cluster}-alb", f"/x{i:03}/*"
        )
        for i, svc in enumerate(spec.services)
        if i % yaml_every == 0
    }
    spec = WorldSpec(
        vpc_cidr=spec.vpc_cidr,
        subnets=spec.subnets,
        security_group=spec.security_group,
        clusters=spec.clusters,
        load_balancers=spec.load_balancers,
        target_groups=spec.target_groups + tuple(extras.values()),
        services=spec.services,
    )
    world = seed_world(c, spec)
    out = []
    for svc in spec.services:
        tasks = run_tasks(c, svc.cluster, svc.name, svc.desired)["tasks"]
        own = world["target_groups"][svc.target_group]
        yaml_only = [world["target_groups"][extras[svc.name].name]] if svc.name in extras else []
        for tg in [own, *yaml_only]:
            c.elbv2.register_targets(
                TargetGroupArn=tg, Targets=[{"Id": t["ip"], "Port": 8080} for t in tasks]
            )
        out.append(
            {
                "cluster": svc.cluster,
                "service": svc.name,
                "desired": svc.desired,
                "scaling": list(svc.scaling) if svc.scaling else None,
                "target_group": own,
                "yaml_target_groups": yaml_only,
                "tasks": tasks,
            }
        )
    return {"endpoint": c.endpoint, "services": out}


def pin_task_transition(endpoint: str) -> None:
    """Make moto tasks RUNNING as soon as RunTask returns."""
    body = json.dumps(
        {
            "model_name": "ecs::task",
            "transition": {"progression": "manual", "times": 1000},
        }
    ).encode()
    request = urllib.request.Request(
        f"{endpoint.rstrip('/')}/moto-api/state-manager/set-transition",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status >= 300:
            raise RuntimeError(f"set-transition answered HTTP {response.status}")


def task_ip(task: dict[str, Any]) -> str:
    for attachment in task.get("attachments", []):
        for detail in attachment.get("details", []):
            if detail.get("name") == "privateIPv4Address":
                return detail["value"]
    raise RuntimeError(f"task {task.get('taskArn')} has no privateIPv4Address")


def night_apply(c: Clients, world: WorldSpec, cluster: str) -> dict[str, Any]:
    """What `terraform apply` of the services' own stack does to the services of `cluster`:
    `default_tags` removes every tag it does not manage, and desired_count, min/max and the
    suspended state go back to the values in its code (the world's)."""
    changed = []
    for spec in world.services:
        if spec.cluster != cluster:
            continue
        described = c.ecs.describe_services(cluster=cluster, services=[spec.name])
        arn = described["services"][0]["serviceArn"]
        keys = [t["key"] for t in c.ecs.list_tags_for_resource(resourceArn=arn).get("tags", [])]
        if keys:
            c.ecs.untag_resource(resourceArn=arn, tagKeys=keys)
        c.ecs.update_service(cluster=cluster, service=spec.name, desiredCount=spec.desired)
        if spec.scaling is not None:
            c.autoscaling.register_scalable_target(
                ServiceNamespace="ecs",
                ResourceId=f"service/{cluster}/{spec.name}",
                ScalableDimension="ecs:service:DesiredCount",
                MinCapacity=spec.scaling[0],
                MaxCapacity=spec.scaling[1],
                SuspendedState={
                    "DynamicScalingInSuspended": False,
                    "DynamicScalingOutSuspended": False,
                    "ScheduledScalingSuspended": False,
                },
            )
        changed.append({"service": spec.name, "desired": spec.desired, "tags_removed": keys})
    return {"cluster": cluster, "services": changed}


def run_tasks(c: Clients, cluster: str, service: str, count: int) -> dict[str, Any]:
    if count < 1:
        raise ValueError("--count must be at least 1")
    described = c.ecs.describe_services(cluster=cluster, services=[service])
    if not described["services"]:
        failures = described.get("failures", [])
        raise RuntimeError(f"service {cluster}/{service} not found: {failures}")
    svc = described["services"][0]
    net_conf = svc.get("networkConfiguration")
    if not net_conf:
        raise RuntimeError(f"service {cluster}/{service} has no networkConfiguration")

    pin_task_transition(c.endpoint)
    tasks: list[dict[str, str]] = []
    remaining = count
    while remaining > 0:
        batch = min(remaining, RUN_TASK_BATCH)
        response = c.ecs.run_task(
            cluster=cluster,
            taskDefinition=svc["taskDefinition"],
            count=batch,
            launchType="FARGATE",
            group=f"service:{service}",
            networkConfiguration=net_conf,
        )
        if response.get("failures"):
            raise RuntimeError(f"RunTask failures: {response['failures']}")
        tasks.extend({"arn": t["taskArn"], "ip": task_ip(t)} for t in response["tasks"])
        remaining -= batch
    log(f"started {len(tasks)} task(s) for {cluster}/{service}")
    return {"tasks": tasks}


def legacy_service(c: Clients, cluster: str, service: str) -> dict[str, Any]:
    """A service with the old short ARN (service/NAME), which real ECS cannot tag.

    Moto tags it anyway, so the test shows the code refuses on its own. Moto derives every
    service ARN from the current account setting, so the setting stays disabled: use this
    scenario in a world of its own.
    """
    c.ecs.put_account_setting(name="serviceLongArnFormat", value="disabled")
    td = c.ecs.register_task_definition(
        family=f"{service}-legacy",
        containerDefinitions=[{"name": "app", "image": "nginx", "memory": 256}],
    )["taskDefinition"]["taskDefinitionArn"]
    if cluster not in {arn.rsplit("/", 1)[-1] for arn in c.ecs.list_clusters()["clusterArns"]}:
        c.ecs.create_cluster(clusterName=cluster)
    arn = c.ecs.create_service(
        cluster=cluster, serviceName=service, taskDefinition=td, desiredCount=2
    )["service"]["serviceArn"]
    log(f"created legacy-ARN service {arn}")
    return {"arn": arn}


def tag_service(c: Clients, cluster: str, service: str, key: str, value: str) -> dict[str, Any]:
    """What a service's owner does with `aws ecs tag-resource` (e.g. the exclusion tags)."""
    arn = c.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["serviceArn"]
    c.ecs.tag_resource(resourceArn=arn, tags=[{"key": key, "value": value}])
    log(f"tagged {arn} {key}={value}")
    return {"arn": arn}


def launch_container_instance(
    c: Clients, spec: Ec2ServiceSpec, subnets: list[str], security_group: str
) -> tuple[str, str]:
    """An EC2 instance registered as an ECS container instance of spec.cluster."""
    subnet = subnets[0]
    instance = c.ec2.run_instances(
        ImageId=LINUX_AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType=spec.instance_type,
        SubnetId=subnet,
        SecurityGroupIds=[security_group],
        Placement={"AvailabilityZone": spec.availability_zone},
    )["Instances"][0]
    return instance["InstanceId"], register_container_instance(c, spec.cluster, instance)


def register_container_instance(c: Clients, cluster: str, instance: dict[str, Any]) -> str:
    """What the ECS agent does on boot: register the EC2 `instance` (as DescribeInstances or
    RunInstances shows it) in `cluster`. Returns the container instance ARN."""
    instance_id = instance["InstanceId"]
    document = {
        "accountId": ACCOUNT_ID,
        "architecture": "x86_64",
        "availabilityZone": instance.get("Placement", {}).get("AvailabilityZone", ""),
        "imageId": instance.get("ImageId", LINUX_AMI),
        "instanceId": instance_id,
        "instanceType": instance.get("InstanceType", ""),
        "pendingTime": "2024-05-14T00:00:00Z",
        "privateIp": instance.get("PrivateIpAddress", ""),
        "region": REGION,
        "version": "2017-09-30",
    }
    container_instance = c.ecs.register_container_instance(
        cluster=cluster, instanceIdentityDocument=json.dumps(document)
    )["containerInstance"]
    arn: str = container_instance["containerInstanceArn"]
    registered = container_instance.get("ec2InstanceId")
    if registered != instance_id:
        raise RuntimeError(f"{arn} is EC2 instance {registered}, not {instance_id}")
    log(f"instance {instance_id} registered as {arn}")
    return arn


def register_bridge_task_definition(
    c: Clients, family: str, container_port: int, host_port: int
) -> str:
    """A bridge-network EC2 task definition of one container `app` (hostPort 0: ECS picks a
    dynamic host port for each task)."""
    container = {
        "name": "app",
        "image": IMAGE,
        "essential": True,
        "cpu": 128,
        "memory": 256,
        "portMappings": [
            {"containerPort": container_port, "hostPort": host_port, "protocol": "tcp"}
        ],
    }
    td = c.ecs.register_task_definition(
        family=family,
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[container],
    )["taskDefinition"]
    arn: str = td["taskDefinitionArn"]
    return arn


def host_port(task: dict[str, Any], container_port: int) -> int | None:
    for container in task.get("containers", []):
        if container.get("name") != "app":
            continue
        for binding in container.get("networkBindings", []):
            port = binding.get("hostPort")
            if binding.get("containerPort") == container_port and port:
                return int(port)
    return None


def seed_spot(c: Clients) -> dict[str, Any]:
    """Fargate service `web` behind an ALB and an NLB, EC2 bridge service `legacy`."""
    world = seed_world(c, SPOT_WORLD)
    tg_arns: dict[str, str] = world["target_groups"]
    web = next(s for s in SPOT_WORLD.services if s.name == "web")

    web_tasks = run_tasks(c, web.cluster, web.name, web.desired)["tasks"]
    web_port = web.container_ports[0]
    for name in web.all_target_groups:
        c.elbv2.register_targets(
            TargetGroupArn=tg_arns[name],
            Targets=[{"Id": t["ip"], "Port": web_port} for t in web_tasks],
        )
        log(f"registered {len(web_tasks)} ip target(s) in {name}")

    legacy = LEGACY_SPEC
    instance_id, container_instance_arn = launch_container_instance(
        c, legacy, world["subnets"], world["security_group"]
    )
    # hostPort 0: a dynamic host port (moto books it literally: one such task per instance).
    task_definition = register_bridge_task_definition(c, legacy.name, legacy.container_port, 0)
    service_arn = c.ecs.create_service(
        cluster=legacy.cluster,
        serviceName=legacy.name,
        taskDefinition=task_definition,
        desiredCount=legacy.desired,
        launchType="EC2",
        loadBalancers=[
            {
                "targetGroupArn": tg_arns[legacy.target_group],
                "containerName": "app",
                "containerPort": legacy.container_port,
            }
        ],
    )["service"]["serviceArn"]
    log(f"service {legacy.cluster}/{legacy.name} desired={legacy.desired}")

    pin_task_transition(c.endpoint)
    response = c.ecs.run_task(
        cluster=legacy.cluster,
        taskDefinition=task_definition,
        count=1,
        launchType="EC2",
        group=f"service:{legacy.name}",
    )
    # moto answers neither tasks nor failures when it cannot place the task.
    if response.get("failures") or len(response.get("tasks", [])) != 1:
        raise RuntimeError(
            f"RunTask (EC2) started {len(response.get('tasks', []))} task(s),"
            f" failures {response.get('failures')}"
        )
    task = response["tasks"][0]
    if task.get("containerInstanceArn") != container_instance_arn:
        raise RuntimeError(
            f"task {task['taskArn']} landed on {task.get('containerInstanceArn')}"
        )
    port = host_port(task, legacy.container_port)
    if port is None:
        log(f"moto gave task {task['taskArn']} no hostPort; using {DYNAMIC_HOST_PORT}")
        port = DYNAMIC_HOST_PORT
    c.elbv2.register_targets(
        TargetGroupArn=tg_arns[legacy.target_group],
        Targets=[{"Id": instance_id, "Port": port}],
    )
    log(f"registered {instance_id}:{port} in {legacy.target_group}")

    services: dict[str, Any] = dict(world["services"])
    services[legacy.name] = {
        "cluster": legacy.cluster,
        "arn": service_arn,
        "task_definition": task_definition,
        "desired": legacy.desired,
    }
    return {
        "endpoint": c.endpoint,
        "cluster": web.cluster,
        "ec2_cluster": legacy.cluster,
        "target_groups": tg_arns,
        "web_tasks": web_tasks,
        "instance_id": instance_id,
        "container_instance_arn": container_instance_arn,
        "legacy_task": {"arn": task["taskArn"], "host_port": port},
        "services": services,
    }


# --------------------------------------------------------------------------
# EC2-backed environment (`ec2` and the subcommands a test calls between its steps)
# --------------------------------------------------------------------------

ASG_NAME_TAG = "aws:autoscaling:groupName"  # set on every instance a group launches


def create_auto_scaling_group(
    c: Clients, spec: AutoScalingGroupSpec, subnet: str, security_group: str
) -> str:
    """Launch template + group whose instances are protected from scale-in, as a capacity
    provider with managed termination protection requires. Returns the group's ARN."""
    c.ec2.create_launch_template(
        LaunchTemplateName=spec.name,
        LaunchTemplateData={
            "ImageId": LINUX_AMI,
            "InstanceType": spec.instance_type,
            "SecurityGroupIds": [security_group],
        },
    )
    c.asg.create_auto_scaling_group(
        AutoScalingGroupName=spec.name,
        LaunchTemplate={"LaunchTemplateName": spec.name, "Version": "$Latest"},
        MinSize=spec.min_size,
        DesiredCapacity=spec.desired,
        MaxSize=spec.max_size,
        VPCZoneIdentifier=subnet,
        NewInstancesProtectedFromScaleIn=spec.protected,
    )
    arn: str = describe_group(c, spec.name)["AutoScalingGroupARN"]
    log(f"group {spec.name} {spec.min_size}/{spec.desired}/{spec.max_size} on {subnet}")
    return arn


def describe_group(c: Clients, group: str) -> dict[str, Any]:
    groups = c.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    if not groups["AutoScalingGroups"]:
        raise RuntimeError(f"Auto Scaling group {group} not found")
    found: dict[str, Any] = groups["AutoScalingGroups"][0]
    return found


def in_service_instances(c: Clients, group: str) -> list[str]:
    return [
        i["InstanceId"]
        for i in describe_group(c, group)["Instances"]
        if i["LifecycleState"] == "InService"
    ]


def active_container_instances(c: Clients, cluster: str) -> dict[str, str]:
    """EC2 instance id -> ARN of every ACTIVE container instance of `cluster`."""
    arns = [
        arn
        for page in c.ecs.get_paginator("list_container_instances").paginate(
            cluster=cluster, status="ACTIVE"
        )
        for arn in page["containerInstanceArns"]
    ]
    found: dict[str, str] = {}
    for start in range(0, len(arns), 100):  # DescribeContainerInstances takes 100 at most
        described = c.ecs.describe_container_instances(
            cluster=cluster, containerInstances=arns[start : start + 100]
        )
        for ci in described["containerInstances"]:
            if ci["status"] == "ACTIVE":
                found[ci["ec2InstanceId"]] = ci["containerInstanceArn"]
    return found


def register_group_instances(c: Clients, cluster: str, group: str) -> list[tuple[str, str]]:
    """What the ECS agent of each new instance does: register every InService instance of
    `group` that is not yet an ACTIVE container instance of `cluster`."""
    registered = active_container_instances(c, cluster)
    missing = [i for i in in_service_instances(c, group) if i not in registered]
    if not missing:
        return []
    reservations = c.ec2.describe_instances(InstanceIds=missing)["Reservations"]
    by_id = {i["InstanceId"]: i for r in reservations for i in r["Instances"]}
    return [(i, register_container_instance(c, cluster, by_id[i])) for i in missing]


def group_container_instances(
    c: Clients, cluster: str, group: str, registered: list[tuple[str, str]]
) -> dict[str, Any]:
    """`register-instances` output: the newly registered ones and every ACTIVE container
    instance of `cluster` that `group` launched."""
    active = active_container_instances(c, cluster)
    groups = group_of(c, list(active))
    return {
        "registered": [
            {"instance_id": i, "container_instance_arn": arn} for i, arn in registered
        ],
        "instances": {i: arn for i, arn in active.items() if groups[i] == group},
    }


def group_of(c: Clients, instance_ids: list[str]) -> dict[str, str | None]:
    """EC2 instance id -> the Auto Scaling group that launched it (terminated ones included)."""
    if not instance_ids:
        return {}
    reservations = c.ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
    groups: dict[str, str | None] = {i: None for i in instance_ids}
    for instance in (i for r in reservations for i in r["Instances"]):
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        groups[instance["InstanceId"]] = tags.get(ASG_NAME_TAG)
    return groups


def create_capacity_provider(
    c: Clients, spec: CapacityProviderSpec, cluster: str, group_arn: str
) -> str:
    arn: str = c.ecs.create_capacity_provider(
        name=spec.name,
        autoScalingGroupProvider={
            "autoScalingGroupArn": group_arn,
            "managedScaling": {"status": "ENABLED", "targetCapacity": spec.target_capacity},
            "managedTerminationProtection": "ENABLED",
        },
    )["capacityProvider"]["capacityProviderArn"]
    c.ecs.put_cluster_capacity_providers(
        cluster=cluster,
        capacityProviders=[spec.name],
        defaultCapacityProviderStrategy=[
            {"capacityProvider": spec.name, "weight": 1, "base": 0}
        ],
    )
    log(f"capacity provider {spec.name} on {group_arn}, default of {cluster}")
    return arn


def create_bridge_service(
    c: Clients, spec: BridgeServiceSpec, task_definition: str, tg_arns: dict[str, str]
) -> str:
    kwargs: dict[str, Any] = {
        "cluster": spec.cluster,
        "serviceName": spec.name,
        "taskDefinition": task_definition,
        "desiredCount": spec.desired,
        "launchType": "EC2",
    }
    if spec.target_group is not None:
        kwargs["loadBalancers"] = [
            {
                "targetGroupArn": tg_arns[spec.target_group],
                "containerName": "app",
                "containerPort": spec.container_port,
            }
        ]
    arn: str = c.ecs.create_service(**kwargs)["service"]["serviceArn"]
    log(f"service {spec.cluster}/{spec.name} desired={spec.desired} (EC2, bridge)")
    return arn


def app_port_mapping(c: Clients, task_definition: str) -> tuple[int, int]:
    """(containerPort, hostPort) of the `app` container's first port mapping."""
    td = c.ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    for container in td["containerDefinitions"]:
        if container["name"] == "app" and container.get("portMappings"):
            mapping = container["portMappings"][0]
            return int(mapping["containerPort"]), int(mapping.get("hostPort", 0))
    raise RuntimeError(f"{task_definition} maps no port of container app")


def describe_tasks(c: Clients, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    for start in range(0, len(arns), 100):  # DescribeTasks takes 100 at most
        tasks.extend(
            c.ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]
        )
    return tasks


def list_running_tasks(
    c: Clients, cluster: str, container_instance: str | None = None
) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"cluster": cluster, "desiredStatus": "RUNNING"}
    if container_instance is not None:
        kwargs["containerInstance"] = container_instance
    arns = [
        arn
        for page in c.ecs.get_paginator("list_tasks").paginate(**kwargs)
        for arn in page["taskArns"]
    ]
    return [t for t in describe_tasks(c, cluster, arns) if t["lastStatus"] == "RUNNING"]


def run_service_tasks(c: Clients, cluster: str, service: str, count: int) -> dict[str, Any]:
    """RunTask (EC2) of the service's task definition, as its scheduler would place them.

    moto places greedily on the ACTIVE container instances in registration order; with the
    static host port of these task definitions that is one task of a service per instance.
    """
    if count < 1:
        raise ValueError("--count must be at least 1")
    described = c.ecs.describe_services(cluster=cluster, services=[service])
    if not described["services"]:
        raise RuntimeError(f"service {cluster}/{service} not found: {described['failures']}")
    task_definition = described["services"][0]["taskDefinition"]
    container_port, mapped_port = app_port_mapping(c, task_definition)
    instance_of = {arn: i for i, arn in active_container_instances(c, cluster).items()}

    pin_task_transition(c.endpoint)
    started: list[dict[str, Any]] = []
    while len(started) < count:
        batch = min(count - len(started), RUN_TASK_BATCH)
        response = c.ecs.run_task(
            cluster=cluster,
            taskDefinition=task_definition,
            count=batch,
            launchType="EC2",
            group=f"service:{service}",
        )
        if response.get("failures"):
            raise RuntimeError(f"RunTask failures: {response['failures']}")
        started.extend(response["tasks"])
        # moto answers neither tasks nor failures for a task it cannot place.
        if len(response["tasks"]) < batch:
            raise RuntimeError(
                f"moto placed {len(started)} of {count} task(s) of {cluster}/{service}:"
                f" host port {mapped_port} allows one per container instance"
                f" and the cluster has {len(instance_of)}"
            )
    tasks = []
    for task in started:
        port = host_port(task, container_port) or mapped_port
        if not port:
            raise RuntimeError(f"task {task['taskArn']} has no known host port")
        tasks.append(
            {
                "arn": task["taskArn"],
                "instance_id": instance_of[task["containerInstanceArn"]],
                "host_port": port,
            }
        )
    log(f"started {len(tasks)} EC2 task(s) for {cluster}/{service}")
    return {"tasks": tasks}


def stop_service_tasks(c: Clients, cluster: str, service: str) -> dict[str, Any]:
    """What ECS does after UpdateService(desiredCount=0): stop the service's tasks (moto does
    not, and knows tasks by group only)."""
    stopped = []
    for task in list_running_tasks(c, cluster):
        if task.get("group") != f"service:{service}":
            continue
        c.ecs.stop_task(
            cluster=cluster, task=task["taskArn"], reason="Scaling activity initiated by ECS"
        )
        stopped.append(task["taskArn"])
    log(f"stopped {len(stopped)} task(s) of {cluster}/{service}")
    return {"stopped": stopped}


def deregister_group_instances(c: Clients, cluster: str, group: str) -> dict[str, Any]:
    """What ECS does when the group terminates instances: their tasks stop and the container
    instances leave the cluster. Only instances launched by `group` are touched."""
    in_service = set(in_service_instances(c, group))
    active = active_container_instances(c, cluster)
    groups = group_of(c, [i for i in active if i not in in_service])
    deregistered = []
    stopped_tasks = []
    for instance_id, launched_by in groups.items():
        if launched_by != group:
            continue
        arn = active[instance_id]
        # moto's StopTask fails (HTTP 500) for a task whose container instance is gone.
        for task in list_running_tasks(c, cluster, container_instance=arn):
            c.ecs.stop_task(
                cluster=cluster, task=task["taskArn"], reason="Host EC2 instance terminated"
            )
            stopped_tasks.append(task["taskArn"])
        c.ecs.deregister_container_instance(cluster=cluster, containerInstance=arn, force=True)
        deregistered.append({"instance_id": instance_id, "container_instance_arn": arn})
        log(f"deregistered {arn} (instance {instance_id})")
    return {"deregistered": deregistered, "stopped_tasks": stopped_tasks}


def seed_ec2(c: Clients, spec: Ec2WorldSpec) -> dict[str, Any]:
    """Cluster on an Auto Scaling group behind a capacity provider, bridge services whose
    tasks are registered (instance id, host port) in their instance target groups."""
    world = seed_world(c, spec.network)
    tg_arns: dict[str, str] = world["target_groups"]
    cluster = spec.group.cluster
    group_arn = create_auto_scaling_group(
        c, spec.group, world["subnets"][0], world["security_group"]
    )
    registered = register_group_instances(c, cluster, spec.group.name)
    if len(registered) != spec.group.desired:
        raise RuntimeError(f"group {spec.group.name} has {len(registered)} instance(s)")
    if spec.capacity_provider is not None:
        create_capacity_provider(c, spec.capacity_provider, cluster, group_arn)

    services: dict[str, Any] = {}
    for svc in spec.services:
        task_definition = register_bridge_task_definition(
            c, svc.name, svc.container_port, svc.host_port
        )
        arn = create_bridge_service(c, svc, task_definition, tg_arns)
        tasks = run_service_tasks(c, cluster, svc.name, svc.desired)["tasks"]
        if svc.target_group is not None:
            c.elbv2.register_targets(
                TargetGroupArn=tg_arns[svc.target_group],
                Targets=[{"Id": t["instance_id"], "Port": t["host_port"]} for t in tasks],
            )
            log(f"registered {len(tasks)} instance target(s) in {svc.target_group}")
        services[svc.name] = {
            "arn": arn,
            "task_definition": task_definition,
            "desired": svc.desired,
            "target_group": tg_arns.get(svc.target_group or ""),
            "tasks": tasks,
        }
        # One task per instance, in registration order: `other` runs on the first one.
        expected = [i for i, _ in registered[: svc.desired]]
        if sorted(t["instance_id"] for t in tasks) != sorted(expected):
            raise RuntimeError(f"{svc.name} landed on {tasks}, not one task on each of {expected}")

    return {
        "endpoint": c.endpoint,
        "vpc": world["vpc"],
        "subnets": world["subnets"],
        "cluster": cluster,
        "cluster_arn": world["clusters"][cluster],
        "group": spec.group.name,
        "group_arn": group_arn,
        "capacity_provider": spec.capacity_provider.name if spec.capacity_provider else None,
        "instances": dict(registered),
        "target_groups": tg_arns,
        "services": services,
    }


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


class ArgumentParser(argparse.ArgumentParser):
    """argparse that exits 1 (not 2) on usage errors, per the CLI contract."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(description="Seed a moto server for ecs-cost-saver.")
    parser.add_argument("--endpoint", required=True, help="moto server URL")
    parser.add_argument("--role-arn", help="seed the account of this role (assumed in moto)")
    sub = parser.add_subparsers(
        dest="scenario", required=True, parser_class=ArgumentParser
    )
    sub.add_parser("e2e", help="three-service world of the tests")
    sub.add_parser("select", help="one cluster of six services for the selector tests")
    sub.add_parser("demo", help="realistic demo environment")
    sub.add_parser("spot", help="Fargate and EC2 services for the Spot backstop")
    run = sub.add_parser("run-tasks", help="start tasks for a service")
    run.add_argument("--cluster", required=True)
    run.add_argument("--service", required=True)
    run.add_argument("--count", required=True, type=int)
    fleet = sub.add_parser("fleet", help="many services over many clusters (benchmark)")
    fleet.add_argument("--services", required=True, type=int)
    fleet.add_argument("--clusters", required=True, type=int)
    aws_fleet = sub.add_parser(
        "aws-fleet", help="fleet, every k-th service with a target group only the YAML lists"
    )
    aws_fleet.add_argument("--services", required=True, type=int)
    aws_fleet.add_argument("--clusters", required=True, type=int)
    aws_fleet.add_argument("--yaml-every", type=int, default=4)
    night = sub.add_parser(
        "night-apply", help="what the services' own terraform apply does at night (demo world)"
    )
    night.add_argument("--cluster", required=True)
    tag = sub.add_parser("tag", help="tag a service, as its owner would")
    for name in ("--cluster", "--service", "--key", "--value"):
        tag.add_argument(name, required=True)
    legacy = sub.add_parser("legacy-service", help="a service with a short ARN")
    legacy.add_argument("--cluster", required=True)
    legacy.add_argument("--service", required=True)
    sub.add_parser("ec2", help="EC2-backed cluster: Auto Scaling group, capacity provider")
    sub.add_parser("ec2-demo", help="the demo's EC2-backed cluster (beside `demo`)")
    for name, text in (
        ("register-instances", "register the group's new InService instances in the cluster"),
        ("deregister-instances", "deregister the group's instances that left InService"),
    ):
        instances = sub.add_parser(name, help=text)
        instances.add_argument("--cluster", required=True)
        instances.add_argument("--group", required=True)
    run_ec2 = sub.add_parser("run-service-tasks", help="start EC2 tasks for a service")
    run_ec2.add_argument("--cluster", required=True)
    run_ec2.add_argument("--service", required=True)
    run_ec2.add_argument("--count", required=True, type=int)
    stop = sub.add_parser("stop-service-tasks", help="stop a service's RUNNING tasks")
    stop.add_argument("--cluster", required=True)
    stop.add_argument("--service", required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        clients = make_clients(args.endpoint, args.role_arn)
        if args.scenario == "run-tasks":
            result = run_tasks(clients, args.cluster, args.service, args.count)
        elif args.scenario == "night-apply":
            result = night_apply(clients, DEMO_WORLD, args.cluster)
        elif args.scenario == "tag":
            result = tag_service(clients, args.cluster, args.service, args.key, args.value)
        elif args.scenario == "legacy-service":
            result = legacy_service(clients, args.cluster, args.service)
        elif args.scenario == "fleet":
            result = seed_fleet(clients, args.services, args.clusters)
        elif args.scenario == "aws-fleet":
            result = seed_aws_fleet(clients, args.services, args.clusters, args.yaml_every)
        elif args.scenario == "spot":
            result = seed_spot(clients)
        elif args.scenario == "ec2":
            result = seed_ec2(clients, EC2_WORLD)
        elif args.scenario == "ec2-demo":
            result = seed_ec2(clients, EC2_DEMO_WORLD)
        elif args.scenario == "register-instances":
            registered = register_group_instances(clients, args.cluster, args.group)
            result = group_container_instances(clients, args.cluster, args.group, registered)
        elif args.scenario == "deregister-instances":
            result = deregister_group_instances(clients, args.cluster, args.group)
        elif args.scenario == "run-service-tasks":
            result = run_service_tasks(clients, args.cluster, args.service, args.count)
        elif args.scenario == "stop-service-tasks":
            result = stop_service_tasks(clients, args.cluster, args.service)
        else:
            result = seed_world(clients, WORLDS[args.scenario])
    except Exception as exc:  # noqa: BLE001 - any failure is fatal for the CLI
        print(f"seed: {args.scenario} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
