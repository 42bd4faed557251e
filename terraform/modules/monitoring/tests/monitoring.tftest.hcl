# Offline: this module has no provider. Paths are relative to terraform/modules/monitoring, where
# scripts/check-terraform runs `terraform test`. The crons are given inline: the module reads the
# schedules module's output, not the file.

variables {
  schedules = {
    "staging-stop-1"  = { environment = "staging", action = "stop", expression = "cron(0 22 ? * MON-FRI *)" }
    "staging-start-1" = { environment = "staging", action = "start", expression = "cron(0 8 ? * MON-FRI *)" }
  }
  environments       = ["dev", "staging"]
  timezone           = "Asia/Tokyo"
  function_name      = "ecs-cost-saver"
  spot_function_name = "ecs-cost-saver-spot"
  dlq_name           = "ecs-cost-saver-dlq"
  region             = "ap-northeast-1"
  account            = "123456789012"
}

# --- The missed-stop alarm ---

run "a_weekday_22_00_tokyo_stop_is_13_00_utc_monday_to_friday" {
  command = plan

  assert {
    condition     = output.missed_stop_alarms["staging"].stop_times == ["Mon 13:00 UTC", "Tue 13:00 UTC", "Wed 13:00 UTC", "Thu 13:00 UTC", "Fri 13:00 UTC"]
    error_message = "stop_times: ${jsonencode(output.missed_stop_alarms["staging"].stop_times)}"
  }

  # Monday 13:00 UTC is minute 780 of the week: armed from 12:00 (720) to 15:00 (900).
  assert {
    condition     = output.missed_stop_alarms["staging"].expressions.armed == "(w >= 720 AND w <= 900) OR (w >= 2160 AND w <= 2340) OR (w >= 3600 AND w <= 3780) OR (w >= 5040 AND w <= 5220) OR (w >= 6480 AND w <= 6660)"
    error_message = "armed: ${output.missed_stop_alarms["staging"].expressions.armed}"
  }

  assert {
    condition = (
      output.missed_stop_alarms["staging"].expressions.w == "(DAY(m) - 1) * 1440 + HOUR(m) * 60 + MINUTE(m)" &&
      output.missed_stop_alarms["staging"].expressions.missed == "armed - armed * m"
    )
    error_message = "expressions: ${jsonencode(output.missed_stop_alarms["staging"].expressions)}"
  }

  # Defaults: max_event_age_seconds 3600 + timeout 300 -> 2 hours of grace, 3 periods.
  assert {
    condition     = output.grace_hours == 2 && output.missed_stop_alarms["staging"].evaluation_periods == 3
    error_message = "grace ${output.grace_hours}, periods ${output.missed_stop_alarms["staging"].evaluation_periods}"
  }

  assert {
    condition     = output.missed_stop_alarms["staging"].name == "ecs-cost-saver-missed-stop-staging"
    error_message = "name: ${output.missed_stop_alarms["staging"].name}"
  }

  assert {
    condition     = length(output.missed_stop_alarms["staging"].description) <= 1024 && strcontains(output.missed_stop_alarms["staging"].description, "cron(0 22 ? * MON-FRI *) in Asia/Tokyo")
    error_message = "description: ${output.missed_stop_alarms["staging"].description}"
  }

  # The start cron makes no alarm, and the manual-only environment is named with its reason.
  assert {
    condition     = keys(output.missed_stop_alarms) == ["staging"] && output.missed_stop_skipped == { dev = "no stop crons (manual only)" }
    error_message = "alarms ${jsonencode(keys(output.missed_stop_alarms))}, skipped ${jsonencode(output.missed_stop_skipped)}"
  }
}

run "the_schedules_module_output_is_accepted_as_it_is" {
  command = plan

  # The root passes module.schedules.schedules, whose entries carry more than this module reads.
  variables {
    schedules = {
      "staging-stop-1" = {
        name        = "staging-stop-1"
        environment = "staging"
        action      = "stop"
        expression  = "cron(0 22 ? * MON-FRI *)"
        timezone    = "Asia/Tokyo"
        input       = "{\"action\":\"stop\",\"environment\":\"staging\",\"scheduled\":true}"
      }
    }
  }

  assert {
    condition     = length(output.missed_stop_alarms["staging"].stop_times) == 5
    error_message = "stop_times: ${jsonencode(output.missed_stop_alarms["staging"].stop_times)}"
  }
}

