# One account's share of the schedule file, as the ARNs its policy is scoped to: the hub's own
# entries (account = null) for its functions' roles (terraform/iam.tf), or one target account's
# for the role the hub assumes there (modules/target-account). Both get the same ARN scheme from
# here, so a target role is scoped exactly as the hub's statements would be in that account.
#
# Entries that name no region are in default_region, the hub function's: the schedule file
# cannot say which region that is, and the function reads them there.

locals {
  target = var.account == null ? null : try(var.schedule.accounts[var.account], null)

  # arn:PARTITION:iam::ACCOUNT:role/PATH/NAME (modules/schedules refused any other shape).
  role_parts = local.target == null ? null : try(regex("^arn:(aws[a-z-]*):iam::([0-9]{12}):role/((?:[\\w+=,.@-]+/)*)([\\w+=,.@-]{1,64})$", local.target.role_arn), null)
  account_id = local.target == null ? var.account_id : try(local.role_parts[1], null)

  # Where each of this account's entries lives.
  clusters = [
    for c in var.schedule.cluster_entries : { cluster = c.cluster, region = coalesce(c.region, var.default_region) }
    if c.account == var.account
  ]
  services = [
    for s in var.schedule.service_entries : { cluster = s.cluster, service = s.service, region = coalesce(s.region, var.default_region) }
    if s.account == var.account
  ]
  selectors = [
    for s in var.schedule.selector_entries : { cluster = s.cluster, region = coalesce(s.region, var.default_region) }
    if s.account == var.account
  ]
  groups = [
    for g in var.schedule.autoscaling_group_entries : { name = g.name, region = coalesce(g.region, var.default_region) }
    if g.account == var.account
  ]
  # The regions of those entries. With none (an account whose file entries are all elsewhere),
  # default_region, so that no statement is left without a Resource.
  entry_regions = sort(distinct(concat([for c in local.clusters : c.region], [for g in local.groups : g.region])))
  regions       = length(local.entry_regions) > 0 ? local.entry_regions : [var.default_region]

  prefix = "arn:${var.partition}"
  # Empty only when output.account_id refuses the inputs: let that message be the one shown.
  arn_account = local.account_id == null ? "" : local.account_id
  ecs         = { for r in local.regions : r => "${local.prefix}:ecs:${r}:${local.arn_account}" }

  cluster_arns = sort(distinct([for c in local.clusters : "${local.ecs[c.region]}:cluster/${c.cluster}"]))
  cluster_arns_by_region = {
    for r in local.regions : r => sort(distinct([for c in local.clusters : "${local.ecs[c.region]}:cluster/${c.cluster}" if c.region == r]))
  }
  # A `select` entry may choose any service of its cluster: those are in scope as a pattern.
  service_arns = sort(distinct(concat(
    [for s in local.services : "${local.ecs[s.region]}:service/${s.cluster}/${s.service}"],
    [for s in local.selectors : "${local.ecs[s.region]}:service/${s.cluster}/*"],
  )))
  # Any service (for Spot), container instance and task of the clusters.
  cluster_services            = sort(distinct([for c in local.clusters : "${local.ecs[c.region]}:service/${c.cluster}/*"]))
  cluster_container_instances = sort(distinct([for c in local.clusters : "${local.ecs[c.region]}:container-instance/${c.cluster}/*"]))
  cluster_tasks               = sort(distinct([for c in local.clusters : "${local.ecs[c.region]}:task/${c.cluster}/*"]))
  # A group's ARN carries a random id before its name, hence the `*`.
  autoscaling_group_arns = sort(distinct([
    for g in local.groups : "${local.prefix}:autoscaling:${g.region}:${local.arn_account}:autoScalingGroup:*:autoScalingGroupName/${g.name}"
  ]))
  # Names the file does not hold (the clusters' capacity providers, the services' scalable
  # targets and target groups): any of the account in each region its entries are in.
  capacity_provider_arns = sort([for r in local.regions : "${local.ecs[r]}:capacity-provider/*"])
  scalable_target_arns   = sort([for r in local.regions : "${local.prefix}:application-autoscaling:${r}:${local.arn_account}:scalable-target/*"])
  target_group_arns      = sort([for r in local.regions : "${local.prefix}:elasticloadbalancing:${r}:${local.arn_account}:targetgroup/*/*"])

  # The trust of a target role: the external id, when the file gives one, must come with every
  # AssumeRole (the function passes it: aws-config's AssumeRoleProvider).
  assume_role_conditions = try(local.target.external_id, null) == null ? [] : [
    { test = "StringEquals", variable = "sts:ExternalId", values = [local.target.external_id] },
  ]
}
