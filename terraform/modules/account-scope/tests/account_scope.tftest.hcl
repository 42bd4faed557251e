# Offline: this module has no provider. The schedule is what modules/schedules makes of
# ../schedules/tests/fixtures/accounts.yaml (its test checks that): account stg in Osaka with one
# service in Tokyo, account prd with a selector, and the hub's own dev services.

variables {
  default_region = "ap-northeast-1"
  partition      = "aws"
  schedule = {
    accounts = {
      prd = { role_arn = "arn:aws:iam::333333333333:role/ops/ecs-cost-saver-target", external_id = null, account_id = "333333333333" }
      stg = { role_arn = "arn:aws:iam::222222222222:role/ecs-cost-saver-target", external_id = "stg-7f3a", account_id = "222222222222" }
    }
    service_entries = [
      { environment = "dev", cluster = "web", service = "api-dev", account = null, region = null },
      { environment = "dev", cluster = "web", service = "api-dev-osaka", account = null, region = "ap-northeast-3" },
      { environment = "staging", cluster = "web", service = "api", account = "stg", region = "ap-northeast-3" },
      { environment = "staging", cluster = "web", service = "api", account = "stg", region = "ap-northeast-1" },
    ]
    selector_entries = [
      { environment = "staging", cluster = "batch", account = "prd", region = "ap-northeast-3" },
    ]
    cluster_entries = [
      { account = "prd", region = "ap-northeast-3", cluster = "batch" },
      { account = "stg", region = "ap-northeast-1", cluster = "web" },
      { account = "stg", region = "ap-northeast-3", cluster = "web" },
      { account = null, region = "ap-northeast-3", cluster = "web" },
      { account = null, region = null, cluster = "web" },
    ]
    autoscaling_group_entries = [
      { environment = "staging", name = "asg-1", account = "stg", region = "ap-northeast-3" },
    ]
  }
}

run "a_target_account_gets_its_own_entries_in_their_regions" {
  command = plan

  variables {
    account = "stg"
  }

  assert {
    condition     = output.account_id == "222222222222"
    error_message = "account_id: ${output.account_id}"
  }

  assert {
    condition     = output.regions == tolist(["ap-northeast-1", "ap-northeast-3"])
    error_message = "regions: ${jsonencode(output.regions)}"
  }

  assert {
    condition = output.cluster_arns == tolist([
      "arn:aws:ecs:ap-northeast-1:222222222222:cluster/web",
      "arn:aws:ecs:ap-northeast-3:222222222222:cluster/web",
    ])
    error_message = "cluster_arns: ${jsonencode(output.cluster_arns)}"
  }

  assert {
    condition = jsonencode(output.cluster_arns_by_region) == jsonencode({
      "ap-northeast-1" = ["arn:aws:ecs:ap-northeast-1:222222222222:cluster/web"]
      "ap-northeast-3" = ["arn:aws:ecs:ap-northeast-3:222222222222:cluster/web"]
    })
    error_message = "cluster_arns_by_region: ${jsonencode(output.cluster_arns_by_region)}"
  }

  assert {
    condition = output.service_arns == tolist([
      "arn:aws:ecs:ap-northeast-1:222222222222:service/web/api",
      "arn:aws:ecs:ap-northeast-3:222222222222:service/web/api",
    ])
    error_message = "service_arns: ${jsonencode(output.service_arns)}"
  }

  assert {
    condition = (
      output.cluster_tasks == tolist(["arn:aws:ecs:ap-northeast-1:222222222222:task/web/*", "arn:aws:ecs:ap-northeast-3:222222222222:task/web/*"]) &&
      output.cluster_container_instances == tolist(["arn:aws:ecs:ap-northeast-1:222222222222:container-instance/web/*", "arn:aws:ecs:ap-northeast-3:222222222222:container-instance/web/*"]) &&
      output.cluster_services == tolist(["arn:aws:ecs:ap-northeast-1:222222222222:service/web/*", "arn:aws:ecs:ap-northeast-3:222222222222:service/web/*"])
    )
    error_message = "tasks: ${jsonencode(output.cluster_tasks)}, instances: ${jsonencode(output.cluster_container_instances)}, services: ${jsonencode(output.cluster_services)}"
  }

  assert {
    condition     = output.autoscaling_group_arns == tolist(["arn:aws:autoscaling:ap-northeast-3:222222222222:autoScalingGroup:*:autoScalingGroupName/asg-1"])
    error_message = "autoscaling_group_arns: ${jsonencode(output.autoscaling_group_arns)}"
  }

  assert {
    condition = (
      output.target_group_arns == tolist(["arn:aws:elasticloadbalancing:ap-northeast-1:222222222222:targetgroup/*/*", "arn:aws:elasticloadbalancing:ap-northeast-3:222222222222:targetgroup/*/*"]) &&
      output.scalable_target_arns == tolist(["arn:aws:application-autoscaling:ap-northeast-1:222222222222:scalable-target/*", "arn:aws:application-autoscaling:ap-northeast-3:222222222222:scalable-target/*"]) &&
      output.capacity_provider_arns == tolist(["arn:aws:ecs:ap-northeast-1:222222222222:capacity-provider/*", "arn:aws:ecs:ap-northeast-3:222222222222:capacity-provider/*"])
    )
    error_message = "target groups: ${jsonencode(output.target_group_arns)}, scalable targets: ${jsonencode(output.scalable_target_arns)}, providers: ${jsonencode(output.capacity_provider_arns)}"
  }

  assert {
    condition     = jsonencode(output.role) == jsonencode({ arn = "arn:aws:iam::222222222222:role/ecs-cost-saver-target", name = "ecs-cost-saver-target", path = "/" })
    error_message = "role: ${jsonencode(output.role)}"
  }

  assert {
    condition     = jsonencode(output.assume_role_conditions) == jsonencode([{ test = "StringEquals", variable = "sts:ExternalId", values = ["stg-7f3a"] }])
    error_message = "assume_role_conditions: ${jsonencode(output.assume_role_conditions)}"
  }
}

