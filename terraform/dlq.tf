# One dead-letter queue for everything that could not run: schedules Scheduler could not deliver,
# Spot events EventBridge could not deliver, and invocations that still failed after Lambda's
# retries or grew older than their maximum age. Messages are kept for the maximum 14 days.

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.function_name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

# Scheduler (schedules.tf) and Lambda (iam.tf) send with their roles; the EventBridge rules send
# as the events service, which this queue policy allows for those rules only.
data "aws_iam_policy_document" "dlq" {
  dynamic "statement" {
    for_each = length(aws_cloudwatch_event_rule.spot) > 0 ? [1] : []

    content {
      sid       = "SpotRulesDeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.dlq.arn]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [for rule in aws_cloudwatch_event_rule.spot : rule.arn]
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
