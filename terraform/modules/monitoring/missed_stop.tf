# The missed-stop alarm: "a scheduled stop of ENV was not followed by a successful stop".
#
# The stop run emits RunSucceeded (namespace EcsCostSaver, Environment=ENV, Action=stop): 1 when
# nothing failed, 0 when a service or group failed. The alarm reads it in hourly periods and
# breaches in an hour that starts near a scheduled stop (from an hour before it to `grace`
# hours after it) and holds no RunSucceeded of 1. With grace + 1 periods, all of them
# breaching, it goes to ALARM from `grace` hours after a scheduled stop that was not followed
# (or preceded by at most an hour) by a successful one; an hour later the periods leave the
# window and it is OK again.
#
# CloudWatch cannot read a cron, so this module turns each stop cron into the UTC minutes of
# the week at which it fires and the alarm's metric math compares the periods' timestamps with
# them: DAY() (1 = Monday ... 7 = Sunday), HOUR() and MINUTE() give each period's start in UTC.
# That needs a zone with a fixed offset from UTC (the table below) and crons of one minute, one
# hour and a set of weekdays (or every day). Anything else (daylight saving time, L, W, #,
# lists or ranges of hours, day-of-month rules, months, years) gets no alarm: a rule that is
# wrong twice a year, or on the crons it cannot read, would cry wolf or stay silent, and
# `missed_stop_skipped` says which environment was left out and why.

