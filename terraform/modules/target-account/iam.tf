# The role the hub's functions assume in this account (aws-config's AssumeRoleProvider:
# sts:AssumeRole with the file's external_id), named and pathed exactly as the file's role_arn
# says, since that ARN is what the hub asks for.
#
# Its policy is the union of the hub's `function` and `spot` policies (terraform/iam.tf) for
# ECS, ELB, Application Auto Scaling and EC2 Auto Scaling, with the same conditions, scoped to
# this account's clusters, services and groups of the file, each in its region. Both hub roles
# assume this one role, so here the Spot function's credentials could also make the stop/start
# calls: the separation of the two roles holds in the hub only. The state table, the schedules,
# the logs and the DLQ stay in the hub: nothing of theirs is granted here.

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "TheHubFunctions"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = var.hub_role_arns
    }

    # sts:ExternalId when the file gives an external_id (modules/account-scope).
    dynamic "condition" {
      for_each = module.scope.assume_role_conditions

      content {
        test     = condition.value.test
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
}

resource "aws_iam_role" "target" {
  count = var.create_role ? 1 : 0

  name               = module.scope.role.name
  path               = module.scope.role.path
  description        = "ecs-cost-saver: assumed by the hub's functions to stop, start and handle Spot events of this account's services in ${basename(var.schedule_file)}"
  assume_role_policy = data.aws_iam_policy_document.trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "target" {
  count = var.create_role ? 1 : 0

  name   = "ecs-cost-saver-target"
  role   = aws_iam_role.target[0].id
  policy = data.aws_iam_policy_document.target.json
}

data "aws_iam_policy_document" "target" {
  # --- ECS services (src/aws/sdk.rs `impl Services`): stop/start, and the Spot task's service ---

  # Both functions: an interrupted task may belong to any service of a configured cluster.
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "DescribeServicesOfTheClusters"
      actions   = ["ecs:DescribeServices"]
      resources = module.scope.cluster_services
    }
  }

  # Stop/start: the selectors' clusters are read to choose their services (src/plan/select.rs).
  # Authorized on the cluster through the ecs:cluster condition key.
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "ListServicesOfTheClusters"
      actions   = ["ecs:ListServices"]
      resources = ["*"]

      condition {
        test     = "ArnEquals"
        variable = "ecs:cluster"
        values   = module.scope.cluster_arns
      }
    }
  }

  # Stop/start and status: the cost figures. No resource-level permissions.
  statement {
    sid       = "ReadTaskDefinitionSizes"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  # Stop/start: desiredCount of the file's services (and the selectors' clusters' services).
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "SetDesiredCountOfTheScheduledServices"
      actions   = ["ecs:UpdateService"]
      resources = module.scope.service_arns
    }
  }

  # Stop/start: the earlier version's snapshot tag (src/state.rs SNAPSHOT_TAG), read, adopted
  # into the hub's state table and removed.
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "SnapshotTagOfTheScheduledServices"
      actions   = ["ecs:TagResource", "ecs:UntagResource"]
      resources = module.scope.service_arns

      condition {
        test     = "ForAllValues:StringEquals"
        variable = "aws:TagKeys"
        values   = ["ecs-cost-saver:snapshot"]
      }
    }
  }

  # --- ECS tasks and container instances (`impl Tasks`) ---

  # Both: a start's tasks, a reclaimed instance's tasks. Authorized through ecs:cluster.
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "ListTasksOfTheClusters"
      actions   = ["ecs:ListTasks"]
      resources = ["*"]

      condition {
        test     = "ArnEquals"
        variable = "ecs:cluster"
        values   = module.scope.cluster_arns
      }
    }
  }

  # Both.
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "DescribeTasksOfTheClusters"
      actions   = ["ecs:DescribeTasks"]
      resources = module.scope.cluster_tasks
    }
  }

  # Both.
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "DescribeContainerInstancesOfTheClusters"
      actions   = ["ecs:DescribeContainerInstances"]
      resources = module.scope.cluster_container_instances
    }
  }

  # Both: `capacity` and `status` read which instances serve a cluster; the EC2 Spot warning's
  # instance is looked up in each configured cluster.
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "ListContainerInstancesOfTheClusters"
      actions   = ["ecs:ListContainerInstances"]
      resources = module.scope.cluster_arns
    }
  }

  # Spot: a reclaimed instance is set to DRAINING.
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "DrainSpotInstancesOfTheClusters"
      actions   = ["ecs:UpdateContainerInstancesState"]
      resources = module.scope.cluster_container_instances
    }
  }

  # Stop/start (`capacity`, `status`): the clusters' capacity providers, then those providers.
  dynamic "statement" {
    for_each = local.has_clusters ? [1] : []

    content {
      sid       = "DescribeTheClusters"
      actions   = ["ecs:DescribeClusters"]
      resources = module.scope.cluster_arns
    }
  }

  statement {
    sid       = "DescribeCapacityProviders"
    actions   = ["ecs:DescribeCapacityProviders"]
    resources = module.scope.capacity_provider_arns
  }

  # --- EC2 Auto Scaling: the `capacity` groups (`impl AutoScalingGroups`), stop/start ---

  # No resource-level permissions.
  statement {
    sid       = "DescribeAutoScalingGroupsAndInstances"
    actions   = ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(module.scope.autoscaling_group_arns) > 0 ? [1] : []

    content {
      sid       = "SetSizesOfTheCapacityGroups"
      actions   = ["autoscaling:UpdateAutoScalingGroup"]
      resources = module.scope.autoscaling_group_arns
    }
  }

  dynamic "statement" {
    for_each = length(module.scope.autoscaling_group_arns) > 0 ? [1] : []

    content {
      sid       = "SnapshotTagOfTheCapacityGroups"
      actions   = ["autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"]
      resources = module.scope.autoscaling_group_arns

      condition {
        test     = "ForAllValues:StringEquals"
        variable = "aws:TagKeys"
        values   = ["ecs-cost-saver:snapshot"]
      }
    }
  }

  # --- Application Auto Scaling (`impl ScalableTargets`), stop/start ---

  # No resource-level permissions.
  statement {
    sid       = "DescribeScalableTargetsAndScheduledActions"
    actions   = ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScheduledActions"]
    resources = ["*"]
  }

  # Scalable-target ARNs carry a random id, not the service: scope by namespace and dimension.
  statement {
    sid       = "SetMinMaxOfEcsServiceScalableTargets"
    actions   = ["application-autoscaling:RegisterScalableTarget"]
    resources = module.scope.scalable_target_arns

    condition {
      test     = "StringEquals"
      variable = "application-autoscaling:service-namespace"
      values   = ["ecs"]
    }

    condition {
      test     = "StringEquals"
      variable = "application-autoscaling:scalable-dimension"
      values   = ["ecs:service:DesiredCount"]
    }
  }

  # --- Elastic Load Balancing (`impl TargetGroups`) ---

  # Both. No resource-level permissions.
  statement {
    sid       = "DescribeTargetGroupsAndHealth"
    actions   = ["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"]
    resources = ["*"]
  }

  # Stop/start: a start registers its tasks. The services' target groups are not in the file:
  # any of this account in the regions of its entries.
  statement {
    sid       = "RegisterStartedTasks"
    actions   = ["elasticloadbalancing:RegisterTargets"]
    resources = module.scope.target_group_arns
  }

  # Spot: the interrupted tasks and instances leave their services' target groups.
  statement {
    sid       = "DeregisterInterruptedTargets"
    actions   = ["elasticloadbalancing:DeregisterTargets"]
    resources = module.scope.target_group_arns
  }
}
