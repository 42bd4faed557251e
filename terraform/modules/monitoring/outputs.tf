output "notifications_enabled" {
  description = "Whether notifications are on (notification_emails or sns_topic_arn): the functions then send their asynchronous results to the default event bus."
  value       = local.notifications_enabled

  # A refused setting stops the plan before anything is created from it.
  precondition {
    condition     = !(length(var.notification_emails) > 0 && var.sns_topic_arn != null)
    error_message = "ecs-cost-saver: set notification_emails (a topic is created for them) or sns_topic_arn (your own topic), not both: subscribe the addresses to your topic instead."
  }
  precondition {
    condition     = !var.notify_on_start || local.notifications_enabled
    error_message = "ecs-cost-saver: notify_on_start needs somewhere to send the message: set notification_emails or sns_topic_arn."
  }
}

output "notification_rules" {
  description = "The EventBridge rules for the notifications, by key (failed, dropped, spot-failed, spot-dropped, and ready with notify_on_start): name, description, event_pattern (JSON), input_paths and input_template (plain text for SNS). Empty when notifications are off."
  value       = local.notification_rules
}

output "grace_hours" {
  description = "How many hours after a scheduled stop the missed-stop alarm waits for a successful one: ceil((max_event_age_seconds + timeout) / 3600), at least 1."
  value       = local.grace_hours
}

output "missed_stop_alarms" {
  description = "One missed-stop alarm per environment whose stop crons this module can read, by environment: name, environment, evaluation_periods (= datapoints to alarm), grace_hours, stop_times (UTC), expressions (w, armed, missed: the metric math over `m`, RunSucceeded) and description."
  value       = local.missed_stop_alarms
}

output "missed_stop_skipped" {
  description = "The environments that get no missed-stop alarm, with the reason (no stop crons, a time zone with daylight saving time, a cron this module cannot read)."
  value       = local.missed_stop_skipped
}

output "base_alarm_names" {
  description = "The names of the alarms on the functions' errors and the DLQ, by key: errors, spot-errors, dlq-messages."
  value       = local.base_alarm_names
}

output "alarm_names" {
  description = "The names of every alarm the root module creates when create_alarms is on: the two functions' errors, the DLQ, then one missed-stop alarm per environment."
  value       = local.alarm_names
}

output "dashboard_body" {
  description = "The CloudWatch dashboard's body (JSON)."
  value       = jsonencode({ widgets = local.dashboard_widgets })
}
