# Offline: this module has no provider, so `terraform test` needs no download. Paths are relative
# to terraform/modules/schedules, where scripts/check-terraform runs `terraform test`.

run "example_yields_exactly_its_two_crons" {
  command = plan

  variables {
    schedule_file = "../../../schedules/example.yaml"
  }

  assert {
    condition = jsonencode(output.schedules) == jsonencode({
      "staging-start-1" = {
        name        = "staging-start-1"
        environment = "staging"
        action      = "start"
        expression  = "cron(0 8 ? * MON-FRI *)"
        timezone    = "Asia/Tokyo"
        input       = "{\"action\":\"start\",\"environment\":\"staging\",\"scheduled\":true}"
      }
      "staging-stop-1" = {
        name        = "staging-stop-1"
        environment = "staging"
        action      = "stop"
        expression  = "cron(0 22 ? * MON-FRI *)"
        timezone    = "Asia/Tokyo"
        input       = "{\"action\":\"stop\",\"environment\":\"staging\",\"scheduled\":true}"
      }
    })
    error_message = "example.yaml gave ${jsonencode(output.schedules)}"
  }

  assert {
    condition     = jsondecode(output.schedules["staging-start-1"].input).scheduled == true
    error_message = "a scheduled start must say `scheduled: true`, or it runs on holidays"
  }

  assert {
    condition     = output.environments == tolist(["dev", "staging"])
    error_message = "environments: ${jsonencode(output.environments)}"
  }

  assert {
    condition     = output.clusters == tolist(["example-cluster"])
    error_message = "clusters: ${jsonencode(output.clusters)}"
  }

  assert {
    condition = jsonencode(output.services) == jsonencode([
      { environment = "dev", cluster = "example-cluster", service = "api-dev" },
      { environment = "staging", cluster = "example-cluster", service = "api-stg" },
      { environment = "staging", cluster = "example-cluster", service = "web-stg" },
    ])
    error_message = "services: ${jsonencode(output.services)}"
  }
}

run "several_crons_are_numbered_and_the_zone_defaults_to_tokyo" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/several-crons.yaml"
  }

  assert {
    condition     = keys(output.schedules) == ["batch-1-start-1", "batch-1-stop-1", "batch-1-stop-2"]
    error_message = "names: ${jsonencode(keys(output.schedules))}"
  }

  assert {
    condition = [for s in values(output.schedules) : s.expression] == [
      "cron(30 7 ? * MON-FRI *)", "cron(0 20 ? * MON-THU *)", "cron(0 18 ? * FRI *)",
    ]
    error_message = "expressions: ${jsonencode([for s in values(output.schedules) : s.expression])}"
  }

  assert {
    condition     = alltrue([for s in values(output.schedules) : s.timezone == "Asia/Tokyo"])
    error_message = "without `timezone` every schedule is in Asia/Tokyo"
  }

  assert {
    condition     = output.schedules["batch-1-stop-2"].input == "{\"action\":\"stop\",\"environment\":\"batch-1\",\"scheduled\":true}"
    error_message = "input: ${output.schedules["batch-1-stop-2"].input}"
  }

  assert {
    condition     = alltrue([for name in keys(output.schedules) : can(regex("^[0-9a-zA-Z_.-]{1,64}$", name))])
    error_message = "schedule names must be 1-64 characters of [0-9a-zA-Z-_.]"
  }

  assert {
    condition     = output.clusters == tolist(["jobs", "web"])
    error_message = "clusters: ${jsonencode(output.clusters)}"
  }
}

run "the_yaml_timezone_is_used" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/utc.yaml"
  }

  assert {
    condition     = output.schedules["prod-eu-stop-1"].timezone == "UTC" && output.timezone == "UTC"
    error_message = "timezone: ${output.timezone}"
  }
}

run "a_bad_environment_name_is_refused" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/bad-environment.yaml"
  }

  expect_failures = [output.environments]
}

run "a_rate_expression_or_a_single_string_is_refused" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/bad-cron.yaml"
  }

  expect_failures = [output.schedules]
}

run "a_service_without_a_cluster_is_refused" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/no-cluster.yaml"
  }

  expect_failures = [output.services]
}

run "a_missing_file_is_refused" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/no-such-file.yaml"
  }

  expect_failures = [var.schedule_file]
}

run "reconcile_crons_become_schedules_of_their_own" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/reconcile.yaml"
  }

  assert {
    condition = keys(output.schedules) == [
      "staging-reconcile-1", "staging-reconcile-2", "staging-start-1", "staging-stop-1",
    ]
    error_message = "names: ${jsonencode(keys(output.schedules))}"
  }

  assert {
    condition = (
      output.schedules["staging-reconcile-2"].expression == "cron(0 * ? * SAT,SUN *)" &&
      output.schedules["staging-reconcile-2"].timezone == "Asia/Tokyo" &&
      output.schedules["staging-reconcile-1"].input == "{\"action\":\"reconcile\",\"environment\":\"staging\",\"scheduled\":true}"
    )
    error_message = "reconcile: ${jsonencode(output.schedules["staging-reconcile-1"])}"
  }
}

run "selectors_scope_their_clusters_and_name_no_service" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/selectors.yaml"
  }

  assert {
    condition = jsonencode(output.selectors) == jsonencode([
      { environment = "staging", cluster = "shop-stg" },
      { environment = "staging", cluster = "shared-stg" },
    ])
    error_message = "selectors: ${jsonencode(output.selectors)}"
  }

  assert {
    condition     = jsonencode(output.services) == jsonencode([{ environment = "staging", cluster = "shop-stg", service = "api" }])
    error_message = "services: ${jsonencode(output.services)}"
  }

  assert {
    condition     = output.clusters == tolist(["shared-stg", "shop-stg"])
    error_message = "clusters: ${jsonencode(output.clusters)}"
  }
}

