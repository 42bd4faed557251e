# ecs-cost-saver: the Lambda that stops and starts the ECS services of a schedule file, the
# EventBridge Scheduler schedules generated from that file, the Spot interruption rules, and the
# IAM, DLQ, logs, notifications, alarms and dashboard around them. One file per concern:
#
#   lambda.tf         the two functions (stop/start and Spot), their concurrency and async settings
#   schedules.tf      the schedule groups, one schedule per cron, the role Scheduler invokes with
#   spot.tf           the EventBridge rules for Fargate Spot and EC2 Spot interruptions
#   accounts.tf       hub and spoke: the schedule file's other accounts, their forwarded events
#   iam.tf            each function's role: exactly the calls its code path makes (tests/iam.rs)
#   state.tf          the DynamoDB state table of the stopped services' snapshots
#   dlq.tf            the dead-letter queue shared by the schedules, the rules and the functions
#   logs.tf           the log groups
#   notifications.tf  optional: the SNS topic, and the EventBridge rules that turn the functions'
#                     asynchronous results (Lambda destinations) into text messages
#   alarms.tf         the CloudWatch alarms: the functions' errors, the DLQ, missed stops
#   dashboard.tf      the CloudWatch dashboard
#
# The provider-free submodules hold what `terraform test` can check offline: modules/schedules
# (the YAML -> schedules), modules/account-scope (one account's ARNs, each entry in its region),
# modules/spot-patterns (the Spot rules' event patterns) and modules/monitoring (the
# notification rules and texts, the missed-stop alarm's cron arithmetic, the dashboard's body).
# modules/target-account is applied in each other account and region.

module "schedules" {
  source        = "./modules/schedules"
  schedule_file = var.schedule_file
}

# This account's share of the file, as ARNs (the same scheme a target account's role gets).
module "hub_scope" {
  source = "./modules/account-scope"

  schedule       = module.schedules
  account        = null
  account_id     = local.account
  partition      = local.partition
  default_region = local.region
}

module "monitoring" {
  source = "./modules/monitoring"

  schedules          = module.schedules.schedules
  environments       = module.schedules.environments
  timezone           = module.schedules.timezone
  currency           = module.schedules.currency
  function_name      = var.function_name
  spot_function_name = local.spot_function_name
  dlq_name           = aws_sqs_queue.dlq.name
  partition          = local.partition
  region             = local.region
  account            = local.account

  max_event_age_seconds = var.max_event_age_seconds
  timeout               = var.timeout

  notification_emails = var.notification_emails
  sns_topic_arn       = var.sns_topic_arn
  notify_on_start     = var.notify_on_start
  create_alarms       = var.create_alarms
  missed_stop_alarms  = var.create_missed_stop_alarms
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.region
  account   = data.aws_caller_identity.current.account_id

  spot_function_name = "${var.function_name}-spot"
  # Built rather than read from aws_lambda_function.this.arn: the function's own environment
  # needs it (as the target of `until` override schedules), which would be a cycle.
  function_arn = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.function_name}"

  # The schedule file names clusters and services; these are the ARNs of those of this account
  # (the entries that name no `account`), each in its `region` or this one (the file holds
  # names only: `ecs-cost-saver validate` refuses ARNs). The other accounts' are theirs
  # (accounts.tf, modules/target-account). A `select` entry may choose any service of its
  # cluster: those are in scope as a pattern.
  cluster_arns = module.hub_scope.cluster_arns
  service_arns = module.hub_scope.service_arns
  # A file whose services are all in other accounts leaves the hub no cluster: iam.tf then has
  # no cluster-scoped statement at all (an empty Resource is invalid).
  hub_has_clusters = length(local.cluster_arns) > 0

  # Where the function finds the schedule: the package's root is /var/task.
  schedule_path = "/var/task/schedule.yaml"
}
