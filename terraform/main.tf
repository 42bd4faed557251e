# ecs-cost-saver: the Lambda that stops and starts the ECS services of a schedule file, the
# EventBridge Scheduler schedules generated from that file, the Spot interruption rules, and the
# IAM, DLQ and logs around them. One file per concern:
#
#   lambda.tf     the two functions (stop/start and Spot), their concurrency and async settings
#   schedules.tf  the schedule groups, one schedule per cron, the role Scheduler invokes with
#   spot.tf       the EventBridge rules for Fargate Spot and EC2 Spot interruptions
#   iam.tf        each function's role: exactly the calls its code path makes (tests/iam.rs)
#   dlq.tf        the dead-letter queue shared by the schedules, the rules and the functions
#   logs.tf       the log groups

module "schedules" {
  source        = "./modules/schedules"
  schedule_file = var.schedule_file
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

  # The schedule file names clusters and services; these are their ARNs in this account and
  # region (the file holds names only: `ecs-cost-saver validate` refuses ARNs).
  cluster_arns = [for c in module.schedules.clusters : "arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/${c}"]
  # A `select` entry may choose any service of its cluster: those are in scope as a pattern.
  service_arns = distinct(concat(
    [for s in module.schedules.services : "arn:${local.partition}:ecs:${local.region}:${local.account}:service/${s.cluster}/${s.service}"],
    [for s in module.schedules.selectors : "arn:${local.partition}:ecs:${local.region}:${local.account}:service/${s.cluster}/*"],
  ))

  # Where the function finds the schedule: the package's root is /var/task.
  schedule_path = "/var/task/schedule.yaml"
}
