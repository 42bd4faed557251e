# CloudWatch alarms (create_alarms, on by default). Each notifies the topic when there is one
# (notifications.tf); without one they still show their state in the console and on the
# dashboard.
#
#   NAME-errors, NAME-spot-errors   a function returned an error (AWS/Lambda Errors >= 1 in 5
#                                   minutes). Counts every attempt, retries and manual
#                                   invocations included: a run that failed and then succeeded
#                                   on Lambda's retry still shows here.
#   NAME-dlq-messages               something failed for good: the DLQ holds a message.
#   NAME-missed-stop-ENV            a scheduled stop of ENV was not followed by a successful
#                                   one within the grace (modules/monitoring/missed_stop.tf).

locals {
  alarm_actions = local.notification_topic_arn == null ? [] : [local.notification_topic_arn]

  function_alarms = var.create_alarms ? {
    errors = {
      function    = var.function_name
      description = "ecs-cost-saver: the stop/start function ${var.function_name} returned an error: a service or Auto Scaling group failed (the error names them and their kinds), bad input, or a timeout. Lambda retries a scheduled run twice; a run that failed for good is also in ${aws_sqs_queue.dlq.name} and, with notifications on, sends its own message. Look at the report lines in /aws/lambda/${var.function_name}."
    }
    spot-errors = {
      function    = local.spot_function_name
      description = "ecs-cost-saver: the Spot function ${local.spot_function_name} returned an error while taking an interrupted task or instance out of its target groups. Lambda retries twice within the event's two minutes. Look at /aws/lambda/${local.spot_function_name}."
    }
  } : {}

  alarm_arns = concat(
    [for alarm in aws_cloudwatch_metric_alarm.function_errors : alarm.arn],
    [for alarm in aws_cloudwatch_metric_alarm.dlq_messages : alarm.arn],
    [for alarm in aws_cloudwatch_metric_alarm.missed_stop : alarm.arn],
  )
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.function_alarms

  alarm_name          = module.monitoring.base_alarm_names[each.key]
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value.function }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # No invocation, no datapoint: that is not an error.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  tags               = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_messages" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = module.monitoring.base_alarm_names["dlq-messages"]
  alarm_description   = "ecs-cost-saver: ${aws_sqs_queue.dlq.name} holds events that failed for good: schedules Scheduler could not deliver, Spot events EventBridge could not deliver, runs that still failed after Lambda's retries or waited longer than max_event_age_seconds, notifications EventBridge could not publish. Read them (aws sqs receive-message), put right what they name, then delete them; the alarm stays on while any is there."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  # SQS stops sending the metric for a queue that stays empty and idle.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  tags               = var.tags
}

# The rule, in hourly periods: a period breaches when it starts between an hour before and
# `grace` hours after a scheduled stop and holds no RunSucceeded of 1; grace + 1 breaching
# periods in a row raise the alarm, `grace` hours after a stop that did not succeed.
resource "aws_cloudwatch_metric_alarm" "missed_stop" {
  for_each = var.create_alarms && var.create_missed_stop_alarms ? module.monitoring.missed_stop_alarms : {}

  alarm_name          = each.value.name
  alarm_description   = each.value.description
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.evaluation_periods
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # `missed` is built on DAY/HOUR/MINUTE of the period, which give a value for every period
  # whether or not a run emitted anything, so no period should be missing. If one ever is,
  # count it as a missed stop: a false alarm is seen, a silent one is not.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  tags               = var.tags

  metric_query {
    id          = "m"
    label       = "RunSucceeded of ${each.value.environment}'s stops (1: nothing failed)"
    return_data = false

    metric {
      namespace   = "EcsCostSaver"
      metric_name = "RunSucceeded"
      dimensions  = { Environment = each.value.environment, Action = "stop" }
      period      = 3600
      stat        = "Maximum"
    }
  }

  metric_query {
    id          = "w"
    label       = "start of the period, minute of the week in UTC (Monday 00:00 = 0)"
    expression  = each.value.expressions.w
    return_data = false
  }

  metric_query {
    id          = "armed"
    label       = "1 from an hour before to ${each.value.grace_hours} h after a scheduled stop"
    expression  = each.value.expressions.armed
    return_data = false
  }

  metric_query {
    id          = "missed"
    label       = "1: armed and no successful stop in the period"
    expression  = each.value.expressions.missed
    return_data = true
  }
}
