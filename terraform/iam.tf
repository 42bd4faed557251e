# Each function its own role (lambda.tf):
#
# - `function` (the stop/start function): the calls of the stop, start, register, reconcile and
#   status paths, the override schedules and the iam:PassRole that Scheduler requires of whoever
#   creates a schedule with a role. Not the Spot handlers' calls (DeregisterTargets,
#   UpdateContainerInstancesState): Spot events go only to the Spot function (spot.tf).
# - `spot` (the Spot function): the calls of the Spot handlers (src/dispatch/spot.rs) only:
#   reads, deregistering targets and draining container instances. It cannot change a service,
#   a scalable target, a group, a snapshot or a schedule.
#
# Each policy's actions are exactly the AWS calls its function's code path reaches, plus what
# Lambda itself does with the role (logs, dead letters, destination records). tests/iam.rs
# derives both from the code and compares them with the documents below, so neither side can
# change without the other.
#
# Scope: whatever changes something is limited to the schedule file's services and clusters
# (ECS) and Auto Scaling groups (EC2 Auto Scaling), to this account in the regions of its
# entries (ELB, Application Auto Scaling) or to the overrides group (Scheduler). Reads stay as
# wide as a Spot event needs: an interrupted task may belong to a service of a configured
# cluster that the file does not list, and it is still deregistered.
#
# Hub and spoke (accounts.tf): only the entries that name no `account` are this account's, each
# in its own `region` (default: this one). The other accounts' entries are reached through the
# role each names (sts:AssumeRole below), whose policy modules/target-account scopes the same
# way in that account. With no entry of its own the hub has no cluster, and the cluster-scoped
# statements are left out (local.hub_has_clusters): an empty Resource is invalid.