run "a_tuesday_to_saturday_00_30_stop_is_the_previous_day_in_utc" {
  command = plan

  variables {
    schedules = {
      "batch-stop-1" = { environment = "batch", action = "stop", expression = "cron(30 0 ? * TUE-SAT *)" }
    }
    environments = ["batch"]
  }

  assert {
    condition     = output.missed_stop_alarms["batch"].stop_times == ["Mon 15:30 UTC", "Tue 15:30 UTC", "Wed 15:30 UTC", "Thu 15:30 UTC", "Fri 15:30 UTC"]
    error_message = "stop_times: ${jsonencode(output.missed_stop_alarms["batch"].stop_times)}"
  }

  assert {
    condition     = startswith(output.missed_stop_alarms["batch"].expressions.armed, "(w >= 870 AND w <= 1050) OR ")
    error_message = "armed: ${output.missed_stop_alarms["batch"].expressions.armed}"
  }
}

run "a_monday_morning_stop_in_tokyo_is_sunday_night_utc_and_its_window_wraps_the_week" {
  command = plan

  variables {
    schedules = {
      "night-stop-1" = { environment = "night", action = "stop", expression = "cron(30 9 ? * MON *)" }
    }
    environments = ["night"]
  }

  # Monday 09:30 JST = Monday 00:30 UTC = minute 30: the hour before reaches into Sunday.
  assert {
    condition     = output.missed_stop_alarms["night"].stop_times == ["Mon 00:30 UTC"]
    error_message = "stop_times: ${jsonencode(output.missed_stop_alarms["night"].stop_times)}"
  }

  assert {
    condition     = output.missed_stop_alarms["night"].expressions.armed == "(w >= 0 AND w <= 150) OR (w >= 10050 AND w <= 10079)"
    error_message = "armed: ${output.missed_stop_alarms["night"].expressions.armed}"
  }
}

run "a_sunday_late_stop_in_utc_wraps_into_monday" {
  command = plan

  variables {
    timezone = "UTC"
    schedules = {
      "eu-stop-1" = { environment = "eu", action = "stop", expression = "cron(30 23 ? * SUN *)" }
    }
    environments = ["eu"]
  }

  assert {
    condition     = output.missed_stop_alarms["eu"].expressions.armed == "(w >= 0 AND w <= 90) OR (w >= 9990 AND w <= 10079)"
    error_message = "armed: ${output.missed_stop_alarms["eu"].expressions.armed}"
  }
}

run "daily_numbered_and_wrapping_weekdays_are_read" {
  command = plan

  variables {
    timezone = "UTC"
    schedules = {
      "daily-stop-1"   = { environment = "daily", action = "stop", expression = "cron(0 20 * * ? *)" }
      "star-stop-1"    = { environment = "star", action = "stop", expression = "cron(0 20 ? * * *)" }
      "numbers-stop-1" = { environment = "numbers", action = "stop", expression = "cron(0 20 ? * 2-6 *)" }
      "wrap-stop-1"    = { environment = "wrap", action = "stop", expression = "cron(0 20 ? * fri-mon *)" }
      "list-stop-1"    = { environment = "list", action = "stop", expression = "cron(0 20 ? * MON,WED,7 *)" }
    }
    environments = ["daily", "list", "numbers", "star", "wrap"]
  }

  assert {
    condition = (
      length(output.missed_stop_alarms["daily"].stop_times) == 7 &&
      output.missed_stop_alarms["star"].stop_times == output.missed_stop_alarms["daily"].stop_times
    )
    error_message = "daily: ${jsonencode(output.missed_stop_alarms["daily"].stop_times)}"
  }

  # 1 = SUN ... 7 = SAT, as in EventBridge Scheduler: 2-6 is MON-FRI.
  assert {
    condition     = output.missed_stop_alarms["numbers"].stop_times == ["Mon 20:00 UTC", "Tue 20:00 UTC", "Wed 20:00 UTC", "Thu 20:00 UTC", "Fri 20:00 UTC"]
    error_message = "numbers: ${jsonencode(output.missed_stop_alarms["numbers"].stop_times)}"
  }

  assert {
    condition     = output.missed_stop_alarms["wrap"].stop_times == ["Mon 20:00 UTC", "Fri 20:00 UTC", "Sat 20:00 UTC", "Sun 20:00 UTC"]
    error_message = "wrap: ${jsonencode(output.missed_stop_alarms["wrap"].stop_times)}"
  }

  assert {
    condition     = output.missed_stop_alarms["list"].stop_times == ["Mon 20:00 UTC", "Wed 20:00 UTC", "Sat 20:00 UTC"]
    error_message = "list: ${jsonencode(output.missed_stop_alarms["list"].stop_times)}"
  }
}

