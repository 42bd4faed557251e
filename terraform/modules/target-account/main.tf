# The spoke of hub and spoke, applied with a provider for one target account and
# region of the hub's schedule file:
#
#   iam.tf     the role the hub's functions assume here (named as the file's role_arn), trusting
#              only them, with the ECS, ELB and Auto Scaling calls they make in this account;
#   events.tf  the rules that forward this region's Spot interruptions to the hub's bus.
#
# One instance per region the account's entries are in: IAM is global, so one of them creates
# the role (create_role) and the others only forward. What needs no provider (the account's
# entries and ARNs, the role's name and path, the trust's condition) is computed by
# modules/account-scope and tested there.

module "schedules" {
  source        = "../schedules"
  schedule_file = var.schedule_file
}

module "scope" {
  source = "../account-scope"

  schedule = module.schedules
  account  = var.account
  # Only for account = null (the hub's own other regions): the hub's account, from its roles.
  account_id     = var.account == null ? local.hub_account_id : null
  partition      = data.aws_partition.current.partition
  default_region = var.default_region
}

data "aws_partition" "current" {}
data "aws_region" "current" {}

# Applied in the wrong account, the role would exist where the hub never looks, and the hub's
# AssumeRole would fail at the first stop: refuse at plan.
data "aws_caller_identity" "current" {
  lifecycle {
    postcondition {
      condition     = self.account_id == module.scope.account_id
      error_message = "ecs-cost-saver: this provider acts in account ${self.account_id}, but ${var.account == null ? "the hub's roles (hub_role_arns) are in account ${module.scope.account_id}" : "the schedule file's `accounts.${var.account}.role_arn` is in account ${module.scope.account_id}"}: give the module a provider for that account."
    }
    postcondition {
      condition     = var.account != null || !var.create_role
      error_message = "ecs-cost-saver: with account = null (the hub's own account, another region) there is no role to create: set create_role = false."
    }
  }
}

locals {
  hub_account_id = regex("^arn:[^:]+:iam::([0-9]{12}):", var.hub_role_arns[0])[0]
  region         = data.aws_region.current.region
  # With no cluster of its own here, the cluster-scoped statements are left out (an empty
  # Resource is invalid).
  has_clusters = length(module.scope.cluster_arns) > 0
}
