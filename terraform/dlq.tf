# One dead-letter queue for everything that could not run: schedules Scheduler could not deliver,
# Spot events EventBridge could not deliver, invocations that still failed after Lambda's
# retries or grew older than their maximum age, and notifications EventBridge could not publish.
# Messages are kept for the maximum 14 days.

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.function_name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

# Scheduler (schedules.tf) and Lambda (iam.tf) send with their roles; the EventBridge rules (the
# Spot rules' deliveries to the function, the notification rules' to SNS) send as the events
# service, which this queue policy allows for those rules only.
locals {
  dead_letter_rule_arns = concat(
    [for rule in aws_cloudwatch_event_rule.spot : rule.arn],
    [for rule in aws_cloudwatch_event_rule.notifications : rule.arn],
  )
}

data "aws_iam_policy_document" "dlq" {
  dynamic "statement" {
    for_each = length(local.dead_letter_rule_arns) > 0 ? [1] : []

    content {
      sid       = "EventBridgeRulesDeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.dlq.arn]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = local.dead_letter_rule_arns
      }
    }
  }

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dlq.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json
}