run "two_stop_crons_of_one_environment_both_arm_it" {
  command = plan

  variables {
    schedules = {
      "batch-stop-1" = { environment = "batch", action = "stop", expression = "cron(0 20 ? * MON-THU *)" }
      "batch-stop-2" = { environment = "batch", action = "stop", expression = "cron(0 18 ? * FRI *)" }
    }
    environments = ["batch"]
  }

  assert {
    condition     = output.missed_stop_alarms["batch"].stop_times == ["Mon 11:00 UTC", "Tue 11:00 UTC", "Wed 11:00 UTC", "Thu 11:00 UTC", "Fri 09:00 UTC"]
    error_message = "stop_times: ${jsonencode(output.missed_stop_alarms["batch"].stop_times)}"
  }
}

run "unreadable_crons_and_daylight_saving_zones_get_no_alarm_and_say_why" {
  command = plan

  variables {
    schedules = {
      "last-stop-1"  = { environment = "last", action = "stop", expression = "cron(0 22 ? * 6L *)" }
      "nth-stop-1"   = { environment = "nth", action = "stop", expression = "cron(0 22 ? * MON#1 *)" }
      "hours-stop-1" = { environment = "hours", action = "stop", expression = "cron(0 20,22 ? * MON-FRI *)" }
      "dom-stop-1"   = { environment = "dom", action = "stop", expression = "cron(0 22 15 * ? *)" }
      "month-stop-1" = { environment = "month", action = "stop", expression = "cron(0 22 ? JAN-MAR MON-FRI *)" }
      # One unreadable cron leaves the whole environment out: an alarm that watched only some
      # of its stops would say nothing about the others.
      "mixed-stop-1" = { environment = "mixed", action = "stop", expression = "cron(0 22 ? * MON-FRI *)" }
      "mixed-stop-2" = { environment = "mixed", action = "stop", expression = "cron(*/5 23 ? * SUN *)" }
    }
    environments = ["dom", "hours", "last", "mixed", "month", "nth"]
  }

  assert {
    condition     = length(output.missed_stop_alarms) == 0
    error_message = "alarms: ${jsonencode(keys(output.missed_stop_alarms))}"
  }

  assert {
    condition = output.missed_stop_skipped == {
      dom   = "stop cron cron(0 22 15 * ? *) day-of-month 15: day-of-month rules are not read"
      hours = "stop cron cron(0 20,22 ? * MON-FRI *) hours 20,22: only a single hour is read (no lists, ranges or steps)"
      last  = "stop cron cron(0 22 ? * 6L *) day-of-week 6L: only weekday names or numbers, lists and ranges are read (not L, # or steps)"
      mixed = "stop cron cron(*/5 23 ? * SUN *) minutes */5: only a single minute is read"
      month = "stop cron cron(0 22 ? JAN-MAR MON-FRI *) month JAN-MAR: only * is read"
      nth   = "stop cron cron(0 22 ? * MON#1 *) day-of-week MON#1: only weekday names or numbers, lists and ranges are read (not L, # or steps)"
    }
    error_message = "skipped: ${jsonencode(output.missed_stop_skipped)}"
  }
}

