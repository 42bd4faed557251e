# Two functions from the one package (the same binary and schedule.yaml):
#
# - `function_name` takes the schedules, the `until` overrides and manual invocations (stop,
#   start, register, reconcile, status).
# - `function_name-spot` takes the Spot interruption events (spot.tf).
#
# Why two, and the concurrency: two runs for one environment should not interleave. The state
# table (state.tf) already keeps them from losing a snapshot: a run holds a service's entry while
# it writes its counts, and a run that finds it held reads the service again and plans again.
# Reserved concurrency 1 on the stop/start function still runs every stop, start, reconcile and
# manual invocation one after another, so they never wait on each other's holds.
# The costs, accepted:
#   - runs of different environments wait for each other too (two 08:00 starts run back to
#     back; a start may take up to `timeout`);
#   - asynchronous invocations (Scheduler, `aws lambda invoke --invocation-type Event`) that
#     find it busy stay in Lambda's queue and are retried for up to `max_event_age_seconds`,
#     then go to the DLQ; a synchronous `aws lambda invoke` during a run is refused with
#     TooManyRequestsException (HTTP 429) and has to be repeated.
# A Spot event cannot wait: the task is killed two minutes after the warning, and a start can
# hold the stop/start function for minutes. Spot handling only deregisters targets and drains
# container instances; it never changes desiredCount, scalable targets or snapshots, so it
# cannot corrupt what a stop or start does. Hence the separate function, with its own small
# reservation so a burst of interruptions runs in parallel but cannot take the account's whole
# concurrency. Accounts whose concurrency quota is too small to reserve anything (new accounts
# can have 10) set both reservations to -1: runs may then overlap, and the function is told so
# (ECS_COST_SAVER_SERIAL_RUNS=false); the state table's conditional writes keep the snapshots
# safe either way (tests/races.rs).

locals {
  # scripts/package writes the schedule's SHA-256 beside the zip; when that file is there, a
  # package built from another schedule (or before the YAML was edited) is refused.
  package_stamp = "${var.lambda_zip}.schedule.sha256"

  environment = merge(var.settings, {
    SCHEDULE_FILE = local.schedule_path
    # The hub's own account: a Spot event forwarded from an account the file's `accounts`
    # table does not name is skipped (src/dispatch/spot.rs).
    ECS_COST_SAVER_ACCOUNT_ID = local.account
  })
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs. In a VPC it would need a NAT gateway or four interface endpoints (ECS, Application Auto Scaling, ELB, Scheduler), costing more than the environments it stops save.
  #checkov:skip=CKV_AWS_50:The function emits no X-Ray segments; each invocation's JSON report in CloudWatch Logs is its trace, and Active tracing would need xray:Put* beyond the calls the code makes.
  #checkov:skip=CKV_AWS_173:The environment holds a file path, ARNs and a group name, no secrets; Lambda encrypts it at rest with its AWS managed key.
  #checkov:skip=CKV_AWS_272:The package is built (scripts/package) and deployed by the same operator from a local zip whose hash Terraform pins; code signing needs an AWS Signer profile and a signing step that this tool's users do not have.
  function_name = var.function_name
  description   = "ecs-cost-saver: stops and starts the ECS services of ${basename(var.schedule_file)}"
  role          = aws_iam_role.function.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout

  filename = var.lambda_zip
  # The zip holds the schedule, so an edited YAML (packaged again) changes this hash and the
  # apply that updates the schedules updates the function too.
  source_code_hash = try(filebase64sha256(var.lambda_zip), null)

  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = merge(local.environment, {
      ECS_COST_SAVER_FUNCTION_ARN       = local.function_arn
      ECS_COST_SAVER_SCHEDULER_ROLE_ARN = aws_iam_role.scheduler.arn
      ECS_COST_SAVER_SCHEDULE_GROUP     = aws_scheduler_schedule_group.overrides.name
      # Runs are queued one at a time only with a reservation of 1 (the tag store, used only
      # without a table, then skips its re-reads; the table needs none).
      ECS_COST_SAVER_SERIAL_RUNS = var.reserved_concurrency == 1 ? "true" : "false"
      ECS_COST_SAVER_STATE_TABLE = aws_dynamodb_table.state.name
    })
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function.name
    # The report line carries no level, which Lambda counts as INFO: keep INFO or it is dropped.
    application_log_level = "INFO"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  tags = var.tags

  # The role's permissions must exist before the first invocation, not just the role.
  depends_on = [aws_iam_role_policy.function]

  lifecycle {
    precondition {
      condition     = fileexists(var.lambda_zip)
      error_message = "No package at ${var.lambda_zip}: build it with `bash scripts/package ${var.schedule_file}` (add --x86_64 for architecture x86_64)."
    }
    precondition {
      condition     = !fileexists(local.package_stamp) || try(trimspace(file(local.package_stamp)), "") == filesha256(var.schedule_file)
      error_message = "${var.lambda_zip} holds another schedule than ${var.schedule_file} (edited since, or another file): package it again with `bash scripts/package ${var.schedule_file}`."
    }
  }
}