locals {
  week_minutes = 7 * 24 * 60

  # Zones without daylight saving time, in minutes east of UTC. A zone that is not here (every
  # zone with DST among them) gets no missed-stop alarm. Governments do change their zones'
  # rules now and then; this table follows the IANA database as of 2025.
  fixed_offsets = {
    "UTC"                            = 0
    "Etc/UTC"                        = 0
    "GMT"                            = 0
    "Etc/GMT"                        = 0
    "Africa/Johannesburg"            = 120
    "Africa/Lagos"                   = 60
    "Africa/Nairobi"                 = 180
    "America/Argentina/Buenos_Aires" = -180
    "America/Bogota"                 = -300
    "America/Lima"                   = -300
    "America/Phoenix"                = -420
    "America/Sao_Paulo"              = -180
    "Asia/Bangkok"                   = 420
    "Asia/Calcutta"                  = 330
    "Asia/Dhaka"                     = 360
    "Asia/Dubai"                     = 240
    "Asia/Ho_Chi_Minh"               = 420
    "Asia/Hong_Kong"                 = 480
    "Asia/Jakarta"                   = 420
    "Asia/Karachi"                   = 300
    "Asia/Kolkata"                   = 330
    "Asia/Kuala_Lumpur"              = 480
    "Asia/Manila"                    = 480
    "Asia/Riyadh"                    = 180
    "Asia/Seoul"                     = 540
    "Asia/Shanghai"                  = 480
    "Asia/Singapore"                 = 480
    "Asia/Taipei"                    = 480
    "Asia/Tokyo"                     = 540
    "Australia/Brisbane"             = 600
    "Australia/Darwin"               = 570
    "Australia/Perth"                = 480
    "Europe/Istanbul"                = 180
    "Europe/Moscow"                  = 180
    "Pacific/Honolulu"               = -600
  }
  # Etc/GMT+N is N hours *west* of UTC (POSIX sign).
  etc_gmt        = try(regex("^Etc/GMT([+-])([0-9]{1,2})$", var.timezone), null)
  etc_gmt_offset = local.etc_gmt == null ? null : (local.etc_gmt[0] == "+" ? -60 : 60) * tonumber(local.etc_gmt[1])
  offset_minutes = lookup(local.fixed_offsets, var.timezone, local.etc_gmt_offset)
  zone_problem   = local.offset_minutes == null ? "the time zone ${var.timezone} has daylight saving time or is not in the module's table of fixed-offset zones, so its crons cannot be turned into UTC times" : null

  # How late a stop may still succeed: it may wait in Lambda's queue (and be retried) for
  # max_event_age_seconds and then run for up to `timeout`.
  grace_hours = max(1, ceil((var.max_event_age_seconds + var.timeout) / 3600))

  # cron(minutes hours day-of-month month day-of-week year): weekdays 1-7 are SUN-SAT.
  weekday_numbers = { SUN = 1, MON = 2, TUE = 3, WED = 4, THU = 5, FRI = 6, SAT = 7, "1" = 1, "2" = 2, "3" = 3, "4" = 4, "5" = 5, "6" = 6, "7" = 7 }
  weekday_names   = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

  stop_crons = { for key, s in var.schedules : key => s if s.action == "stop" }

  cron_fields = {
    for key, s in local.stop_crons : key => try(regex("^cron\\(\\s*(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s*\\)$", trimspace(s.expression)), null)
  }
  cron_parts = {
    for key, f in local.cron_fields : key => f == null ? null : {
      minute = f[0]
      hour   = f[1]
      dom    = f[2]
      month  = f[3]
      dow    = upper(f[4])
      year   = f[5]
    }
  }
  # Day-of-week as a list of single days and forward or wrapping ranges (FRI-MON), or null.
  dow_items = {
    for key, p in local.cron_parts : key => try([
      for item in split(",", p.dow) : regex("^([A-Z]{3}|[1-7])(?:-([A-Z]{3}|[1-7]))?$", item)
    ], null)
  }
  cron_weekdays = {
    for key, p in local.cron_parts : key => try(
      p.dom == "?" && p.dow != "*" ? sort(distinct(flatten([
        for item in local.dow_items[key] : [
          for d in(
            local.weekday_numbers[item[0]] <= local.weekday_numbers[coalesce(item[1], item[0])]
            ? range(local.weekday_numbers[item[0]], local.weekday_numbers[coalesce(item[1], item[0])] + 1)
            : concat(range(local.weekday_numbers[item[0]], 8), range(1, local.weekday_numbers[coalesce(item[1], item[0])] + 1))
          ) : d
        ]
      ]))) : [1, 2, 3, 4, 5, 6, 7],
      null
    )
  }
  cron_problem = {
    for key, p in local.cron_parts : key => (
      p == null ? "is not of the form cron(minutes hours day-of-month month day-of-week year)" :
      try(!can(regex("^[0-9]{1,2}$", p.minute)) || tonumber(p.minute) > 59, true) ? "minutes ${p.minute}: only a single minute is read" :
      try(!can(regex("^[0-9]{1,2}$", p.hour)) || tonumber(p.hour) > 23, true) ? "hours ${p.hour}: only a single hour is read (no lists, ranges or steps)" :
      p.month != "*" ? "month ${p.month}: only * is read" :
      p.year != "*" ? "year ${p.year}: only * is read" :
      !(p.dom == "?" || (p.dom == "*" && p.dow == "?")) ? "day-of-month ${p.dom}: day-of-month rules are not read" :
      p.dom == "?" && p.dow != "*" && local.cron_weekdays[key] == null ? "day-of-week ${p.dow}: only weekday names or numbers, lists and ranges are read (not L, # or steps)" :
      null
    )
  }

  # Each readable cron's firing times as UTC minutes of the week, Monday 00:00 = 0.
  cron_utc_minutes = {
    for key, p in local.cron_parts : key => [
      for d in local.cron_weekdays[key] :
      ((d + 5) % 7 * 1440 + tonumber(p.hour) * 60 + tonumber(p.minute) - local.offset_minutes + local.week_minutes) % local.week_minutes
    ] if local.cron_problem[key] == null && local.offset_minutes != null
  }

  missed_stop_problem = {
    for env in var.environments : env => (
      length([for key, s in local.stop_crons : key if s.environment == env]) == 0 ? "no stop crons (manual only)" :
      local.zone_problem != null ? local.zone_problem :
      length([for key, s in local.stop_crons : key if s.environment == env && local.cron_problem[key] != null]) > 0 ? join("; ", [
        for key, s in local.stop_crons : "stop cron ${s.expression} ${local.cron_problem[key]}"
        if s.environment == env && local.cron_problem[key] != null
      ]) :
      null
    )
  }

  stop_minutes = {
    for env in var.environments : env => sort(distinct(flatten([
      for key, s in local.stop_crons : [for m in local.cron_utc_minutes[key] : format("%05d", m)] if s.environment == env
    ]))) if local.missed_stop_problem[env] == null
  }

  # The window of period starts that breach without a success: an hour before each stop to
  # `grace` hours after it, split where it crosses the end of the week. Overlapping windows are
  # left as they are (OR of the two is the same set).
  armed_windows = {
    for env, minutes in local.stop_minutes : env => sort(distinct(flatten([
      for m in minutes : [
        for w in(
          tonumber(m) - 60 < 0 ? [[tonumber(m) - 60 + local.week_minutes, local.week_minutes - 1], [0, tonumber(m) + 60 * local.grace_hours]] :
          tonumber(m) + 60 * local.grace_hours >= local.week_minutes ? [[tonumber(m) - 60, local.week_minutes - 1], [0, tonumber(m) + 60 * local.grace_hours - local.week_minutes]] :
          [[tonumber(m) - 60, tonumber(m) + 60 * local.grace_hours]]
        ) : format("%05d-%05d", w[0], w[1])
      ]
    ])))
  }

  armed_expressions = {
    for env, windows in local.armed_windows : env => join(" OR ", [
      for w in windows : "(w >= ${tonumber(split("-", w)[0])} AND w <= ${tonumber(split("-", w)[1])})"
    ])
  }

  # CloudWatch limits an expression's length; beyond this many stop times, no alarm.
  expression_limit = 1024

  missed_stop_skipped = merge(
    { for env, problem in local.missed_stop_problem : env => problem if problem != null },
    {
      for env, e in local.armed_expressions : env => "its ${length(local.stop_minutes[env])} stop times make a metric math expression of ${length(e)} characters, more than the ${local.expression_limit} this module writes"
      if length(e) > local.expression_limit
    },
  )

  missed_stop_alarms = {
    for env, e in local.armed_expressions : env => {
      name               = "${var.function_name}-missed-stop-${env}"
      environment        = env
      evaluation_periods = local.grace_hours + 1
      grace_hours        = local.grace_hours
      # Readable stop times, e.g. "Mon 13:00 UTC".
      stop_times = [for m in local.stop_minutes[env] : format("%s %02d:%02d UTC", local.weekday_names[floor(tonumber(m) / 1440)], floor(tonumber(m) % 1440 / 60), tonumber(m) % 60)]
      # Metric math: `m` is RunSucceeded (Maximum, 1 hour) of ENV's stops; `w` each period's
      # start as a UTC minute of the week; `armed` whether that start lies in a window; `missed`
      # is 1 in an armed period without a successful stop. Arithmetic between time series
      # treats a missing value as 0, so a period with no run at all counts as no success.
      expressions = {
        w      = "(DAY(m) - 1) * 1440 + HOUR(m) * 60 + MINUTE(m)"
        armed  = e
        missed = "armed - armed * m"
      }
      description = substr(join(" ", [
        "ecs-cost-saver: no successful stop of ${env} within ${local.grace_hours} h of a scheduled stop.",
        "Scheduled (UTC): ${join(", ", [for m in local.stop_minutes[env] : format("%s %02d:%02d", local.weekday_names[floor(tonumber(m) / 1440)], floor(tonumber(m) % 1440 / 60), tonumber(m) % 60)])}",
        "(${join(", ", [for key, s in local.stop_crons : s.expression if s.environment == env])} in ${var.timezone}).",
        "The environment may still be running: look at the function's logs (/aws/lambda/${var.function_name}), the dead-letter queue ${var.dlq_name} and the schedules, then stop it by hand if needed.",
        "The alarm returns to OK an hour later by itself.",
      ]), 0, 1024)
    } if length(e) <= local.expression_limit
  }
}