# Lambda alone assumes either role.
data "aws_iam_policy_document" "function_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = var.function_name
  assume_role_policy = data.aws_iam_policy_document.function_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "function" {
  name   = "ecs-cost-saver"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_iam_role" "spot" {
  name               = local.spot_function_name
  assume_role_policy = data.aws_iam_policy_document.function_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "spot" {
  name   = "ecs-cost-saver-spot"
  role   = aws_iam_role.spot.id
  policy = data.aws_iam_policy_document.spot.json
}

locals {
  arn_prefix = "arn:${local.partition}"
  # ECS ARNs of this account's configured clusters (modules/account-scope), each in its region:
  # services (any, for Spot), container instances, tasks.
  cluster_services            = module.hub_scope.cluster_services
  cluster_container_instances = module.hub_scope.cluster_container_instances
  cluster_tasks               = module.hub_scope.cluster_tasks
  # Any target group of this account in the regions of its entries (the services' are not in
  # the file).
  target_groups = module.hub_scope.target_group_arns
  # The `capacity` groups of this account. A group's ARN carries a random id before its name.
  autoscaling_group_arns = module.hub_scope.autoscaling_group_arns
  # The roles the functions assume to act in the file's other accounts (accounts.tf).
  target_role_arns = sort(distinct([for a in module.schedules.accounts : a.role_arn]))
}

data "aws_iam_policy_document" "function" {
  # --- ECS services: observe, stop and start (src/aws/sdk.rs `impl Services`) ---

  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "DescribeServicesOfTheClusters"
      actions   = ["ecs:DescribeServices"]
      resources = local.cluster_services
    }
  }

  # ListServices is authorized on the cluster through the ecs:cluster condition key: the
  # selectors' clusters are read to choose their services (src/plan/select.rs).
  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "ListServicesOfTheClusters"
      actions   = ["ecs:ListServices"]
      resources = ["*"]

      condition {
        test     = "ArnEquals"
        variable = "ecs:cluster"
        values   = local.cluster_arns
      }
    }
  }

  # The cost figures of a stop and of `status`: the size of each service's task definition.
  # DescribeTaskDefinition has no resource-level permissions (IAM: resource types none).
  statement {
    sid       = "ReadTaskDefinitionSizes"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "SetDesiredCountOfTheScheduledServices"
      actions   = ["ecs:UpdateService"]
      resources = local.service_arns
    }
  }

  # Snapshots an earlier version kept in this one tag (src/state.rs SNAPSHOT_TAG): read, adopted
  # into the state table and removed; without a table (the CLI) the snapshot lives there.
  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "SnapshotTagOfTheScheduledServices"
      actions   = ["ecs:TagResource", "ecs:UntagResource"]
      resources = local.service_arns

      condition {
        test     = "ForAllValues:StringEquals"
        variable = "aws:TagKeys"
        values   = ["ecs-cost-saver:snapshot"]
      }
    }
  }

  # --- ECS tasks and container instances (`impl Tasks`) ---

  # ListTasks is authorized on the cluster through the ecs:cluster condition key.
  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "ListTasksOfTheClusters"
      actions   = ["ecs:ListTasks"]
      resources = ["*"]

      condition {
        test     = "ArnEquals"
        variable = "ecs:cluster"
        values   = local.cluster_arns
      }
    }
  }

  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "DescribeTasksOfTheClusters"
      actions   = ["ecs:DescribeTasks"]
      resources = local.cluster_tasks
    }
  }

  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "DescribeContainerInstancesOfTheClusters"
      actions   = ["ecs:DescribeContainerInstances"]
      resources = local.cluster_container_instances
    }
  }

  # ListContainerInstances is authorized on the cluster: `capacity` and `status` read which
  # instances serve it.
  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "ListContainerInstancesOfTheClusters"
      actions   = ["ecs:ListContainerInstances"]
      resources = local.cluster_arns
    }
  }

  # Which Auto Scaling groups back the clusters' capacity providers (and whether ECS manages
  # their scaling): the clusters' provider names (DescribeClusters), then those providers. Their
  # names come from the clusters, not the file, so any provider of this account in the regions
  # of its entries.
  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "DescribeTheClusters"
      actions   = ["ecs:DescribeClusters"]
      resources = local.cluster_arns
    }
  }

  statement {
    sid       = "DescribeCapacityProviders"
    actions   = ["ecs:DescribeCapacityProviders"]
    resources = module.hub_scope.capacity_provider_arns
  }

  # --- EC2 Auto Scaling: the `capacity` groups (`impl AutoScalingGroups`) ---

  # Describe* calls have no resource-level permissions. Granted without `capacity` too: `status`
  # reads the groups of any configured cluster's instances to report capacity left running.
  statement {
    sid       = "DescribeAutoScalingGroupsAndInstances"
    actions   = ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances"]
    resources = ["*"]
  }

  # Only the groups the file lists; no statement at all when it lists none (an empty Resource
  # is invalid).
  dynamic "statement" {
    for_each = length(local.autoscaling_group_arns) > 0 ? [1] : []

    content {
      sid       = "SetSizesOfTheCapacityGroups"
      actions   = ["autoscaling:UpdateAutoScalingGroup"]
      resources = local.autoscaling_group_arns
    }
  }

  # The groups' sizes before a stop live in the same one tag as the services' (src/state.rs
  # SNAPSHOT_TAG). aws:TagKeys holds the keys of a CreateOrUpdateTags or DeleteTags request.
  dynamic "statement" {
    for_each = length(local.autoscaling_group_arns) > 0 ? [1] : []

    content {
      sid       = "SnapshotTagOfTheCapacityGroups"
      actions   = ["autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"]
      resources = local.autoscaling_group_arns

      condition {
        test     = "ForAllValues:StringEquals"
        variable = "aws:TagKeys"
        values   = ["ecs-cost-saver:snapshot"]
      }
    }
  }

  # --- Application Auto Scaling (`impl ScalableTargets`) ---

  # DescribeScalableTargets and DescribeScheduledActions have no resource-level permissions.
  statement {
    sid       = "DescribeScalableTargetsAndScheduledActions"
    actions   = ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScheduledActions"]
    resources = ["*"]
  }

  # Scalable-target ARNs carry a random id, not the service: scope by namespace and dimension.
  statement {
    sid       = "SetMinMaxOfEcsServiceScalableTargets"
    actions   = ["application-autoscaling:RegisterScalableTarget"]
    resources = module.hub_scope.scalable_target_arns

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

  # --- The state table (src/aws/table.rs `impl SnapshotTable`): snapshots, conditional writes ---
  statement {
    sid       = "SnapshotsInTheStateTable"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.state.arn]
  }

  # --- Elastic Load Balancing (`impl TargetGroups`) ---

  # Describe* calls have no resource-level permissions.
  statement {
    sid       = "DescribeTargetGroupsAndHealth"
    actions   = ["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"]
    resources = ["*"]
  }

  # The services' target groups are not in the schedule file (only extra ones are): any target
  # group of this account in the regions of its entries. A start registers its tasks;
  # deregistering is the Spot function's.
  statement {
    sid       = "RegisterStartedTasks"
    actions   = ["elasticloadbalancing:RegisterTargets"]
    resources = local.target_groups
  }

  # --- EventBridge Scheduler: `until` overrides and continuations (`impl Schedules`) ---

  # Only the function's own one-time schedules, in the overrides group (src/intent.rs
  # override_name and continuation_name: an `until`, and the run that finishes what the
  # buckets left no time for). Scheduler deletes them after they run (ActionAfterCompletion
  # DELETE), which needs no permission of ours.
  statement {
    sid     = "OverrideSchedules"
    actions = ["scheduler:GetSchedule", "scheduler:CreateSchedule", "scheduler:UpdateSchedule"]
    resources = [
      "${local.arn_prefix}:scheduler:${local.region}:${local.account}:schedule/${aws_scheduler_schedule_group.overrides.name}/ecs-cost-saver-override-*",
      "${local.arn_prefix}:scheduler:${local.region}:${local.account}:schedule/${aws_scheduler_schedule_group.overrides.name}/ecs-cost-saver-continue-*",
    ]
  }

  # CreateSchedule and UpdateSchedule name the role the override runs with.
  statement {
    sid       = "PassTheSchedulerRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.scheduler.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["scheduler.amazonaws.com"]
    }
  }

  # --- The file's other accounts (accounts.tf): the role each names, assumed to act there ---

  # The function calls ECS, Application Auto Scaling, EC2 Auto Scaling and ELB of a target
  # account with that role's credentials (sts:AssumeRole, with the account's external id);
  # the state table and the schedules stay here. No statement without `accounts`.
  dynamic "statement" {
    for_each = length(local.target_role_arns) > 0 ? [1] : []

    content {
      sid       = "AssumeTheTargetAccountRoles"
      actions   = ["sts:AssumeRole"]
      resources = local.target_role_arns
    }
  }

  # --- What Lambda does with this role ---

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  # Lambda delivers the function's dead letters (lambda.tf dead_letter_config) with its role.
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  # With notifications on (notifications.tf), Lambda sends the invocations' destination records
  # to the default event bus with the function's role.
  dynamic "statement" {
    for_each = local.destinations_enabled ? [1] : []

    content {
      sid       = "DestinationRecords"
      actions   = ["events:PutEvents"]
      resources = [local.destination_bus_arn]
    }
  }
}

