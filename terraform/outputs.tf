output "function_arn" {
  description = "ARN of the stop/start function: invoke it by hand (aws lambda invoke, console test events)."
  value       = aws_lambda_function.this.arn
}

output "function_name" {
  description = "Name of the stop/start function."
  value       = aws_lambda_function.this.function_name
}

output "spot_function_arn" {
  description = "ARN of the function the Spot interruption rules invoke."
  value       = aws_lambda_function.spot.arn
}

output "schedule_names" {
  description = "The Scheduler schedules created from the schedule file (environment-action-N), in schedule_group_name."
  value       = sort([for s in aws_scheduler_schedule.this : s.name])
}

output "schedule_group_name" {
  description = "The Scheduler group of the file's schedules."
  value       = aws_scheduler_schedule_group.schedules.name
}

output "override_schedule_group_name" {
  description = "The Scheduler group where the function creates its one-time `until` overrides."
  value       = aws_scheduler_schedule_group.overrides.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue: runs and deliveries that failed for good."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "log_group_names" {
  description = "CloudWatch log groups of the stop/start and Spot functions (one JSON report line per invocation)."
  value       = [aws_cloudwatch_log_group.function.name, aws_cloudwatch_log_group.spot.name]
}

output "spot_rule_names" {
  description = "The EventBridge rules that send Spot interruptions to the Spot function."
  value       = sort([for r in aws_cloudwatch_event_rule.spot : r.name])
}

output "state_table_name" {
  description = "The DynamoDB state table that holds the stopped services' snapshots (the function's ECS_COST_SAVER_STATE_TABLE)."
  value       = aws_dynamodb_table.state.name
}

output "notification_topic_arn" {
  description = "The SNS topic the notifications and alarms go to: the created NAME-notifications, the sns_topic_arn given, or null when notifications are off."
  value       = local.notification_topic_arn
}

output "notification_rule_names" {
  description = "The EventBridge rules (default bus) that turn the functions' asynchronous results into messages."
  value       = sort([for rule in aws_cloudwatch_event_rule.notifications : rule.name])
}

output "notification_topic_policy" {
  description = "With sns_topic_arn: the statements to add to that topic's access policy so that these rules and alarms may publish to it (null otherwise; a created topic gets them itself). A topic encrypted with KMS also needs its key policy to let events.amazonaws.com and cloudwatch.amazonaws.com use the key (kms:GenerateDataKey*, kms:Decrypt)."
  value       = local.destinations_enabled && !local.create_topic ? data.aws_iam_policy_document.notifications[0].json : null
}

output "alarm_names" {
  description = "The CloudWatch alarms created: the functions' errors, the DLQ, and one missed-stop alarm per environment that has one."
  value       = sort([for arn in local.alarm_arns : element(split(":alarm:", arn), 1)])
}

output "missed_stop_alarm_skipped" {
  description = "The environments without a missed-stop alarm, with the reason (no stop crons, a time zone with daylight saving time, a cron the module cannot read)."
  value       = module.monitoring.missed_stop_skipped
}

output "dashboard_name" {
  description = "The CloudWatch dashboard (null with create_dashboard = false)."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "dashboard_url" {
  description = "The dashboard in the CloudWatch console."
  value       = var.create_dashboard ? "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards/dashboard/${var.function_name}" : null
}

output "function_role_arn" {
  description = "The stop/start function's role: one of the hub_role_arns of modules/target-account, which its role trusts."
  value       = aws_iam_role.function.arn
}

output "spot_role_arn" {
  description = "The Spot function's role: the other of the hub_role_arns of modules/target-account."
  value       = aws_iam_role.spot.arn
}

output "event_bus_arn" {
  description = "This account's default event bus in this region, where the Spot rules are: the hub_event_bus_arn of modules/target-account, whose rules forward their Spot events to it."
  value       = local.destination_bus_arn
}