resource "aws_lambda_function" "spot" {
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs. In a VPC it would need a NAT gateway or interface endpoints, costing more than the environments it stops save.
  #checkov:skip=CKV_AWS_50:The function emits no X-Ray segments; each invocation's JSON report in CloudWatch Logs is its trace, and Active tracing would need xray:Put* beyond the calls the code makes.
  #checkov:skip=CKV_AWS_173:The environment holds a file path, no secrets; Lambda encrypts it at rest with its AWS managed key.
  #checkov:skip=CKV_AWS_272:The package is built (scripts/package) and deployed by the same operator from a local zip whose hash Terraform pins; code signing needs an AWS Signer profile and a signing step that this tool's users do not have.
  function_name = local.spot_function_name
  description   = "ecs-cost-saver: takes Spot-interrupted tasks and instances of ${basename(var.schedule_file)}'s clusters out of their target groups"
  role          = aws_iam_role.spot.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.spot_timeout

  filename         = var.lambda_zip
  source_code_hash = try(filebase64sha256(var.lambda_zip), null)

  reserved_concurrent_executions = var.spot_reserved_concurrency

  environment {
    variables = local.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.spot.name
    application_log_level = "INFO"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.spot]

  lifecycle {
    precondition {
      condition     = fileexists(var.lambda_zip)
      error_message = "No package at ${var.lambda_zip}: build it with `bash scripts/package ${var.schedule_file}` (add --x86_64 for architecture x86_64)."
    }
  }
}

# Scheduler and EventBridge invoke asynchronously: a failed run is retried by Lambda, then its
# event goes to the DLQ (the functions' dead_letter_config). With notifications on, Lambda also
# puts a record of the result on the default event bus (a destination, in addition to the DLQ),
# where the rules of notifications.tf turn it into a message: every failure for good, and the
# stop/start function's successes with notify_on_start.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_event_age_in_seconds = var.max_event_age_seconds
  maximum_retry_attempts       = 2

  # Lambda checks the role may send to the destination when it is configured: the grant first.
  depends_on = [aws_iam_role_policy.function]

  dynamic "destination_config" {
    for_each = local.destinations_enabled ? [1] : []

    content {
      on_failure {
        destination = local.destination_bus_arn
      }

      dynamic "on_success" {
        for_each = var.notify_on_start ? [1] : []

        content {
          destination = local.destination_bus_arn
        }
      }
    }
  }
}

resource "aws_lambda_function_event_invoke_config" "spot" {
  function_name = aws_lambda_function.spot.function_name
  # Two minutes after the warning the task or instance is gone: a later run has nothing to save.
  maximum_event_age_in_seconds = 120
  maximum_retry_attempts       = 2

  depends_on = [aws_iam_role_policy.spot]

  dynamic "destination_config" {
    for_each = local.destinations_enabled ? [1] : []

    content {
      on_failure {
        destination = local.destination_bus_arn
      }
    }
  }
}