run "a_zone_with_daylight_saving_time_gets_no_alarm" {
  command = plan

  variables {
    timezone = "Europe/Berlin"
  }

  assert {
    condition     = length(output.missed_stop_alarms) == 0 && strcontains(output.missed_stop_skipped["staging"], "Europe/Berlin has daylight saving time")
    error_message = "skipped: ${jsonencode(output.missed_stop_skipped)}"
  }

  assert {
    condition     = output.missed_stop_skipped["dev"] == "no stop crons (manual only)"
    error_message = "dev: ${output.missed_stop_skipped["dev"]}"
  }
}

run "etc_gmt_zones_have_the_posix_sign" {
  command = plan

  variables {
    timezone = "Etc/GMT-9"
  }

  assert {
    condition     = output.missed_stop_alarms["staging"].stop_times[0] == "Mon 13:00 UTC"
    error_message = "stop_times: ${jsonencode(output.missed_stop_alarms["staging"].stop_times)}"
  }
}

run "a_half_hour_zone_shifts_the_minutes" {
  command = plan

  variables {
    timezone = "Asia/Kolkata"
  }

  assert {
    condition     = output.missed_stop_alarms["staging"].stop_times[0] == "Mon 16:30 UTC"
    error_message = "stop_times: ${jsonencode(output.missed_stop_alarms["staging"].stop_times)}"
  }
}

run "a_longer_event_age_gives_a_longer_grace" {
  command = plan

  variables {
    max_event_age_seconds = 21600
    timeout               = 900
  }

  # ceil((21600 + 900) / 3600) = 7 hours, 8 periods; the window runs to 20:00 UTC (1200).
  assert {
    condition = (
      output.grace_hours == 7 &&
      output.missed_stop_alarms["staging"].evaluation_periods == 8 &&
      startswith(output.missed_stop_alarms["staging"].expressions.armed, "(w >= 720 AND w <= 1200) OR ")
    )
    error_message = "grace ${output.grace_hours}: ${output.missed_stop_alarms["staging"].expressions.armed}"
  }
}

# --- Notifications ---

run "notifications_are_off_by_default" {
  command = plan

  assert {
    condition     = output.notifications_enabled == false && length(output.notification_rules) == 0
    error_message = "rules: ${jsonencode(keys(output.notification_rules))}"
  }
}