# The Spot function: what src/dispatch/spot.rs reaches, scoped as the stop/start function's
# policy scopes the same actions.
data "aws_iam_policy_document" "spot" {
  # --- The interrupted task's service (`impl Services`) ---

  # An interrupted task may belong to any service of a configured cluster.
  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "DescribeServicesOfTheClusters"
      actions   = ["ecs:DescribeServices"]
      resources = local.cluster_services
    }
  }

  # --- The tasks and container instances (`impl Tasks`) ---

  # ListTasks (the tasks on a reclaimed instance) is authorized on the cluster through the
  # ecs:cluster condition key.
  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "ListTasksOfTheClusters"
      actions   = ["ecs:ListTasks"]
      resources = ["*"]

      condition {
        test     = "ArnEquals"
        variable = "ecs:cluster"
        values   = local.cluster_arns
      }
    }
  }

  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "DescribeTasksOfTheClusters"
      actions   = ["ecs:DescribeTasks"]
      resources = local.cluster_tasks
    }
  }

  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "DescribeContainerInstancesOfTheClusters"
      actions   = ["ecs:DescribeContainerInstances"]
      resources = local.cluster_container_instances
    }
  }

  # ListContainerInstances is authorized on the cluster: the EC2 Spot warning's instance is
  # looked up in each configured cluster.
  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "ListContainerInstancesOfTheClusters"
      actions   = ["ecs:ListContainerInstances"]
      resources = local.cluster_arns
    }
  }

  dynamic "statement" {
    for_each = local.hub_has_clusters ? [1] : []

    content {
      sid       = "DrainSpotInstancesOfTheClusters"
      actions   = ["ecs:UpdateContainerInstancesState"]
      resources = local.cluster_container_instances
    }
  }

  # --- Elastic Load Balancing (`impl TargetGroups`) ---

  # Describe* calls have no resource-level permissions.
  statement {
    sid       = "DescribeTargetGroupsAndHealth"
    actions   = ["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"]
    resources = ["*"]
  }

  # The interrupted tasks' and instances' target groups are their services', which the schedule
  # file does not name: any target group of this account in the regions of its entries.
  statement {
    sid       = "DeregisterInterruptedTargets"
    actions   = ["elasticloadbalancing:DeregisterTargets"]
    resources = local.target_groups
  }

  # --- The file's other accounts (accounts.tf): the role each names, assumed to act there ---

  # The function calls ECS, Application Auto Scaling, EC2 Auto Scaling and ELB of a target
  # account with that role's credentials (sts:AssumeRole, with the account's external id);
  # the state table and the schedules stay here. No statement without `accounts`.
  dynamic "statement" {
    for_each = length(local.target_role_arns) > 0 ? [1] : []

    content {
      sid       = "AssumeTheTargetAccountRoles"
      actions   = ["sts:AssumeRole"]
      resources = local.target_role_arns
    }
  }

  # --- What Lambda does with this role ---

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.spot.arn}:*"]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  dynamic "statement" {
    for_each = local.destinations_enabled ? [1] : []

    content {
      sid       = "DestinationRecords"
      actions   = ["events:PutEvents"]
      resources = [local.destination_bus_arn]
    }
  }
}
