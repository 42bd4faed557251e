# Hub and spoke: the schedule file's `accounts` table names, per other account, the
# role the functions assume there (modules/target-account creates it, one instance per account
# and region). The functions then call ECS, Application Auto Scaling, EC2 Auto Scaling and ELB
# of that account and region with the role's credentials; the state table, the schedules and
# the overrides stay here, with the functions' own roles. This side of it:
#
#   - each account's scope (modules/account-scope), for its clusters in the Spot pattern;
#   - the roles the functions may assume (iam.tf, AssumeTheTargetAccountRoles);
#   - the default bus policy that lets those accounts' forwarding rules put their Spot events
#     here (spot.tf's rules then match them).

module "account_scopes" {
  source   = "./modules/account-scope"
  for_each = module.schedules.accounts

  schedule  = module.schedules
  account   = each.key
  partition = local.partition
  # Their entries that name no region are in the functions' region.
  default_region = local.region
}

locals {
  target_cluster_arns = flatten([for scope in module.account_scopes : scope.cluster_arns])
  # This account may be in the table too (a role of its own): its events need no bus policy.
  target_account_ids   = sort(distinct([for a in module.schedules.accounts : a.account_id if a.account_id != local.account]))
  accept_target_events = var.spot_events && length(local.target_account_ids) > 0
}

# The forwarding rules of the other accounts (modules/target-account) put events here with a
# role of their own account; a bus takes events of another account only when its policy says
# so. This is the default bus's whole resource policy: it replaces any other one.
data "aws_iam_policy_document" "event_bus" {
  count = local.accept_target_events ? 1 : 0

  statement {
    sid       = "SpotEventsFromTheTargetAccounts"
    actions   = ["events:PutEvents"]
    resources = [local.destination_bus_arn]

    principals {
      type        = "AWS"
      identifiers = local.target_account_ids
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "target_accounts" {
  count = local.accept_target_events ? 1 : 0

  event_bus_name = "default"
  policy         = data.aws_iam_policy_document.event_bus[0].json
}