run "e_mail_addresses_turn_on_the_failure_rules" {
  command = plan

  variables {
    notification_emails = ["sre@example.com"]
  }

  assert {
    condition     = output.notifications_enabled && keys(output.notification_rules) == ["dropped", "failed", "spot-dropped", "spot-failed"]
    error_message = "rules: ${jsonencode(keys(output.notification_rules))}"
  }

  # The ARN in the record carries the version (:$LATEST): match it with and without one, and
  # end the prefix in ':' so that ecs-cost-saver does not also match ecs-cost-saver-spot.
  assert {
    condition = jsondecode(output.notification_rules["failed"].event_pattern) == {
      source        = ["lambda"]
      "detail-type" = ["Lambda Function Invocation Result - Failure"]
      detail = {
        requestContext = { functionArn = [
          "arn:aws:lambda:ap-northeast-1:123456789012:function:ecs-cost-saver",
          { prefix = "arn:aws:lambda:ap-northeast-1:123456789012:function:ecs-cost-saver:" },
        ] }
        responsePayload = { errorMessage = [{ exists = true }] }
      }
    }
    error_message = "failed: ${output.notification_rules["failed"].event_pattern}"
  }

  assert {
    condition = (
      jsondecode(output.notification_rules["spot-failed"].event_pattern).detail.requestContext.functionArn[1].prefix == "arn:aws:lambda:ap-northeast-1:123456789012:function:ecs-cost-saver-spot:" &&
      jsondecode(output.notification_rules["spot-dropped"].event_pattern).detail.responsePayload.errorMessage == [{ exists = false }] &&
      jsondecode(output.notification_rules["dropped"].event_pattern).detail.responsePayload.errorMessage == [{ exists = false }]
    )
    error_message = "spot-failed: ${output.notification_rules["spot-failed"].event_pattern}"
  }

  assert {
    condition = output.notification_rules["failed"].input_paths == {
      action       = "$.detail.requestPayload.action"
      environment  = "$.detail.requestPayload.environment"
      errorType    = "$.detail.responsePayload.errorType"
      errorMessage = "$.detail.responsePayload.errorMessage"
      function     = "$.detail.requestContext.functionArn"
      condition    = "$.detail.requestContext.condition"
      attempts     = "$.detail.requestContext.approximateInvokeCount"
      time         = "$.time"
    }
    error_message = "failed paths: ${jsonencode(output.notification_rules["failed"].input_paths)}"
  }

  # Plain text for SNS: one quoted string per line, the first naming environment and action,
  # then the error the function returned (its message names the failed services and kinds).
  assert {
    condition = startswith(output.notification_rules["failed"].input_template, join("\n", [
      "\"ecs-cost-saver: the <action> of <environment> failed.\"",
      "\"\"",
      "\"<errorType>: <errorMessage>\"",
    ]))
    error_message = "failed template: ${output.notification_rules["failed"].input_template}"
  }

  # The Spot payload is an EventBridge event: no environment, its type and source instead.
  assert {
    condition = (
      !strcontains(output.notification_rules["spot-failed"].input_template, "<environment>") &&
      strcontains(output.notification_rules["spot-failed"].input_template, "<eventType> (<eventSource>)") &&
      output.notification_rules["spot-failed"].input_paths.eventType == "$.detail.requestPayload.detail-type"
    )
    error_message = "spot-failed template: ${output.notification_rules["spot-failed"].input_template}"
  }

  # Every placeholder has its path, every line is one quoted string without quotes inside.
  assert {
    condition = alltrue(flatten([
      for rule in values(output.notification_rules) : concat(
        [for name in regexall("<([a-zA-Z0-9]+)>", rule.input_template) : contains(keys(rule.input_paths), name[0])],
        [for line in split("\n", rule.input_template) : can(regex("^\"[^\"\\\\]*\"$", line))],
      )
    ]))
    error_message = "a template uses a placeholder without a path, or a line is not one quoted string"
  }

  assert {
    condition     = output.notification_rules["failed"].name == "ecs-cost-saver-failed" && output.notification_rules["spot-dropped"].name == "ecs-cost-saver-spot-dropped"
    error_message = "names: ${jsonencode([for r in values(output.notification_rules) : r.name])}"
  }
}

run "notify_on_start_adds_the_ready_rule" {
  command = plan

  variables {
    sns_topic_arn   = "arn:aws:sns:ap-northeast-1:123456789012:ops"
    notify_on_start = true
  }

  assert {
    condition = jsondecode(output.notification_rules["ready"].event_pattern) == {
      source        = ["lambda"]
      "detail-type" = ["Lambda Function Invocation Result - Success"]
      detail = {
        requestContext = { functionArn = [
          "arn:aws:lambda:ap-northeast-1:123456789012:function:ecs-cost-saver",
          { prefix = "arn:aws:lambda:ap-northeast-1:123456789012:function:ecs-cost-saver:" },
        ] }
        responsePayload = { action = ["start"], time_to_ready_ms = [{ exists = true }] }
      }
    }
    error_message = "ready: ${output.notification_rules["ready"].event_pattern}"
  }

  assert {
    condition = (
      output.notification_rules["ready"].input_paths.summary == "$.detail.responsePayload.summary" &&
      strcontains(output.notification_rules["ready"].input_template, "\"<summary>\"")
    )
    error_message = "ready template: ${output.notification_rules["ready"].input_template}"
  }
}

run "both_a_topic_and_addresses_are_refused" {
  command = plan

  variables {
    notification_emails = ["sre@example.com"]
    sns_topic_arn       = "arn:aws:sns:ap-northeast-1:123456789012:ops"
  }

  expect_failures = [output.notifications_enabled]
}

run "notify_on_start_without_a_topic_is_refused" {
  command = plan

  variables {
    notify_on_start = true
  }

  expect_failures = [output.notifications_enabled]
}

