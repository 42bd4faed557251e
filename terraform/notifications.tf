# Notifications, off by default: with notification_emails (a topic created here) or
# sns_topic_arn (your own), a message when a run failed for good and, with notify_on_start, when
# a start is ready.
#
# No code of ours calls SNS. Lambda's asynchronous invocation destinations (lambda.tf) put a
# record of each result on the account's default event bus: on failure for both functions (only
# once Lambda's retries are exhausted, or the event grew older than its maximum age), on success
# for the stop/start function with notify_on_start. EventBridge rules (texts and patterns in
# modules/monitoring) pick the records worth a message and an input transformer turns each into
# plain text for the topic. Only asynchronous invocations have destinations: the schedules,
# the `until` overrides and `aws lambda invoke --invocation-type Event`; a synchronous invoke
# (console Test, plain `aws lambda invoke`) returns its error to the caller and sends nothing.
# The destinations come in addition to the DLQ (dead_letter_config), which keeps the event.
#
# The functions' roles (iam.tf) may events:PutEvents on destination_bus_arn when
# destinations_enabled: Lambda sends destination records with the function's role.

locals {
  destinations_enabled = module.monitoring.notifications_enabled
  destination_bus_arn  = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/default"

  create_topic           = length(var.notification_emails) > 0
  notification_topic_arn = local.create_topic ? aws_sns_topic.notifications[0].arn : var.sns_topic_arn
}

resource "aws_sns_topic" "notifications" {
  #checkov:skip=CKV_AWS_26:The messages name environments, services and error kinds, no secrets. EventBridge and CloudWatch can publish to an encrypted topic only through a customer managed key whose policy lets them use it (the AWS managed aws/sns key cannot be granted), a key and a monthly cost this option does not impose; bring your own encrypted topic with sns_topic_arn instead.
  count = local.create_topic ? 1 : 0

  name = "${var.function_name}-notifications"
  tags = var.tags
}

# Each address receives a confirmation mail from AWS first; nothing is delivered to it until it
# is confirmed. A subscription still pending confirmation cannot be deleted: Terraform forgets
# it and AWS removes it after three days.
resource "aws_sns_topic_subscription" "email" {
  for_each = local.create_topic ? toset(var.notification_emails) : toset([])

  topic_arn = aws_sns_topic.notifications[0].arn
  protocol  = "email"
  endpoint  = each.value
}

# Who may publish: EventBridge for exactly these rules, CloudWatch for exactly these alarms. The
# created topic gets this policy; for an existing topic it is the output notification_topic_policy,
# to be added to that topic's own policy.
data "aws_iam_policy_document" "notifications" {
  count = local.destinations_enabled ? 1 : 0

  statement {
    sid       = "NotificationRulesPublish"
    actions   = ["sns:Publish"]
    resources = [local.notification_topic_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in aws_cloudwatch_event_rule.notifications : rule.arn]
    }
  }

  dynamic "statement" {
    for_each = length(local.alarm_arns) > 0 ? [1] : []

    content {
      sid       = "AlarmsPublish"
      actions   = ["sns:Publish"]
      resources = [local.notification_topic_arn]

      principals {
        type        = "Service"
        identifiers = ["cloudwatch.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = local.alarm_arns
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account]
      }
    }
  }
}

resource "aws_sns_topic_policy" "notifications" {
  count = local.create_topic ? 1 : 0

  arn    = aws_sns_topic.notifications[0].arn
  policy = data.aws_iam_policy_document.notifications[0].json
}

resource "aws_cloudwatch_event_rule" "notifications" {
  for_each = module.monitoring.notification_rules

  name          = each.value.name
  description   = each.value.description
  event_pattern = each.value.event_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "notifications" {
  for_each = module.monitoring.notification_rules

  rule      = aws_cloudwatch_event_rule.notifications[each.key].name
  target_id = "sns"
  arn       = local.notification_topic_arn

  input_transformer {
    input_paths    = each.value.input_paths
    input_template = each.value.input_template
  }

  # A message EventBridge could not publish (e.g. an existing topic without the policy above)
  # is kept in the DLQ, whose alarm then goes off.
  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }

  depends_on = [aws_sns_topic_policy.notifications]
}
