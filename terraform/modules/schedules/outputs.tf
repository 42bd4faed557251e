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
