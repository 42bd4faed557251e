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

  # A `services:` entry names one service (`service`) or chooses the cluster's services when
  # the function runs (`select`): the IAM scope of a selector is every service of its cluster.
  entries = flatten([
    for environment, body in local.environments : [
      for index, s in try([for s in body.services : s], []) : {
        environment = environment
        index       = index
        cluster     = try(tostring(s.cluster), null)
        service     = try(tostring(s.service), null)
        selects     = try(s.select != null, false)
      }
    ]
  ])
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
  # A group is sized by one environment's schedule: in two, one's stop would undo the other's start.
  group_environments = {
    for c in local.capacity_entries : c.name => c.environment... if c.name != null
  }
  shared_groups = sort([
    for name, environments in local.group_environments : "${name} (${join(", ", sort(distinct(environments)))})"
    if length(distinct(environments)) > 1
  ])
}
