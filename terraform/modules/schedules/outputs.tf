output "schedules" {
  description = "One entry per (environment, action, cron) of the stop, start and reconcile crons, keyed by its schedule name: name, environment, action, expression (cron(...)), timezone and input (the function's JSON payload)."
  value       = local.schedules

  # A refused file stops the plan before anything is created from it. Each check sits on the
  # output it protects, so a test can tell which one refused the file.
  precondition {
    condition     = local.document != null
    error_message = "ecs-cost-saver: ${var.schedule_file} is not valid YAML."
  }
  precondition {
    condition     = local.document == null || length(local.environments) > 0
    error_message = "ecs-cost-saver: ${var.schedule_file} has no `environments` mapping with at least one environment."
  }
  precondition {
    condition     = length(local.bad_crons) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: `stop`, `start` and `reconcile` must be lists of EventBridge Scheduler cron(...) expressions: ${join("; ", local.bad_crons)}."
  }
}

output "timezone" {
  description = "The schedule's IANA time zone (YAML `timezone`, default Asia/Tokyo)."
  value       = local.timezone
}

output "currency" {
  description = "The currency of the saving the function reports (YAML `pricing.currency`, default USD): the dashboard's label for SavedCostPerHour."
  value       = local.currency
}

output "environments" {
  description = "The environment names, sorted."
  value       = sort(keys(local.environments))

  precondition {
    condition     = length(local.bad_environments) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: environment names must be 1-32 characters of a-z, 0-9 and - (they become schedule names): ${join(", ", [for n in local.bad_environments : jsonencode(n)])}."
  }
}

output "services" {
  description = "Every service the file names: environment, cluster, service (file order within an environment). Services a `select` entry chooses are in `selectors`."
  value       = [for s in local.services : { environment = s.environment, cluster = s.cluster, service = s.service }]

  precondition {
    condition     = length(local.bad_services) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: every `services` entry needs a `cluster` and either a `service` name or a `select`; wrong in ${join(", ", local.bad_services)}."
  }
}

output "selectors" {
  description = "Every `select` entry: environment and cluster (its services are chosen when the function runs, so the IAM scope is every service of the cluster)."
  value       = [for s in local.selectors : { environment = s.environment, cluster = s.cluster }]
}

output "clusters" {
  description = "The distinct clusters of the configured services and selectors, sorted."
  value       = sort(distinct([for s in local.entries : s.cluster if s.cluster != null]))
}

output "autoscaling_groups" {
  description = "The distinct EC2 Auto Scaling group names of every environment's `capacity`, sorted (empty when no environment lists any)."
  value       = sort(distinct([for c in local.capacity_entries : c.name if c.name != null]))

  precondition {
    condition     = length(local.bad_capacity) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: `capacity` must be a list of entries with an `autoscaling_group` name of 1-255 characters without `:`, `*` or `?` (it becomes an IAM resource ARN): ${join("; ", local.bad_capacity)}."
  }
  precondition {
    condition     = length(local.shared_groups) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: an Auto Scaling group belongs to one environment only: ${join("; ", local.shared_groups)}."
  }
}

# --- Hub and spoke: where each entry lives ---
# The outputs above are the same for every account and region (names only); these carry, per
# entry, `account` (a key of `accounts`, null for the function's own account) and `region` (null
# for the function's region). modules/account-scope turns them into one account's ARNs.

output "accounts" {
  description = "The `accounts` table: key -> role_arn, external_id (null when the file gives none) and account_id (the 12 digits of role_arn). Empty without `accounts`."
  value = {
    for key, a in local.account_roles : key => {
      role_arn    = a.role_arn
      external_id = a.external_id
      account_id  = try(regex(local.role_arn_pattern, a.role_arn)[1], null)
    }
  }

  precondition {
    condition     = length(local.bad_role_arns) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: every `accounts` entry needs a `role_arn` of one role, arn:PARTITION:iam::ACCOUNT:role/PATH/NAME with a 12-digit account and no wildcard (the functions assume exactly it): ${join("; ", local.bad_role_arns)}."
  }
}

output "service_entries" {
  description = "Every service the file names, as in `services`, with its account (null: the function's own) and region (null: the function's). An entry's own `account`/`region` win over its environment's."
  value = [
    for s in local.services : {
      environment = s.environment
      cluster     = s.cluster
      service     = s.service
      account     = s.account
      region      = s.region
    }
  ]

  # Every `account:` of the file is checked here, the environments' too (their capacity groups
  # and selectors inherit them).
  precondition {
    condition     = length(local.unknown_accounts) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: `account` must name a key of `accounts` (${jsonencode(sort(keys(local.accounts_table)))}); leave it out for the function's own account: ${join("; ", local.unknown_accounts)}."
  }
}

output "selector_entries" {
  description = "Every `select` entry, as in `selectors`, with its account and region (null: the function's own)."
  value       = [for s in local.selectors : { environment = s.environment, cluster = s.cluster, account = s.account, region = s.region }]
}

output "cluster_entries" {
  description = "The distinct (account, region, cluster) of the services and selectors, sorted (the other accounts' first); null account or region: the function's own."
  value = [
    for key in sort(distinct([
      for s in local.entries : jsonencode([s.account, s.region, s.cluster]) if s.cluster != null
      ])) : {
      account = jsondecode(key)[0]
      region  = jsondecode(key)[1]
      cluster = jsondecode(key)[2]
    }
  ]

  precondition {
    condition     = length(local.bad_regions) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: `region` must be an AWS region name such as ap-northeast-3 (it becomes part of every ARN in the policies): ${join("; ", local.bad_regions)}."
  }
}

output "autoscaling_group_entries" {
  description = "Every `capacity` group: environment, name, and the account and region of its environment (null: the function's own)."
  value = [
    for c in local.capacity_entries : { environment = c.environment, name = c.name, account = c.account, region = c.region }
    if c.name != null
  ]
}
