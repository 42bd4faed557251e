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
