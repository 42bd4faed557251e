# One EventBridge Scheduler schedule per cron of the schedule file (modules/schedules), in a
# group of their own, and a second group for the one-time `until` overrides that the function
# creates itself (ecs-cost-saver-override-ENV, deleted by Scheduler after they run). Deleting a
# group deletes its schedules, so `terraform destroy` also removes pending overrides.

resource "aws_scheduler_schedule_group" "schedules" {
  name = var.function_name
  tags = var.tags
}

resource "aws_scheduler_schedule_group" "overrides" {
  name = "${var.function_name}-overrides"
  tags = var.tags
}

resource "aws_scheduler_schedule" "this" {
  #checkov:skip=CKV_AWS_297:The schedule's input is a public payload such as {"action":"stop","environment":"staging","scheduled":true}; Scheduler encrypts it with an AWS owned key, and a customer-managed key would add a key policy for no secret.
  for_each = module.schedules.schedules

  name        = each.value.name
  group_name  = aws_scheduler_schedule_group.schedules.name
  description = "ecs-cost-saver: ${each.value.action} ${each.value.environment}"

  # The cron is evaluated on the wall clock of the file's zone (Asia/Tokyo by default), so
  # MON-FRI means Monday to Friday there.
  schedule_expression          = each.value.expression
  schedule_expression_timezone = each.value.timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = each.value.input

    # Retries of the delivery (the Invoke call) itself; the run's own failures are retried by
    # Lambda (lambda.tf). Either way an event older than max_event_age_seconds is dropped to the
    # DLQ rather than run late.
    retry_policy {
      maximum_event_age_in_seconds = var.max_event_age_seconds
      maximum_retry_attempts       = 185
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq.arn
    }
  }
}

# The role Scheduler assumes for these schedules and for the function's overrides: it may invoke
# the stop/start function and write to the DLQ, nothing else.
data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.function_name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeTheStopStartFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn]
  }

  # Scheduler writes dead letters with the schedule's role, not as a service principal.
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-${var.function_name}"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}
