# EventBridge rules that send Spot interruptions to the Spot function (lambda.tf). The function
# decides what to do (src/dispatch/spot.rs); the patterns only keep other events from invoking it.
#
# Rules are regional and see only this account's events of this region. The file's other
# accounts, and this account's other regions, forward theirs to this region's default bus
# (modules/target-account, accounts.tf); forwarded events keep their own `account` and `region`,
# so the same rules match them once the Fargate pattern lists those clusters too.

# The patterns (modules/spot-patterns) are the ones the target accounts forward with.
module "spot_patterns" {
  source = "./modules/spot-patterns"

  # The hub's clusters in every region, and the other accounts' (accounts.tf).
  cluster_arns = sort(distinct(concat(local.cluster_arns, local.target_cluster_arns)))
}

locals {
  spot_rule_descriptions = {
    # Every service of the clusters is covered, not only the ones in the schedule file.
    fargate-spot = "Fargate Spot task interruptions in the clusters of ${basename(var.schedule_file)}"
    # The warning names only the instance, so every warning in the account and region (and every
    # forwarded one) comes; the function looks the instance up in the configured clusters.
    ec2-spot = "EC2 Spot interruption warnings (instances outside the clusters of ${basename(var.schedule_file)} are skipped)"
  }
  # A file with no services has no clusters to narrow the Fargate rule to: no rule then (the
  # module leaves that pattern out).
  spot_rules = {
    for name, pattern in module.spot_patterns.patterns : name => {
      description = local.spot_rule_descriptions[name]
      pattern     = pattern
    }
    if var.spot_events
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