run "without_capacity_no_autoscaling_group_is_scoped" {
  command = plan

  variables {
    schedule_file = "../../../schedules/example.yaml"
  }

  assert {
    condition     = length(output.autoscaling_groups) == 0
    error_message = "autoscaling_groups: ${jsonencode(output.autoscaling_groups)}"
  }
}

run "an_environment_capacity_names_its_autoscaling_group" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/capacity.yaml"
  }

  assert {
    condition     = output.autoscaling_groups == tolist(["shop-stg-ecs"])
    error_message = "autoscaling_groups: ${jsonencode(output.autoscaling_groups)}"
  }

  assert {
    condition     = keys(output.schedules) == ["staging-start-1", "staging-stop-1"] && output.clusters == tolist(["shop-dev", "shop-stg"])
    error_message = "capacity changes neither the schedules nor the clusters: ${jsonencode(keys(output.schedules))}, ${jsonencode(output.clusters)}"
  }
}

run "a_group_in_two_environments_is_refused" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/shared-group.yaml"
  }

  expect_failures = [output.autoscaling_groups]
}

run "a_group_name_that_is_no_single_arn_is_refused" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/bad-group.yaml"
  }

  expect_failures = [output.autoscaling_groups]
}

run "the_currency_defaults_to_usd" {
  command = plan

  variables {
    schedule_file = "../../../schedules/example.yaml"
  }

  assert {
    condition     = output.currency == "USD"
    error_message = "currency: ${output.currency}"
  }
}

run "pricing_names_the_currency" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/pricing.yaml"
  }

  assert {
    condition     = output.currency == "JPY"
    error_message = "currency: ${output.currency}"
  }
}

run "without_accounts_everything_is_the_functions_own" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/capacity.yaml"
  }

  assert {
    condition     = length(output.accounts) == 0
    error_message = "accounts: ${jsonencode(output.accounts)}"
  }

  assert {
    condition = jsonencode(output.service_entries) == jsonencode([
      { environment = "dev", cluster = "shop-dev", service = "api", account = null, region = null },
      { environment = "staging", cluster = "shop-stg", service = "api", account = null, region = null },
    ])
    error_message = "service_entries: ${jsonencode(output.service_entries)}"
  }

  assert {
    condition     = jsonencode(output.autoscaling_group_entries) == jsonencode([{ environment = "staging", name = "shop-stg-ecs", account = null, region = null }])
    error_message = "autoscaling_group_entries: ${jsonencode(output.autoscaling_group_entries)}"
  }
}

run "accounts_and_regions_are_inherited_and_an_entrys_own_win" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/accounts.yaml"
  }

  assert {
    condition = jsonencode(output.accounts) == jsonencode({
      prd = { role_arn = "arn:aws:iam::333333333333:role/ops/ecs-cost-saver-target", external_id = null, account_id = "333333333333" }
      stg = { role_arn = "arn:aws:iam::222222222222:role/ecs-cost-saver-target", external_id = "stg-7f3a", account_id = "222222222222" }
    })
    error_message = "accounts: ${jsonencode(output.accounts)}"
  }

  assert {
    condition = jsonencode(output.service_entries) == jsonencode([
      { environment = "dev", cluster = "web", service = "api-dev", account = null, region = null },
      { environment = "dev", cluster = "web", service = "api-dev-osaka", account = null, region = "ap-northeast-3" },
      { environment = "staging", cluster = "web", service = "api", account = "stg", region = "ap-northeast-3" },
      { environment = "staging", cluster = "web", service = "api", account = "stg", region = "ap-northeast-1" },
    ])
    error_message = "service_entries: ${jsonencode(output.service_entries)}"
  }

  assert {
    condition     = jsonencode(output.selector_entries) == jsonencode([{ environment = "staging", cluster = "batch", account = "prd", region = "ap-northeast-3" }])
    error_message = "selector_entries: ${jsonencode(output.selector_entries)}"
  }

  assert {
    condition = jsonencode(output.cluster_entries) == jsonencode([
      { account = "prd", region = "ap-northeast-3", cluster = "batch" },
      { account = "stg", region = "ap-northeast-1", cluster = "web" },
      { account = "stg", region = "ap-northeast-3", cluster = "web" },
      { account = null, region = "ap-northeast-3", cluster = "web" },
      { account = null, region = null, cluster = "web" },
    ])
    error_message = "cluster_entries: ${jsonencode(output.cluster_entries)}"
  }

  # Groups take their environment's account and region, whatever its services say.
  assert {
    condition     = jsonencode(output.autoscaling_group_entries) == jsonencode([{ environment = "staging", name = "asg-1", account = "stg", region = "ap-northeast-3" }])
    error_message = "autoscaling_group_entries: ${jsonencode(output.autoscaling_group_entries)}"
  }

  # The name-only outputs are unchanged: one cluster name, wherever it lives.
  assert {
    condition     = output.clusters == tolist(["batch", "web"]) && output.autoscaling_groups == tolist(["asg-1"])
    error_message = "clusters: ${jsonencode(output.clusters)}, autoscaling_groups: ${jsonencode(output.autoscaling_groups)}"
  }
}

run "an_account_that_names_no_key_of_accounts_is_refused" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/unknown-account.yaml"
  }

  expect_failures = [output.service_entries]
}

run "a_role_arn_that_is_not_one_role_is_refused" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/bad-role-arn.yaml"
  }

  expect_failures = [output.accounts]
}

run "a_region_that_is_no_region_name_is_refused" {
  command = plan

  variables {
    schedule_file = "tests/fixtures/bad-region.yaml"
  }

  expect_failures = [output.cluster_entries]
}
