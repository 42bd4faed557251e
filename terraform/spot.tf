# EventBridge rules that send Spot interruptions to the Spot function (lambda.tf). The function
# decides what to do (src/dispatch/spot.rs); the patterns only keep other events from invoking it.
#
# Rules are regional and see only this account's events of this region. The file's other
# accounts, and this account's other regions, forward theirs to this region's default bus
# (modules/target-account, accounts.tf); forwarded events keep their own `account` and `region`,
# so the same rules match them once the Fargate pattern lists those clusters too.

locals {
  spot_rule_definitions = {
    # Fargate Spot: a task of one of the configured clusters (of every account and region of
    # the file) being stopped for a Spot interruption, and not yet stopped. Every service of
    # those clusters is covered, not only the ones in the schedule file.
    fargate-spot = {
      description = "Fargate Spot task interruptions in the clusters of ${basename(var.schedule_file)}"
      pattern = jsonencode({
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Task State Change"]
        detail = {
          clusterArn    = local.spot_cluster_arns
          desiredStatus = ["STOPPED"]
          lastStatus    = [{ "anything-but" = "STOPPED" }]
          "$or" = [
            { stopCode = ["SpotInterruption", "TerminationNotice"] },
            { stoppedReason = [{ prefix = "Your Spot Task was interrupted" }] },
          ]
        }
      })
    }
    # EC2 Spot: the warning names only the instance, so every warning in the account and region
    # (and every forwarded one) comes; the function looks the instance up in the configured
    # clusters and skips the rest.
    ec2-spot = {
      description = "EC2 Spot interruption warnings (instances outside the clusters of ${basename(var.schedule_file)} are skipped)"
      pattern = jsonencode({
        source        = ["aws.ec2"]
        "detail-type" = ["EC2 Spot Instance Interruption Warning"]
      })
    }
  }
  # The hub's clusters in every region, and the other accounts' (accounts.tf).
  spot_cluster_arns = sort(distinct(concat(local.cluster_arns, local.target_cluster_arns)))
  # A file with no services has no clusters to narrow the Fargate rule to: no rule then.
  spot_rules = {
    for name, rule in local.spot_rule_definitions : name => rule
    if var.spot_events && (name != "fargate-spot" || length(local.spot_cluster_arns) > 0)
  }
}

resource "aws_cloudwatch_event_rule" "spot" {
  for_each = local.spot_rules

  name          = "${var.function_name}-${each.key}"
  description   = each.value.description
  event_pattern = each.value.pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "spot" {
  for_each = local.spot_rules

  rule      = aws_cloudwatch_event_rule.spot[each.key].name
  target_id = "ecs-cost-saver"
  arn       = aws_lambda_function.spot.arn

  # An interruption is over two minutes after its warning: deliver at once or not at all, and
  # leave a trace of what was not delivered.
  retry_policy {
    maximum_event_age_in_seconds = 120
    maximum_retry_attempts       = 3
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

resource "aws_lambda_permission" "spot" {
  for_each = local.spot_rules

  statement_id  = "eventbridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.spot.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.spot[each.key].arn
}