run "a_role_with_a_path_and_no_external_id" {
  command = plan

  variables {
    account = "prd"
  }

  assert {
    condition     = jsonencode(output.role) == jsonencode({ arn = "arn:aws:iam::333333333333:role/ops/ecs-cost-saver-target", name = "ecs-cost-saver-target", path = "/ops/" })
    error_message = "role: ${jsonencode(output.role)}"
  }

  assert {
    condition     = length(output.assume_role_conditions) == 0 && output.external_id == null
    error_message = "without external_id the trust has no condition: ${jsonencode(output.assume_role_conditions)}"
  }

  # A selector's cluster: every service of it; no group, so none in scope.
  assert {
    condition = (
      output.service_arns == tolist(["arn:aws:ecs:ap-northeast-3:333333333333:service/batch/*"]) &&
      output.regions == tolist(["ap-northeast-3"]) &&
      length(output.autoscaling_group_arns) == 0
    )
    error_message = "service_arns: ${jsonencode(output.service_arns)}, regions: ${jsonencode(output.regions)}"
  }
}

run "the_hub_gets_the_entries_that_name_no_account_in_their_regions" {
  command = plan

  variables {
    account_id = "111111111111"
  }

  assert {
    condition = output.cluster_arns == tolist([
      "arn:aws:ecs:ap-northeast-1:111111111111:cluster/web",
      "arn:aws:ecs:ap-northeast-3:111111111111:cluster/web",
    ])
    error_message = "cluster_arns: ${jsonencode(output.cluster_arns)}"
  }

  assert {
    condition = output.service_arns == tolist([
      "arn:aws:ecs:ap-northeast-1:111111111111:service/web/api-dev",
      "arn:aws:ecs:ap-northeast-3:111111111111:service/web/api-dev-osaka",
    ])
    error_message = "service_arns: ${jsonencode(output.service_arns)}"
  }

  assert {
    condition     = output.role == null && length(output.assume_role_conditions) == 0 && length(output.autoscaling_group_arns) == 0
    error_message = "the hub has no target role: ${jsonencode(output.role)}"
  }
}

run "an_account_with_no_entries_is_scoped_to_the_default_region_only" {
  command = plan

  variables {
    account_id = "111111111111"
    schedule = {
      accounts                  = {}
      service_entries           = []
      selector_entries          = []
      cluster_entries           = []
      autoscaling_group_entries = []
    }
  }

  assert {
    condition = (
      length(output.cluster_arns) == 0 && length(output.service_arns) == 0 &&
      output.regions == tolist(["ap-northeast-1"]) &&
      output.target_group_arns == tolist(["arn:aws:elasticloadbalancing:ap-northeast-1:111111111111:targetgroup/*/*"])
    )
    error_message = "regions: ${jsonencode(output.regions)}, clusters: ${jsonencode(output.cluster_arns)}"
  }
}

run "an_account_that_is_no_key_of_accounts_is_refused" {
  command = plan

  variables {
    account = "staging"
  }

  expect_failures = [output.account_id]
}

run "the_hub_without_its_account_id_is_refused" {
  command = plan

  expect_failures = [output.account_id]
}
