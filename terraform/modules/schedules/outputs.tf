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

output "environments" {
  description = "The environment names, sorted."
  value       = sort(keys(local.environments))

  precondition {
    condition     = length(local.bad_environments) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: environment names must be 1-32 characters of a-z, 0-9 and - (they become schedule names): ${join(", ", [for n in local.bad_environments : jsonencode(n)])}."
  }
}

output "services" {
  description = "Every configured service: environment, cluster, service (file order within an environment)."
  value       = [for s in local.services : { environment = s.environment, cluster = s.cluster, service = s.service }]

  precondition {
    condition     = length(local.bad_services) == 0
    error_message = "ecs-cost-saver: ${var.schedule_file}: every service needs a `cluster` and a `service` name; missing in ${join(", ", local.bad_services)}."
  }
}

output "clusters" {
  description = "The distinct clusters of the configured services, sorted."
  value       = sort(distinct([for s in local.services : s.cluster if s.cluster != null]))
}
