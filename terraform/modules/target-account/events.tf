# Spot interruptions happen in the account and region of the task or instance, where the hub's
# rules (terraform/spot.tf) cannot see them: EventBridge rules are regional and per account.
# These rules send them to the hub's default bus (in the hub's region, which may be another),
# where those rules match them. The patterns are the hub's (modules/spot-patterns), the Fargate
# one narrowed to this account's clusters in this region.

module "spot_patterns" {
  source = "../spot-patterns"

  cluster_arns = lookup(module.scope.cluster_arns_by_region, local.region, [])
}

locals {
  forward_rules = var.forward_spot_events ? module.spot_patterns.patterns : {}
}

resource "aws_cloudwatch_event_rule" "forward" {
  for_each = local.forward_rules

  name          = "${var.name}-${each.key}"
  description   = "ecs-cost-saver: forwards ${each.key == "fargate-spot" ? "Fargate Spot task interruptions of the clusters" : "EC2 Spot interruption warnings"} of ${basename(var.schedule_file)} here to the hub's bus"
  event_pattern = each.value
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "forward" {
  for_each = local.forward_rules

  rule      = aws_cloudwatch_event_rule.forward[each.key].name
  target_id = "ecs-cost-saver-hub"
  arn       = var.hub_event_bus_arn
  # An event bus of another account or region is a target only with a role that may put
  # events on it.
  role_arn = aws_iam_role.forward[0].arn

  # An interruption is over two minutes after its warning: late is useless.
  retry_policy {
    maximum_event_age_in_seconds = 120
    maximum_retry_attempts       = 3
  }
}

# The role EventBridge assumes to put this region's forwarded events on the hub's bus: that,
# nothing else. Per region (its name carries it), so each instance owns its own.
data "aws_iam_policy_document" "forward_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "forward" {
  count = length(local.forward_rules) > 0 ? 1 : 0

  name               = "${var.name}-forward-${local.region}"
  description        = "ecs-cost-saver: EventBridge forwards this region's Spot interruptions to the hub's bus"
  assume_role_policy = data.aws_iam_policy_document.forward_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "forward" {
  statement {
    sid       = "PutOnTheHubBus"
    actions   = ["events:PutEvents"]
    resources = [var.hub_event_bus_arn]
  }
}

resource "aws_iam_role_policy" "forward" {
  count = length(local.forward_rules) > 0 ? 1 : 0

  name   = "put-on-the-hub-bus"
  role   = aws_iam_role.forward[0].id
  policy = data.aws_iam_policy_document.forward.json
}