# --- The dashboard ---

run "the_dashboard_has_a_row_per_environment" {
  command = plan

  variables {
    environments = ["dev", "staging"]
    currency     = "JPY"
  }

  assert {
    condition = [for w in jsondecode(output.dashboard_body).widgets : try(w.properties.title, w.properties.markdown)] == [
      "Function errors",
      "Function duration (ms)",
      "Dead-letter queue: messages waiting",
      "Alarms",
      "### dev (no missed-stop alarm: no stop crons (manual only))",
      "dev: services stopped, started, failed",
      "dev: time to ready after a start (s)",
      "dev: saving per hour while stopped",
      "### staging",
      "staging: services stopped, started, failed",
      "staging: time to ready after a start (s)",
      "staging: saving per hour while stopped",
      "Spot interruptions handled",
    ]
    error_message = "titles: ${jsonencode([for w in jsondecode(output.dashboard_body).widgets : try(w.properties.title, w.properties.markdown)])}"
  }

  # staging's graphs read its own EMF metrics, with the action each metric is emitted for.
  assert {
    condition = jsondecode(output.dashboard_body).widgets[9].properties.metrics == [
      ["EcsCostSaver", "ServicesChanged", "Environment", "staging", "Action", "stop", { label = "stopped" }],
      ["EcsCostSaver", "ServicesChanged", "Environment", "staging", "Action", "start", { label = "started" }],
      ["EcsCostSaver", "ServicesFailed", "Environment", "staging", "Action", "stop", { label = "failed on stop" }],
      ["EcsCostSaver", "ServicesFailed", "Environment", "staging", "Action", "start", { label = "failed on start" }],
    ]
    error_message = "staging services: ${jsonencode(jsondecode(output.dashboard_body).widgets[9].properties.metrics)}"
  }

  assert {
    condition = jsondecode(output.dashboard_body).widgets[10].properties.metrics == [
      [{ expression = "ready / 1000", id = "seconds", label = "seconds until every task ran and was registered" }],
      ["EcsCostSaver", "TimeToReadyMs", "Environment", "staging", "Action", "start", { id = "ready", visible = false }],
    ]
    error_message = "staging ready: ${jsonencode(jsondecode(output.dashboard_body).widgets[10].properties.metrics)}"
  }

  assert {
    condition = jsondecode(output.dashboard_body).widgets[11].properties.metrics == [
      ["EcsCostSaver", "SavedCostPerHour", "Environment", "staging", "Action", "stop", { label = "JPY per hour" }],
      ["EcsCostSaver", "SavedVcpuPerHour", "Environment", "staging", "Action", "stop", { label = "vCPU", yAxis = "right" }],
    ]
    error_message = "staging saving: ${jsonencode(jsondecode(output.dashboard_body).widgets[11].properties.metrics)}"
  }

  assert {
    condition = jsondecode(output.dashboard_body).widgets[3].properties.alarms == [
      "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:ecs-cost-saver-errors",
      "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:ecs-cost-saver-spot-errors",
      "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:ecs-cost-saver-dlq-messages",
      "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:ecs-cost-saver-missed-stop-staging",
    ]
    error_message = "alarms: ${jsonencode(jsondecode(output.dashboard_body).widgets[3].properties.alarms)}"
  }

  # Every graph names its region; rows do not overlap.
  assert {
    condition     = alltrue([for w in jsondecode(output.dashboard_body).widgets : w.properties.region == "ap-northeast-1" if w.type == "metric"])
    error_message = "a metric widget has no region"
  }

  assert {
    condition     = length(distinct([for w in jsondecode(output.dashboard_body).widgets : "${w.x},${w.y}"])) == length(jsondecode(output.dashboard_body).widgets)
    error_message = "two widgets share a position"
  }
}

run "without_alarms_the_dashboard_lists_none" {
  command = plan

  variables {
    create_alarms = false
  }

  assert {
    condition     = length(output.alarm_names) == 0 && !contains([for w in jsondecode(output.dashboard_body).widgets : w.type], "alarm")
    error_message = "alarm widget without alarms"
  }
}
