# The notification rules: EventBridge rules on the default bus that match the records Lambda's
# asynchronous invocation destinations put there (source "lambda", detail-type "Lambda Function
# Invocation Result - Failure" / "- Success", the record in `detail`: requestContext,
# requestPayload, responseContext, responsePayload) and turn them into plain text for SNS.
#
# requestContext.functionArn carries the version that ran (`...:function:NAME:$LATEST`), so the
# patterns match the ARN with and without a qualifier, and the prefix ends in `:` so that NAME
# does not also match NAME-spot.
#
# An input path that does not exist in the event leaves its placeholder empty. A failed run's
# record has the error in responsePayload (errorType, errorMessage); a record without an error
# message (the event grew older than max_event_age_seconds while the function was busy, or
# Lambda dropped a payload too large to send) gets a rule and a text of its own rather than a
# message with blanks.
#
# The templates are plain text: one double-quoted string per line, which EventBridge joins with
# line breaks. The values are inserted as they are (EventBridge does not escape them).

locals {
  notifications_enabled = length(var.notification_emails) > 0 || var.sns_topic_arn != null

  arn_prefix         = "arn:${var.partition}:lambda:${var.region}:${var.account}:function"
  function_arn       = "${local.arn_prefix}:${var.function_name}"
  spot_function_arn  = "${local.arn_prefix}:${var.spot_function_name}"
  failure_type       = "Lambda Function Invocation Result - Failure"
  success_type       = "Lambda Function Invocation Result - Success"
  function_arn_match = [local.function_arn, { prefix = "${local.function_arn}:" }]
  spot_arn_match     = [local.spot_function_arn, { prefix = "${local.spot_function_arn}:" }]

  common_paths = {
    function  = "$.detail.requestContext.functionArn"
    condition = "$.detail.requestContext.condition"
    attempts  = "$.detail.requestContext.approximateInvokeCount"
    time      = "$.time"
  }
  run_paths = merge(local.common_paths, {
    action      = "$.detail.requestPayload.action"
    environment = "$.detail.requestPayload.environment"
  })
  spot_paths = merge(local.common_paths, {
    eventType   = "$.detail.requestPayload.detail-type"
    eventSource = "$.detail.requestPayload.source"
    eventTime   = "$.detail.requestPayload.time"
  })
  error_paths = {
    errorType    = "$.detail.responsePayload.errorType"
    errorMessage = "$.detail.responsePayload.errorMessage"
  }

  rule_definitions = {
    failed = {
      description = "ecs-cost-saver: a stop, start or other run of ${var.function_name} failed for good (after Lambda's retries)"
      pattern = {
        source        = ["lambda"]
        "detail-type" = [local.failure_type]
        detail = {
          requestContext  = { functionArn = local.function_arn_match }
          responsePayload = { errorMessage = [{ exists = true }] }
        }
      }
      input_paths = merge(local.run_paths, local.error_paths)
      lines = [
        "ecs-cost-saver: the <action> of <environment> failed.",
        "",
        "<errorType>: <errorMessage>",
        "",
        "Lambda gave up after <attempts> attempts (<condition>) at <time>. The event is also in the dead-letter queue ${var.dlq_name}.",
        "Function: <function>",
        "Logs: /aws/lambda/${var.function_name}",
      ]
    }
    dropped = {
      description = "ecs-cost-saver: Lambda gave up on an event of ${var.function_name} without an error from the run (too old, or its result too large)"
      pattern = {
        source        = ["lambda"]
        "detail-type" = [local.failure_type]
        detail = {
          requestContext  = { functionArn = local.function_arn_match }
          responsePayload = { errorMessage = [{ exists = false }] }
        }
      }
      input_paths = local.run_paths
      lines = [
        "ecs-cost-saver: the <action> of <environment> did not complete.",
        "",
        "Lambda gave up on the event after <attempts> attempts (<condition>) at <time> without an error from the run: it waited longer than max_event_age_seconds (the function was busy or throttled), or its result was too large to send.",
        "The event is in the dead-letter queue ${var.dlq_name}; run it again by hand if the environment is not in the state it should be.",
        "Function: <function>",
        "Logs: /aws/lambda/${var.function_name}",
      ]
    }
    spot-failed = {
      description = "ecs-cost-saver: the Spot function ${var.spot_function_name} failed on an interruption for good (after Lambda's retries)"
      pattern = {
        source        = ["lambda"]
        "detail-type" = [local.failure_type]
        detail = {
          requestContext  = { functionArn = local.spot_arn_match }
          responsePayload = { errorMessage = [{ exists = true }] }
        }
      }
      input_paths = merge(local.spot_paths, local.error_paths)
      lines = [
        "ecs-cost-saver: a Spot interruption was not handled.",
        "",
        "<errorType>: <errorMessage>",
        "",
        "Event: <eventType> (<eventSource>) at <eventTime>",
        "Lambda gave up after <attempts> attempts (<condition>) at <time>. Tasks or instances of that event may still receive traffic from their target groups until they stop.",
        "Function: <function>",
        "Logs: /aws/lambda/${var.spot_function_name}",
      ]
    }
    spot-dropped = {
      description = "ecs-cost-saver: Lambda gave up on a Spot event of ${var.spot_function_name} without an error from the run"
      pattern = {
        source        = ["lambda"]
        "detail-type" = [local.failure_type]
        detail = {
          requestContext  = { functionArn = local.spot_arn_match }
          responsePayload = { errorMessage = [{ exists = false }] }
        }
      }
      input_paths = local.spot_paths
      lines = [
        "ecs-cost-saver: a Spot interruption was not handled in time.",
        "",
        "Event: <eventType> (<eventSource>) at <eventTime>",
        "Lambda gave up on it after <attempts> attempts (<condition>) at <time> without an error from the run: the function was busy or throttled for longer than the event's two minutes.",
        "Function: <function>",
        "Logs: /aws/lambda/${var.spot_function_name}",
      ]
    }
    ready = {
      description = "ecs-cost-saver: a start of ${var.function_name} is ready (every task RUNNING and registered)"
      pattern = {
        source        = ["lambda"]
        "detail-type" = [local.success_type]
        detail = {
          requestContext = { functionArn = local.function_arn_match }
          responsePayload = {
            action           = ["start"]
            time_to_ready_ms = [{ exists = true }]
          }
        }
      }
      input_paths = {
        summary     = "$.detail.responsePayload.summary"
        environment = "$.detail.responsePayload.environment"
        time        = "$.time"
      }
      lines = [
        "ecs-cost-saver: <environment> is up.",
        "",
        "<summary>",
        "",
        "Every task is RUNNING and registered in its target groups (at <time>).",
      ]
    }
  }

  notification_rules = {
    for key, rule in local.rule_definitions : key => {
      name           = "${var.function_name}-${key}"
      description    = rule.description
      event_pattern  = jsonencode(rule.pattern)
      input_paths    = rule.input_paths
      input_template = join("\n", [for line in rule.lines : "\"${line}\""])
    }
    if local.notifications_enabled && (key != "ready" || var.notify_on_start)
  }
}
