# The schedule YAML -> one EventBridge Scheduler entry per (environment, action, cron) of the
# `stop`, `start` and `reconcile` crons, and the services, clusters and Auto Scaling groups the
# IAM policy and the Spot rules are scoped to. `ecs-cost-saver
# validate` checks the whole file (cron syntax, unknown keys, duplicates, with line and column);
# this module only refuses what would make bad schedule names, expressions or ARNs, with the
# messages in outputs.tf. Everything here is tolerant (`try`) so those messages are the ones a
# user sees, not a type error from the middle of an expression.

locals {
  document     = try(yamldecode(file(var.schedule_file)), null)
  timezone     = try(coalesce(local.document.timezone), "Asia/Tokyo")
  environments = try(merge(local.document.environments), {})
  # Only a label here (the dashboard's); the function validates and applies `pricing`.
  currency = try(coalesce(tostring(local.document.pricing.currency)), "USD")

  # Environment names become schedule names, so they must already be valid ones.
  environment_pattern = "^[a-z0-9-]{1,32}$"
  bad_environments    = sort([for name in keys(local.environments) : name if !can(regex(local.environment_pattern, name))])

  cron_pattern = "^cron\\(.+\\)$"
  actions      = ["stop", "start", "reconcile"]
  crons = flatten([
    for environment, body in local.environments : [
      for action in local.actions : [
        for index, expression in try([for c in body[action] : c], []) : {
          environment = environment
          action      = action
          index       = index
          expression  = expression
        }
      ]
    ]
  ])
  bad_crons = concat(
    flatten([
      for environment, body in local.environments : [
        for action in local.actions : "${environment}.${action} is not a list"
        if try(body[action] != null, false) && !can([for c in body[action] : c])
      ]
    ]),
    [
      for c in local.crons : "${c.environment}.${c.action}[${c.index}] = ${jsonencode(c.expression)}"
      if !can(regex(local.cron_pattern, c.expression))
    ],
  )

  # Deterministic names, unique within the module's schedule group: `staging-stop-1`. At most
  # 32 + 6 + 1 + digits characters, all of them [0-9a-z-].
  schedules = {
    for c in local.crons : "${c.environment}-${c.action}-${c.index + 1}" => {
      name        = "${c.environment}-${c.action}-${c.index + 1}"
      environment = c.environment
      action      = c.action
      expression  = c.expression
      timezone    = local.timezone
      # `scheduled` tells the function that this start may be skipped on a holiday and that a
      # pending override wins; a manual invocation (no `scheduled`) always runs.
      input = jsonencode({ action = c.action, environment = c.environment, scheduled = true })
    }
  }

  # Hub and spoke: `accounts` names the roles the functions assume in other accounts; an
  # environment's `account` (a key of it) and `region` are where its entries live unless an
  # entry names its own. Null means the function's own account (the hub) or region, which this
  # module cannot know: the callers fill them in (modules/account-scope).
  accounts_table = try(merge(local.document.accounts), {})
  # The role ARN becomes the Resource of the hub's sts:AssumeRole and the target role's name and
  # path (modules/target-account), so it must be exactly one role: no wildcard, 12 digits.
  role_arn_pattern = "^arn:(aws[a-z-]*):iam::([0-9]{12}):role/((?:[\\w+=,.@-]+/)*)([\\w+=,.@-]{1,64})$"
  account_roles = {
    for key, body in local.accounts_table : key => {
      role_arn    = try(tostring(body.role_arn), null)
      external_id = try(tostring(body.external_id), null)
    }
  }
  bad_role_arns = sort([
    for key, a in local.account_roles : "${key}.role_arn = ${jsonencode(a.role_arn)}"
    if a.role_arn == null || !can(regex(local.role_arn_pattern, a.role_arn))
  ])
  placements = {
    for environment, body in local.environments : environment => {
      account = try(tostring(body.account), null)
      region  = try(tostring(body.region), null)
    }
  }

  # A `services:` entry names one service (`service`) or chooses the cluster's services when
  # the function runs (`select`): the IAM scope of a selector is every service of its cluster.
  # `own_account` and `own_region` are what the entry itself says; `account` and `region` what
  # it inherits too.
  entries = flatten([
    for environment, body in local.environments : [
      for index, s in try([for s in body.services : s], []) : {
        environment = environment
        index       = index
        cluster     = try(tostring(s.cluster), null)
        service     = try(tostring(s.service), null)
        selects     = try(s.select != null, false)
        own_account = try(tostring(s.account), null)
        own_region  = try(tostring(s.region), null)
        account     = try(tostring(s.account), null) != null ? tostring(s.account) : local.placements[environment].account
        region      = try(tostring(s.region), null) != null ? tostring(s.region) : local.placements[environment].region
      }
    ]
  ])
  # Every `account:` the file writes, where it writes it; an inherited one is reported once, at
  # its environment.
  account_references = concat(
    [for environment, p in local.placements : { where = "${environment}.account", account = p.account } if p.account != null],
    [for s in local.entries : { where = "${s.environment}.services[${s.index}].account", account = s.own_account } if s.own_account != null],
  )
  unknown_accounts = [
    for r in local.account_references : "${r.where} = ${jsonencode(r.account)}"
    if !contains(keys(local.accounts_table), r.account)
  ]
  # A region becomes part of every ARN of the policies: a wildcard or a typo would widen or void
  # them.
  region_pattern = "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"
  region_references = concat(
    [for environment, p in local.placements : { where = "${environment}.region", region = p.region } if p.region != null],
    [for s in local.entries : { where = "${s.environment}.services[${s.index}].region", region = s.own_region } if s.own_region != null],
  )
  bad_regions = [
    for r in local.region_references : "${r.where} = ${jsonencode(r.region)}"
    if !can(regex(local.region_pattern, r.region))
  ]
  services  = [for s in local.entries : s if !s.selects]
  selectors = [for s in local.entries : s if s.selects]
  bad_services = [
    for s in local.entries : "${s.environment}.services[${s.index}]"
    if s.cluster == null || (s.service == null) == !s.selects
  ]

  # `capacity`: the EC2 Auto Scaling groups behind an environment's container instances, sized
  # down on stop and back on start. Their names become IAM resource ARNs
  # (...:autoScalingGroupName/NAME), so a `:` or a wildcard (`*`, `?`) would widen the policy.
  # A mapping is iterable too: only a YAML sequence is a list of groups.
  capacity_lists = {
    for environment, body in local.environments : environment => body.capacity
    if try(body.capacity != null, false) && can([for c in body.capacity : c]) && !can(keys(body.capacity))
  }
  capacity_entries = flatten([
    for environment, list in local.capacity_lists : [
      for index, c in list : {
        environment = environment
        index       = index
        name        = try(tostring(c.autoscaling_group), null)
        # A group lives where its environment's instances do: the environment's account and
        # region.
        account = local.placements[environment].account
        region  = local.placements[environment].region
      }
    ]
  ])
  group_pattern = "^[^:*?]{1,255}$"
  bad_capacity = concat(
    [
      for environment, body in local.environments : "${environment}.capacity is not a list"
      if try(body.capacity != null, false) && !contains(keys(local.capacity_lists), environment)
    ],
    [
      for c in local.capacity_entries : "${c.environment}.capacity[${c.index}] = ${jsonencode(c.name)}"
      if c.name == null || !can(regex(local.group_pattern, c.name))
    ],
  )
  # A group is sized by one environment's schedule: in two, one's stop would undo the other's
  # start. Groups of one name in other accounts or regions are other groups.
  group_environments = {
    for c in local.capacity_entries : join(" ", compact([
      c.name,
      c.account == null ? "" : "in account ${c.account}",
      c.region == null ? "" : "in ${c.region}",
    ])) => c.environment... if c.name != null
  }
  shared_groups = sort([
    for name, environments in local.group_environments : "${name} (${join(", ", sort(distinct(environments)))})"
    if length(distinct(environments)) > 1
  ])
}
